// SPDX-License-Identifier: GPL-2.0

//! Crash-consistency workloads and their verifiers (`tests/rsfs/crash.sh`).
//!
//! Each workload runs in one directory of the filesystem under test and
//! keeps an *acknowledgement log* elsewhere (the VM's `/tmp`, a tmpfs that
//! no power cut touches). A line is appended (and fsynced) only after the
//! system call it reports returned success, so the log lists exactly what
//! the filesystem promised was durable. A workload stops at its first
//! error, which is how it meets the power cut, writes an `end` line naming
//! the last operation it started and exits 0 if that error is one a cut
//! causes (`EIO`, `EROFS`).
//!
//! Workloads are deterministic functions of their seed: the log records op
//! indexes, not data, and the verifier regenerates the operations to know
//! what each one wrote. Every write fills its bytes from a pattern keyed by
//! (seed, file, op) at the absolute offset ([`op_pattern`]), so a verifier
//! can tell which operation put a byte where it is, and stale data from
//! anything else never passes.
//!
//! The verifiers accept every state the acknowledged operations allow:
//! what was acknowledged is there exactly, and each later operation may or
//! may not have happened (writes even in part, block by block; metadata
//! operations each all or nothing). [`content`] has the rule for a file's
//! bytes, [`ns`] the one for names.
//!
//! - [`fsx`]: random writes, truncates and syncs on a few files.
//! - [`writers`]: threads each creating and appending its own files.
//! - [`ns`]: churn in a small tree (create, rename, link, unlink, mkdir,
//!   rmdir, symlink, fsync of files and directories).
//! - [`frag`]: a file appended in small pieces interleaved with another.
//! - [`seq`]: short enumerated sequences (CrashMonkey's), checked by [`ns`].
//! - [`snapshot`]: a tree's listing after its verification, to check at the
//!   end that later cuts and log replays did not change it.

pub mod cli;
pub mod content;
pub mod frag;
pub mod fsx;
pub mod ns;
pub mod seq;
pub mod snapshot;
pub mod writers;

