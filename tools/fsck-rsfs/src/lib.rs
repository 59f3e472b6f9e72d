// SPDX-License-Identifier: GPL-2.0

//! The rsfs checker behind `fsck.rsfs`.
//!
//! [`fsck`] checks a filesystem in five passes and returns a [`Report`].
//! On a journalled filesystem (format 1.1) the journal comes first: its
//! superblock is checked, and a log that needs recovery is replayed onto
//! the device (repair mode; not an error: exit 0 if nothing else is wrong)
//! or, with `-n`, into an overlay of the device that the passes then read,
//! so the check sees what the next mount will. Then:
//!
//! 1. every allocated inode (mode != 0): checksum, [`Inode::check`], its
//!    extents and overflow chain, its `blocks` count, size against mapping,
//!    an owner the VFS can use; blocks are claimed in a usage map, which
//!    finds blocks owned twice; reserved slot 0 must be free;
//! 2. the directory tree from the root: directory blocks, entries, file
//!    types, each directory reached once with the right `dir_parent`;
//! 3. link counts (the links found, and within the kernel's bounds:
//!    1..=65000, directories 2..=65000), and allocated inodes not
//!    reachable from the root: orphans (no links: unlinked while open,
//!    then a crash) are freed in repair mode, others reported;
//! 4. block and inode bitmaps against what passes 1-3 found in use, and the
//!    superblock's free counts;
//! 5. the superblock state: "not cleanly unmounted" is a problem on a 1.0
//!    filesystem, and normal on a journalled one (noted, and marked clean
//!    by a repair that leaves no problem).
//!
//! In repair mode the safe fixes are applied: bitmaps, free counts, link
//! counts, `blocks` fields, directory sizes and `dir_parent`, a used slot 0
//! (zeroed), orphans freed, a corrupt journal superblock or log rewritten
//! empty, and the dirty state once nothing else is wrong. Everything else
//! is reported and left.
//! A superblock that fails validation is never repaired.
//!
//! [`add_journal`] (`fsck.rsfs -O journal`) makes a clean 1.0 filesystem a
//! journalled 1.1 one.

use rsfs_image::format::*;
use rsfs_image::journal::{self, JournalState};
use rsfs_image::{file_kind_name, BlockDev, Error};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::Path;

/// Exit code: no errors.
pub const EXIT_OK: i32 = 0;
/// Exit code bit: errors were corrected.
pub const EXIT_CORRECTED: i32 = 1;
/// Exit code bit: errors were left uncorrected.
pub const EXIT_UNCORRECTED: i32 = 4;
/// Exit code bit: operational error (cannot open, read or write).
pub const EXIT_OPERATIONAL: i32 = 8;
/// Exit code bit: usage or syntax error.
pub const EXIT_USAGE: i32 = 16;

/// How to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Apply safe repairs (otherwise only report; the device is opened
    /// read-only).
    pub repair: bool,
    /// Produce a summary.
    pub verbose: bool,
}

/// What fsck found and did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// One line per problem; fixed ones end with " (fixed)".
    pub problems: Vec<String>,
    /// Informational lines (summary with `verbose`, notes).
    pub info: Vec<String>,
    /// An operational error, if one stopped the check.
    pub error: Option<String>,
    /// Problems fixed.
    pub fixed: usize,
    /// Problems left.
    pub unfixed: usize,
    /// The fsck(8) exit code.
    pub exit_code: i32,
}

impl Report {
    /// Whether any problem line contains `text`.
    pub fn mentions(&self, text: &str) -> bool {
        self.problems.iter().any(|p| p.contains(text))
    }

    /// Whether any informational line contains `text`.
    pub fn notes(&self, text: &str) -> bool {
        self.info.iter().any(|p| p.contains(text))
    }

    fn fixed_problem(&mut self, msg: String) {
        self.problems.push(format!("{msg} (fixed)"));
        self.fixed += 1;
    }

    fn unfixed_problem(&mut self, msg: String) {
        self.problems.push(msg);
        self.unfixed += 1;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fix {
    InodeBlocks(u64, u64),
    DirSize(u64, u64),
    DirParent(u64, u64),
    Nlink(u64, u32),
    FreeSlotZero,
    /// Free orphan inode `.0` and its `.1` blocks (already released in the
    /// expected bitmaps).
    FreeOrphan(u64, u64),
    BlockBitmap,
    InodeBitmap,
    FreeBlocks(u64),
    FreeInodes(u64),
    CleanState,
}

struct Problem {
    msg: String,
    fix: Option<Fix>,
}

struct Info {
    kind: FileKind,
    nlink: u32,
    dir_parent: u64,
    /// Directories: disk block of each directory block, in order.
    dir_blocks: Vec<u64>,
    /// Blocks owned (extents and overflow chain), as runs (start, length).
    owned: Vec<(u64, u64)>,
    refs: u32,
    subdirs: u32,
    reached: bool,
}

#[derive(Default)]
struct Stats {
    dirs: u64,
    files: u64,
    symlinks: u64,
    other: u64,
    extents: u64,
    overflow_blocks: u64,
}

struct Checker<'a> {
    dev: &'a BlockDev,
    sb: Superblock,
    g: Geometry,
    problems: Vec<Problem>,
    /// Expected block bitmap: metadata, owned blocks, bits past the end.
    used: Vec<u8>,
    dups: BTreeSet<u64>,
    /// Expected inode bitmap: slot 0, allocated slots, bits past the end.
    allocated: Vec<u8>,
    inodes: HashMap<u64, Info>,
    bad: BTreeSet<u64>,
    /// False when some allocated inode's blocks are unknown: freeing blocks
    /// would then be unsafe.
    block_map_trusted: bool,
    /// False when some directory could not be read completely: link counts
    /// are then unknown.
    tree_trusted: bool,
    root_ok: bool,
    stats: Stats,
    /// Repair mode: orphans are released from the expected bitmaps.
    repair: bool,
    /// Blocks and inode slots of orphans to be freed: their bitmap bits
    /// differ from the expected ones because of that, not reported again.
    released_blocks: BTreeSet<u64>,
    released_inodes: BTreeSet<u64>,
    /// A journalled filesystem's dirty state: marked clean by a repair
    /// that leaves no problem.
    clean_quietly: bool,
}

type R<T> = Result<T, Error>;

/// An inode's extents and overflow chain blocks, or why they are invalid.
type ExtentsOrProblem = Result<(Vec<Extent>, Vec<u64>), String>;

fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).escape_default().to_string()
}

