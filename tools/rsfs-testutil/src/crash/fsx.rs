// SPDX-License-Identifier: GPL-2.0

//! `fsx`: random operations on a few files, fsx-style: writes at random
//! offsets and lengths (unaligned, block-aligned, appending, past the end
//! leaving a hole), some through `O_DSYNC` or `O_SYNC` descriptors,
//! truncates down and up, reads checked against the in-memory model while
//! running, and fsync, fdatasync or syncfs at random points. fallocate is
//! left out: rsfs has none.
//!
//! The operations are a function of the seed, so the log only lists the op
//! indexes that were acknowledged (`ack I`: a sync op, or an `O_DSYNC` or
//! `O_SYNC` write, that returned) and the last op started (`end I ERRNO`).
//! The verifier regenerates the ops and checks each file with
//! [`content::check`].
//!
//! Log: `fsx v1 seed=S ops=N files=F maxsize=M`, `ready` (the files
//! exist, empty, fsynced with their directory), `ack I`..., `end I ERRNO`.

use super::content::{self, Acked, Change, Event};
use super::{log_err, op_pattern, syncfs_at, Ended, Fatal, Log, LogFile, Rng, O_DSYNC};
use crate::sys::O_SYNC;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// What a run does: `ops` operations on `files` files of at most
/// `max_size` bytes, drawn from `seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub seed: u64,
    pub ops: usize,
    pub files: usize,
    pub max_size: u64,
}

impl Params {
    /// The defaults for the optional parameters.
    pub fn new(seed: u64, ops: usize) -> Params {
        Params { seed, ops, files: 4, max_size: 256 << 10 }
    }
}

/// How a write is made durable by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WSync {
    None,
    Dsync,
    Osync,
}

/// One operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Write { file: usize, off: u64, len: u64, sync: WSync },
    Truncate { file: usize, size: u64 },
    /// Read and compare with the model (no effect).
    Read { file: usize, off: u64, len: u64 },
    Fsync { file: usize },
    Fdatasync { file: usize },
    Syncfs,
}

impl Op {
    /// For messages: `write f2 [4000,+300) O_DSYNC`.
    pub fn describe(&self) -> String {
        match *self {
            Op::Write { file, off, len, sync } => format!(
                "write f{file} [{off},+{len}){}",
                match sync {
                    WSync::None => "",
                    WSync::Dsync => " O_DSYNC",
                    WSync::Osync => " O_SYNC",
                }
            ),
            Op::Truncate { file, size } => format!("truncate f{file} to {size}"),
            Op::Read { file, off, len } => format!("read f{file} [{off},+{len})"),
            Op::Fsync { file } => format!("fsync f{file}"),
            Op::Fdatasync { file } => format!("fdatasync f{file}"),
            Op::Syncfs => "syncfs".into(),
        }
    }

    /// Whether its success acknowledges something.
    fn acks(&self) -> bool {
        matches!(self, Op::Fsync { .. } | Op::Fdatasync { .. } | Op::Syncfs | Op::Write { sync: WSync::Dsync | WSync::Osync, .. })
    }
}

