// SPDX-License-Identifier: GPL-2.0

//! What the VM suite does with a crafted image: mount it, use every part of
//! it, unmount it, all in one process (an exec costs 0.1-0.6 s in the
//! test VM).
//!
//! 1. `mount(2)` read-write. A filesystem with unknown read-only-compatible
//!    features, or without a journal (format 1.0), is refused read-write by
//!    design, and then mounted read-only.
//! 2. Walk every directory (depth and entry count bounded, each directory
//!    once, symlinks not followed): `stat` every entry, read every regular
//!    file (the first 4 MiB, then each data region `SEEK_DATA` finds, up
//!    to 64 of 64 KiB), `readlink` every symlink. FIFOs and devices are
//!    not opened.
//! 3. Read-write only: create, write, fsync, read back and unlink a file in
//!    every directory walked; append to an existing file, truncate
//!    another, hard-link one, rename one and unlink it; mkdir, a file in
//!    it, rename the directory across directories, unlink, rmdir; rmdir an
//!    existing empty directory, move an existing directory (from below the
//!    root if there is one) to the root; syncfs.
//! 4. `umount2(2)`.
//!
//! Every failure is recorded with its errno; none stops the run. A
//! watchdog ends the process if one operation takes longer than the
//! timeout (the suite then reports a hang).

use rsfs_format::Superblock;
use rsfs_testutil::{errno, sys as tsys};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Names this process creates start with this (mutations never make it).
pub const PREFIX: &str = "zz-fuzz-";

const MAX_DEPTH: usize = 16;
const MAX_ENTRIES: usize = 4096;
const READ_CAP: u64 = 4 << 20;
const SEEK_CHUNK: usize = 64 << 10;
const SEEK_REGIONS: usize = 64;
/// Files larger than this are not appended to (a crafted size may sit at
/// the largest file size, where any append is EFBIG).
const APPEND_MAX: u64 = 1 << 30;

/// How the mount went.
#[derive(Debug)]
pub enum Mount {
    /// Mounted read-write.
    ReadWrite,
    /// Refused read-write with EROFS for unknown read-only features or no
    /// journal, and mounted read-only.
    ReadOnly,
    /// Refused.
    Refused(io::Error),
}

/// Everything that happened.
#[derive(Debug)]
pub struct Report {
    /// The mount.
    pub mount: Mount,
    /// Operations attempted (mount and umount not counted).
    pub ops: usize,
    /// Failed operations: (what, error).
    pub failures: Vec<(String, io::Error)>,
    /// The unmount (Ok if there was nothing to unmount).
    pub umount: io::Result<()>,
}

impl Report {
    /// Failures with errno `code`.
    pub fn count_errno(&self, code: i32) -> usize {
        self.failures
            .iter()
            .filter(|(_, e)| e.raw_os_error() == Some(code))
            .count()
    }

    /// The process exit code: 0 mounted and every operation worked, 1 some
    /// failed, 2 the mount was refused, 3 the unmount failed.
    pub fn exit_code(&self) -> i32 {
        if self.umount.is_err() {
            3
        } else if matches!(self.mount, Mount::Refused(_)) {
            2
        } else if !self.failures.is_empty() {
            1
        } else {
            0
        }
    }

    /// One line: `summary mount=rw ops=57 failed=2 euclean=1 eio=0 first=read:/a/f:EUCLEAN umount=ok`.
    pub fn summary(&self) -> String {
        let mount = match &self.mount {
            Mount::ReadWrite => "rw".to_string(),
            Mount::ReadOnly => "ro".to_string(),
            Mount::Refused(e) => format!("refused:{}", errno_name(e)),
        };
        let first = self.failures.first().map_or("none".to_string(), |(w, e)| {
            format!("{}:{}", w.replace(' ', ":"), errno_name(e))
        });
        let umount = match &self.umount {
            Ok(()) => "ok".to_string(),
            Err(e) => errno_name(e),
        };
        format!(
            "summary mount={mount} ops={} failed={} euclean={} eio={} first={first} umount={umount}",
            self.ops,
            self.failures.len(),
            self.count_errno(117),
            self.count_errno(5),
        )
    }
}