impl<'a> Checker<'a> {
    fn new(dev: &'a BlockDev, sb: Superblock, repair: bool) -> Checker<'a> {
        let g = sb.geometry;
        let mut used = vec![0u8; (g.block_bitmap_blocks as usize) * BLOCK_SIZE];
        g.mark_fixed_blocks(&mut used);
        let mut allocated = vec![0u8; (g.inode_bitmap_blocks as usize) * BLOCK_SIZE];
        g.mark_fixed_inodes(&mut allocated);
        Checker {
            dev,
            sb,
            g,
            problems: Vec::new(),
            used,
            dups: BTreeSet::new(),
            allocated,
            inodes: HashMap::new(),
            bad: BTreeSet::new(),
            block_map_trusted: true,
            tree_trusted: true,
            root_ok: false,
            stats: Stats::default(),
            repair,
            released_blocks: BTreeSet::new(),
            released_inodes: BTreeSet::new(),
            clean_quietly: false,
        }
    }

    fn problem(&mut self, msg: String, fix: Option<Fix>) {
        self.problems.push(Problem { msg, fix });
    }

    fn bad_inode(&mut self, ino: u64, msg: String) {
        self.problem(format!("inode {ino}: {msg}"), None);
        self.bad.insert(ino);
        self.block_map_trusted = false;
    }

    fn claim(&mut self, start: u64, len: u64) {
        for b in start..start.saturating_add(len) {
            if bitmap_set(&mut self.used, b, true).unwrap_or(true) {
                self.dups.insert(b);
            }
        }
    }

    // ---- pass 1: inodes -------------------------------------------------

    fn pass_inodes(&mut self) -> R<()> {
        const CHUNK: u64 = 64;
        let mut buf = vec![0u8; (CHUNK as usize) * BLOCK_SIZE];
        let mut first = 0;
        while first < self.g.inode_table_blocks {
            let n = CHUNK.min(self.g.inode_table_blocks - first);
            let bytes = (n as usize) * BLOCK_SIZE;
            self.dev
                .read_blocks(self.g.inode_table_start + first, &mut buf[..bytes])?;
            for (i, raw) in buf[..bytes].chunks_exact(INODE_SIZE).enumerate() {
                let ino = first * INODES_PER_BLOCK + i as u64;
                if ino >= self.g.inode_count {
                    continue;
                }
                let mut slot = [0u8; INODE_SIZE];
                slot.copy_from_slice(raw);
                if raw_inode_mode(&slot) == 0 {
                    continue;
                }
                if ino == 0 {
                    // Never a valid inode: nothing reads it, but the
                    // format says it is free.
                    self.problem(
                        "reserved inode slot 0 is not free".into(),
                        Some(Fix::FreeSlotZero),
                    );
                    continue;
                }
                let _ = bitmap_set(&mut self.allocated, ino, true);
                self.check_inode(ino, &slot)?;
            }
            first += n;
        }
        Ok(())
    }

    /// The inode's extents and overflow chain blocks, or why they are bad.
    fn collect_extents(&self, ino: u64, inode: &Inode) -> R<ExtentsOrProblem> {
        let mut extents = Vec::new();
        for i in 0..inode.inline_extent_count() {
            extents.push(inode.inline_extent(i).unwrap_or_default());
        }
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        let mut remaining = inode.overflow_extent_count();
        let mut next = inode.extent_overflow;
        let mut buf = rsfs_image::zero_block();
        while next != 0 {
            if !self.g.is_data_range(next, 1) {
                return Ok(Err(format!(
                    "extent overflow block {next} outside the data region"
                )));
            }
            if !seen.insert(next) {
                return Ok(Err(format!("extent overflow chain loops at block {next}")));
            }
            if remaining == 0 {
                return Ok(Err(format!(
                    "extent overflow chain longer than its extent count {}",
                    inode.extent_count
                )));
            }
            self.dev.read_block(next, &mut buf)?;
            let h = match ExtentBlockHeader::decode_for(&buf, ino) {
                Ok(h) => h,
                Err(e) => return Ok(Err(format!("extent overflow block {next}: {}", e.as_str()))),
            };
            if h.count == 0 {
                return Ok(Err(format!("extent overflow block {next} is empty")));
            }
            if u64::from(h.count) > remaining {
                return Ok(Err(format!(
                    "extent overflow block {next} holds more extents than the extent count {}",
                    inode.extent_count
                )));
            }
            for i in 0..h.count as usize {
                extents.push(extent_block_get(&buf, i).unwrap_or_default());
            }
            remaining -= u64::from(h.count);
            chain.push(next);
            next = h.next;
        }
        if remaining != 0 {
            return Ok(Err(format!(
                "extent count {} but only {} extents found",
                inode.extent_count,
                u64::from(inode.extent_count) - remaining
            )));
        }
        let mut prev: Option<Extent> = None;
        for (i, e) in extents.iter().enumerate() {
            if let Err(err) = e.check(&self.g) {
                return Ok(Err(format!(
                    "extent {i} (file block {}, {} blocks at {}): {}",
                    e.logical,
                    e.len,
                    e.physical,
                    err.as_str()
                )));
            }
            if check_extent_order(prev.as_ref(), e).is_err() {
                return Ok(Err(format!(
                    "extent {i} (file block {}) overlaps or precedes the one before",
                    e.logical
                )));
            }
            prev = Some(*e);
        }
        Ok(Ok((extents, chain)))
    }

    fn check_inode(&mut self, ino: u64, raw: &[u8; INODE_SIZE]) -> R<()> {
        let inode = match Inode::decode(ino, raw) {
            Ok(i) => i,
            Err(e) => {
                self.bad_inode(ino, e.as_str().to_string());
                return Ok(());
            }
        };
        if let Err(e) = inode.check(&self.g) {
            self.bad_inode(ino, e.as_str().to_string());
            return Ok(());
        }
        let Some(kind) = inode.kind() else {
            self.bad_inode(ino, "invalid file mode".into());
            return Ok(());
        };
        // (uid_t)-1 and (gid_t)-1 map to no id: the VFS refuses to change
        // such an inode (write, truncate, unlink, rename: EOVERFLOW) until
        // it is chowned. Which owner it should have is not known here.
        for (what, id) in [("uid", inode.uid), ("gid", inode.gid)] {
            if id == u32::MAX {
                self.problem(
                    format!("inode {ino}: {what} {id} (-1) is not a valid id: the kernel refuses to change the inode until it is given an owner"),
                    None,
                );
            }
        }
        let (extents, chain) = match self.collect_extents(ino, &inode)? {
            Ok(x) => x,
            Err(msg) => {
                self.bad_inode(ino, msg);
                return Ok(());
            }
        };
        for &b in &chain {
            self.claim(b, 1);
        }
        for e in &extents {
            self.claim(e.physical, u64::from(e.len));
        }
        self.stats.extents += extents.len() as u64;
        self.stats.overflow_blocks += chain.len() as u64;
        let owned: u64 = extents.iter().map(|e| u64::from(e.len)).sum::<u64>() + chain.len() as u64;
        if inode.blocks != owned {
            self.problem(
                format!(
                    "inode {ino}: blocks field is {}, should be {owned}",
                    inode.blocks
                ),
                Some(Fix::InodeBlocks(ino, owned)),
            );
        }
        let mut dir_blocks = Vec::new();
        match kind {
            FileKind::Regular => {
                self.stats.files += 1;
                // Unwritten blocks past the end are preallocated space (a
                // write that allocated them was cut before its size was
                // logged; as ext4's and XFS's), which reads as zeros and
                // the file still owns; written ones are not.
                let end = extents.iter().filter(|e| !e.unwritten).map(|e| e.logical_end()).max().unwrap_or(0);
                if end > inode.size_in_blocks() {
                    self.problem(
                        format!(
                            "inode {ino}: file block {} is mapped but the size ({} bytes) ends before it",
                            end - 1,
                            inode.size
                        ),
                        None,
                    );
                }
            }
            FileKind::Dir => {
                self.stats.dirs += 1;
                let mut hole = false;
                for e in &extents {
                    if u64::from(e.logical) != dir_blocks.len() as u64 || e.unwritten {
                        hole = true;
                        break;
                    }
                    dir_blocks.extend(e.physical..e.physical + u64::from(e.len));
                }
                if hole {
                    self.problem(
                        format!(
                            "directory {ino}: hole or unwritten extent after block {}",
                            dir_blocks.len()
                        ),
                        None,
                    );
                    self.tree_trusted = false;
                } else {
                    let want = dir_blocks.len() as u64 * BLOCK_SIZE_U64;
                    if inode.size != want {
                        self.problem(
                            format!("directory {ino}: size is {}, should be {want}", inode.size),
                            Some(Fix::DirSize(ino, want)),
                        );
                    }
                }
            }
            FileKind::Symlink => {
                self.stats.symlinks += 1;
                if let Some(e) = extents.first() {
                    let buf = self.dev.read_block_new(e.physical)?;
                    if buf[..inode.size as usize].contains(&0) {
                        self.problem(format!("symlink {ino}: target contains a NUL byte"), None);
                    }
                }
            }
            _ => self.stats.other += 1,
        }
        let owned = chain
            .iter()
            .map(|b| (*b, 1))
            .chain(extents.iter().map(|e| (e.physical, u64::from(e.len))))
            .collect();
        self.inodes.insert(
            ino,
            Info {
                kind,
                nlink: inode.nlink,
                dir_parent: inode.dir_parent,
                dir_blocks,
                owned,
                refs: 0,
                subdirs: 0,
                reached: false,
            },
        );
        Ok(())
    }

    fn report_dups(&mut self) -> R<()> {
        if self.dups.is_empty() {
            return Ok(());
        }
        let mut owners: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        let mut inos: Vec<u64> = self.inodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            let (blk, off) = match self.g.inode_location(ino) {
                Ok(x) => x,
                Err(_) => continue,
            };
            let buf = self.dev.read_block_new(blk)?;
            let mut raw = [0u8; INODE_SIZE];
            raw.copy_from_slice(&buf[off..off + INODE_SIZE]);
            let Ok(inode) = Inode::decode(ino, &raw) else {
                continue;
            };
            let Ok((extents, chain)) = self.collect_extents(ino, &inode)? else {
                continue;
            };
            let ranges = chain
                .iter()
                .map(|b| (*b, 1))
                .chain(extents.iter().map(|e| (e.physical, u64::from(e.len))));
            for (start, len) in ranges {
                for b in self.dups.range(start..start + len) {
                    owners.entry(*b).or_default().push(ino);
                }
            }
        }
        // One line per run of consecutive blocks with the same owners.
        let mut run: Option<(u64, u64, Vec<u64>)> = None;
        let mut lines = Vec::new();
        for (b, mut who) in owners {
            who.dedup();
            match &mut run {
                Some((_, end, w)) if *end == b && *w == who => *end = b + 1,
                _ => {
                    if let Some(r) = run.take() {
                        lines.push(r);
                    }
                    run = Some((b, b + 1, who));
                }
            }
        }
        lines.extend(run);
        for (start, end, who) in lines {
            let who: Vec<String> = who.iter().map(|i| i.to_string()).collect();
            let what = if end - start == 1 {
                format!("block {start} is")
            } else {
                format!("blocks {start}..{} are", end - 1)
            };
            self.problem(
                format!("{what} owned more than once (inodes {})", who.join(", ")),
                None,
            );
        }
        Ok(())
    }