/// The operations of a run (a function of the parameters only).
pub fn generate(p: &Params) -> Vec<Op> {
    let mut r = Rng::new(p.seed);
    let max = p.max_size.max(4096);
    let mut sizes = vec![0u64; p.files];
    let mut ops = Vec::with_capacity(p.ops);
    for _ in 0..p.ops {
        let file = r.index(p.files);
        let size = sizes[file];
        let k = r.below(100);
        let op = if k < 52 {
            let (mut off, len) = match r.below(4) {
                0 => (size, r.range(1, 12000)),
                1 => (r.below(size.max(1)), r.range(1, 600)),
                2 => (r.below(max / 4096) * 4096, 4096 * r.range(1, 8)),
                _ => (r.below(max), r.range(1, 20000)),
            };
            if off >= max {
                off = r.below(max);
            }
            let len = len.min(max - off).max(1);
            let sync = match r.below(10) {
                0 => WSync::Dsync,
                1 => WSync::Osync,
                _ => WSync::None,
            };
            sizes[file] = size.max(off + len);
            Op::Write { file, off, len, sync }
        } else if k < 62 {
            let new = match r.below(3) {
                0 => r.below(size + 1),
                1 => r.below(max + 1),
                _ => (size + r.below(10000)).min(max),
            };
            sizes[file] = new;
            Op::Truncate { file, size: new }
        } else if k < 74 {
            Op::Read { file, off: r.below(size.max(1)), len: r.range(1, 16384) }
        } else if k < 86 {
            Op::Fsync { file }
        } else if k < 97 {
            Op::Fdatasync { file }
        } else {
            Op::Syncfs
        };
        ops.push(op);
    }
    ops
}

/// The file names.
fn name(f: usize) -> String {
    format!("f{f}")
}

/// How a run went.
pub struct Outcome {
    pub ended: Ended,
    pub acks: usize,
    pub last_ack: Option<usize>,
}

/// Runs the workload in `dir` (made here; it must not exist), logging to
/// `log_path`. `stop_at`: behave as if op N failed with `EIO` (tests).
pub fn run(dir: &Path, log_path: &Path, p: &Params, stop_at: Option<usize>) -> Result<Outcome, Fatal> {
    let log = Log::create(log_path).map_err(log_err)?;
    log.line(&format!("fsx v1 seed={} ops={} files={} maxsize={}", p.seed, p.ops, p.files, p.max_size))
        .map_err(log_err)?;
    let ops = generate(p);
    let mut out = Outcome { ended: Ended { last: 0, error: None }, acks: 0, last_ack: None };
    let fds = match setup(dir, p.files) {
        Ok(f) => f,
        Err(e) => {
            out.ended.error = Some(e);
            log.line(&format!("end {}", out.ended.log_words())).map_err(log_err)?;
            return Ok(out);
        }
    };
    log.line("ready").map_err(log_err)?;
    let mut model = vec![Vec::<u8>::new(); p.files];
    let mut buf = vec![0u8; 64 << 10];
    for (i, op) in ops.iter().enumerate() {
        out.ended.last = i;
        let r = if stop_at == Some(i) { Err(super::injected_eio()) } else { exec(op, i, p, &fds, &mut model, &mut buf, dir)? };
        if let Err(e) = r {
            out.ended.error = Some(e);
            break;
        }
        if op.acks() {
            log.line(&format!("ack {i}")).map_err(log_err)?;
            out.acks += 1;
            out.last_ack = Some(i);
        }
    }
    log.line(&format!("end {}", out.ended.log_words())).map_err(log_err)?;
    Ok(out)
}

/// The three descriptors of each file: plain, `O_DSYNC`, `O_SYNC`.
struct Fds {
    plain: Vec<File>,
    dsync: Vec<File>,
    osync: Vec<File>,
}

/// Makes the directory and the empty files, all durable.
fn setup(dir: &Path, files: usize) -> io::Result<Fds> {
    fs::create_dir(dir)?;
    let mut fds = Fds { plain: Vec::new(), dsync: Vec::new(), osync: Vec::new() };
    for f in 0..files {
        let path = dir.join(name(f));
        let plain = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        plain.sync_all()?;
        fds.plain.push(plain);
        fds.dsync.push(OpenOptions::new().write(true).custom_flags(O_DSYNC).open(&path)?);
        fds.osync.push(OpenOptions::new().write(true).custom_flags(O_SYNC).open(&path)?);
    }
    File::open(dir)?.sync_all()?;
    File::open(super::parent_of(dir))?.sync_all()?;
    Ok(fds)
}

