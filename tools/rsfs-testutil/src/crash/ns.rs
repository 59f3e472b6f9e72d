// SPDX-License-Identifier: GPL-2.0

//! `namespace`: churn in a small tree, and the verifier for names that the
//! enumerated sequences ([`super::seq`]) share.
//!
//! The model has *identities* (files, directories, symlinks, numbered as
//! made; 0 is the workload's directory) and *keys* (directory identity,
//! name). Ops: create (with contents), write (some `O_DSYNC`), truncate,
//! rename (over files and empty directories too), `RENAME_EXCHANGE`, link,
//! unlink, mkdir, rmdir, symlink, fsync of a file or a directory,
//! fdatasync, syncfs. The random generator keeps at most five directories,
//! two deep, five names each.
//!
//! What a successful call acknowledges (the weakest rule ext4 and xfs
//! keep; a journal that commits everything before is stronger):
//!
//! - fsync of a file: its data, and each of its names (every op that gives
//!   a file a name, create, link or rename, changes the file's inode, so
//!   its fsync commits it); an ancestor directory's name if it was made
//!   before that name (journal order). Not the names it lost.
//! - fsync of a directory: every entry in it (a removal too), and its own
//!   name and ancestors by the rule above.
//! - fdatasync, an `O_DSYNC` write: data only (see [`super::content`]).
//! - syncfs: everything.
//!
//! After a crash each key shows the identity it held when last
//! acknowledged, or one a later op (up to the last op started) put there:
//! each op all or nothing. Across keys: a renamed directory is at one of
//! its two names, never both, never neither (one op); an exchange is
//! whole; a renamed file may show at both names (a filesystem may link the
//! new name before it removes the old one) but never at neither. No
//! directory appears twice; a file's link count is the number of names it
//! shows. Files found are identified by inode number (logged when made) and
//! by contents, checked with [`super::content::check`].
//!
//! Log: `namespace v1 seed=S ops=N`, `ready` (the directory exists,
//! fsynced into its parent), `ino ID INO` (as each identity is made),
//! `ack I`, `end I ERRNO`.

use super::content::{self, Acked, Change, Event};
use super::{log_err, op_pattern, syncfs_at, Ended, Fatal, Log, LogFile, Rng, O_DSYNC};
use crate::sys;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// An identity: 0 is the workload's directory.
pub type Id = u32;
/// A directory entry: (directory identity, name).
pub type Key = (Id, String);

/// What an identity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// One operation, on identities and keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `open(O_CREAT|O_EXCL)`, then `len` bytes written at 0.
    Create { at: Key, id: Id, len: u64 },
    Write { file: Id, off: u64, len: u64, dsync: bool },
    Truncate { file: Id, size: u64 },
    Rename { from: Key, to: Key },
    Exchange { a: Key, b: Key },
    Link { file: Id, to: Key },
    Unlink { at: Key },
    Mkdir { at: Key, id: Id },
    Rmdir { at: Key },
    Symlink { at: Key, id: Id },
    Fsync { target: Id },
    Fdatasync { file: Id },
    Syncfs,
}

impl Op {
    /// Whether its success acknowledges something.
    pub fn acks(&self) -> bool {
        matches!(self, Op::Fsync { .. } | Op::Fdatasync { .. } | Op::Syncfs | Op::Write { dsync: true, .. })
    }
}

/// A symlink's target: names its identity.
pub fn symlink_target(id: Id) -> String {
    format!("t{id}")
}

/// The tree as the ops made it.
#[derive(Clone, Debug)]
pub struct Model {
    pub kinds: BTreeMap<Id, Kind>,
    /// Entries of each live directory.
    pub entries: BTreeMap<Id, BTreeMap<String, Id>>,
    /// Each live directory's key (not the root's).
    pub parent: BTreeMap<Id, Key>,
    /// Each live file's and symlink's keys.
    pub names: BTreeMap<Id, BTreeSet<Key>>,
    /// Each file's size.
    pub sizes: BTreeMap<Id, u64>,
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

impl Model {
    /// The empty workload directory.
    pub fn new() -> Model {
        Model {
            kinds: BTreeMap::from([(0, Kind::Dir)]),
            entries: BTreeMap::from([(0, BTreeMap::new())]),
            parent: BTreeMap::new(),
            names: BTreeMap::new(),
            sizes: BTreeMap::new(),
        }
    }

    /// What a key holds.
    pub fn get(&self, k: &Key) -> Option<Id> {
        self.entries.get(&k.0)?.get(&k.1).copied()
    }

    /// A live directory's path from the workload directory ("" for it).
    pub fn dir_path(&self, d: Id) -> String {
        match self.parent.get(&d) {
            None => String::new(),
            Some(k) => self.key_path(k),
        }
    }

    /// A key's path.
    pub fn key_path(&self, k: &Key) -> String {
        let d = self.dir_path(k.0);
        if d.is_empty() {
            k.1.clone()
        } else {
            format!("{d}/{}", k.1)
        }
    }

    /// A live identity's path (a file's first name).
    pub fn path_of(&self, id: Id) -> String {
        match self.kinds[&id] {
            Kind::Dir => self.dir_path(id),
            _ => self.key_path(self.names[&id].iter().next().expect("a live file has a name")),
        }
    }

    /// Depth of a live directory (the root is 0).
    pub fn depth(&self, d: Id) -> usize {
        let mut n = 0;
        let mut d = d;
        while let Some(k) = self.parent.get(&d) {
            n += 1;
            d = k.0;
        }
        n
    }

    /// Levels of directories below `d` (0: none).
    pub fn height(&self, d: Id) -> usize {
        self.entries[&d].values().filter(|c| self.kinds[c] == Kind::Dir).map(|&c| 1 + self.height(c)).max().unwrap_or(0)
    }

    /// Whether directory `d` is `anc` or below it.
    pub fn within(&self, d: Id, anc: Id) -> bool {
        let mut d = d;
        loop {
            if d == anc {
                return true;
            }
            match self.parent.get(&d) {
                Some(k) => d = k.0,
                None => return false,
            }
        }
    }

    fn put(&mut self, k: &Key, id: Id) -> Option<Id> {
        let old = self.entries.get_mut(&k.0).expect("a live directory").insert(k.1.clone(), id);
        match self.kinds[&id] {
            Kind::Dir => {
                self.parent.insert(id, k.clone());
            }
            _ => {
                self.names.entry(id).or_default().insert(k.clone());
            }
        }
        if let Some(o) = old.filter(|&o| o != id) {
            self.forget(k, o);
        }
        old
    }

    fn take(&mut self, k: &Key) -> Id {
        let id = self.entries.get_mut(&k.0).and_then(|e| e.remove(&k.1)).expect("an existing entry");
        self.forget(k, id);
        id
    }

    /// `id` lost name `k`.
    fn forget(&mut self, k: &Key, id: Id) {
        match self.kinds[&id] {
            Kind::Dir => {
                if self.parent.get(&id) == Some(k) {
                    self.parent.remove(&id);
                    self.entries.remove(&id);
                }
            }
            _ => {
                if let Some(n) = self.names.get_mut(&id) {
                    n.remove(k);
                    if n.is_empty() {
                        self.names.remove(&id);
                    }
                }
            }
        }
    }