    // ---- pass 2: directory tree -----------------------------------------

    fn pass_tree(&mut self) -> R<()> {
        let root = ROOT_INO;
        match self.inodes.get_mut(&root) {
            Some(info) if info.kind == FileKind::Dir => {
                info.reached = true;
                self.root_ok = true;
                if info.dir_parent != root {
                    let p = info.dir_parent;
                    self.problem(
                        format!("root directory: parent is {p}, should be {root}"),
                        Some(Fix::DirParent(root, root)),
                    );
                }
            }
            _ => {
                self.problem("root inode 1 is not a valid directory".into(), None);
                self.tree_trusted = false;
                return Ok(());
            }
        }
        let mut queue = VecDeque::from([root]);
        let mut buf = rsfs_image::zero_block();
        while let Some(dir) = queue.pop_front() {
            let blocks = self
                .inodes
                .get(&dir)
                .map(|i| i.dir_blocks.clone())
                .unwrap_or_default();
            let mut names: HashSet<Vec<u8>> = HashSet::new();
            let mut subdirs = 0;
            for (idx, &pb) in blocks.iter().enumerate() {
                self.dev.read_block(pb, &mut buf)?;
                let here = format!("directory {dir} block {idx} (disk block {pb})");
                if let Err(e) = dir_block_check_header(&buf, dir) {
                    self.problem(format!("{here}: {}", e.as_str()), None);
                    self.tree_trusted = false;
                    continue;
                }
                let mut entries = Vec::new();
                for rec in dir_entries(&buf) {
                    match rec {
                        Ok(e) => {
                            entries.push((e.name.to_vec(), u64::from(e.ino), e.file_type, e.offset))
                        }
                        Err(err) => {
                            self.problem(format!("{here}: {}", err.as_str()), None);
                            self.tree_trusted = false;
                            break;
                        }
                    }
                }
                for (name, child, ft, off) in entries {
                    let at = format!("directory {dir}: entry '{}'", show(&name));
                    if !names.insert(name.clone()) {
                        self.problem(
                            format!("{at} (offset {off} in disk block {pb}) is a duplicate"),
                            None,
                        );
                    }
                    if !self.g.is_valid_ino(child) {
                        self.problem(format!("{at} points to invalid inode {child}"), None);
                        continue;
                    }
                    if !bitmap_get(&self.allocated, child).unwrap_or(false) {
                        self.problem(format!("{at} points to free inode {child}"), None);
                        continue;
                    }
                    let Some(info) = self.inodes.get_mut(&child) else {
                        // A bad inode, already reported.
                        self.tree_trusted = false;
                        continue;
                    };
                    info.refs += 1;
                    let (kind, was_reached, parent) = (info.kind, info.reached, info.dir_parent);
                    info.reached = true;
                    if ft != kind.dt() {
                        let k = file_kind_name(kind);
                        self.problem(
                            format!("{at} has file type {ft} but inode {child} is a {k}"),
                            None,
                        );
                    }
                    if kind != FileKind::Dir {
                        continue;
                    }
                    subdirs += 1;
                    if was_reached {
                        self.problem(
                            format!("{at}: directory {child} is linked more than once"),
                            None,
                        );
                        self.tree_trusted = false;
                        continue;
                    }
                    if parent != dir {
                        self.problem(
                            format!("directory {child}: parent is {parent}, should be {dir}"),
                            Some(Fix::DirParent(child, dir)),
                        );
                    }
                    queue.push_back(child);
                }
            }
            if let Some(info) = self.inodes.get_mut(&dir) {
                info.subdirs = subdirs;
            }
        }
        Ok(())
    }