/// Runs one op; the outer error is a wrong read (fatal), the inner one
/// the system call's.
fn exec(op: &Op, i: usize, p: &Params, fds: &Fds, model: &mut [Vec<u8>], buf: &mut Vec<u8>, dir: &Path) -> Result<io::Result<()>, Fatal> {
    let r = match *op {
        Op::Write { file, off, len, sync } => {
            let fd = match sync {
                WSync::None => &fds.plain[file],
                WSync::Dsync => &fds.dsync[file],
                WSync::Osync => &fds.osync[file],
            };
            let pat = op_pattern(p.seed, file as u64, i as u64);
            let c = Change::Write { off, len, pat };
            if buf.len() < len as usize {
                buf.resize(len as usize, 0);
            }
            let data = &mut buf[..len as usize];
            pat.fill(off, data);
            let r = fd.write_all_at(data, off);
            if r.is_ok() {
                content::apply(&mut model[file], &c);
            }
            r
        }
        Op::Truncate { file, size } => {
            let r = fds.plain[file].set_len(size);
            if r.is_ok() {
                content::apply(&mut model[file], &Change::Truncate { size });
            }
            r
        }
        Op::Read { file, off, len } => {
            let m = &model[file];
            let want = if off as usize >= m.len() { &[][..] } else { &m[off as usize..(off as usize + len as usize).min(m.len())] };
            if buf.len() < len as usize {
                buf.resize(len as usize, 0);
            }
            let mut got = 0usize;
            loop {
                match fds.plain[file].read_at(&mut buf[got..len as usize], off + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Ok(Err(e)),
                }
                if got == len as usize {
                    break;
                }
            }
            if let Some(x) = (0..got.max(want.len())).find(|&x| buf[..got].get(x) != want.get(x)) {
                return Err(Fatal(format!(
                    "{}: op {i} ({}): at offset {}: read {} bytes, the model has {}; first difference there: got {:?}, expected {:?}",
                    dir.join(name(file)).display(),
                    op.describe(),
                    off + x as u64,
                    got,
                    want.len(),
                    buf[..got].get(x),
                    want.get(x)
                )));
            }
            Ok(())
        }
        Op::Fsync { file } => fds.plain[file].sync_all(),
        Op::Fdatasync { file } => fds.plain[file].sync_data(),
        Op::Syncfs => syncfs_at(dir),
    };
    Ok(r)
}

/// A directory entry as the verifier saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A regular file and its contents.
    File(Vec<u8>),
    /// Something else (its description).
    Other(String),
}

/// What a log says.
pub struct Logged {
    pub params: Params,
    pub ready: bool,
    pub acks: Vec<usize>,
    /// The last op started (all of them if the log has no `end`).
    pub last: usize,
}

impl Logged {
    /// Parses a log written by [`run`].
    pub fn read(log_path: &Path) -> Result<Logged, String> {
        let l = LogFile::read(log_path, "fsx")?;
        let params = Params { seed: l.param("seed")?, ops: l.param("ops")?, files: l.param("files")?, max_size: l.param("maxsize")? };
        let last = l.end()?.map_or(params.ops.saturating_sub(1), |(i, _)| i);
        Ok(Logged { params, ready: l.ready(), acks: l.acks()?, last })
    }
}

/// Reads the workload's directory: `None` if it does not exist. Files
/// larger than `limit` bytes are reported, not read.
pub fn observe(dir: &Path, limit: u64) -> Result<Option<BTreeMap<String, Seen>>, String> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {}", dir.display(), crate::errno::describe(&e))),
    };
    let mut out = BTreeMap::new();
    for e in rd {
        let e = e.map_err(|e| format!("readdir {}: {}", dir.display(), crate::errno::describe(&e)))?;
        let n = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let m = fs::symlink_metadata(&path).map_err(|e| format!("stat {}: {}", path.display(), crate::errno::describe(&e)))?;
        let seen = if !m.is_file() {
            Seen::Other(format!("{:?}", m.file_type()))
        } else if m.len() > limit {
            Seen::Other(format!("a file of {} bytes", m.len()))
        } else {
            Seen::File(fs::read(&path).map_err(|e| format!("read {}: {}", path.display(), crate::errno::describe(&e)))?)
        };
        out.insert(n, seen);
    }
    Ok(Some(out))
}