    /// Applies an op (valid in this state); returns the keys it changed.
    pub fn apply(&mut self, op: &Op) -> Vec<(Key, Option<Id>)> {
        match op {
            Op::Create { at, id, len } => {
                self.kinds.insert(*id, Kind::File);
                self.sizes.insert(*id, *len);
                self.put(at, *id);
                vec![(at.clone(), Some(*id))]
            }
            Op::Write { file, off, len, .. } => {
                let s = self.sizes.entry(*file).or_default();
                *s = (*s).max(off + len);
                vec![]
            }
            Op::Truncate { file, size } => {
                self.sizes.insert(*file, *size);
                vec![]
            }
            Op::Rename { from, to } => {
                let x = self.get(from).expect("rename of an existing entry");
                self.entries.get_mut(&from.0).unwrap().remove(&from.1);
                if self.kinds[&x] != Kind::Dir {
                    self.names.get_mut(&x).unwrap().remove(from);
                }
                // What the new name held loses it (an empty directory goes).
                if let Some(y) = self.get(to) {
                    self.entries.get_mut(&to.0).unwrap().remove(&to.1);
                    self.forget(to, y);
                }
                // A moved directory keeps its entries.
                self.put(to, x);
                vec![(from.clone(), None), (to.clone(), Some(x))]
            }
            Op::Exchange { a, b } => {
                let (x, y) = (self.get(a).unwrap(), self.get(b).unwrap());
                self.entries.get_mut(&a.0).unwrap().insert(a.1.clone(), y);
                self.entries.get_mut(&b.0).unwrap().insert(b.1.clone(), x);
                for (id, from, to) in [(x, a, b), (y, b, a)] {
                    if self.kinds[&id] == Kind::Dir {
                        self.parent.insert(id, to.clone());
                    } else {
                        let n = self.names.get_mut(&id).unwrap();
                        n.remove(from);
                        n.insert(to.clone());
                    }
                }
                vec![(a.clone(), Some(y)), (b.clone(), Some(x))]
            }
            Op::Link { file, to } => {
                self.put(to, *file);
                vec![(to.clone(), Some(*file))]
            }
            Op::Unlink { at } | Op::Rmdir { at } => {
                self.take(at);
                vec![(at.clone(), None)]
            }
            Op::Mkdir { at, id } => {
                self.kinds.insert(*id, Kind::Dir);
                self.put(at, *id);
                self.entries.insert(*id, BTreeMap::new());
                vec![(at.clone(), Some(*id))]
            }
            Op::Symlink { at, id } => {
                self.kinds.insert(*id, Kind::Symlink);
                self.put(at, *id);
                vec![(at.clone(), Some(*id))]
            }
            Op::Fsync { .. } | Op::Fdatasync { .. } | Op::Syncfs => vec![],
        }
    }

    /// An op, for messages, with the paths of this (the before) state.
    pub fn describe(&self, op: &Op) -> String {
        let p = |k: &Key| self.key_path(k);
        let root = |s: String| if s.is_empty() { ".".to_string() } else { s };
        match op {
            Op::Create { at, id, len } => format!("create {} (#{id}, {len} bytes)", p(at)),
            Op::Write { file, off, len, dsync } => {
                format!("write {} (#{file}) [{off},+{len}){}", self.path_of(*file), if *dsync { " O_DSYNC" } else { "" })
            }
            Op::Truncate { file, size } => format!("truncate {} (#{file}) to {size}", self.path_of(*file)),
            Op::Rename { from, to } => format!("rename {} -> {}", p(from), p(to)),
            Op::Exchange { a, b } => format!("exchange {} <-> {}", p(a), p(b)),
            Op::Link { file, to } => format!("link {} (#{file}) -> {}", self.path_of(*file), p(to)),
            Op::Unlink { at } => format!("unlink {}", p(at)),
            Op::Mkdir { at, id } => format!("mkdir {} (#{id})", p(at)),
            Op::Rmdir { at } => format!("rmdir {}", p(at)),
            Op::Symlink { at, id } => format!("symlink {} -> {} (#{id})", p(at), symlink_target(*id)),
            Op::Fsync { target } => format!("fsync {} (#{target})", root(self.path_of(*target))),
            Op::Fdatasync { file } => format!("fdatasync {} (#{file})", self.path_of(*file)),
            Op::Syncfs => "syncfs".into(),
        }
    }
}

/// Names the generator uses in each directory.
pub const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const MAX_DIRS: usize = 5;
const MAX_DEPTH: usize = 2;
const MAX_FILE: u64 = 96 << 10;

/// The random namespace workload's ops (a function of seed and count).
pub fn generate(seed: u64, n: usize) -> Vec<Op> {
    let mut r = Rng::new(seed);
    let mut m = Model::new();
    let mut next_id: Id = 1;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        let op = (0..50).find_map(|_| pick(&mut r, &m, next_id)).unwrap_or(Op::Syncfs);
        if matches!(op, Op::Create { .. } | Op::Mkdir { .. } | Op::Symlink { .. }) {
            next_id += 1;
        }
        m.apply(&op);
        ops.push(op);
    }
    ops
}

/// One random op valid in state `m`, or `None` to draw again.
fn pick(r: &mut Rng, m: &Model, next_id: Id) -> Option<Op> {
    let dirs: Vec<Id> = m.entries.keys().copied().collect();
    let entries: Vec<(Key, Id)> = m.entries.iter().flat_map(|(&d, e)| e.iter().map(move |(n, &id)| ((d, n.clone()), id))).collect();
    let files: Vec<Id> = m.names.keys().copied().filter(|id| m.kinds[id] == Kind::File).collect();
    let free_key = |r: &mut Rng| -> Option<Key> {
        let d = dirs[r.index(dirs.len())];
        let n = NAMES[r.index(NAMES.len())];
        (!m.entries[&d].contains_key(n)).then(|| (d, n.to_string()))
    };
    let k = r.below(100);
    match k {
        0..=13 => Some(Op::Create { at: free_key(r)?, id: next_id, len: if r.chance(1, 4) { 0 } else { r.range(1, 12000) } }),
        14..=25 => {
            let file = *files.get(r.index(files.len().max(1)))?;
            let size = m.sizes[&file];
            let (off, len) = match r.below(3) {
                0 => (size, r.range(1, 8000)),
                1 => (r.below(size.max(1)), r.range(1, 4000)),
                _ => (size + r.below(6000), r.range(1, 4000)),
            };
            (off + len <= MAX_FILE).then_some(Op::Write { file, off, len, dsync: r.chance(1, 5) })
        }
        26..=30 => {
            let file = *files.get(r.index(files.len().max(1)))?;
            let size = m.sizes[&file];
            let new = if r.chance(1, 2) { r.below(size + 1) } else { (size + r.below(8000)).min(MAX_FILE) };
            Some(Op::Truncate { file, size: new })
        }
        31..=44 => {
            let (from, x) = entries.get(r.index(entries.len().max(1)))?.clone();
            let to = if r.chance(1, 2) { free_key(r)? } else { entries[r.index(entries.len())].0.clone() };
            if to == from {
                return None;
            }
            let xdir = m.kinds[&x] == Kind::Dir;
            if let Some(y) = m.get(&to) {
                let ydir = m.kinds[&y] == Kind::Dir;
                // Same inode (hard links): rename does nothing; type clash: refused.
                if y == x || xdir != ydir || (ydir && !m.entries[&y].is_empty()) {
                    return None;
                }
            }
            if xdir && (m.within(to.0, x) || m.depth(to.0) + 1 + m.height(x) > MAX_DEPTH) {
                return None;
            }
            Some(Op::Rename { from, to })
        }
        45..=47 => {
            let (a, x) = entries.get(r.index(entries.len().max(1)))?.clone();
            let (b, y) = entries[r.index(entries.len())].clone();
            if a == b || x == y {
                return None;
            }
            for (id, other) in [(x, &b), (y, &a)] {
                if m.kinds[&id] == Kind::Dir && (m.within(other.0, id) || m.depth(other.0) + 1 + m.height(id) > MAX_DEPTH) {
                    return None;
                }
            }
            Some(Op::Exchange { a, b })
        }
        48..=53 => {
            let file = *files.get(r.index(files.len().max(1)))?;
            Some(Op::Link { file, to: free_key(r)? })
        }
        54..=62 => {
            let (at, x) = entries.get(r.index(entries.len().max(1)))?.clone();
            (m.kinds[&x] != Kind::Dir).then_some(Op::Unlink { at })
        }
        63..=68 => {
            let at = free_key(r)?;
            (dirs.len() - 1 < MAX_DIRS && m.depth(at.0) < MAX_DEPTH).then_some(Op::Mkdir { at, id: next_id })
        }
        69..=74 => {
            // rmdir a directory, or empty it first: unlink or rmdir inside
            // (else directories fill up, and none is ever removed or made).
            let subdirs: Vec<Id> = dirs.iter().copied().filter(|&d| d != 0).collect();
            let mut d = *subdirs.get(r.index(subdirs.len().max(1)))?;
            loop {
                let e: Vec<(&String, &Id)> = m.entries[&d].iter().collect();
                if e.is_empty() {
                    return Some(Op::Rmdir { at: m.parent[&d].clone() });
                }
                let (n, &x) = e[r.index(e.len())];
                if m.kinds[&x] != Kind::Dir {
                    return Some(Op::Unlink { at: (d, n.clone()) });
                }
                d = x;
            }
        }
        75..=78 => Some(Op::Symlink { at: free_key(r)?, id: next_id }),
        79..=91 => {
            if r.chance(1, 2) && !files.is_empty() {
                Some(Op::Fsync { target: files[r.index(files.len())] })
            } else {
                Some(Op::Fsync { target: dirs[r.index(dirs.len())] })
            }
        }
        92..=96 => Some(Op::Fdatasync { file: *files.get(r.index(files.len().max(1)))? }),
        _ => Some(Op::Syncfs),
    }
}