    // ---- pass 3: link counts and orphans --------------------------------

    fn pass_links(&mut self) -> R<()> {
        let mut inos: Vec<u64> = self.inodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            let Some(info) = self.inodes.get(&ino) else {
                continue;
            };
            if !info.reached && info.nlink == 0 && self.root_ok && self.orphan(ino)? {
                continue;
            }
            let Some(info) = self.inodes.get(&ino) else {
                continue;
            };
            let kind = info.kind;
            // The kernel refuses an inode whose count is outside these
            // (EUCLEAN), so a count matching the links is not enough.
            let min = if kind == FileKind::Dir { 2 } else { 1 };
            let bounds = if info.nlink < min || info.nlink > MAX_LINKS {
                format!(" (outside {min}..={MAX_LINKS}: the kernel refuses the inode)")
            } else {
                String::new()
            };
            if !info.reached {
                let msg = if self.root_ok {
                    format!(
                        "inode {ino} ({}, nlink {}) is not reachable from the root",
                        file_kind_name(kind),
                        info.nlink
                    )
                } else if !bounds.is_empty() {
                    format!("inode {ino}: link count is {}{bounds}", info.nlink)
                } else {
                    continue;
                };
                self.problem(msg, None);
                continue;
            }
            let want = if kind == FileKind::Dir {
                2 + info.subdirs
            } else {
                info.refs
            };
            if want > MAX_LINKS {
                let what = if kind == FileKind::Dir {
                    "2 + its subdirectories"
                } else {
                    "the entries naming it"
                };
                let msg = format!(
                    "inode {ino}: {want} links ({what}), more than the {MAX_LINKS} the kernel allows"
                );
                self.problem(msg, None);
            } else if info.nlink != want {
                let fix = self.tree_trusted.then_some(Fix::Nlink(ino, want));
                let msg = format!(
                    "inode {ino}: link count is {}, should be {want}{bounds}",
                    info.nlink
                );
                self.problem(msg, fix);
            }
        }
        Ok(())
    }

    /// An in-use inode with no links that no directory names: unlinked
    /// while open, then a crash before the last close freed it. Reports it
    /// (and, in repair mode, releases its blocks and slot from the expected
    /// bitmaps and frees it); `false` if it cannot safely be freed (the
    /// caller reports it as unreachable).
    fn orphan(&mut self, ino: u64) -> R<bool> {
        let Some(info) = self.inodes.get(&ino) else {
            return Ok(false);
        };
        // With part of the tree or of the block map unknown, a directory
        // might still name it, or another inode own its blocks.
        if !self.tree_trusted || !self.block_map_trusted {
            return Ok(false);
        }
        let owned = info.owned.clone();
        let (kind, dir_blocks) = (info.kind, info.dir_blocks.clone());
        if owned
            .iter()
            .any(|&(s, l)| self.dups.range(s..s.saturating_add(l)).next().is_some())
        {
            return Ok(false);
        }
        // A removed directory is empty: one with entries is not an orphan
        // but a lost subtree.
        let mut buf = rsfs_image::zero_block();
        for b in dir_blocks {
            self.dev.read_block(b, &mut buf)?;
            if dir_block_check_header(&buf, ino).is_err() || dir_entries(&buf).next().is_some() {
                return Ok(false);
            }
        }
        let blocks: u64 = owned.iter().map(|r| r.1).sum();
        if !self.repair {
            self.problem(
                format!(
                    "orphan inode {ino} ({}, {blocks} blocks): in use with no links and in no directory (unlinked while open); fsck.rsfs without -n frees it",
                    file_kind_name(kind)
                ),
                None,
            );
            return Ok(true);
        }
        for (s, l) in owned {
            for b in s..s.saturating_add(l) {
                let _ = bitmap_set(&mut self.used, b, false);
                self.released_blocks.insert(b);
            }
        }
        let _ = bitmap_set(&mut self.allocated, ino, false);
        self.released_inodes.insert(ino);
        // What else was wrong with it goes with it.
        let mine = [
            format!("inode {ino}: "),
            format!("directory {ino}: "),
            format!("symlink {ino}: "),
        ];
        self.problems
            .retain(|p| !mine.iter().any(|m| p.msg.starts_with(m.as_str())));
        self.problem(
            format!("orphan inode {ino} freed"),
            Some(Fix::FreeOrphan(ino, blocks)),
        );
        Ok(true)
    }

    // ---- pass 4: bitmaps and free counts --------------------------------

    fn pass_bitmaps(&mut self) -> R<()> {
        const SHOW: usize = 20;
        let g = self.g;
        let mut disk = vec![0u8; (g.block_bitmap_blocks as usize) * BLOCK_SIZE];
        self.dev.read_blocks(g.block_bitmap_start, &mut disk)?;
        let fix = self.block_map_trusted.then_some(Fix::BlockBitmap);
        let mut diffs = Vec::new();
        for (i, (d, e)) in disk.iter().zip(&self.used).enumerate() {
            if d != e {
                for bit in 0..8 {
                    let b = (i * 8 + bit) as u64;
                    if (d ^ e) & (1 << bit) != 0 && !self.released_blocks.contains(&b) {
                        diffs.push((b, e & (1 << bit) != 0));
                    }
                }
            }
        }
        for (n, &(b, in_use)) in diffs.iter().enumerate() {
            if n == SHOW {
                let msg = format!("block bitmap: {} more differences", diffs.len() - SHOW);
                self.problem(msg, fix);
                break;
            }
            let msg = if b >= g.total_blocks {
                format!("block bitmap: bit {b} past the end of the filesystem is not set")
            } else if in_use {
                format!("block {b} is in use but marked free in the block bitmap")
            } else {
                format!("block {b} is marked in use in the block bitmap but not used")
            };
            self.problem(msg, fix);
        }

        let mut disk = vec![0u8; (g.inode_bitmap_blocks as usize) * BLOCK_SIZE];
        self.dev.read_blocks(g.inode_bitmap_start, &mut disk)?;
        let mut diffs = Vec::new();
        for (i, (d, e)) in disk.iter().zip(&self.allocated).enumerate() {
            if d != e {
                for bit in 0..8 {
                    let ino = (i * 8 + bit) as u64;
                    if (d ^ e) & (1 << bit) != 0 && !self.released_inodes.contains(&ino) {
                        diffs.push((ino, e & (1 << bit) != 0));
                    }
                }
            }
        }
        for (n, &(ino, in_use)) in diffs.iter().enumerate() {
            if n == SHOW {
                let msg = format!("inode bitmap: {} more differences", diffs.len() - SHOW);
                self.problem(msg, Some(Fix::InodeBitmap));
                break;
            }
            let msg = if ino >= g.inode_count {
                format!("inode bitmap: bit {ino} past the last inode is not set")
            } else if ino == 0 {
                "inode bitmap: reserved inode 0 is not marked in use".to_string()
            } else if in_use {
                format!("inode {ino} is in use but marked free in the inode bitmap")
            } else {
                format!("inode {ino} is marked in use in the inode bitmap but free")
            };
            self.problem(msg, Some(Fix::InodeBitmap));
        }

        // Freeing the orphans adds their blocks and slots to the counts.
        let free_blocks = bitmap_count_zeros(&self.used, g.total_blocks);
        let released = self.released_blocks.len() as u64;
        if self.sb.free_blocks.saturating_add(released) != free_blocks {
            let msg = format!(
                "superblock: free block count is {}, should be {free_blocks}",
                self.sb.free_blocks
            );
            let fix = self
                .block_map_trusted
                .then_some(Fix::FreeBlocks(free_blocks));
            self.problem(msg, fix);
        }
        let free_inodes = bitmap_count_zeros(&self.allocated, g.inode_count);
        let released = self.released_inodes.len() as u64;
        if self.sb.free_inodes.saturating_add(released) != free_inodes {
            let msg = format!(
                "superblock: free inode count is {}, should be {free_inodes}",
                self.sb.free_inodes
            );
            self.problem(msg, Some(Fix::FreeInodes(free_inodes)));
        }
        Ok(())
    }

    // ---- repairs --------------------------------------------------------

    fn fix_inode(&self, ino: u64, f: impl FnOnce(&mut Inode)) -> R<()> {
        let (blk, off) = self
            .g
            .inode_location(ino)
            .map_err(|e| Error::format(format!("inode {ino}"), e))?;
        let mut buf = self.dev.read_block_new(blk)?;
        let mut raw = [0u8; INODE_SIZE];
        raw.copy_from_slice(&buf[off..off + INODE_SIZE]);
        let mut inode =
            Inode::decode(ino, &raw).map_err(|e| Error::format(format!("inode {ino}"), e))?;
        f(&mut inode);
        inode.encode(ino, &mut raw);
        buf[off..off + INODE_SIZE].copy_from_slice(&raw);
        self.dev.write_block(blk, &buf)
    }

    fn apply(&mut self, fix: Fix, sb: &mut Superblock, done: &mut BTreeSet<Fix>) -> R<()> {
        if !done.insert(fix) {
            return Ok(());
        }
        match fix {
            Fix::InodeBlocks(ino, v) => self.fix_inode(ino, |i| i.blocks = v)?,
            Fix::DirSize(ino, v) => self.fix_inode(ino, |i| i.size = v)?,
            Fix::DirParent(ino, p) => self.fix_inode(ino, |i| i.dir_parent = p)?,
            Fix::Nlink(ino, n) => self.fix_inode(ino, |i| i.nlink = n)?,
            Fix::FreeSlotZero => {
                let blk = self.g.inode_table_start;
                let mut buf = self.dev.read_block_new(blk)?;
                buf[..INODE_SIZE].fill(0);
                self.dev.write_block(blk, &buf)?;
            }
            Fix::FreeOrphan(ino, blocks) => {
                let (blk, off) = self
                    .g
                    .inode_location(ino)
                    .map_err(|e| Error::format(format!("inode {ino}"), e))?;
                let mut buf = self.dev.read_block_new(blk)?;
                buf[off..off + INODE_SIZE].fill(0);
                self.dev.write_block(blk, &buf)?;
                // The expected bitmaps no longer have it (and are to be
                // trusted: an orphan is freed only then).
                self.dev
                    .write_blocks(self.g.block_bitmap_start, &self.used)?;
                self.dev
                    .write_blocks(self.g.inode_bitmap_start, &self.allocated)?;
                sb.free_blocks = sb.free_blocks.saturating_add(blocks);
                sb.free_inodes = sb.free_inodes.saturating_add(1);
            }
            Fix::BlockBitmap => self
                .dev
                .write_blocks(self.g.block_bitmap_start, &self.used)?,
            Fix::InodeBitmap => self
                .dev
                .write_blocks(self.g.inode_bitmap_start, &self.allocated)?,
            Fix::FreeBlocks(v) => sb.free_blocks = v,
            Fix::FreeInodes(v) => sb.free_inodes = v,
            Fix::CleanState => sb.state = STATE_CLEAN,
        }
        Ok(())
    }

    fn repair(&mut self, report: &mut Report) -> R<()> {
        let unfixable = self.problems.iter().any(|p| p.fix.is_none());
        let mut sb = self.sb;
        let mut done = BTreeSet::new();
        let problems = std::mem::take(&mut self.problems);
        for p in &problems {
            match p.fix {
                Some(Fix::CleanState) if unfixable => {
                    report.problems.push(p.msg.clone());
                    report.unfixed += 1;
                }
                Some(fix) => {
                    self.apply(fix, &mut sb, &mut done)?;
                    report.problems.push(format!("{} (fixed)", p.msg));
                    report.fixed += 1;
                }
                None => {
                    report.problems.push(p.msg.clone());
                    report.unfixed += 1;
                }
            }
        }
        if self.clean_quietly && !unfixable {
            sb.state = STATE_CLEAN;
            report.info.push(
                "filesystem was not cleanly unmounted (normal for a journalled filesystem after a crash): checked, marked clean"
                    .into(),
            );
        }
        if sb != self.sb {
            sb.write_time = rsfs_image::now_secs();
            let mut buf = rsfs_image::zero_block();
            sb.encode(&mut buf);
            self.dev.write_block(SUPERBLOCK_BLOCK, &buf)?;
        }
        if report.fixed > 0 || sb != self.sb {
            self.dev.sync()?;
        }
        Ok(())
    }
}

