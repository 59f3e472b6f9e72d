// SPDX-License-Identifier: GPL-2.0

//! `many-writers`: W threads at once, each creating its own files one
//! after another in one shared directory (`w<T>-<K>`) and appending to
//! each in pieces of 1 byte to 16 KiB, with fsync or fdatasync after some
//! pieces, always an fsync after the last, and sometimes an fsync of the
//! directory. Concurrent creates in one directory and concurrent fsyncs
//! share the filesystem's transactions.
//!
//! Files are only appended, so file (T, K)'s byte at offset x is always
//! the same ([`file_pattern`]). A file's first sync is an fsync, which
//! acknowledges its name too (as on ext4 and xfs); fdatasync only its data.
//!
//! Log: `many-writers v1 seed=S files=N writers=W maxsize=M`, `ready`,
//! `fsync T K SIZE` or `fdatasync T K SIZE` (file K of writer T had SIZE
//! bytes when the call returned), `dirsync T K` (the directory's fsync
//! returned after writer T had made its file K), and per writer
//! `end T K BYTES ERRNO`: the file it was on (N when it finished) and the
//! end of the last write it started in that file.

use super::{is_cut_error, log_err, op_pattern, sub_seed, Fatal, Log, LogFile, Rng};
use crate::errno;
use crate::pattern::Pattern;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// `writers` threads of `files` files of up to `max_size` bytes each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub seed: u64,
    pub files: usize,
    pub writers: usize,
    pub max_size: u64,
}

impl Params {
    /// The defaults for the optional parameters.
    pub fn new(seed: u64, files: usize) -> Params {
        Params { seed, files, writers: 3, max_size: 48 << 10 }
    }
}

/// What follows a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    None,
    Fsync,
    Fdatasync,
}

/// One file's pieces, and whether the directory is fsynced after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePlan {
    pub pieces: Vec<(u64, Sync)>,
    pub dirsync: bool,
}

impl FilePlan {
    /// The file's final size.
    pub fn size(&self) -> u64 {
        self.pieces.iter().map(|p| p.0).sum()
    }
}

/// Writer `t`'s files.
pub fn plan(p: &Params, t: usize) -> Vec<FilePlan> {
    let mut r = Rng::new(sub_seed(p.seed, t as u64));
    (0..p.files)
        .map(|_| {
            let mut rem = r.range(1, p.max_size.max(1));
            let mut pieces = Vec::new();
            let mut named = false;
            while rem > 0 {
                let len = r.range(1, 16384).min(rem);
                rem -= len;
                let sync = if rem == 0 {
                    Sync::Fsync
                } else if r.chance(1, 4) {
                    if !named || r.chance(1, 2) {
                        Sync::Fsync
                    } else {
                        Sync::Fdatasync
                    }
                } else {
                    Sync::None
                };
                named |= sync == Sync::Fsync;
                pieces.push((len, sync));
            }
            FilePlan { pieces, dirsync: r.chance(1, 4) }
        })
        .collect()
}

/// The file names.
pub fn name(t: usize, k: usize) -> String {
    format!("w{t}-{k}")
}

/// File (t, k)'s bytes, at their offsets.
pub fn file_pattern(seed: u64, t: usize, k: usize) -> Pattern {
    op_pattern(seed, ((t as u64) << 32) | k as u64, 0)
}

/// How the writers ended: files fsynced, and each writer's error.
pub struct Outcome {
    pub synced: usize,
    pub errors: Vec<Option<io::Error>>,
}

/// Runs the workload in `dir` (made here). `stop_at`: each writer behaves
/// as if its Nth piece failed with `EIO` (tests).
pub fn run(dir: &Path, log_path: &Path, p: &Params, stop_at: Option<usize>) -> Result<Outcome, Fatal> {
    let log = Log::create(log_path).map_err(log_err)?;
    log.line(&format!("many-writers v1 seed={} files={} writers={} maxsize={}", p.seed, p.files, p.writers, p.max_size))
        .map_err(log_err)?;
    let setup = fs::create_dir(dir).and_then(|()| File::open(super::parent_of(dir))?.sync_all());
    if let Err(e) = setup {
        for t in 0..p.writers {
            log.line(&format!("end {t} 0 0 {}", errno::of(&e))).map_err(log_err)?;
        }
        return Ok(Outcome { synced: 0, errors: vec![Some(e)] });
    }
    log.line("ready").map_err(log_err)?;
    let results: Vec<Result<(usize, Option<io::Error>), Fatal>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..p.writers).map(|t| {
            let log = &log;
            s.spawn(move || writer(dir, log, p, t, stop_at))
        }).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Fatal("a writer thread panicked".into())))).collect()
    });
    let mut out = Outcome { synced: 0, errors: Vec::new() };
    for r in results {
        let (n, e) = r?;
        out.synced += n;
        out.errors.push(e);
    }
    Ok(out)
}