/// The pattern of the bytes op `op` writes into file `id`.
pub fn pattern(seed: u64, id: Id, op: usize) -> crate::pattern::Pattern {
    op_pattern(seed, u64::from(id), op as u64)
}

/// The header of a log.
pub enum Header {
    Namespace { seed: u64, ops: usize },
    Seq { name: String, seed: u64, ops: usize, setup: usize },
}

impl Header {
    fn line(&self) -> String {
        match self {
            Header::Namespace { seed, ops } => format!("namespace v1 seed={seed} ops={ops}"),
            Header::Seq { name, seed, ops, setup } => format!("seq v1 name={name} seed={seed} ops={ops} setup={setup}"),
        }
    }
}

/// A hook called before op `i` runs (and with `i` = the number of ops
/// after the last): the sequences arm the crash point there.
pub type Hook<'a> = &'a mut dyn FnMut(usize) -> io::Result<()>;

/// Runs `ops` in `dir` (made here), logging to `log_path`. `stop_at`:
/// behave as if op N failed with `EIO` (tests). Returns how it ended and
/// the number of acknowledgements.
pub fn run(dir: &Path, log_path: &Path, head: &Header, seed: u64, ops: &[Op], stop_at: Option<usize>, mut hook: Option<Hook>) -> Result<(Ended, usize), Fatal> {
    let log = Log::create(log_path).map_err(log_err)?;
    log.line(&head.line()).map_err(log_err)?;
    let mut ended = Ended { last: 0, error: None };
    let mut acks = 0;
    let setup = fs::create_dir(dir).and_then(|()| File::open(super::parent_of(dir))?.sync_all());
    if let Err(e) = setup {
        ended.error = Some(e);
        log.line(&format!("end {}", ended.log_words())).map_err(log_err)?;
        return Ok((ended, 0));
    }
    log.line("ready").map_err(log_err)?;
    let mut m = Model::new();
    let mut call = |i: usize| -> Result<(), Fatal> {
        match hook.as_mut() {
            Some(h) => h(i).map_err(|e| Fatal(format!("before op {i}: {}", crate::errno::describe(&e)))),
            None => Ok(()),
        }
    };
    for (i, op) in ops.iter().enumerate() {
        call(i)?;
        ended.last = i;
        let r = if stop_at == Some(i) { Err(super::injected_eio()) } else { exec(op, i, &m, dir, seed, &log)? };
        if let Err(e) = r {
            ended.error = Some(e);
            break;
        }
        m.apply(op);
        if op.acks() {
            log.line(&format!("ack {i}")).map_err(log_err)?;
            acks += 1;
        }
    }
    call(ops.len())?;
    log.line(&format!("end {}", ended.log_words())).map_err(log_err)?;
    Ok((ended, acks))
}

/// Runs one op against the tree in state `m`.
fn exec(op: &Op, i: usize, m: &Model, dir: &Path, seed: u64, log: &Log) -> Result<io::Result<()>, Fatal> {
    let p = |k: &Key| dir.join(m.key_path(k));
    let of = |id: Id| dir.join(m.path_of(id));
    let mut ino = None;
    let r = (|| -> io::Result<()> {
        match op {
            Op::Create { at, id, len } => {
                let f = OpenOptions::new().write(true).create_new(true).open(p(at))?;
                ino = Some((*id, f.metadata()?.ino()));
                write_ino(log, ino)?;
                if *len > 0 {
                    let mut b = vec![0u8; *len as usize];
                    pattern(seed, *id, i).fill(0, &mut b);
                    f.write_all_at(&b, 0)?;
                }
            }
            Op::Write { file, off, len, dsync } => {
                let f = OpenOptions::new().write(true).custom_flags(if *dsync { O_DSYNC } else { 0 }).open(of(*file))?;
                let mut b = vec![0u8; *len as usize];
                pattern(seed, *file, i).fill(*off, &mut b);
                f.write_all_at(&b, *off)?;
            }
            Op::Truncate { file, size } => OpenOptions::new().write(true).open(of(*file))?.set_len(*size)?,
            Op::Rename { from, to } => sys::rename2(&p(from), &p(to), 0)?,
            Op::Exchange { a, b } => sys::rename2(&p(a), &p(b), sys::RENAME_EXCHANGE)?,
            Op::Link { file, to } => fs::hard_link(of(*file), p(to))?,
            Op::Unlink { at } => fs::remove_file(p(at))?,
            Op::Mkdir { at, id } => {
                fs::create_dir(p(at))?;
                ino = Some((*id, fs::symlink_metadata(p(at))?.ino()));
                write_ino(log, ino)?;
            }
            Op::Rmdir { at } => fs::remove_dir(p(at))?,
            Op::Symlink { at, id } => {
                std::os::unix::fs::symlink(symlink_target(*id), p(at))?;
                ino = Some((*id, fs::symlink_metadata(p(at))?.ino()));
                write_ino(log, ino)?;
            }
            Op::Fsync { target } => File::open(of(*target))?.sync_all()?,
            Op::Fdatasync { file } => File::open(of(*file))?.sync_data()?,
            Op::Syncfs => syncfs_at(dir)?,
        }
        Ok(())
    })();
    match r {
        Err(e) if e.raw_os_error().is_none() => Err(Fatal(format!("op {i}: {e}"))),
        r => Ok(r),
    }
}

/// Logs an identity's inode number (before anything else happens to it).
fn write_ino(log: &Log, ino: Option<(Id, u64)>) -> io::Result<()> {
    let (id, n) = ino.unwrap();
    log.line(&format!("ino {id} {n}")).map_err(|e| io::Error::other(format!("writing the log: {e}")))
}

/// A tree as found after the crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Obs {
    File { ino: u64, nlink: u64, data: Vec<u8> },
    Dir { ino: u64, entries: BTreeMap<String, Obs> },
    Symlink { ino: u64, target: String },
    Other { ino: u64, what: String },
}

