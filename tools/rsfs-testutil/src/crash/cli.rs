// SPDX-License-Identifier: GPL-2.0

//! The crash commands of `rsfs-testutil` (see [`USAGE`]).
//!
//! Workloads print one summary line and exit 0 when they finished or met
//! the power cut (stopped by `EIO` or `EROFS`); 1 for anything else (a
//! wrong read while running, another errno, the log failing). Verifiers
//! print `... ok ... free=N%` (the filesystem's free space, for the
//! harness) and exit 0, or exit 1 with the violation on stderr.

use super::{free_percent, frag, fsx, is_cut_error, ns, seq, snapshot, writers, Ended, Fatal};
use crate::errno;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The commands this module runs.
pub const COMMANDS: &[&str] = &[
    "fsx",
    "fsx-verify",
    "many-writers",
    "many-writers-verify",
    "namespace",
    "namespace-verify",
    "fragmented-append",
    "fragmented-append-verify",
    "seq",
    "seq-verify",
    "seq-list",
    "tree-check",
];

/// Their usage, for the tool's help.
pub const USAGE: &str = "Crash consistency (tests/rsfs/crash.sh; LOG: the acknowledgement log, kept off the device;
each workload makes DIR, stops at its first error and exits 0 for EIO/EROFS, the power cut;
each *-verify checks DIR against LOG, exits 1 naming the violation, and with --snapshot FILE
records DIR's listing for tree-check; --stop-at N: act as if op N failed with EIO, for tests):
  fsx DIR LOG SEED OPS [--files N] [--max-size BYTES]     random writes (some O_DSYNC/O_SYNC),
                     truncates, checked reads, fsync/fdatasync/syncfs on N files (default 4, 256K)
  many-writers DIR LOG SEED FILES [--writers N] [--max-size BYTES]   N threads (default 3) each
                     creating FILES files of up to BYTES (default 48K), appended with syncs
  namespace DIR LOG SEED OPS   create/write/truncate/rename/exchange/link/unlink/mkdir/rmdir/
                     symlink/fsync(file, dir)/fdatasync/syncfs in a small tree
  fragmented-append DIR LOG SEED COUNT   COUNT appends to DIR/a interleaved with DIR/b (DIR kept
                     across runs: the files grow run after run)
  seq NAME DIR LOG [--seed N] [--arm FILE VALUE] [--stat FILE]   an enumerated sequence; after
                     its set-up's syncfs, write VALUE to FILE (a crash point) and count the disk's
                     writes and flushes (FILE: /sys/block/DEV/stat), printed as writes=N
  fsx-verify | many-writers-verify | namespace-verify | fragmented-append-verify DIR LOG
  seq-verify NAME DIR LOG
  seq-list           the sequences' names
  tree-check SNAPSHOT...   the trees listed are unchanged";

/// Positional arguments and `--option value...` pairs.
struct Args {
    pos: Vec<String>,
    opts: BTreeMap<String, Vec<String>>,
}

impl Args {
    /// `known`: each option and how many values it takes.
    fn parse(raw: &[String], known: &[(&str, usize)], min: usize, max: usize) -> Result<Args, String> {
        let mut a = Args { pos: Vec::new(), opts: BTreeMap::new() };
        let mut it = raw.iter();
        while let Some(s) = it.next() {
            if let Some(&(name, n)) = known.iter().find(|(k, _)| *k == s) {
                let vals: Vec<String> = it.by_ref().take(n).cloned().collect();
                if vals.len() != n {
                    return Err(format!("{name} needs {n} value(s)"));
                }
                a.opts.insert(name.to_string(), vals);
            } else if s.starts_with("--") {
                return Err(format!("unknown option {s}"));
            } else {
                a.pos.push(s.clone());
            }
        }
        if a.pos.len() < min || a.pos.len() > max {
            return Err("wrong number of arguments".into());
        }
        Ok(a)
    }

    fn opt(&self, name: &str) -> Option<&str> {
        self.opts.get(name).map(|v| v[0].as_str())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        self.opt(name).map_or(Ok(default), |s| s.parse().map_err(|_| format!("{name}: not a number: {s:?}")))
    }
}

/// A number with an optional K or M suffix.
fn size(s: &str) -> Result<u64, String> {
    let (d, m) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    d.parse::<u64>().ok().and_then(|n| n.checked_mul(m)).ok_or_else(|| format!("not a size: {s:?}"))
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("not a number: {s:?}"))
}

/// How a command ended.
enum Exit {
    /// Exit 0, this on stdout.
    Ok(String),
    /// Exit 1, this on stderr.
    Fail(String),
    /// Exit 2: a usage error.
    Usage(String),
}