use crate::errno;
use crate::pattern::{mix, Pattern};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CString};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same operations in the workload and in its verifier.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed ^ 0x00c0_ffee_5eed_0001))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number in `0..n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// An index into a slice of `len` elements (`len` > 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// The pattern of the bytes operation `op` writes into file `file` of a
/// workload run with `seed`.
pub fn op_pattern(seed: u64, file: u64, op: u64) -> Pattern {
    Pattern::Seeded(mix(mix(seed ^ 0x7061_7474_6572_6e00).wrapping_add(file.rotate_left(40)) ^ op))
}

/// A workload's seed for sub-generator `n` (a writer thread, a file).
pub fn sub_seed(seed: u64, n: u64) -> u64 {
    mix(seed.wrapping_mul(0x100_0000_01b3) ^ n.wrapping_add(0x5bd1_e995))
}

/// Errors a power cut causes: a workload stops cleanly on these.
pub fn is_cut_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(5 | 30)) // EIO, EROFS
}

/// The stand-in for a cut the tests inject (`--stop-at`).
pub fn injected_eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

/// 64-bit FNV-1a, for content hashes in logs and snapshots.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The acknowledgement log: lines appended with one `write(2)` each (so
/// threads never interleave within a line) and fsynced, kept outside the
/// device under test.
pub struct Log {
    file: Mutex<File>,
}

impl Log {
    /// Creates (or empties) the log at `path`.
    pub fn create(path: &Path) -> io::Result<Log> {
        // Emptied first: O_APPEND and O_TRUNC do not go together in std.
        File::create(path)?;
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Log { file: Mutex::new(file) })
    }

    /// Appends one line and makes it durable.
    pub fn line(&self, s: &str) -> io::Result<()> {
        let f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = String::with_capacity(s.len() + 1);
        buf.push_str(s);
        buf.push('\n');
        (&*f).write_all(buf.as_bytes())?;
        f.sync_data()
    }
}

/// A parsed log: the header (`KIND v1 key=value...`) and the other lines
/// as whitespace-separated words.
#[derive(Debug)]
pub struct LogFile {
    pub kind: String,
    pub params: BTreeMap<String, String>,
    pub lines: Vec<Vec<String>>,
}

impl LogFile {
    /// Reads a log written by a workload of `kind`.
    pub fn read(path: &Path, kind: &str) -> Result<LogFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {}", path.display(), errno::describe(&e)))?;
        Self::parse(&text, kind).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a log's text.
    pub fn parse(text: &str, kind: &str) -> Result<LogFile, String> {
        let mut it = text.lines();
        let head = it.next().ok_or("empty log (the workload did not start)")?;
        let mut w = head.split_whitespace();
        let k = w.next().unwrap_or("");
        if k != kind || w.next() != Some("v1") {
            return Err(format!("not a {kind} v1 log: {head:?}"));
        }
        let mut params = BTreeMap::new();
        for kv in w {
            let (a, b) = kv.split_once('=').ok_or_else(|| format!("bad header word {kv:?}"))?;
            params.insert(a.to_string(), b.to_string());
        }
        let lines = it
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect();
        Ok(LogFile { kind: kind.to_string(), params, lines })
    }

    /// A header parameter, parsed.
    pub fn param<T: std::str::FromStr>(&self, name: &str) -> Result<T, String> {
        let v = self.params.get(name).ok_or_else(|| format!("log header has no {name}="))?;
        v.parse().map_err(|_| format!("log header: bad {name}={v}"))
    }

    /// Whether a `ready` line is there (the workload's setup is durable).
    pub fn ready(&self) -> bool {
        self.lines.iter().any(|l| l.len() == 1 && l[0] == "ready")
    }

    /// The `end LAST ERRNO` line: the last op started and how it ended;
    /// `None` if the workload did not get to write it.
    pub fn end(&self) -> Result<Option<(usize, String)>, String> {
        let Some(l) = self.lines.iter().find(|l| l.first().map(String::as_str) == Some("end")) else {
            return Ok(None);
        };
        if l.len() != 3 {
            return Err(format!("bad end line {l:?}"));
        }
        Ok(Some((num(&l[1])?, l[2].clone())))
    }

    /// The op indexes of the `ack I` lines.
    pub fn acks(&self) -> Result<Vec<usize>, String> {
        self.lines.iter().filter(|l| l[0] == "ack").map(|l| l.get(1).ok_or("bad ack line".to_string()).and_then(|s| num(s))).collect()
    }
}

/// A number in a log line.
pub fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("not a number in the log: {s:?}"))
}

/// How a workload's run ended: the last op started and the error, if any.
pub struct Ended {
    pub last: usize,
    pub error: Option<io::Error>,
}

impl Ended {
    /// The `end` line's words after `end`.
    pub fn log_words(&self) -> String {
        format!("{} {}", self.last, self.error.as_ref().map_or("none".to_string(), errno::of))
    }

    /// `errno=...` for a summary line.
    pub fn errno(&self) -> String {
        self.error.as_ref().map_or("none".to_string(), errno::of)
    }
}

/// A failure that is not the power cut: a wrong result seen while running,
/// or the log (outside the device) failing. The workload exits 1.
#[derive(Debug)]
pub struct Fatal(pub String);

impl From<String> for Fatal {
    fn from(s: String) -> Fatal {
        Fatal(s)
    }
}

/// Log write failures are fatal: the log is not on the device under test.
pub fn log_err(e: io::Error) -> Fatal {
    Fatal(format!("writing the log: {}", errno::describe(&e)))
}

extern "C" {
    fn syncfs(fd: c_int) -> c_int;
    fn statvfs(path: *const c_char, buf: *mut u64) -> c_int;
}

/// `syncfs(2)` on the filesystem holding `dir`.
pub fn syncfs_at(dir: &Path) -> io::Result<()> {
    let f = File::open(dir)?;
    // SAFETY: syncfs on a descriptor we hold has no memory effects.
    if unsafe { syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Free space of the filesystem holding `path`: the smaller of its free
/// blocks' and free inodes' percentages (the harness makes room when it
/// runs low).
pub fn free_percent(path: &Path) -> io::Result<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(22))?;
    // struct statvfs on 64-bit Linux: f_bsize, f_frsize, f_blocks, f_bfree,
    // f_bavail, f_files, f_ffree, f_favail, ... as 64-bit words (112
    // bytes); the buffer is larger.
    let mut buf = [0u64; 32];
    // SAFETY: the path is NUL-terminated; the buffer outsizes the struct.
    if unsafe { statvfs(c.as_ptr(), buf.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let pct = |avail: u64, total: u64| (avail * 100).checked_div(total).unwrap_or(100);
    Ok(pct(buf[4], buf[2]).min(pct(buf[7], buf[5])))
}

/// The directory holding `dir` ("." for a bare name): fsynced after `dir`
/// is made, so that its entry is durable.
pub fn parent_of(dir: &Path) -> &Path {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        Some(_) => Path::new("."),
        None => Path::new("/"),
    }
}

/// `open(O_DSYNC)`'s flag (the same on x86 and arm64).
pub const O_DSYNC: i32 = 0o10000;

#[cfg(test)]
pub(crate) mod testdir {
    use std::path::PathBuf;

    /// A fresh, empty directory for one test, removed when dropped.
    pub struct TestDir(pub PathBuf);

    impl TestDir {
        pub fn new(tag: &str) -> TestDir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let d = std::env::temp_dir().join(format!(
                "rsfs-crash-{}-{}-{tag}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            TestDir(d)
        }

        pub fn join(&self, p: &str) -> PathBuf {
            self.0.join(p)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let va: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let vb: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(va, vb);
        for v in 0..10 {
            assert!(va.contains(&v), "{v} never drawn in 100");
        }
        assert_ne!(Rng::new(8).next_u64(), Rng::new(7).next_u64());
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let x = r.range(3, 5);
            assert!((3..=5).contains(&x));
        }
    }

    #[test]
    fn op_patterns_differ_by_file_op_and_seed() {
        let mut bufs = Vec::new();
        for (s, f, o) in [(1, 0, 0), (1, 0, 1), (1, 1, 0), (2, 0, 0)] {
            let mut b = vec![0u8; 64];
            op_pattern(s, f, o).fill(4096, &mut b);
            bufs.push(b);
        }
        for i in 0..bufs.len() {
            for j in i + 1..bufs.len() {
                assert_ne!(bufs[i], bufs[j], "{i} {j}");
            }
        }
    }

    #[test]
    fn log_lines_parse_back() {
        let d = testdir::TestDir::new("log");
        let p = d.join("log");
        let log = Log::create(&p).unwrap();
        log.line("fsx v1 seed=3 ops=10").unwrap();
        log.line("ready").unwrap();
        log.line("ack 4").unwrap();
        log.line("end 9 EIO").unwrap();
        let l = LogFile::read(&p, "fsx").unwrap();
        assert_eq!(l.param::<u64>("seed"), Ok(3));
        assert!(l.param::<u64>("files").is_err());
        assert!(l.ready());
        assert_eq!(l.acks(), Ok(vec![4]));
        assert_eq!(l.end(), Ok(Some((9, "EIO".to_string()))));
        assert!(LogFile::read(&p, "namespace").is_err());
        // A log is emptied when created again.
        Log::create(&p).unwrap().line("fsx v1 seed=4").unwrap();
        assert_eq!(LogFile::read(&p, "fsx").unwrap().lines.len(), 0);
    }

    #[test]
    fn cut_errors_are_eio_and_erofs() {
        assert!(is_cut_error(&io::Error::from_raw_os_error(5)));
        assert!(is_cut_error(&io::Error::from_raw_os_error(30)));
        assert!(!is_cut_error(&io::Error::from_raw_os_error(17)));
        assert!(!is_cut_error(&io::Error::other("x")));
    }

    #[test]
    fn parents_of_relative_and_absolute_directories() {
        assert_eq!(parent_of(Path::new("r1")), Path::new("."));
        assert_eq!(parent_of(Path::new("/mnt/r1")), Path::new("/mnt"));
        assert_eq!(parent_of(Path::new("a/b")), Path::new("a"));
        assert_eq!(parent_of(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn free_percent_of_tmp() {
        let p = free_percent(&std::env::temp_dir()).unwrap();
        assert!(p <= 100);
    }
}