impl Obs {
    fn ino(&self) -> u64 {
        match self {
            Obs::File { ino, .. } | Obs::Dir { ino, .. } | Obs::Symlink { ino, .. } | Obs::Other { ino, .. } => *ino,
        }
    }

    fn describe(&self) -> String {
        match self {
            Obs::File { ino, nlink, data } => format!("a file (ino {ino}, {} bytes, {nlink} links)", data.len()),
            Obs::Dir { ino, entries } => format!("a directory (ino {ino}, {} entries)", entries.len()),
            Obs::Symlink { ino, target } => format!("a symlink to {target:?} (ino {ino})"),
            Obs::Other { ino, what } => format!("{what} (ino {ino})"),
        }
    }
}

/// Reads a tree (`None` if `path` does not exist). Files over `limit`
/// bytes are not read.
pub fn observe(path: &Path, limit: u64) -> Result<Option<Obs>, String> {
    let err = |what: &str, e: io::Error| format!("{what} {}: {}", path.display(), crate::errno::describe(&e));
    let m = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err("stat", e)),
    };
    let ino = m.ino();
    let ft = m.file_type();
    Ok(Some(if ft.is_dir() {
        let mut entries = BTreeMap::new();
        for e in fs::read_dir(path).map_err(|e| err("opendir", e))? {
            let e = e.map_err(|e| err("readdir", e))?;
            let o = observe(&e.path(), limit)?.ok_or_else(|| format!("{}: listed, then gone", e.path().display()))?;
            entries.insert(e.file_name().to_string_lossy().into_owned(), o);
        }
        Obs::Dir { ino, entries }
    } else if ft.is_symlink() {
        Obs::Symlink { ino, target: fs::read_link(path).map_err(|e| err("readlink", e))?.to_string_lossy().into_owned() }
    } else if ft.is_file() && m.len() <= limit {
        Obs::File { ino, nlink: m.nlink(), data: fs::read(path).map_err(|e| err("read", e))? }
    } else {
        Obs::Other { ino, what: if ft.is_file() { format!("a file of {} bytes", m.len()) } else { format!("{ft:?}") } }
    }))
}

/// One change of a key: at op `op` it came to hold `val`; `var` is the
/// op's variable if the op changed two keys (rename, exchange).
#[derive(Clone, Debug)]
struct KeyEvent {
    op: usize,
    val: Option<Id>,
    var: Option<usize>,
}

/// A multi-key op's applied-or-not variable; `implies`: a file rename's
/// old name may go only if the new one came (never neither).
#[derive(Clone, Debug)]
struct Var {
    op: usize,
    implies: Option<usize>,
}

/// The ops replayed with what the log acknowledged.
pub struct Replay {
    desc: Vec<String>,
    kinds: BTreeMap<Id, Kind>,
    history: BTreeMap<Key, Vec<KeyEvent>>,
    key_ack: BTreeMap<Key, usize>,
    dir_ack: BTreeMap<Id, usize>,
    all_ack: Option<usize>,
    content: BTreeMap<Id, Vec<Event>>,
    content_full: BTreeMap<Id, usize>,
    content_ranges: BTreeMap<Id, Vec<usize>>,
    vars: Vec<Var>,
    last: usize,
}

impl Replay {
    /// Replays `ops` (those after `last` only for their contents, to name
    /// stale data) with the acknowledged op indexes `acks`.
    pub fn new(ops: &[Op], seed: u64, acks: &[usize], last: usize) -> Result<Replay, String> {
        let acks: BTreeSet<usize> = acks.iter().copied().collect();
        if let Some(&a) = acks.iter().find(|&&a| a > last || !ops.get(a).is_some_and(Op::acks)) {
            return Err(format!("the log acknowledges op {a}, which is not a sync op run before the end"));
        }
        let mut m = Model::new();
        let mut r = Replay {
            desc: Vec::new(),
            kinds: BTreeMap::new(),
            history: BTreeMap::new(),
            key_ack: BTreeMap::new(),
            dir_ack: BTreeMap::new(),
            all_ack: None,
            content: BTreeMap::new(),
            content_full: BTreeMap::new(),
            content_ranges: BTreeMap::new(),
            vars: Vec::new(),
            last,
        };
        for (i, op) in ops.iter().enumerate() {
            r.desc.push(m.describe(op));
            let ev = |change| Event { op: i, change, dsync: matches!(op, Op::Write { dsync: true, .. }) };
            match *op {
                Op::Create { id, len, .. } if len > 0 => {
                    r.content.entry(id).or_default().push(ev(Change::Write { off: 0, len, pat: pattern(seed, id, i) }))
                }
                Op::Write { file, off, len, .. } => {
                    r.content.entry(file).or_default().push(ev(Change::Write { off, len, pat: pattern(seed, file, i) }))
                }
                Op::Truncate { file, size } => r.content.entry(file).or_default().push(ev(Change::Truncate { size })),
                _ => {}
            }
            if i > last {
                m.apply(op);
                continue;
            }
            // Two-key ops get variables.
            let vars: Vec<Option<usize>> = match op {
                Op::Rename { from, .. } if m.kinds[&m.get(from).unwrap()] != Kind::Dir => {
                    let to = r.vars.len();
                    r.vars.push(Var { op: i, implies: None });
                    r.vars.push(Var { op: i, implies: Some(to) });
                    vec![Some(to + 1), Some(to)]
                }
                Op::Rename { .. } | Op::Exchange { .. } => {
                    r.vars.push(Var { op: i, implies: None });
                    vec![Some(r.vars.len() - 1); 2]
                }
                _ => vec![None],
            };
            for (n, (k, val)) in m.apply(op).into_iter().enumerate() {
                r.history.entry(k).or_default().push(KeyEvent { op: i, val, var: vars[n] });
            }
            if !acks.contains(&i) {
                continue;
            }
            match *op {
                Op::Syncfs => r.all_ack = Some(i),
                Op::Fdatasync { file } => {
                    r.content_full.insert(file, i);
                }
                Op::Write { file, .. } => r.content_ranges.entry(file).or_default().push(i),
                Op::Fsync { target } => {
                    if m.kinds[&target] == Kind::Dir {
                        r.dir_ack.insert(target, i);
                        if let Some(k) = m.parent.get(&target).cloned() {
                            r.ack_name(&m, &k, i);
                        }
                    } else {
                        r.content_full.insert(target, i);
                        for k in m.names[&target].clone() {
                            r.ack_name(&m, &k, i);
                        }
                    }
                }
                _ => unreachable!("checked above"),
            }
        }
        // Identities are never forgotten by the model: all are here.
        r.kinds = m.kinds;
        Ok(r)
    }

    /// The op that last set key `k`.
    fn set_op(&self, k: &Key) -> usize {
        self.history[k].last().expect("a set key has history").op
    }

    /// Acknowledges name `k` at op `i`, and each ancestor's name set
    /// before it (journal order).
    fn ack_name(&mut self, m: &Model, k: &Key, i: usize) {
        let s = self.set_op(k);
        self.key_ack.insert(k.clone(), i);
        let mut d = k.0;
        while let Some(pk) = m.parent.get(&d) {
            if self.set_op(pk) < s {
                self.key_ack.insert(pk.clone(), i);
            }
            d = pk.0;
        }
    }

    /// The latest acknowledgement of key `k`.
    fn acked_at(&self, k: &Key) -> Option<usize> {
        [self.key_ack.get(k).copied(), self.dir_ack.get(&k.0).copied(), self.all_ack].into_iter().flatten().max()
    }