/// Runs crash command `cmd`; returns the exit code.
pub fn main(cmd: &str, args: &[String]) -> i32 {
    match run(cmd, args) {
        Exit::Ok(s) => {
            println!("{s}");
            0
        }
        Exit::Fail(s) => {
            // A workload's failure starts with its summary, which names it.
            if s.starts_with(cmd) {
                eprintln!("rsfs-testutil: {s}");
            } else {
                eprintln!("rsfs-testutil: {cmd}: {s}");
            }
            1
        }
        Exit::Usage(s) => {
            eprintln!("rsfs-testutil: {cmd}: {s}\n{USAGE}");
            2
        }
    }
}

/// The summary's `errno=` and the exit for a workload's end.
fn ended(summary: String, e: &Ended) -> Exit {
    match &e.error {
        Some(err) if !is_cut_error(err) => Exit::Fail(format!("{summary}: op {} (or the set-up before it) failed with {}, which a power cut does not cause", e.last, errno::describe(err))),
        _ => Exit::Ok(summary),
    }
}

/// Ops started: through the last one if it failed, all if none did.
fn started(e: &Ended, total: usize) -> usize {
    if e.error.is_some() {
        e.last + 1
    } else {
        total
    }
}

fn run(cmd: &str, args: &[String]) -> Exit {
    let usage = |r: Result<Args, String>| r.map_err(Exit::Usage);
    let stop = [("--stop-at", 1)];
    let go = || -> Result<Exit, Exit> {
        Ok(match cmd {
            "fsx" => {
                let a = usage(Args::parse(args, &[("--files", 1), ("--max-size", 1), stop[0]], 4, 4))?;
                let mut p = fsx::Params::new(number(&a.pos[2]).map_err(Exit::Usage)?, number(&a.pos[3]).map_err(Exit::Usage)?);
                p.files = a.num("--files", p.files).map_err(Exit::Usage)?.clamp(1, 64);
                if let Some(s) = a.opt("--max-size") {
                    p.max_size = size(s).map_err(Exit::Usage)?.max(4096);
                }
                let stop_at = a.opt("--stop-at").map(number).transpose().map_err(Exit::Usage)?;
                let o = fsx::run(Path::new(&a.pos[0]), Path::new(&a.pos[1]), &p, stop_at).map_err(fatal)?;
                let s = format!(
                    "fsx: ops={}/{} acks={} last-ack={} errno={}",
                    started(&o.ended, p.ops),
                    p.ops,
                    o.acks,
                    o.last_ack.map_or("none".into(), |a| a.to_string()),
                    o.ended.errno()
                );
                ended(s, &o.ended)
            }
            "many-writers" => {
                let a = usage(Args::parse(args, &[("--writers", 1), ("--max-size", 1), stop[0]], 4, 4))?;
                let mut p = writers::Params::new(number(&a.pos[2]).map_err(Exit::Usage)?, number(&a.pos[3]).map_err(Exit::Usage)?);
                p.writers = a.num("--writers", p.writers).map_err(Exit::Usage)?.clamp(1, 16);
                if let Some(s) = a.opt("--max-size") {
                    p.max_size = size(s).map_err(Exit::Usage)?.max(1);
                }
                let stop_at = a.opt("--stop-at").map(number).transpose().map_err(Exit::Usage)?;
                let o = writers::run(Path::new(&a.pos[0]), Path::new(&a.pos[1]), &p, stop_at).map_err(fatal)?;
                let errs: Vec<String> = o.errors.iter().map(|e| e.as_ref().map_or("none".into(), errno::of)).collect();
                let s = format!("many-writers: writers={} files-synced={} errno={}", p.writers, o.synced, errs.join(","));
                if writers::ended_by_cut_or_done(&o) {
                    Exit::Ok(s)
                } else {
                    Exit::Fail(format!("{s}: a writer failed with an error a power cut does not cause"))
                }
            }
            "namespace" => {
                let a = usage(Args::parse(args, &stop, 4, 4))?;
                let seed: u64 = number(&a.pos[2]).map_err(Exit::Usage)?;
                let n: usize = number(&a.pos[3]).map_err(Exit::Usage)?;
                let stop_at = a.opt("--stop-at").map(number).transpose().map_err(Exit::Usage)?;
                let ops = ns::generate(seed, n);
                let (e, acks) = ns::run(Path::new(&a.pos[0]), Path::new(&a.pos[1]), &ns::Header::Namespace { seed, ops: n }, seed, &ops, stop_at, None).map_err(fatal)?;
                ended(format!("namespace: ops={}/{n} acks={acks} errno={}", started(&e, n), e.errno()), &e)
            }
            "fragmented-append" => {
                let a = usage(Args::parse(args, &stop, 4, 4))?;
                let seed = number(&a.pos[2]).map_err(Exit::Usage)?;
                let n: usize = number(&a.pos[3]).map_err(Exit::Usage)?;
                let stop_at = a.opt("--stop-at").map(number).transpose().map_err(Exit::Usage)?;
                let o = frag::run(Path::new(&a.pos[0]), Path::new(&a.pos[1]), seed, n, stop_at).map_err(fatal)?;
                let s = format!(
                    "fragmented-append: iterations={}/{n} a={} b={} acked-a={} errno={}",
                    started(&o.ended, n),
                    o.sizes[0],
                    o.sizes[1],
                    o.acked[0],
                    o.ended.errno()
                );
                ended(s, &o.ended)
            }
            "seq" => {
                let a = usage(Args::parse(args, &[("--seed", 1), ("--arm", 2), ("--stat", 1), stop[0]], 3, 3))?;
                let s = seq::find(&a.pos[0]).ok_or_else(|| Exit::Usage(format!("no sequence {:?} (see seq-list)", a.pos[0])))?;
                let seed = a.num("--seed", 1u64).map_err(Exit::Usage)?;
                let arm = a.opts.get("--arm").map(|v| (PathBuf::from(&v[0]), v[1].clone()));
                let stat = a.opt("--stat").map(PathBuf::from);
                let stop_at = a.opt("--stop-at").map(number).transpose().map_err(Exit::Usage)?;
                let o = seq::run(
                    s,
                    Path::new(&a.pos[1]),
                    Path::new(&a.pos[2]),
                    seed,
                    arm.as_ref().map(|(p, v)| (p.as_path(), v.as_str())),
                    stat.as_deref(),
                    stop_at,
                )
                .map_err(fatal)?;
                let s = format!(
                    "seq {}: ops={}/{} acks={} writes={} errno={}",
                    s.name,
                    started(&o.ended, o.ops),
                    o.ops,
                    o.acks,
                    o.writes.map_or("?".into(), |w| w.to_string()),
                    o.ended.errno()
                );
                ended(s, &o.ended)
            }
            "seq-list" => {
                usage(Args::parse(args, &[], 0, 0))?;
                Exit::Ok(seq::SEQS.iter().map(|s| s.name).collect::<Vec<_>>().join("\n"))
            }
            "tree-check" => {
                let a = usage(Args::parse(args, &[], 1, usize::MAX))?;
                let mut n = 0;
                for f in &a.pos {
                    snapshot::check(Path::new(f)).map_err(Exit::Fail)?;
                    n += 1;
                }
                Exit::Ok(format!("tree-check: {n} trees unchanged"))
            }
            v if v.ends_with("-verify") => {
                let seq = v == "seq-verify";
                let a = usage(Args::parse(args, &[("--snapshot", 1)], 2 + usize::from(seq), 2 + usize::from(seq)))?;
                let p = &a.pos[usize::from(seq)..];
                let (dir, log) = (Path::new(&p[0]), Path::new(&p[1]));
                let r = match v {
                    "fsx-verify" => fsx::verify(dir, log),
                    "many-writers-verify" => writers::verify(dir, log),
                    "namespace-verify" => ns::verify(dir, log),
                    "fragmented-append-verify" => frag::verify(dir, log),
                    "seq-verify" => seq::verify(&a.pos[0], dir, log),
                    _ => return Err(Exit::Usage("unknown command".into())),
                };
                let s = r.map_err(Exit::Fail)?;
                if let Some(f) = a.opt("--snapshot") {
                    snapshot::write(dir, Path::new(f)).map_err(Exit::Fail)?;
                }
                let at = if dir.exists() { dir } else { dir.parent().unwrap_or(Path::new("/")) };
                let free = free_percent(at).map_or("?".into(), |f| f.to_string());
                Exit::Ok(format!("{s} free={free}%"))
            }
            _ => Exit::Usage("unknown command".into()),
        })
    };
    go().unwrap_or_else(|e| e)
}