/// Checks the journal of a journalled filesystem before the passes: its
/// superblock, and the log. A log that needs recovery is replayed onto the
/// device (`repair`) or laid over it (check only). Returns whether the
/// filesystem as the passes will read it changed (block 0 included).
fn check_journal(
    dev: &mut BlockDev,
    sb: &Superblock,
    repair: bool,
    verbose: bool,
    report: &mut Report,
) -> R<bool> {
    let g = sb.geometry;
    match journal::check(dev, &g)? {
        JournalState::BadSuper(e) => {
            let msg = format!("journal superblock corrupt: {}", e.as_str());
            if repair {
                // Whatever its log held (if anything) is lost; the check
                // that follows finds what that left inconsistent.
                let seq = journal::fresh_sequence(dev, &g)?;
                journal::write_empty(dev, &g, seq)?;
                dev.sync()?;
                report.fixed_problem(format!("{msg}: rewritten empty, next transaction {seq}"));
            } else {
                report.unfixed_problem(format!(
                    "{msg} (the kernel refuses to mount; fsck.rsfs without -n rewrites it empty)"
                ));
            }
            Ok(false)
        }
        JournalState::Empty(j) => {
            if verbose {
                report.info.push(format!(
                    "journal: {} blocks, empty, next transaction {}",
                    j.blocks, j.sequence
                ));
            }
            Ok(false)
        }
        JournalState::Corrupt(_, c) => {
            let msg = format!("journal corrupt: {}", c.detail);
            if repair {
                let seq = journal::fresh_sequence(dev, &g)?;
                journal::write_empty(dev, &g, seq)?;
                dev.sync()?;
                report.fixed_problem(format!("{msg}: log discarded, nothing replayed"));
            } else {
                report.unfixed_problem(format!(
                    "{msg} (the kernel refuses to mount; fsck.rsfs without -n discards the log)"
                ));
            }
            Ok(false)
        }
        JournalState::NeedsRecovery(r) => {
            let n = r.transactions();
            if repair {
                r.replay(dev, &g)?;
                report.info.push(format!(
                    "journal: replayed {n} transactions ({} blocks)",
                    r.blocks()
                ));
            } else {
                r.overlay(dev, &g)?;
                report.info.push(format!(
                    "journal needs recovery ({n} transactions); the next mount or fsck.rsfs without -n replays it (checked as replayed)"
                ));
            }
            Ok(true)
        }
    }
}