    /// The key's acknowledged event (`None`: empty before any op) and the
    /// events after it, up to the last op started.
    fn window(&self, k: &Key) -> (Option<&KeyEvent>, &[KeyEvent]) {
        let h = self.history.get(k).map_or(&[][..], Vec::as_slice);
        let t = self.acked_at(k);
        let split = h.partition_point(|e| t.is_some_and(|t| e.op <= t));
        (split.checked_sub(1).map(|i| &h[i]), &h[split..])
    }

    fn content_ok(&self, id: Id, data: &[u8], name: &str) -> Result<(), String> {
        let events = self.content.get(&id).map_or(&[][..], Vec::as_slice);
        let full = [self.content_full.get(&id).copied(), self.all_ack].into_iter().flatten().max();
        let ranges = self.content_ranges.get(&id).map_or(&[][..], Vec::as_slice);
        let a = Acked { events, full, ranges, last: self.last };
        content::check(&format!("{name} (#{id})"), &a, data, &|i| self.desc[i].clone())
    }

    fn value_desc(&self, v: Option<Id>) -> String {
        match v {
            None => "absent".into(),
            Some(id) => format!("{} #{id}", match self.kinds[&id] {
                Kind::File => "file",
                Kind::Dir => "directory",
                Kind::Symlink => "symlink",
            }),
        }
    }
}

/// An observed directory with the identity it was matched to.
type Placed<'o> = Vec<(Id, String, &'o BTreeMap<String, Obs>)>;

/// Checks an observed tree against a replay. `ready`: the log says the
/// workload's directory was made durable; `inos`: identity to inode.
pub fn check(rep: &Replay, ready: bool, inos: &BTreeMap<Id, u64>, root: Option<&Obs>, name: &str) -> Result<String, String> {
    let Some(root) = root else {
        return if ready { Err(format!("{name}: missing (made and fsynced before 'ready')")) } else { Ok("ok: the cut came before the set-up was durable".into()) };
    };
    let Obs::Dir { entries, .. } = root else {
        return Err(format!("{name}: {}, not a directory", root.describe()));
    };
    if !ready && !entries.is_empty() {
        return Err(format!("{name}: has entries, but no op had started"));
    }
    let placed = place(rep, inos, 0, name.to_string(), entries)?;
    let mut first_err = None;
    for p in &placed {
        match check_placed(rep, inos, p) {
            Ok(s) => return Ok(s),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or_else(|| "no way to place the directories".into()))
}

/// The ways to match observed directories to identities (more than one
/// only when an inode number was reused, or a failed mkdir's is unknown).
fn place<'o>(rep: &Replay, inos: &BTreeMap<Id, u64>, id: Id, path: String, entries: &'o BTreeMap<String, Obs>) -> Result<Vec<Placed<'o>>, String> {
    let mut acc: Vec<Placed<'o>> = vec![vec![(id, path.clone(), entries)]];
    for (n, o) in entries {
        let Obs::Dir { ino, entries: sub } = o else { continue };
        let key = (id, n.clone());
        let (base, later) = rep.window(&key);
        let mut cands: Vec<Id> = base.into_iter().chain(later).filter_map(|e| e.val).filter(|v| rep.kinds[v] == Kind::Dir).collect();
        cands.sort_unstable();
        cands.dedup();
        let exact: Vec<Id> = cands.iter().copied().filter(|c| inos.get(c) == Some(ino)).collect();
        let cands = if exact.is_empty() { cands.into_iter().filter(|c| !inos.contains_key(c)).collect() } else { exact };
        let mut next = Vec::new();
        let mut err = format!("{path}/{n}: a directory (ino {ino}) that no op could have put there");
        for c in cands {
            match place(rep, inos, c, format!("{path}/{n}"), sub) {
                Ok(subs) => {
                    for a in &acc {
                        for s in &subs {
                            next.push([a.clone(), s.clone()].concat());
                        }
                    }
                }
                Err(e) => err = e,
            }
        }
        if next.is_empty() {
            return Err(err);
        }
        next.truncate(64);
        acc = next;
    }
    Ok(acc)
}

/// One key's candidates: the acknowledged value and each later event,
/// whether each matches what was found, and the variables involved.
struct KeyCheck {
    path: String,
    found: String,
    /// (acknowledged event's variable, matches)
    base: (Option<usize>, bool),
    /// (variable, matches), in op order
    later: Vec<(Option<usize>, bool)>,
}

impl KeyCheck {
    /// Some(true/false) when decided by the assignment so far.
    fn feasible(&self, a: &[Option<bool>]) -> Option<bool> {
        for &(var, ok) in self.later.iter().rev() {
            match var {
                None if ok => return Some(true),
                None => {}
                Some(v) => match a[v] {
                    Some(true) => return Some(ok),
                    Some(false) => {}
                    None => return None,
                },
            }
        }
        if let Some(v) = self.base.0 {
            match a[v] {
                Some(false) => return Some(false),
                None => return None,
                Some(true) => {}
            }
        }
        Some(self.base.1)
    }
}