fn fatal(f: Fatal) -> Exit {
    Exit::Fail(f.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_strictly() {
        let v = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let a = Args::parse(&v("x --arm f 3 y z --seed 4"), &[("--arm", 2), ("--seed", 1)], 3, 3).unwrap();
        assert_eq!(a.pos, v("x y z"));
        assert_eq!(a.opts["--arm"], v("f 3"));
        assert_eq!(a.num("--seed", 0u64), Ok(4));
        assert_eq!(a.num("--other", 9u64), Ok(9));
        assert!(Args::parse(&v("x --bogus"), &[], 1, 1).is_err());
        assert!(Args::parse(&v("x --arm f"), &[("--arm", 2)], 1, 1).is_err());
        assert!(Args::parse(&v("x y"), &[], 1, 1).is_err());
        assert_eq!(size("64K"), Ok(65536));
        assert_eq!(size("2M"), Ok(2 << 20));
        assert!(size("x").is_err());
    }

    #[test]
    fn every_command_is_dispatched() {
        for c in COMMANDS {
            // Wrong arguments are a usage error (2), never "unknown command".
            let code = main(c, &["--nope".to_string()]);
            assert_eq!(code, 2, "{c}");
        }
        assert_eq!(main("seq-list", &[]), 0);
        assert_eq!(main("seq", &["no-such-seq".into(), "d".into(), "l".into()]), 2);
    }
}