/// The errno name of an error ("EDATA" for a data mismatch found here).
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno::name(n),
        None => "EDATA".to_string(),
    }
}

struct Run {
    /// The operation under way and its sequence number, for the watchdog.
    current: Arc<Mutex<(u64, String)>>,
    ops: usize,
    failures: Vec<(String, io::Error)>,
    log: bool,
}

/// What the walk found.
#[derive(Default)]
struct Tree {
    /// Directories, the mount point first.
    dirs: Vec<PathBuf>,
    /// Directories with no entries (not the mount point).
    empty_dirs: Vec<PathBuf>,
    /// Regular files and their sizes.
    files: Vec<(PathBuf, u64)>,
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

impl Run {
    /// Runs one operation, recording a failure.
    fn op<T>(&mut self, what: impl Into<String>, f: impl FnOnce() -> io::Result<T>) -> Option<T> {
        let what = what.into();
        self.ops += 1;
        if let Ok(mut c) = self.current.lock() {
            *c = (self.ops as u64, what.clone());
        }
        match f() {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(what, e);
                None
            }
        }
    }

    /// Records a failure.
    fn fail(&mut self, what: String, e: io::Error) {
        if self.log {
            println!("fail {what}: {}", errno::describe(&e));
        }
        self.failures.push((what, e));
    }

    fn use_tree(&mut self, root: &Path, write: bool) {
        let tree = self.walk(root);
        if write {
            self.modify(root, &tree);
        }
    }