fn check_placed(rep: &Replay, inos: &BTreeMap<Id, u64>, placed: &Placed) -> Result<String, String> {
    // Which identity each observed directory is, by its path.
    let dir_at: BTreeMap<&str, Id> = placed.iter().map(|(id, p, _)| (p.as_str(), *id)).collect();
    let mut seen_dirs: BTreeMap<Id, &str> = BTreeMap::new();
    for (id, p, _) in placed {
        if let Some(other) = seen_dirs.insert(*id, p) {
            return Err(format!("directory #{id} is at two places: {other} and {p}"));
        }
    }
    let mut content_cache: BTreeMap<(Id, u64), Result<(), String>> = BTreeMap::new();
    let mut checks = Vec::new();
    let mut file_names: BTreeMap<u64, (u64, Vec<String>)> = BTreeMap::new();
    let mut dir_inos: BTreeMap<u64, String> = BTreeMap::new();
    for (d, dpath, entries) in placed {
        let mut names: BTreeSet<&String> = entries.keys().collect();
        names.extend(rep.history.keys().filter(|k| k.0 == *d).map(|k| &k.1));
        for n in names {
            let key = (*d, n.clone());
            let path = format!("{dpath}/{n}");
            let o = entries.get(n);
            match o {
                Some(Obs::File { ino, nlink, .. }) => {
                    let e = file_names.entry(*ino).or_insert((*nlink, Vec::new()));
                    e.1.push(path.clone());
                }
                Some(Obs::Dir { ino, .. }) => {
                    if let Some(other) = dir_inos.insert(*ino, path.clone()) {
                        return Err(format!("one directory (ino {ino}) has two names: {other} and {path}"));
                    }
                }
                _ => {}
            }
            let mut why: Vec<String> = Vec::new();
            let mut matches = |v: Option<Id>| -> bool {
                match (v, o) {
                    (None, None) => true,
                    (None, Some(_)) | (Some(_), None) => false,
                    (Some(id), Some(o)) => {
                        let ino_ok = inos.get(&id).is_none_or(|&i| i == o.ino());
                        match (rep.kinds[&id], o) {
                            (Kind::File, Obs::File { ino, data, .. }) if ino_ok => {
                                let r = content_cache.entry((id, *ino)).or_insert_with(|| rep.content_ok(id, data, &path));
                                if let Err(e) = r {
                                    why.push(e.clone());
                                }
                                r.is_ok()
                            }
                            (Kind::Dir, Obs::Dir { .. }) => dir_at.get(path.as_str()) == Some(&id),
                            (Kind::Symlink, Obs::Symlink { target, .. }) => ino_ok && *target == symlink_target(id),
                            _ => false,
                        }
                    }
                }
            };
            let (base, later) = rep.window(&key);
            let c = KeyCheck {
                path: path.clone(),
                found: o.map_or("absent".into(), Obs::describe),
                base: (base.and_then(|e| e.var), matches(base.and_then(|e| e.val))),
                later: later.iter().map(|e| (e.var, matches(e.val))).collect(),
            };
            if !c.base.1 && !c.later.iter().any(|l| l.1) {
                let mut msg = format!("{path}: found {}; allowed: {}", c.found, rep.value_desc(base.and_then(|e| e.val)));
                match (base, rep.acked_at(&key)) {
                    (Some(e), Some(t)) => {
                        let _ = write!(msg, " (set by op {}: {}; acknowledged by op {t}: {})", e.op, rep.desc[e.op], rep.desc[t]);
                    }
                    (None, Some(t)) => {
                        let _ = write!(msg, " (acknowledged by op {t}: {})", rep.desc[t]);
                    }
                    (Some(e), None) => {
                        let _ = write!(msg, " (set by op {}: {}, never acknowledged)", e.op, rep.desc[e.op]);
                    }
                    (None, None) => msg.push_str(" (no op touched it)"),
                }
                for e in later {
                    let _ = write!(msg, "; or {} (op {}: {})", rep.value_desc(e.val), e.op, rep.desc[e.op]);
                }
                if !why.is_empty() {
                    let _ = write!(msg, "; contents: {}", why.join("; "));
                }
                return Err(msg);
            }
            checks.push(c);
        }
    }
    for (ino, (nlink, names)) in &file_names {
        if *nlink != names.len() as u64 {
            return Err(format!("file ino {ino}: link count {nlink}, but {} name(s): {}", names.len(), names.join(", ")));
        }
    }
    // The two-key ops: one assignment of applied/not that explains all.
    let mut used: BTreeSet<usize> = BTreeSet::new();
    for c in &checks {
        used.extend(c.base.0);
        used.extend(c.later.iter().filter_map(|l| l.0));
    }
    for v in used.clone() {
        used.extend(rep.vars[v].implies);
    }
    let keys = checks.len();
    if used.len() > 24 {
        return Ok(format!("ok: {keys} names checked (rename atomicity not checked: {} variables)", used.len()));
    }
    let mut a: Vec<Option<bool>> = vec![None; rep.vars.len()];
    for c in &checks {
        if let Some(v) = c.base.0 {
            a[v] = Some(true);
            if let Some(w) = rep.vars[v].implies {
                a[w] = Some(true);
            }
        }
    }
    let order: Vec<usize> = used.iter().copied().filter(|&v| a[v].is_none()).collect();
    if solve(rep, &checks, &mut a, &order) {
        return Ok(format!("ok: {keys} names checked, {} two-name ops in the window", order.len()));
    }
    let mut msg = String::from("no combination of the unacknowledged renames/exchanges explains the tree: ops");
    let mut ops: Vec<usize> = used.iter().map(|&v| rep.vars[v].op).collect();
    ops.dedup();
    for op in ops {
        let _ = write!(msg, " [{op}: {}]", rep.desc[op]);
    }
    msg.push_str("; found");
    for c in checks.iter().filter(|c| c.base.0.is_some() || c.later.iter().any(|l| l.0.is_some())) {
        let _ = write!(msg, " [{}: {}]", c.path, c.found);
    }
    Err(msg)
}

/// Depth-first search over the variables in `order`.
fn solve(rep: &Replay, checks: &[KeyCheck], a: &mut Vec<Option<bool>>, order: &[usize]) -> bool {
    let consistent = |a: &[Option<bool>]| {
        rep.vars.iter().enumerate().all(|(v, var)| !matches!((a[v], var.implies.map(|w| a[w])), (Some(true), Some(Some(false)))))
            && checks.iter().all(|c| c.feasible(a) != Some(false))
    };
    if !consistent(a) {
        return false;
    }
    let Some((&v, rest)) = order.split_first() else {
        return checks.iter().all(|c| c.feasible(a) == Some(true));
    };
    for val in [false, true] {
        a[v] = Some(val);
        if solve(rep, checks, a, rest) {
            return true;
        }
    }
    a[v] = None;
    false
}

/// What a namespace (or sequence) log says.
pub struct Logged {
    pub log: LogFile,
    pub seed: u64,
    pub ops: usize,
    pub acks: Vec<usize>,
    pub last: usize,
    pub inos: BTreeMap<Id, u64>,
}

impl Logged {
    /// Parses a log of `kind` (`namespace` or `seq`).
    pub fn read(path: &Path, kind: &str) -> Result<Logged, String> {
        let log = LogFile::read(path, kind)?;
        let seed = log.param("seed")?;
        let ops: usize = log.param("ops")?;
        let acks = log.acks()?;
        let last = log.end()?.map_or(ops.max(1) - 1, |e| e.0);
        let mut inos = BTreeMap::new();
        for l in log.lines.iter().filter(|l| l[0] == "ino") {
            if l.len() != 3 {
                return Err(format!("bad ino line {l:?}"));
            }
            inos.insert(super::num(&l[1])?, super::num(&l[2])?);
        }
        Ok(Logged { log, seed, ops, acks, last, inos })
    }

    /// Checks the tree at `dir` against these ops.
    pub fn verify(&self, ops: &[Op], dir: &Path) -> Result<String, String> {
        if ops.len() != self.ops {
            return Err(format!("the log has {} ops, the workload {}", self.ops, ops.len()));
        }
        let rep = Replay::new(ops, self.seed, &self.acks, self.last)?;
        let root = observe(dir, 4 * MAX_FILE + (1 << 20))?;
        check(&rep, self.log.ready(), &self.inos, root.as_ref(), &dir.display().to_string())
    }
}