/// Runs the five passes over the filesystem `sb` describes.
fn check_passes(c: &mut Checker<'_>) -> R<()> {
    c.pass_inodes()?;
    c.report_dups()?;
    c.pass_tree()?;
    c.pass_links()?;
    c.pass_bitmaps()?;
    if !c.tree_trusted {
        // With part of the tree unreadable, where a directory belongs is not
        // known for sure: leave dir_parent alone (link counts already are).
        for p in &mut c.problems {
            if matches!(p.fix, Some(Fix::DirParent(..))) {
                p.fix = None;
            }
        }
    }
    if c.sb.state == STATE_DIRTY {
        if c.sb.has_journal() {
            // The kernel keeps it dirty while mounted; after a crash the
            // journal (replayed above, or at the next mount) makes the
            // metadata consistent again, and the passes checked it.
            c.clean_quietly = true;
        } else {
            c.problem(
                "filesystem was not cleanly unmounted".into(),
                Some(Fix::CleanState),
            );
        }
    }
    Ok(())
}

/// Reads and validates block 0; a superblock that does not validate is
/// reported (never repaired) and `None` returned.
fn read_superblock(dev: &BlockDev, report: &mut Report, what: &str) -> R<Option<Superblock>> {
    let block0 = dev.read_block_new(SUPERBLOCK_BLOCK)?;
    match Superblock::decode_and_validate(&block0, dev.blocks()) {
        Ok(sb) => Ok(Some(sb)),
        Err(e) => {
            report.unfixed_problem(format!("{what}: {}", e.as_str()));
            Ok(None)
        }
    }
}

