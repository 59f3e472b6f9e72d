// SPDX-License-Identifier: GPL-2.0

//! Short enumerated sequences, CrashMonkey's and ACE's classics: a set-up
//! (made durable by a syncfs), then at most a few ops and fsyncs. The
//! harness runs one once to count the device's writes and flushes, then
//! cuts the power after each of them in turn (`crash_after_writes`,
//! armed by `seq --arm` right after the set-up's syncfs).
//!
//! A sequence is ops of the namespace model ([`super::ns`]) and is
//! checked by its verifier, with the same acknowledgement rules.
//!
//! Log: `seq v1 name=NAME seed=S ops=N setup=K`, then as `namespace`'s.

use super::ns::{self, Header, Id, Key, Model, Op};
use super::{Ended, Fatal};
use std::io;
use std::path::Path;

/// One step, by path relative to the sequence's directory ("" is it).
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Create with this many bytes.
    Create(&'static str, u64),
    /// Write at an offset, this many bytes.
    Write(&'static str, u64, u64),
    /// The same through `O_DSYNC`.
    Dsync(&'static str, u64, u64),
    Truncate(&'static str, u64),
    Rename(&'static str, &'static str),
    Exchange(&'static str, &'static str),
    Link(&'static str, &'static str),
    Unlink(&'static str),
    Mkdir(&'static str),
    Rmdir(&'static str),
    Symlink(&'static str),
    Fsync(&'static str),
    Fdatasync(&'static str),
}

/// A sequence: its set-up, then the ops the power is cut in.
pub struct Seq {
    pub name: &'static str,
    /// What it checks.
    pub about: &'static str,
    pub setup: &'static [Step],
    pub ops: &'static [Step],
}

use Step::*;

/// Every sequence.
pub const SEQS: &[Seq] = &[
    Seq { name: "create-fsync", about: "a new file's name and data after fsync of the file", setup: &[], ops: &[Create("a", 10000), Fsync("a")] },
    Seq { name: "create-fsync-dir", about: "a new file's name after fsync of its directory", setup: &[], ops: &[Create("a", 5000), Fsync("")] },
    Seq {
        name: "write-fsync-rename-fsync",
        about: "data fsynced, then the file renamed and fsynced: found under the new name",
        setup: &[Create("a", 0)],
        ops: &[Write("a", 0, 8192), Fsync("a"), Rename("a", "b"), Fsync("b")],
    },
    Seq { name: "append-fsync-twice", about: "appends, each fsynced", setup: &[Create("a", 3000)], ops: &[Write("a", 3000, 5000), Fsync("a"), Write("a", 8000, 5000), Fsync("a")] },
    Seq { name: "overwrite-fsync", about: "unaligned overwrites inside a file, fsynced", setup: &[Create("a", 16384)], ops: &[Write("a", 4000, 200), Write("a", 9000, 5000), Fsync("a")] },
    Seq {
        name: "truncate-append-fdatasync",
        about: "truncate down, append, fdatasync: the new size and both parts",
        setup: &[Create("a", 65536)],
        ops: &[Truncate("a", 10000), Write("a", 10000, 20000), Fdatasync("a")],
    },
    Seq { name: "truncate-up-fsync", about: "truncate up past a hole, write in it, fsync", setup: &[Create("a", 5000)], ops: &[Truncate("a", 100000), Write("a", 50000, 100), Fsync("a")] },
    Seq {
        name: "dsync-writes",
        about: "O_DSYNC writes are durable on their own (an extending one with its size)",
        setup: &[Create("a", 1000)],
        ops: &[Dsync("a", 1000, 9000), Write("a", 0, 500), Dsync("a", 30000, 100)],
    },
    Seq { name: "link-unlink-fsync", about: "link, unlink the old name, fsync the file: the new name", setup: &[Create("a", 4096)], ops: &[Link("a", "b"), Unlink("a"), Fsync("b")] },
    Seq { name: "link-fsync-dir", about: "a new hard link after fsync of its directory (link count too)", setup: &[Create("a", 2000), Mkdir("d")], ops: &[Link("a", "d/b"), Fsync("d")] },
    Seq { name: "rename-over-fsync-dir", about: "rename over an existing file, fsync the directory", setup: &[Create("a", 5000), Create("b", 7000)], ops: &[Rename("a", "b"), Fsync("")] },
    Seq {
        name: "replace-via-rename",
        about: "the atomic replace: new file fsynced, renamed over the old, directory fsynced",
        setup: &[Create("b", 7000)],
        ops: &[Create("a", 6000), Fsync("a"), Rename("a", "b"), Fsync("")],
    },
    Seq { name: "unlink-fsync-dir", about: "an unlink after fsync of the directory", setup: &[Create("a", 100), Create("b", 100)], ops: &[Unlink("a"), Fsync("")] },
    Seq { name: "mkdir-create-fsync-dir", about: "a new directory's entry after its fsync, and its own name", setup: &[], ops: &[Mkdir("d"), Create("d/a", 3000), Fsync("d")] },
    Seq { name: "mkdir-create-fsync-file", about: "a new file in a new directory after fsync of the file", setup: &[], ops: &[Mkdir("d"), Create("d/a", 3000), Fsync("d/a")] },
    Seq { name: "rmdir-fsync-dir", about: "rmdir after fsync of the parent", setup: &[Mkdir("d")], ops: &[Rmdir("d"), Fsync("")] },
    Seq { name: "symlink-fsync-dir", about: "a symlink, whole, after fsync of its directory", setup: &[], ops: &[Symlink("s"), Fsync("")] },
    Seq {
        name: "rename-dir-fsync-dir",
        about: "a directory renamed: at one name, never both, never neither",
        setup: &[Mkdir("d1"), Create("d1/a", 3000)],
        ops: &[Rename("d1", "d2"), Fsync("")],
    },
    Seq {
        name: "move-between-dirs",
        about: "a file moved between directories, both fsynced",
        setup: &[Mkdir("d"), Mkdir("e"), Create("d/a", 1000)],
        ops: &[Rename("d/a", "e/a"), Fsync("d"), Fsync("e")],
    },
    Seq { name: "exchange-fsync-dir", about: "RENAME_EXCHANGE of a file and a directory, whole", setup: &[Create("a", 100), Mkdir("d")], ops: &[Exchange("a", "d"), Fsync("")] },
    Seq {
        name: "create-unlink-fsync-dir",
        about: "a fsynced file unlinked, then the directory fsynced: gone",
        setup: &[],
        ops: &[Create("a", 4096), Fsync("a"), Unlink("a"), Fsync("")],
    },
];

/// The sequence called `name`.
pub fn find(name: &str) -> Option<&'static Seq> {
    SEQS.iter().find(|s| s.name == name)
}

/// A sequence's ops, and how many are set-up (its syncfs included).
pub fn ops(s: &Seq) -> (Vec<Op>, usize) {
    let mut m = Model::new();
    let mut next: Id = 1;
    let mut out = Vec::new();
    let key = |m: &Model, path: &str| -> Key {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        (lookup(m, dir), name.to_string())
    };
    let steps = s.setup.iter().map(Some).chain([None]).chain(s.ops.iter().map(Some));
    for st in steps {
        let op = match st {
            None => Op::Syncfs,
            Some(st) => {
                let mut new = || {
                    next += 1;
                    next - 1
                };
                match *st {
                    Create(p, len) => Op::Create { at: key(&m, p), id: new(), len },
                    Write(p, off, len) => Op::Write { file: lookup(&m, p), off, len, dsync: false },
                    Dsync(p, off, len) => Op::Write { file: lookup(&m, p), off, len, dsync: true },
                    Truncate(p, size) => Op::Truncate { file: lookup(&m, p), size },
                    Rename(a, b) => Op::Rename { from: key(&m, a), to: key(&m, b) },
                    Exchange(a, b) => Op::Exchange { a: key(&m, a), b: key(&m, b) },
                    Link(a, b) => Op::Link { file: lookup(&m, a), to: key(&m, b) },
                    Unlink(p) => Op::Unlink { at: key(&m, p) },
                    Mkdir(p) => Op::Mkdir { at: key(&m, p), id: new() },
                    Rmdir(p) => Op::Rmdir { at: key(&m, p) },
                    Symlink(p) => Op::Symlink { at: key(&m, p), id: new() },
                    Fsync(p) => Op::Fsync { target: lookup(&m, p) },
                    Fdatasync(p) => Op::Fdatasync { file: lookup(&m, p) },
                }
            }
        };
        m.apply(&op);
        out.push(op);
    }
    (out, s.setup.len() + 1)
}

/// The identity at a path ("" is the sequence's directory).
fn lookup(m: &Model, path: &str) -> Id {
    path.split('/').filter(|c| !c.is_empty()).fold(0, |d, c| m.get(&(d, c.to_string())).unwrap_or_else(|| panic!("sequence step on a missing path {path}")))
}

/// The block layer's completed writes, discards and flushes of a disk
/// (fields 5, 12 and 16 of `/sys/block/DEV/stat`): what crash points count.
pub fn disk_writes(stat: &Path) -> io::Result<u64> {
    let s = std::fs::read_to_string(stat)?;
    let f: Vec<u64> = s.split_whitespace().map(|w| w.parse().unwrap_or(0)).collect();
    Ok([4, 11, 15].iter().filter_map(|&i| f.get(i)).sum())
}

/// How `run` went: the end, acknowledgements, and the device writes the
/// ops made (if a stat file was given).
pub struct Outcome {
    pub ended: Ended,
    pub acks: usize,
    pub ops: usize,
    pub writes: Option<u64>,
}

/// Runs sequence `s` in `dir`. After the set-up's syncfs: `arm` (a file
/// and what to write to it: the crash point) and the first reading of
/// `stat`; after the last op, the second.
pub fn run(s: &Seq, dir: &Path, log_path: &Path, seed: u64, arm: Option<(&Path, &str)>, stat: Option<&Path>, stop_at: Option<usize>) -> Result<Outcome, Fatal> {
    let (ops, setup) = ops(s);
    let mut before = None;
    let mut writes = None;
    let mut hook = |i: usize| -> io::Result<()> {
        if i == setup {
            if let Some(st) = stat {
                before = Some(disk_writes(st)?);
            }
            if let Some((p, v)) = arm {
                std::fs::write(p, v)?;
            }
        }
        if i == ops.len() {
            if let (Some(st), Some(b)) = (stat, before) {
                writes = Some(disk_writes(st)?.saturating_sub(b));
            }
        }
        Ok(())
    };
    let head = Header::Seq { name: s.name.to_string(), seed, ops: ops.len(), setup };
    let (ended, acks) = ns::run(dir, log_path, &head, seed, &ops, stop_at, Some(&mut hook))?;
    Ok(Outcome { ended, acks, ops: ops.len(), writes })
}

/// Verifies `dir` against the log of sequence `name`.
pub fn verify(name: &str, dir: &Path, log_path: &Path) -> Result<String, String> {
    let s = find(name).ok_or_else(|| format!("no sequence {name}"))?;
    let l = ns::Logged::read(log_path, "seq")?;
    if l.log.params.get("name").map(String::as_str) != Some(name) {
        return Err(format!("the log is of sequence {:?}, not {name}", l.log.params.get("name")));
    }
    let (ops, _) = ops(s);
    Ok(format!("seq-verify {name}: {}; {} acks, last op started {} of {}", l.verify(&ops, dir)?, l.acks.len(), l.last, l.ops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::ns::tests::model_obs;
    use crate::crash::ns::{check, Replay};
    use crate::crash::testdir::TestDir;

    #[test]
    fn names_are_unique_and_ops_resolve() {
        for (i, s) in SEQS.iter().enumerate() {
            assert!(SEQS[i + 1..].iter().all(|t| t.name != s.name), "{} twice", s.name);
            let (ops, setup) = ops(s);
            assert_eq!(ops[setup - 1], Op::Syncfs);
            assert!(ops.len() - setup <= 4, "{}: at most 3 ops and a sync", s.name);
            assert!(ops[setup..].iter().any(Op::acks), "{}: acknowledges nothing", s.name);
        }
        assert!(find("rename-dir-fsync-dir").is_some());
        assert!(find("nope").is_none());
    }

    #[test]
    fn every_sequence_verifies_whole_and_cut_after_each_op() {
        for s in SEQS {
            let d = TestDir::new(s.name);
            let out = run(s, &d.join("r"), &d.join("log"), 7, None, None, None).unwrap();
            assert!(out.ended.error.is_none(), "{}", s.name);
            verify(s.name, &d.join("r"), &d.join("log")).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            for stop in ops(s).1..out.ops {
                let d = TestDir::new(s.name);
                run(s, &d.join("r"), &d.join("log"), 8, None, None, Some(stop)).unwrap();
                verify(s.name, &d.join("r"), &d.join("log")).unwrap_or_else(|e| panic!("{} stopped at {stop}: {e}", s.name));
            }
            assert!(verify("create-fsync", &d.join("r"), &d.join("log")).is_err() || s.name == "create-fsync");
        }
    }

    /// Each sequence has teeth: with all its ops acknowledged the end
    /// state passes, and some earlier state (the set-up's, mostly) fails.
    #[test]
    fn the_set_up_state_fails_once_the_ops_are_acknowledged() {
        for s in SEQS {
            let d = TestDir::new(s.name);
            run(s, &d.join("r"), &d.join("log"), 9, None, None, None).unwrap();
            let l = ns::Logged::read(&d.join("log"), "seq").unwrap();
            let (ops, setup) = ops(s);
            let rep = Replay::new(&ops, l.seed, &l.acks, l.last).unwrap();
            let end = model_obs(&ops, l.seed, ops.len() - 1, &l.inos);
            check(&rep, true, &l.inos, Some(&end), "r").unwrap_or_else(|e| panic!("{}: end state: {e}", s.name));
            let fails = (setup - 1..ops.len() - 1).any(|u| check(&rep, true, &l.inos, Some(&model_obs(&ops, l.seed, u, &l.inos)), "r").is_err());
            assert!(fails, "{}: every earlier state passed", s.name);
        }
    }

    #[test]
    fn arm_and_stat_are_used_after_the_set_up() {
        let d = TestDir::new("arm");
        let stat = d.join("stat");
        std::fs::write(&stat, "1 2 3 4 10 6 7 8 9 10 11 0 13 14 15 2 17\n").unwrap();
        assert_eq!(disk_writes(&stat).unwrap(), 12);
        let arm = d.join("crash_after_writes");
        let s = find("create-fsync").unwrap();
        let out = run(s, &d.join("r"), &d.join("log"), 1, Some((&arm, "5")), Some(&stat), None).unwrap();
        assert_eq!(std::fs::read_to_string(&arm).unwrap(), "5");
        assert_eq!(out.writes, Some(0));
        assert_eq!(out.acks, 2);
    }
}