    fn walk(&mut self, root: &Path) -> Tree {
        let mut tree = Tree::default();
        let mut seen: BTreeSet<(u64, u64)> = BTreeSet::new();
        let Some(meta) = self.op(format!("stat {}", root.display()), || {
            fs::symlink_metadata(root)
        }) else {
            return tree;
        };
        // Directories to read, with their depth and identity (each is read
        // once: a crafted entry may link a directory twice, or an ancestor).
        let mut stack = vec![(root.to_path_buf(), 0usize, (meta.dev(), meta.ino()))];
        let mut entries_seen = 0;
        while let Some((dir, depth, id)) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let d = dir.display().to_string();
            tree.dirs.push(dir.clone());
            let Some(list) = self.op(format!("readdir {d}"), || fs::read_dir(&dir)) else {
                continue;
            };
            let mut names = Vec::new();
            for ent in list {
                match ent {
                    Ok(ent) => names.push(ent.path()),
                    Err(e) => self.fail(format!("readdir {d}"), e),
                }
            }
            names.sort();
            if names.is_empty() && depth > 0 {
                tree.empty_dirs.push(dir.clone());
            }
            let mut subdirs = Vec::new();
            for path in names {
                entries_seen += 1;
                if entries_seen > MAX_ENTRIES {
                    break;
                }
                let p = path.display().to_string();
                let Some(meta) = self.op(format!("stat {p}"), || fs::symlink_metadata(&path))
                else {
                    continue;
                };
                let ft = meta.file_type();
                if ft.is_dir() {
                    if depth < MAX_DEPTH {
                        subdirs.push((path, depth + 1, (meta.dev(), meta.ino())));
                    }
                } else if ft.is_file() {
                    self.op(format!("read {p}"), || read_file(&path, meta.len()));
                    tree.files.push((path, meta.len()));
                } else if ft.is_symlink() {
                    self.op(format!("readlink {p}"), || fs::read_link(&path));
                }
            }
            // Depth first, in name order.
            stack.extend(subdirs.into_iter().rev());
        }
        tree
    }

    fn modify(&mut self, root: &Path, tree: &Tree) {
        // A new file in every directory: add_entry and remove_entry on
        // each (the multi-block ones included).
        for dir in tree.dirs.iter().take(32) {
            let f = dir.join(format!("{PREFIX}new"));
            let d = f.display().to_string();
            if self
                .op(format!("create {d}"), || write_new(&f, &pattern(3000, 1)))
                .is_some()
            {
                self.op(format!("unlink {d}"), || fs::remove_file(&f));
            }
        }
        let big = root.join(format!("{PREFIX}file"));
        let data = pattern(64 << 10, 7);
        if self.op("create-64k", || write_new(&big, &data)).is_some() {
            self.op("read-back-64k", || check_content(&big, &data));
        }
        let small: Vec<&(PathBuf, u64)> = tree
            .files
            .iter()
            .filter(|(p, s)| *s < APPEND_MAX && !is_ours(p))
            .collect();
        if let Some((f, size)) = small.first() {
            let d = f.display().to_string();
            self.op(format!("append {d}"), || append(f, *size));
            let link = root.join(format!("{PREFIX}link"));
            if self
                .op(format!("link {d}"), || fs::hard_link(f, &link))
                .is_some()
            {
                self.op("unlink-link", || fs::remove_file(&link));
            }
        }
        if let Some((f, size)) = small.get(1).or(small.first()) {
            let d = f.display().to_string();
            self.op(format!("truncate {d}"), || {
                OpenOptions::new().write(true).open(f)?.set_len(*size / 2)
            });
        }
        // A directory of our own, moved across directories.
        let nd = root.join(format!("{PREFIX}dir"));
        if self.op("mkdir", || fs::create_dir(&nd)).is_some() {
            self.op("create-in-new-dir", || write_new(&nd.join("f"), b"x"));
            let other = tree.dirs.iter().skip(1).find(|d| !is_ours(d));
            let moved = match other {
                Some(o) => o.join(format!("{PREFIX}moved")),
                None => root.join(format!("{PREFIX}moved")),
            };
            let at = if self.op("rename-dir", || fs::rename(&nd, &moved)).is_some() {
                moved
            } else {
                nd
            };
            self.op("unlink-in-new-dir", || fs::remove_file(at.join("f")));
            self.op("rmdir", || fs::remove_dir(&at));
        }
        // Existing entries.
        if let Some(e) = tree.empty_dirs.iter().find(|d| !is_ours(d)) {
            let d = e.display().to_string();
            self.op(format!("rmdir {d}"), || fs::remove_dir(e));
        }
        // A directory with entries, moved to the root: across directories
        // if there is one below the root (dir_parent and two link counts).
        let movable: Vec<&PathBuf> = tree
            .dirs
            .iter()
            .skip(1)
            .filter(|d| !is_ours(d) && !tree.empty_dirs.contains(d))
            .collect();
        let deep = movable.iter().rev().find(|d| d.parent() != Some(root));
        if let Some(last) = deep.or(movable.last()) {
            let d = last.display().to_string();
            let to = root.join(format!("{PREFIX}renamed-dir"));
            self.op(format!("rename {d}"), || fs::rename(last, &to));
        }
        if let Some((f, _)) = tree
            .files
            .iter()
            .rev()
            .find(|(p, _)| !is_ours(p) && p.exists())
        {
            let d = f.display().to_string();
            let to = f.with_file_name(format!("{PREFIX}renamed"));
            if self
                .op(format!("rename {d}"), || fs::rename(f, &to))
                .is_some()
            {
                self.op(format!("unlink {d}"), || fs::remove_file(&to));
            }
        }
        self.op("syncfs", || tsys_syncfs(root));
    }
}

fn is_ours(p: &Path) -> bool {
    p.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with(PREFIX))
}

fn tsys_syncfs(root: &Path) -> io::Result<()> {
    crate::sys::sync_fs(&File::open(root)?)
}

fn write_new(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    check_content(path, data)
}

fn check_content(path: &Path, data: &[u8]) -> io::Result<()> {
    let got = fs::read(path)?;
    if got != data {
        return Err(io::Error::other("read back different data"));
    }
    Ok(())
}

fn append(path: &Path, size: u64) -> io::Result<()> {
    let tail = pattern(100, 3);
    let mut f = OpenOptions::new().append(true).open(path)?;
    f.write_all(&tail)?;
    f.sync_all()?;
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(size))?;
    let mut got = Vec::new();
    f.read_to_end(&mut got)?;
    if got != tail {
        return Err(io::Error::other("appended data reads back different"));
    }
    Ok(())
}