fn run(path: &Path, opts: &Options, report: &mut Report) -> R<()> {
    let mut repair = opts.repair;
    if let Some(m) = rsfs_image::mkfs::mounted(path) {
        if repair {
            return Err(Error::msg(format!(
                "{}: {m}; will not repair a mounted filesystem (use -n to check it read-only)",
                path.display()
            )));
        }
        report
            .info
            .push(format!("warning: {m}; results may be inconsistent"));
    }
    let mut dev = BlockDev::open(path, repair)?;
    let Some(mut sb) = read_superblock(&dev, report, "superblock")? else {
        return Ok(());
    };
    if repair && sb.has_unknown_ro_compat() {
        report.info.push(format!(
            "superblock has unknown read-only features {:#x}: checking without repairing",
            sb.feature_ro_compat
        ));
        repair = false;
    }
    if sb.has_journal() && check_journal(&mut dev, &sb, repair, opts.verbose, report)? {
        // The log may have held block 0.
        let Some(s) = read_superblock(&dev, report, "superblock (as the journal leaves it)")?
        else {
            return Ok(());
        };
        sb = s;
    }
    let mut c = Checker::new(&dev, sb, repair);
    check_passes(&mut c)?;
    if opts.verbose {
        let g = c.g;
        let used_inodes = g.inode_count - 1 - bitmap_count_zeros(&c.allocated, g.inode_count);
        let used_blocks =
            g.data_blocks() - bitmap_count_zeros(&c.used, g.total_blocks).min(g.data_blocks());
        let s = &c.stats;
        report.info.push(format!(
            "{}: {used_inodes}/{} inodes, {used_blocks}/{} data blocks used",
            path.display(),
            g.allocatable_inodes() + 1,
            g.data_blocks()
        ));
        report.info.push(format!(
            "{} directories, {} regular files, {} symlinks, {} other; {} extents, {} extent overflow blocks",
            s.dirs, s.files, s.symlinks, s.other, s.extents, s.overflow_blocks
        ));
    }
    if repair {
        c.repair(report)?;
    } else {
        if c.clean_quietly {
            report.info.push(
                "filesystem was not cleanly unmounted (normal for a journalled filesystem after a crash; not a problem)"
                    .into(),
            );
        }
        for p in c.problems.drain(..) {
            report.unfixed_problem(p.msg);
        }
    }
    Ok(())
}