/// Writer `t`: its files in turn; returns the files it fsynced whole.
fn writer(dir: &Path, log: &Log, p: &Params, t: usize, stop_at: Option<usize>) -> Result<(usize, Option<io::Error>), Fatal> {
    let pat = |k| file_pattern(p.seed, t, k);
    let mut buf = vec![0u8; 16384];
    let mut steps = 0usize;
    let mut done = 0usize;
    for (k, fp) in plan(p, t).iter().enumerate() {
        let path = dir.join(name(t, k));
        let mut off = 0u64;
        let r = (|| -> io::Result<()> {
            let f = OpenOptions::new().write(true).create_new(true).open(&path)?;
            for &(len, sync) in &fp.pieces {
                steps += 1;
                if stop_at == Some(steps) {
                    return Err(super::injected_eio());
                }
                let b = &mut buf[..len as usize];
                pat(k).fill(off, b);
                off += len;
                f.write_all_at(b, off - len)?;
                let what = match sync {
                    Sync::None => continue,
                    Sync::Fsync => {
                        f.sync_all()?;
                        "fsync"
                    }
                    Sync::Fdatasync => {
                        f.sync_data()?;
                        "fdatasync"
                    }
                };
                log.line(&format!("{what} {t} {k} {off}")).map_err(|e| io::Error::other(format!("log: {e}")))?;
            }
            drop(f);
            if fp.dirsync {
                File::open(dir)?.sync_all()?;
                log.line(&format!("dirsync {t} {k}")).map_err(|e| io::Error::other(format!("log: {e}")))?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            if e.raw_os_error().is_none() {
                return Err(Fatal(format!("writer {t}: {e}")));
            }
            log.line(&format!("end {t} {k} {off} {}", errno::of(&e))).map_err(log_err)?;
            return Ok((done, Some(e)));
        }
        done += 1;
    }
    log.line(&format!("end {t} {} 0 none", p.files)).map_err(log_err)?;
    Ok((done, None))
}

/// Whether every writer ended well or by the cut.
pub fn ended_by_cut_or_done(o: &Outcome) -> bool {
    o.errors.iter().all(|e| e.as_ref().is_none_or(is_cut_error))
}

/// What the log says about one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FileAcks {
    /// Bytes acknowledged (by fsync or fdatasync).
    size: u64,
    /// Its name acknowledged (fsync of it, or of the directory after it).
    named: bool,
}

/// Checks the directory's entries (`None`: no directory) against the log.
pub fn check(log: &LogFile, seen: Option<&Files>, dir: &str) -> Result<String, String> {
    let p = Params { seed: log.param("seed")?, files: log.param("files")?, writers: log.param("writers")?, max_size: log.param("maxsize")? };
    let mut acks: BTreeMap<(usize, usize), FileAcks> = BTreeMap::new();
    let mut dirsynced = vec![None::<usize>; p.writers];
    let mut ends: Vec<Option<(usize, u64)>> = vec![None; p.writers];
    for l in &log.lines {
        let w = |i: usize| -> Result<usize, String> { super::num(l.get(i).ok_or_else(|| format!("short log line {l:?}"))?) };
        match l[0].as_str() {
            "fsync" | "fdatasync" => {
                let a = acks.entry((w(1)?, w(2)?)).or_default();
                a.size = a.size.max(w(3)? as u64);
                a.named |= l[0] == "fsync";
            }
            "dirsync" => {
                let t = w(1)?;
                let d = dirsynced.get_mut(t).ok_or("dirsync of a writer that does not exist")?;
                *d = Some(d.unwrap_or(0).max(w(2)?));
            }
            "end" => {
                let t = w(1)?;
                *ends.get_mut(t).ok_or("end of a writer that does not exist")? = Some((w(2)?, w(3)? as u64));
            }
            "ready" => {}
            _ => return Err(format!("unknown log line {l:?}")),
        }
    }
    let Some(seen) = seen else {
        return if log.ready() { Err(format!("{dir}: missing (made and fsynced before 'ready')")) } else { Ok("many-writers-verify: ok: the cut came before the set-up was durable".into()) };
    };
    let plans: Vec<Vec<FilePlan>> = (0..p.writers).map(|t| plan(&p, t)).collect();
    // Every entry is a file some writer made.
    for n in seen.keys() {
        let parsed = n.strip_prefix('w').and_then(|s| s.split_once('-')).and_then(|(t, k)| Some((t.parse::<usize>().ok()?, k.parse::<usize>().ok()?)));
        let Some((t, k)) = parsed.filter(|&(t, k)| t < p.writers && k < p.files) else {
            return Err(format!("{dir}/{n}: an entry no writer made"));
        };
        if let Some((kend, _)) = ends[t] {
            if k > kend {
                return Err(format!("{dir}/{n}: exists, but writer {t} stopped at its file {kend}"));
            }
        }
    }
    let mut present = 0;
    let mut with_data = 0;
    for (t, tplan) in plans.iter().enumerate() {
        for (k, fplan) in tplan.iter().enumerate() {
            let n = name(t, k);
            let a = acks.get(&(t, k)).copied().unwrap_or_default();
            let named = a.named || dirsynced[t].is_some_and(|d| d >= k);
            let data = match seen.get(&n) {
                None if named => return Err(format!("{dir}/{n}: missing, though its name was acknowledged ({})", if a.named { "fsync of the file" } else { "fsync of the directory" })),
                None => continue,
                Some(None) => return Err(format!("{dir}/{n}: not a regular file")),
                Some(Some(d)) => d,
            };
            present += 1;
            let s = data.len() as u64;
            let bound = match ends[t] {
                Some((kend, bytes)) if kend == k => bytes,
                _ => fplan.size(),
            };
            if s > bound {
                return Err(format!("{dir}/{n}: {s} bytes, more than the {bound} written"));
            }
            if s < a.size {
                return Err(format!("{dir}/{n}: {s} bytes, but {} were acknowledged by a sync", a.size));
            }
            let pat = file_pattern(p.seed, t, k);
            if let Some((x, nbad)) = pat.compare(0, &data[..a.size as usize]) {
                return Err(format!("{dir}/{n}: byte {x} of the {} acknowledged is {:#04x}, not the data written there ({nbad} bad)", a.size, data[x]));
            }
            // Past the acknowledged end: the data written there, or zeros.
            let mut want = vec![0u8; (s - a.size) as usize];
            pat.fill(a.size, &mut want);
            if let Some(i) = (0..want.len()).find(|&i| data[a.size as usize + i] != want[i] && data[a.size as usize + i] != 0) {
                let x = a.size as usize + i;
                return Err(format!("{dir}/{n}: byte {x} (past the {} acknowledged) is {:#04x}: neither the data written there nor zero", a.size, data[x]));
            }
            if a.size > 0 {
                with_data += 1;
            }
        }
    }
    Ok(format!("many-writers-verify: ok: {present} files present, {with_data} with acknowledged data"))
}

/// A directory's entries: each a regular file's contents, or `None`.
pub type Files = BTreeMap<String, Option<Vec<u8>>>;

/// Reads the directory: `None` if it does not exist; a non-file is `None`.
pub fn observe(dir: &Path, limit: u64) -> Result<Option<Files>, String> {
    Ok(super::fsx::observe(dir, limit)?.map(|m| {
        m.into_iter()
            .map(|(n, s)| match s {
                super::fsx::Seen::File(d) => (n, Some(d)),
                super::fsx::Seen::Other(_) => (n, None),
            })
            .collect()
    }))
}

/// Verifies `dir` against the log at `log_path`.
pub fn verify(dir: &Path, log_path: &Path) -> Result<String, String> {
    let log = LogFile::read(log_path, "many-writers")?;
    let seen = observe(dir, log.param::<u64>("maxsize")? + 1)?;
    check(&log, seen.as_ref(), &dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::testdir::TestDir;

    fn params(seed: u64) -> Params {
        Params { seed, files: 12, writers: 3, max_size: 40000 }
    }

    #[test]
    fn plans_sync_every_file_and_name_it_first() {
        let p = params(1);
        for t in 0..p.writers {
            let pl = plan(&p, t);
            assert_eq!(pl, plan(&p, t));
            for f in &pl {
                assert_eq!(f.pieces.last().unwrap().1, Sync::Fsync);
                let first = f.pieces.iter().find(|x| x.1 != Sync::None).unwrap();
                assert_eq!(first.1, Sync::Fsync, "a file's first sync names it");
                assert!(f.size() >= 1 && f.size() <= p.max_size);
            }
        }
        assert_ne!(plan(&p, 0), plan(&p, 1));
    }

    #[test]
    fn whole_and_stopped_runs_verify() {
        let d = TestDir::new("mw");
        let p = params(2);
        let out = run(&d.join("r"), &d.join("log"), &p, None).unwrap();
        assert_eq!(out.synced, p.files * p.writers);
        assert!(ended_by_cut_or_done(&out));
        verify(&d.join("r"), &d.join("log")).unwrap();
        let out = run(&d.join("s"), &d.join("log2"), &p, Some(9)).unwrap();
        assert!(out.errors.iter().all(|e| e.as_ref().and_then(io::Error::raw_os_error) == Some(5)));
        verify(&d.join("s"), &d.join("log2")).unwrap();
    }

    #[test]
    fn acknowledged_states_verify_and_violations_fail() {
        let d = TestDir::new("mw-bad");
        let (dir, logp) = (d.join("r"), d.join("log"));
        let p = params(3);
        run(&dir, &logp, &p, Some(14)).unwrap();
        let log = LogFile::read(&logp, "many-writers").unwrap();
        // Every file back to its acknowledged size; unnamed files gone.
        let mut sizes = BTreeMap::new();
        let mut named = std::collections::BTreeSet::new();
        for l in &log.lines {
            if l[0] == "fsync" || l[0] == "fdatasync" {
                let n = name(l[1].parse().unwrap(), l[2].parse().unwrap());
                let s: u64 = l[3].parse().unwrap();
                let e = sizes.entry(n.clone()).or_insert(0);
                *e = (*e).max(s);
                if l[0] == "fsync" {
                    named.insert(n);
                }
            }
        }
        assert!(named.len() >= 3, "too few synced files for the test");
        let good: BTreeMap<String, Vec<u8>> = fs::read_dir(&dir).unwrap().map(|e| {
            let e = e.unwrap();
            (e.file_name().into_string().unwrap(), fs::read(e.path()).unwrap())
        }).collect();
        let restore = || {
            for e in fs::read_dir(&dir).unwrap() {
                fs::remove_file(e.unwrap().path()).unwrap();
            }
            for (n, data) in &good {
                fs::write(dir.join(n), data).unwrap();
            }
        };
        for (n, data) in &good {
            match sizes.get(n) {
                Some(&s) if named.contains(n) => fs::write(dir.join(n), &data[..s as usize]).unwrap(),
                _ => fs::remove_file(dir.join(n)).unwrap(),
            }
        }
        verify(&dir, &logp).unwrap();
        restore();
        verify(&dir, &logp).unwrap();
        let victim = named.iter().find(|n| sizes[*n] > 10).unwrap().clone();
        // A fsynced file lost.
        fs::remove_file(dir.join(&victim)).unwrap();
        assert!(verify(&dir, &logp).unwrap_err().contains("missing"));
        restore();
        // Cut below its acknowledged size.
        fs::write(dir.join(&victim), &good[&victim][..sizes[&victim] as usize - 1]).unwrap();
        assert!(verify(&dir, &logp).unwrap_err().contains("acknowledged"));
        restore();
        // An acknowledged byte damaged; past the acknowledged end, a byte
        // that is neither the data nor zero.
        let mut bad = good[&victim].clone();
        bad[3] ^= 0x40;
        fs::write(dir.join(&victim), &bad).unwrap();
        assert!(verify(&dir, &logp).unwrap_err().contains("byte 3"));
        restore();
        let (n, s) = good.iter().find(|(n, data)| data.len() as u64 > sizes.get(*n).copied().unwrap_or(0) + 2).map(|(n, d)| (n.clone(), d.clone())).unwrap();
        let mut bad = s.clone();
        let x = sizes.get(&n).copied().unwrap_or(0) as usize + 1;
        bad[x] = if bad[x] == 0x77 { 0x78 } else { 0x77 };
        fs::write(dir.join(&n), &bad).unwrap();
        assert!(verify(&dir, &logp).unwrap_err().contains("neither"));
        restore();
        // A file longer than anything written, a file never made, a stranger.
        let mut longer = good[&victim].clone();
        longer.resize(p.max_size as usize + 1, 0);
        fs::write(dir.join(&victim), &longer).unwrap();
        assert!(verify(&dir, &logp).is_err());
        restore();
        fs::write(dir.join(name(0, p.files - 1)), b"").unwrap();
        assert!(verify(&dir, &logp).unwrap_err().contains("stopped at"));
        restore();
        fs::write(dir.join("w9-0"), b"").unwrap();
        assert!(verify(&dir, &logp).unwrap_err().contains("no writer made"));
    }
}