/// Reads a file: the first 4 MiB, then (for a larger, sparse one) a chunk
/// of each data region `SEEK_DATA` finds.
fn read_file(path: &Path, size: u64) -> io::Result<()> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; SEEK_CHUNK];
    let mut done = 0u64;
    while done < READ_CAP {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        done += n as u64;
    }
    if size <= READ_CAP {
        return Ok(());
    }
    let mut pos = READ_CAP;
    for _ in 0..SEEK_REGIONS {
        let Some(data) = tsys::seek(&f, pos, tsys::Seek::Data)? else {
            break;
        };
        f.seek(SeekFrom::Start(data))?;
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let Some(hole) = tsys::seek(&f, data, tsys::Seek::Hole)? else {
            break;
        };
        pos = hole.max(data + n as u64);
    }
    Ok(())
}

/// Whether the kernel refuses `dev` read-write by design: unknown
/// read-only-compatible features, or format 1.0 (no journal).
fn read_only_by_design(dev: &Path) -> bool {
    let mut b = [0u8; rsfs_format::BLOCK_SIZE];
    File::open(dev)
        .and_then(|mut f| f.read_exact(&mut b))
        .ok()
        .and_then(|()| Superblock::decode(&b).ok())
        .is_some_and(|sb| sb.has_unknown_ro_compat() || !sb.has_journal())
}

/// Steps 2 and 3 on any directory tree (`write`: step 3 too): the
/// operations attempted and those that failed.
pub fn use_tree(root: &Path, write: bool, log: bool) -> (usize, Vec<(String, io::Error)>) {
    let mut run = Run {
        current: Arc::new(Mutex::new((0, String::new()))),
        ops: 0,
        failures: Vec::new(),
        log,
    };
    run.use_tree(root, write);
    (run.ops, run.failures)
}

/// Mounts `dev` on `mnt` as `fstype` (rsfs), uses it, unmounts it. `log`: print each
/// failure as it happens. The watchdog exits the process with status 5 if
/// one operation takes longer than `timeout`.
pub fn exercise(dev: &Path, mnt: &Path, fstype: &str, timeout: Duration, log: bool) -> Report {
    let current = Arc::new(Mutex::new((0, "mount".to_string())));
    {
        let current = Arc::clone(&current);
        std::thread::spawn(move || watchdog(current, timeout));
    }
    let mut run = Run {
        current,
        ops: 0,
        failures: Vec::new(),
        log,
    };
    let mount = match tsys::mount_fs(dev, mnt, fstype, 0, "") {
        Ok(()) => Mount::ReadWrite,
        Err(e) if e.raw_os_error() == Some(30) && read_only_by_design(dev) => {
            match tsys::mount_fs(dev, mnt, fstype, tsys::MS_RDONLY, "") {
                Ok(()) => Mount::ReadOnly,
                Err(e) => Mount::Refused(e),
            }
        }
        Err(e) => Mount::Refused(e),
    };
    if log {
        println!(
            "mount {}",
            match &mount {
                Mount::ReadWrite => "rw".to_string(),
                Mount::ReadOnly => "ro (unknown read-only features)".to_string(),
                Mount::Refused(e) => format!("refused: {}", errno::describe(e)),
            }
        );
    }
    if matches!(mount, Mount::Refused(_)) {
        return Report {
            mount,
            ops: 0,
            failures: Vec::new(),
            umount: Ok(()),
        };
    }
    run.use_tree(mnt, matches!(mount, Mount::ReadWrite));
    if let Ok(mut c) = run.current.lock() {
        *c = (u64::MAX, "umount".into());
    }
    let mut umount = crate::sys::umount(mnt);
    for _ in 0..20 {
        match &umount {
            Err(e) if e.raw_os_error() == Some(16) => {
                std::thread::sleep(Duration::from_millis(100));
                umount = crate::sys::umount(mnt);
            }
            _ => break,
        }
    }
    Report {
        mount,
        ops: run.ops,
        failures: run.failures,
        umount,
    }
}

fn watchdog(current: Arc<Mutex<(u64, String)>>, timeout: Duration) {
    let mut last = (0, String::new());
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = current.lock().map(|c| c.clone()).unwrap_or_default();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() > timeout {
            let op = &last.1;
            println!(
                "summary hang op={} after={}s",
                op.replace(' ', ":"),
                timeout.as_secs()
            );
            eprintln!(
                "rsfs-fuzz: '{op}' did not finish in {} s",
                timeout.as_secs()
            );
            std::process::exit(5);
        }
    }
}