/// Adds a journal to the clean 1.0 filesystem in `path` (`fsck.rsfs -O
/// journal`): checks it first (without repairing), and refuses if anything
/// is wrong, if it is not clean, or if its journal region is too small.
/// Then writes an empty journal superblock and the superblock with
/// [`FEATURE_INCOMPAT_JOURNAL`] and minor version 1. Exit codes: 0 added
/// (or already there), 4 refused because of problems (listed), 8 refused
/// for another reason or an operational error.
pub fn add_journal(path: &Path, opts: &Options) -> Report {
    let mut report = Report::default();
    match upgrade(path, opts, &mut report) {
        Ok(None) => {}
        Ok(Some(refused)) => {
            report.error = Some(format!("journal not added: {refused}"));
            if report.unfixed == 0 {
                report.exit_code |= EXIT_OPERATIONAL;
            }
        }
        Err(e) => {
            report.error = Some(e.to_string());
            report.exit_code |= EXIT_OPERATIONAL;
        }
    }
    if report.unfixed > 0 {
        report.exit_code |= EXIT_UNCORRECTED;
    }
    report
}

fn upgrade(path: &Path, opts: &Options, report: &mut Report) -> R<Option<String>> {
    if let Some(m) = rsfs_image::mkfs::mounted(path) {
        return Err(Error::msg(format!(
            "{}: {m}; will not add a journal to a mounted filesystem",
            path.display()
        )));
    }
    let dev = BlockDev::open(path, true)?;
    let Some(mut sb) = read_superblock(&dev, report, "superblock")? else {
        return Ok(Some("the superblock is not valid".into()));
    };
    let g = sb.geometry;
    if sb.has_journal() {
        report.info.push(format!(
            "{}: already has a journal ({} blocks at block {})",
            path.display(),
            g.journal_blocks,
            g.journal_start
        ));
        return Ok(None);
    }
    if sb.has_unknown_ro_compat() {
        return Ok(Some(format!(
            "unknown read-only features {:#x}",
            sb.feature_ro_compat
        )));
    }
    if g.journal_blocks < MIN_JOURNAL_BLOCKS {
        return Ok(Some(format!(
            "the journal region has {} blocks and a journal needs at least {MIN_JOURNAL_BLOCKS} (mkfs.rsfs -J makes a larger one)",
            g.journal_blocks
        )));
    }
    let mut c = Checker::new(&dev, sb, false);
    check_passes(&mut c)?;
    let problems = std::mem::take(&mut c.problems);
    drop(c);
    if !problems.is_empty() {
        for p in problems {
            report.unfixed_problem(p.msg);
        }
        return Ok(Some(
            "the filesystem must be clean first: run fsck.rsfs without -O".into(),
        ));
    }
    if opts.verbose {
        report.info.push(format!("{}: clean", path.display()));
    }
    // The journal superblock first: until the superblock says so, the
    // region is unused, so a crash in between leaves a valid 1.0
    // filesystem.
    let seq = journal::fresh_sequence(&dev, &g)?;
    journal::write_empty(&dev, &g, seq)?;
    dev.sync()?;
    sb.set_journal(true);
    sb.write_time = rsfs_image::now_secs();
    let mut buf = rsfs_image::zero_block();
    sb.encode(&mut buf);
    dev.write_block(SUPERBLOCK_BLOCK, &buf)?;
    dev.sync()?;
    report.info.push(format!(
        "{}: journal added ({} blocks at block {}): rsfs {}.{}",
        path.display(),
        g.journal_blocks,
        g.journal_start,
        sb.version_major,
        sb.version_minor
    ));
    Ok(None)
}

/// Checks (and with `opts.repair`, repairs) the filesystem in `path`.
pub fn fsck(path: &Path, opts: &Options) -> Report {
    let mut report = Report::default();
    if let Err(e) = run(path, opts, &mut report) {
        report.error = Some(e.to_string());
        report.exit_code = EXIT_OPERATIONAL;
        return report;
    }
    if report.fixed > 0 {
        report.exit_code |= EXIT_CORRECTED;
    }
    if report.unfixed > 0 {
        report.exit_code |= EXIT_UNCORRECTED;
    }
    report
}