/// Verifies `dir` against a `namespace` log.
pub fn verify(dir: &Path, log_path: &Path) -> Result<String, String> {
    let l = Logged::read(log_path, "namespace")?;
    let ops = generate(l.seed, l.ops);
    Ok(format!("namespace-verify: {}; {} acks, last op started {} of {}", l.verify(&ops, dir)?, l.acks.len(), l.last, l.ops))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crash::testdir::TestDir;

    fn run_ns(d: &TestDir, seed: u64, n: usize, stop: Option<usize>) -> (Vec<Op>, Logged) {
        let ops = generate(seed, n);
        run(&d.join("r"), &d.join("log"), &Header::Namespace { seed, ops: n }, seed, &ops, stop, None).unwrap();
        (ops, Logged::read(&d.join("log"), "namespace").unwrap())
    }

    /// The tree the model has after op `upto` (with the run's inodes), as
    /// an observation.
    pub(crate) fn model_obs(ops: &[Op], seed: u64, upto: usize, inos: &BTreeMap<Id, u64>) -> Obs {
        let mut m = Model::new();
        let mut data: BTreeMap<Id, Vec<u8>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate().take(upto + 1) {
            match *op {
                Op::Create { id, len, .. } => {
                    let mut d = Vec::new();
                    content::apply(&mut d, &Change::Write { off: 0, len, pat: pattern(seed, id, i) });
                    data.insert(id, d);
                }
                Op::Write { file, off, len, .. } => content::apply(data.get_mut(&file).unwrap(), &Change::Write { off, len, pat: pattern(seed, file, i) }),
                Op::Truncate { file, size } => content::apply(data.get_mut(&file).unwrap(), &Change::Truncate { size }),
                _ => {}
            }
            m.apply(op);
        }
        fn build(m: &Model, d: Id, data: &BTreeMap<Id, Vec<u8>>, inos: &BTreeMap<Id, u64>) -> Obs {
            let entries = m.entries[&d]
                .iter()
                .map(|(n, &id)| {
                    let ino = inos.get(&id).copied().unwrap_or(1_000_000 + u64::from(id));
                    let o = match m.kinds[&id] {
                        Kind::Dir => build(m, id, data, inos),
                        Kind::Symlink => Obs::Symlink { ino, target: symlink_target(id) },
                        Kind::File => Obs::File { ino, nlink: m.names[&id].len() as u64, data: data[&id].clone() },
                    };
                    (n.clone(), o)
                })
                .collect();
            Obs::Dir { ino: inos.get(&d).copied().unwrap_or(1_000_000 + u64::from(d)), entries }
        }
        build(&m, 0, &data, inos)
    }

    fn check_obs(ops: &[Op], l: &Logged, o: &Obs) -> Result<String, String> {
        let rep = Replay::new(ops, l.seed, &l.acks, l.last)?;
        check(&rep, true, &l.inos, Some(o), "r")
    }

    #[test]
    fn generation_covers_every_op_and_stays_valid() {
        let ops = generate(11, 3000);
        assert_eq!(ops, generate(11, 3000));
        let has = |f: &dyn Fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
        assert!(has(&|o| matches!(o, Op::Create { .. })) > 50);
        assert!(has(&|o| matches!(o, Op::Rename { .. })) > 50);
        assert!(has(&|o| matches!(o, Op::Exchange { .. })) > 5);
        assert!(has(&|o| matches!(o, Op::Link { .. })) > 20);
        assert!(has(&|o| matches!(o, Op::Unlink { .. })) > 20);
        assert!(has(&|o| matches!(o, Op::Mkdir { .. })) > 10);
        assert!(has(&|o| matches!(o, Op::Rmdir { .. })) > 5);
        assert!(has(&|o| matches!(o, Op::Symlink { .. })) > 10);
        assert!(has(&|o| matches!(o, Op::Fsync { target: 0 })) > 5);
        assert!(has(&|o| matches!(o, Op::Fdatasync { .. })) > 10);
        assert!(has(&|o| matches!(o, Op::Write { dsync: true, .. })) > 5);
        // A renamed directory with something in it, somewhere.
        let mut m = Model::new();
        let mut moved_full_dir = false;
        for op in &ops {
            if let Op::Rename { from, .. } = op {
                let x = m.get(from).unwrap();
                moved_full_dir |= m.kinds[&x] == Kind::Dir && !m.entries[&x].is_empty();
            }
            m.apply(op);
        }
        assert!(moved_full_dir);
    }

    #[test]
    fn runs_match_the_model_and_verify() {
        for seed in 1..5 {
            let d = TestDir::new("ns");
            let (ops, l) = run_ns(&d, seed, 400, None);
            assert_eq!(l.last, 399);
            let s = l.verify(&ops, &d.join("r")).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(s.starts_with("ok"), "{s}");
            // The real tree is the model's (inodes included).
            let real = observe(&d.join("r"), 1 << 30).unwrap().unwrap();
            assert_eq!(strip_dir_inos(real), strip_dir_inos(model_obs(&ops, seed, 399, &l.inos)));
        }
    }

    /// Directories' inode numbers are the real ones in one, made up in the
    /// other (the root's is not logged): compare without them.
    fn strip_dir_inos(o: Obs) -> Obs {
        match o {
            Obs::Dir { entries, .. } => Obs::Dir { ino: 0, entries: entries.into_iter().map(|(n, o)| (n, strip_dir_inos(o))).collect() },
            o => o,
        }
    }

    #[test]
    fn every_state_from_the_last_acknowledgement_on_verifies() {
        for seed in 1..9 {
            let d = TestDir::new("ns-prefix");
            let (ops, l) = run_ns(&d, seed, 300, Some(250));
            l.verify(&ops, &d.join("r")).unwrap();
            let max_ack = l.acks.iter().copied().max().unwrap_or(0);
            for upto in max_ack..=l.last {
                let o = model_obs(&ops, seed, upto, &l.inos);
                check_obs(&ops, &l, &o).unwrap_or_else(|e| panic!("seed {seed}, state after op {upto}: {e}"));
            }
        }
    }

    /// The same over many seeds and longer runs (slow: `cargo test
    /// --release -p rsfs-testutil -- --ignored`).
    #[test]
    #[ignore]
    fn many_prefix_states_verify() {
        for seed in 100..300 {
            let d = TestDir::new("ns-many");
            let mut r = Rng::new(seed);
            let stop = r.range(50, 799) as usize;
            let (ops, l) = run_ns(&d, seed, 800, Some(stop));
            let max_ack = l.acks.iter().copied().max().unwrap_or(0);
            for upto in max_ack..=l.last {
                let o = model_obs(&ops, seed, upto, &l.inos);
                check_obs(&ops, &l, &o).unwrap_or_else(|e| panic!("seed {seed}, state after op {upto}: {e}"));
            }
        }
    }

    /// A log with these ops, acknowledged at `acks`, ending at `last`.
    fn logged(ops: &[Op], acks: &[usize], last: usize) -> Logged {
        let mut text = format!("namespace v1 seed=1 ops={}\nready\n", ops.len());
        for a in acks {
            text.push_str(&format!("ack {a}\n"));
        }
        text.push_str(&format!("end {last} EIO\n"));
        Logged { log: LogFile::parse(&text, "namespace").unwrap(), seed: 1, ops: ops.len(), acks: acks.to_vec(), last, inos: BTreeMap::new() }
    }

    fn k(d: Id, n: &str) -> Key {
        (d, n.to_string())
    }

    fn file(ino: u64, data: Vec<u8>) -> Obs {
        Obs::File { ino, nlink: 1, data }
    }

    fn dir(ino: u64, e: &[(&str, Obs)]) -> Obs {
        Obs::Dir { ino, entries: e.iter().map(|(n, o)| (n.to_string(), o.clone())).collect() }
    }

    fn data(id: Id, op: usize, len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        pattern(1, id, op).fill(0, &mut d);
        d
    }

    #[test]
    fn a_fsynced_new_file_must_survive() {
        let ops = vec![Op::Create { at: k(0, "a"), id: 1, len: 100 }, Op::Fsync { target: 1 }];
        let mut l = logged(&ops, &[1], 1);
        l.inos.insert(1, 50);
        check_obs(&ops, &l, &dir(2, &[("a", file(50, data(1, 0, 100)))])).unwrap();
        let e = check_obs(&ops, &l, &dir(2, &[])).unwrap_err();
        assert!(e.contains("r/a: found absent") && e.contains("acknowledged by op 1"), "{e}");
        // Its data too: a short or zeroed file fails.
        let e = check_obs(&ops, &l, &dir(2, &[("a", file(50, vec![0; 100]))])).unwrap_err();
        assert!(e.contains("contents"), "{e}");
        // Another inode at the name is not that file.
        assert!(check_obs(&ops, &l, &dir(2, &[("a", file(51, data(1, 0, 100)))])).is_err());
        // Without the fsync acknowledged: absent, or there with any part.
        let l = logged(&ops, &[], 1);
        check_obs(&ops, &l, &dir(2, &[])).unwrap();
        check_obs(&ops, &l, &dir(2, &[("a", file(50, vec![]))])).unwrap();
        // But never a name the workload did not make.
        assert!(check_obs(&ops, &l, &dir(2, &[("z", file(50, vec![]))])).unwrap_err().contains("r/z"));
    }

    #[test]
    fn a_directory_is_never_at_both_names_nor_at_neither() {
        // mkdir d, create d/f, syncfs, rename d -> e, then the cut.
        let ops = vec![
            Op::Mkdir { at: k(0, "d"), id: 1 },
            Op::Create { at: k(1, "f"), id: 2, len: 10 },
            Op::Syncfs,
            Op::Rename { from: k(0, "d"), to: k(0, "e") },
        ];
        let mut l = logged(&ops, &[2], 3);
        l.inos.extend([(1, 40), (2, 41)]);
        let inner = || dir(40, &[("f", file(41, data(2, 1, 10)))]);
        check_obs(&ops, &l, &dir(2, &[("d", inner())])).unwrap();
        check_obs(&ops, &l, &dir(2, &[("e", inner())])).unwrap();
        let e = check_obs(&ops, &l, &dir(2, &[("d", inner()), ("e", inner())])).unwrap_err();
        assert!(e.contains("two"), "{e}");
        let e = check_obs(&ops, &l, &dir(2, &[])).unwrap_err();
        assert!(e.contains("no combination"), "{e}");
    }

    #[test]
    fn a_renamed_file_may_show_twice_but_never_vanish() {
        // create a, create b, syncfs, rename a -> b (over b).
        let ops = vec![
            Op::Create { at: k(0, "a"), id: 1, len: 10 },
            Op::Create { at: k(0, "b"), id: 2, len: 20 },
            Op::Syncfs,
            Op::Rename { from: k(0, "a"), to: k(0, "b") },
        ];
        let mut l = logged(&ops, &[2], 3);
        l.inos.extend([(1, 40), (2, 41)]);
        let fa = || file(40, data(1, 0, 10));
        let fb = || file(41, data(2, 1, 20));
        check_obs(&ops, &l, &dir(2, &[("a", fa()), ("b", fb())])).unwrap();
        check_obs(&ops, &l, &dir(2, &[("b", fa())])).unwrap();
        // Both names (a link count of 2 then).
        let both = Obs::File { ino: 40, nlink: 2, data: data(1, 0, 10) };
        check_obs(&ops, &l, &dir(2, &[("a", both.clone()), ("b", both)])).unwrap();
        // The old name gone and the target not replaced: the file vanished.
        let e = check_obs(&ops, &l, &dir(2, &[("b", fb())])).unwrap_err();
        assert!(e.contains("no combination"), "{e}");
        // The target gone altogether: it was acknowledged.
        assert!(check_obs(&ops, &l, &dir(2, &[("a", fa())])).is_err());
        // A wrong link count.
        let e = check_obs(&ops, &l, &dir(2, &[("b", Obs::File { ino: 40, nlink: 2, data: data(1, 0, 10) })])).unwrap_err();
        assert!(e.contains("link count 2"), "{e}");
    }

    #[test]
    fn fsync_of_a_directory_acknowledges_removals_and_its_own_name() {
        // create a, syncfs, unlink a, mkdir d, create d/x, fsync d, fsync .
        let ops = vec![
            Op::Create { at: k(0, "a"), id: 1, len: 0 },
            Op::Syncfs,
            Op::Unlink { at: k(0, "a") },
            Op::Mkdir { at: k(0, "d"), id: 2 },
            Op::Create { at: k(2, "x"), id: 3, len: 5 },
            Op::Fsync { target: 2 },
            Op::Symlink { at: k(0, "s"), id: 4 },
        ];
        let mut l = logged(&ops, &[1, 5], 6);
        l.inos.extend([(1, 40), (2, 41), (3, 42), (4, 43)]);
        let d = || dir(41, &[("x", file(42, data(3, 4, 5)))]);
        check_obs(&ops, &l, &dir(2, &[("d", d())])).unwrap();
        check_obs(&ops, &l, &dir(2, &[("d", d()), ("a", file(40, vec![])), ("s", Obs::Symlink { ino: 43, target: "t4".into() })])).unwrap();
        // d's entries and d's own name were acknowledged.
        assert!(check_obs(&ops, &l, &dir(2, &[("d", dir(41, &[]))])).unwrap_err().contains("r/d/x"));
        assert!(check_obs(&ops, &l, &dir(2, &[])).unwrap_err().contains("r/d"));
        // A half-made symlink is not the symlink.
        assert!(check_obs(&ops, &l, &dir(2, &[("d", d()), ("s", Obs::Symlink { ino: 43, target: "t".into() })])).is_err());
        // With the root fsynced too (op 7), the unlink of a is acknowledged.
        let mut ops2 = ops.clone();
        ops2.push(Op::Fsync { target: 0 });
        let mut l2 = logged(&ops2, &[1, 5, 7], 7);
        l2.inos = l.inos.clone();
        let e = check_obs(&ops2, &l2, &dir(2, &[("d", d()), ("a", file(40, vec![])), ("s", Obs::Symlink { ino: 43, target: "t4".into() })])).unwrap_err();
        assert!(e.contains("r/a"), "{e}");
    }

    #[test]
    fn fsync_of_a_file_does_not_acknowledge_a_later_rename_of_its_directory() {
        // ext4 commits only the transaction of the file's own last change.
        let ops = vec![
            Op::Mkdir { at: k(0, "d"), id: 1 },
            Op::Create { at: k(1, "f"), id: 2, len: 3 },
            Op::Fsync { target: 2 },
            Op::Rename { from: k(0, "d"), to: k(0, "e") },
            Op::Fsync { target: 2 },
        ];
        let mut l = logged(&ops, &[2, 4], 4);
        l.inos.extend([(1, 40), (2, 41)]);
        let d = || dir(40, &[("f", file(41, data(2, 1, 3)))]);
        check_obs(&ops, &l, &dir(2, &[("d", d())])).unwrap();
        check_obs(&ops, &l, &dir(2, &[("e", d())])).unwrap();
        // But the first fsync made d and f durable (d was made before f).
        assert!(check_obs(&ops, &l, &dir(2, &[])).is_err());
    }

    #[test]
    fn exchange_is_whole() {
        let ops = vec![
            Op::Create { at: k(0, "a"), id: 1, len: 1 },
            Op::Mkdir { at: k(0, "b"), id: 2 },
            Op::Syncfs,
            Op::Exchange { a: k(0, "a"), b: k(0, "b") },
        ];
        let mut l = logged(&ops, &[2], 3);
        l.inos.extend([(1, 40), (2, 41)]);
        let f = || file(40, data(1, 0, 1));
        check_obs(&ops, &l, &dir(2, &[("a", f()), ("b", dir(41, &[]))])).unwrap();
        check_obs(&ops, &l, &dir(2, &[("b", f()), ("a", dir(41, &[]))])).unwrap();
        let e = check_obs(&ops, &l, &dir(2, &[("b", f())])).unwrap_err();
        assert!(e.contains("r/a") || e.contains("no combination"), "{e}");
        let half = dir(2, &[("a", f()), ("b", f())]);
        assert!(check_obs(&ops, &l, &half).is_err());
    }

    #[test]
    fn violations_in_a_real_tree_are_found() {
        let d = TestDir::new("ns-bad");
        let seed = 21;
        let (ops, l) = run_ns(&d, seed, 400, Some(390));
        let r = d.join("r");
        l.verify(&ops, &r).unwrap();
        // An entry replaced by a stranger (another inode) is always wrong.
        let o = observe(&r, 1 << 30).unwrap().unwrap();
        let Obs::Dir { entries, .. } = &o else { panic!() };
        let (victim, vo) = entries.iter().next().expect("a non-empty tree");
        fs::rename(r.join(victim), d.join("moved")).unwrap();
        match vo {
            Obs::Dir { .. } => fs::create_dir(r.join(victim)).unwrap(),
            _ => fs::write(r.join(victim), b"stranger").unwrap(),
        }
        let e = l.verify(&ops, &r).unwrap_err();
        assert!(e.contains(victim.as_str()), "{e}");
    }

    #[test]
    fn a_log_acknowledging_a_non_sync_op_is_refused() {
        let ops = vec![Op::Create { at: k(0, "a"), id: 1, len: 1 }];
        assert!(Replay::new(&ops, 1, &[0], 0).is_err());
    }
}