/// Checks the files against the log; `Ok` is a one-line summary.
pub fn check(l: &Logged, seen: Option<&BTreeMap<String, Seen>>, dir: &str) -> Result<String, String> {
    let p = &l.params;
    let ops = generate(p);
    for &a in &l.acks {
        if a > l.last || !ops.get(a).is_some_and(Op::acks) {
            return Err(format!("the log acknowledges op {a}, which is not a sync op run before the end"));
        }
    }
    let names: Vec<String> = (0..p.files).map(name).collect();
    let Some(seen) = seen else {
        return if l.ready { Err(format!("{dir}: missing (it was made and fsynced before 'ready')")) } else { Ok("fsx-verify: ok: the cut came before the set-up was durable".into()) };
    };
    if let Some(n) = seen.keys().find(|n| !names.contains(n)) {
        return Err(format!("{dir}/{n}: an entry the workload never made"));
    }
    if !l.ready {
        // Before 'ready' only the empty files were made.
        for (n, s) in seen {
            match s {
                Seen::File(d) if d.is_empty() => {}
                Seen::File(d) => return Err(format!("{dir}/{n}: {} bytes, although nothing was written yet", d.len())),
                Seen::Other(what) => return Err(format!("{dir}/{n}: {what}, not the empty file made")),
            }
        }
        return Ok("fsx-verify: ok: the cut came during the set-up".into());
    }
    let describe = |i: usize| ops[i].describe();
    for (f, n) in names.iter().enumerate() {
        let events: Vec<Event> = ops
            .iter()
            .enumerate()
            .filter_map(|(i, op)| match *op {
                Op::Write { file, off, len, sync } if file == f => Some(Event {
                    op: i,
                    change: Change::Write { off, len, pat: op_pattern(p.seed, f as u64, i as u64) },
                    dsync: sync != WSync::None,
                }),
                Op::Truncate { file, size } if file == f => Some(Event { op: i, change: Change::Truncate { size }, dsync: false }),
                _ => None,
            })
            .collect();
        let full = l.acks.iter().copied().filter(|&a| matches!(ops[a], Op::Fsync { file } | Op::Fdatasync { file } if file == f) || ops[a] == Op::Syncfs).max();
        let ranges: Vec<usize> = l.acks.iter().copied().filter(|&a| matches!(ops[a], Op::Write { file, .. } if file == f)).collect();
        let acked = Acked { events: &events, full, ranges: &ranges, last: l.last };
        match seen.get(n) {
            None => return Err(format!("{dir}/{n}: missing (created and fsynced before 'ready')")),
            Some(Seen::Other(what)) => return Err(format!("{dir}/{n}: not the regular file it was: {what}")),
            Some(Seen::File(data)) => content::check(&format!("{dir}/{n}"), &acked, data, &describe)?,
        }
    }
    Ok(format!(
        "fsx-verify: ok: {} files, {} acks, last op started {} of {}",
        p.files,
        l.acks.len(),
        l.last,
        p.ops
    ))
}

/// Verifies `dir` against the log at `log_path`.
pub fn verify(dir: &Path, log_path: &Path) -> Result<String, String> {
    let l = Logged::read(log_path)?;
    let seen = observe(dir, l.params.max_size + (1 << 20))?;
    check(&l, seen.as_ref(), &dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::testdir::TestDir;

    fn params(seed: u64) -> Params {
        Params { seed, ops: 300, files: 3, max_size: 64 << 10 }
    }

    /// Rewrites the directory's files as the model has them after
    /// op `upto[f]` for file f (a state every log allows if it is at or
    /// after each file's last acknowledgement).
    fn rewrite(dir: &Path, p: &Params, upto: &[usize]) {
        let ops = generate(p);
        for (f, &u) in upto.iter().enumerate() {
            let mut d = Vec::new();
            for (i, op) in ops.iter().enumerate().take(u + 1) {
                match *op {
                    Op::Write { file, off, len, .. } if file == f => content::apply(&mut d, &Change::Write { off, len, pat: op_pattern(p.seed, f as u64, i as u64) }),
                    Op::Truncate { file, size } if file == f => content::apply(&mut d, &Change::Truncate { size }),
                    _ => {}
                }
            }
            fs::write(dir.join(name(f)), d).unwrap();
        }
    }

    /// Per file, the latest op acknowledging it (full or range).
    fn last_acks(l: &Logged, ops: &[Op]) -> Vec<usize> {
        (0..l.params.files)
            .map(|f| {
                l.acks
                    .iter()
                    .copied()
                    .filter(|&a| match ops[a] {
                        Op::Fsync { file } | Op::Fdatasync { file } | Op::Write { file, .. } => file == f,
                        _ => true,
                    })
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    #[test]
    fn generation_is_deterministic_and_mixed() {
        let p = params(5);
        let ops = generate(&p);
        assert_eq!(ops, generate(&p));
        assert_ne!(ops, generate(&params(6)));
        let count = |f: &dyn Fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
        assert!(count(&|o| matches!(o, Op::Write { sync: WSync::None, .. })) > 50);
        assert!(count(&|o| matches!(o, Op::Write { sync: WSync::Dsync, .. })) > 0);
        assert!(count(&|o| matches!(o, Op::Write { sync: WSync::Osync, .. })) > 0);
        assert!(count(&|o| matches!(o, Op::Truncate { .. })) > 10);
        assert!(count(&|o| matches!(o, Op::Fsync { .. })) > 10);
        assert!(count(&|o| matches!(o, Op::Fdatasync { .. })) > 10);
        assert!(count(&|o| matches!(o, Op::Read { .. })) > 10);
        assert!(count(&|o| matches!(o, Op::Write { off, len, .. } if (off | len) % 4096 != 0)) > 20);
        for o in &ops {
            if let Op::Write { off, len, .. } = *o {
                assert!(len > 0 && off + len <= p.max_size);
            }
        }
    }

    #[test]
    fn a_whole_run_verifies() {
        let d = TestDir::new("fsx-whole");
        let (dir, log) = (d.join("r"), d.join("log"));
        let p = params(1);
        let out = run(&dir, &log, &p, None).unwrap();
        assert!(out.ended.error.is_none());
        assert_eq!(out.ended.last, p.ops - 1);
        assert!(out.acks > 30);
        let s = verify(&dir, &log).unwrap();
        assert!(s.contains("ok"), "{s}");
    }

    #[test]
    fn a_stopped_run_and_its_acknowledged_states_verify() {
        for seed in 1..6 {
            let d = TestDir::new("fsx-stop");
            let (dir, log) = (d.join("r"), d.join("log"));
            let p = params(seed);
            let out = run(&dir, &log, &p, Some(150)).unwrap();
            assert_eq!(out.ended.last, 150);
            assert_eq!(out.ended.error.as_ref().and_then(io::Error::raw_os_error), Some(5));
            verify(&dir, &log).unwrap();
            let l = Logged::read(&log).unwrap();
            assert_eq!(l.last, 150);
            // Each file back at its last acknowledged op: still good.
            let acked = last_acks(&l, &generate(&p));
            rewrite(&dir, &p, &acked);
            verify(&dir, &log).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }

    #[test]
    fn violations_are_found() {
        let d = TestDir::new("fsx-bad");
        let (dir, log) = (d.join("r"), d.join("log"));
        let p = params(3);
        run(&dir, &log, &p, Some(200)).unwrap();
        let l = Logged::read(&log).unwrap();
        let ops = generate(&p);
        let acked = last_acks(&l, &ops);
        let good: Vec<Vec<u8>> = (0..p.files).map(|f| fs::read(dir.join(name(f))).unwrap()).collect();
        let restore = || {
            for (f, g) in good.iter().enumerate() {
                fs::write(dir.join(name(f)), g).unwrap();
            }
        };
        // A fsynced file missing.
        fs::remove_file(dir.join("f1")).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("f1: missing"));
        restore();
        // An entry nobody made.
        fs::write(dir.join("junk"), b"x").unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("junk"));
        fs::remove_file(dir.join("junk")).unwrap();
        // A file cut short of what was acknowledged, or grown by a byte.
        let f = (0..p.files).find(|&f| good[f].len() > 100).unwrap();
        fs::write(dir.join(name(f)), &good[f][..good[f].len() / 2 - 1]).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("bytes"));
        let mut longer = good[f].clone();
        longer.push(0);
        fs::write(dir.join(name(f)), &longer).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("bytes"));
        restore();
        // Stale bytes: the final state of a run that went on past the cut
        // (ops the log says never started).
        let d2 = TestDir::new("fsx-bad2");
        run(&d2.join("r"), &d2.join("log"), &p, None).unwrap();
        let changed = (0..p.files).any(|f| fs::read(d2.join("r").join(name(f))).unwrap() != good[f]);
        assert!(changed);
        for f in 0..p.files {
            fs::copy(d2.join("r").join(name(f)), dir.join(name(f))).unwrap();
        }
        assert!(verify(&dir, &log).is_err());
        restore();
        // An acknowledged byte flipped, where no later op wrote.
        rewrite(&dir, &p, &acked);
        verify(&dir, &log).unwrap();
        let f = (0..p.files).max_by_key(|&f| fs::metadata(dir.join(name(f))).unwrap().len()).unwrap();
        let mut data = fs::read(dir.join(name(f))).unwrap();
        data[0] ^= 0x81;
        fs::write(dir.join(name(f)), &data).unwrap();
        let e = verify(&dir, &log).unwrap_err();
        assert!(e.contains("byte 0"), "{e}");
        // A directory where a file was.
        fs::remove_file(dir.join(name(f))).unwrap();
        fs::create_dir(dir.join(name(f))).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("not the regular file"));
    }

    #[test]
    fn before_ready_only_empty_files_may_exist() {
        let d = TestDir::new("fsx-early");
        let log = d.join("log");
        Log::create(&log).unwrap().line("fsx v1 seed=1 ops=10 files=2 maxsize=4096").unwrap();
        verify(&d.join("r"), &log).unwrap();
        fs::create_dir(d.join("r")).unwrap();
        fs::write(d.join("r/f0"), b"").unwrap();
        verify(&d.join("r"), &log).unwrap();
        fs::write(d.join("r/f1"), b"data").unwrap();
        assert!(verify(&d.join("r"), &log).unwrap_err().contains("f1"));
        // After 'ready' the directory must be there.
        fs::remove_dir_all(d.join("r")).unwrap();
        Log::create(&log).unwrap();
        let l = Log::create(&log).unwrap();
        l.line("fsx v1 seed=1 ops=10 files=2 maxsize=4096").unwrap();
        l.line("ready").unwrap();
        assert!(verify(&d.join("r"), &log).unwrap_err().contains("missing"));
    }

    #[test]
    fn a_log_acknowledging_a_non_sync_op_is_refused() {
        let d = TestDir::new("fsx-log");
        let (dir, log) = (d.join("r"), d.join("log"));
        let p = params(2);
        run(&dir, &log, &p, Some(50)).unwrap();
        let ops = generate(&p);
        let plain = ops.iter().position(|o| matches!(o, Op::Truncate { .. })).unwrap();
        let mut text = fs::read_to_string(&log).unwrap();
        text.push_str(&format!("ack {plain}\n"));
        fs::write(&log, text).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("not a sync op"));
    }
}
