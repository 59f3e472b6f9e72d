// SPDX-License-Identifier: GPL-2.0

//! Crafted images: one semantic mutation of one metadata structure, with
//! every checksum the mutation invalidated recomputed.
//!
//! [`KINDS`] is the table of mutations: each names a structure of the
//! on-disk format (`Documentation/rsfs-format.md`), a kind of damage and a
//! weight. [`mutate`] picks one kind from the seed, and the structure's
//! function (`superblock`, `block_bitmap`, `inode_bitmap`, `inode`,
//! `free_slot`, `extent`, `overflow_block`, `dir_block`, `dir_entry`,
//! `symlink_block`, `journal`) picks a target in the [`Inventory`] and a
//! value: boundary values (0, 1, max, max - 1, one past a limit), bit
//! flips, block pointers into the metadata regions or past the end,
//! aliases of other files' or directories' blocks, unsorted or overlapping
//! extents, loops in the overflow chain, names with `/` or NUL, and so on.
//! Then [`Img::reseal`] recomputes the checksums of the touched blocks and
//! inodes, so that a mount or fsck can only catch the damage by its
//! meaning, not by its CRC.
//!
//! On a journalled base, the `journal` kinds damage the journal superblock,
//! or write a committed (or torn) transaction into the circular log for
//! the kernel's replay at mount: one naming blocks the journal may not log
//! (a corrupt journal), one whose copies would damage the filesystem but
//! that is torn (not replayed), or `journal.logged`: another kind's change
//! delivered through the log instead of written home, which the replay
//! then makes (fsck, checking the image as replayed, must say of it what
//! it says of that kind).
//!
//! Some kinds make an image that is still valid (a relocated extent with
//! the bitmap updated, a renamed entry, new permissions, a longer file):
//! fsck must pass those, and the kernel must mount them and work. Each
//! mutation says what fsck is expected to say ([`Expect`]); the unit tests
//! hold fsck to it, the VM suite holds the kernel to fsck's verdict.

use crate::image::{
    block_of, short_name, DirBlockRec, EntryRec, ExtentAt, ExtentRec, Img, InodeRec, Inventory,
    Owner, Role,
};
use crate::rng::Rng;
use rsfs_format::*;
use rsfs_image::journal::LogWriter;
use std::collections::BTreeMap;
use std::fmt;

/// The metadata structures of the format, as the mutations group them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// Block 0.
    Superblock,
    /// The block bitmap.
    BlockBitmap,
    /// The inode bitmap.
    InodeBitmap,
    /// An in-use inode's fields.
    Inode,
    /// A free inode slot (or reserved slot 0).
    FreeSlot,
    /// One extent, inline or in an overflow block.
    Extent,
    /// An extent overflow block's header.
    OverflowBlock,
    /// A directory block's header.
    DirBlock,
    /// A directory entry (record).
    DirEntry,
    /// A long symlink's target block.
    SymlinkBlock,
    /// The journal: its superblock and its log (format 1.1), or the
    /// reserved region (1.0).
    Journal,
}

impl Structure {
    /// Its name in kind names (`inode.nlink`).
    pub fn name(self) -> &'static str {
        match self {
            Structure::Superblock => "superblock",
            Structure::BlockBitmap => "block-bitmap",
            Structure::InodeBitmap => "inode-bitmap",
            Structure::Inode => "inode",
            Structure::FreeSlot => "free-slot",
            Structure::Extent => "extent",
            Structure::OverflowBlock => "overflow-block",
            Structure::DirBlock => "dir-block",
            Structure::DirEntry => "dir-entry",
            Structure::SymlinkBlock => "symlink-block",
            Structure::Journal => "journal",
        }
    }
}

/// What fsck must say about the mutated image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The image is still valid: fsck passes it (and the kernel must use it).
    Clean,
    /// The image is damaged: fsck reports it.
    Flagged,
}

impl Expect {
    fn as_str(self) -> &'static str {
        match self {
            Expect::Clean => "still valid",
            Expect::Flagged => "damaged",
        }
    }
}

/// One kind of mutation.
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    /// The structure it changes.
    pub structure: Structure,
    /// Its name within the structure.
    pub name: &'static str,
    /// How often it is chosen, relative to the others.
    pub weight: u32,
    /// What it does.
    pub about: &'static str,
}

impl Kind {
    /// `structure.name`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.structure.name(), self.name)
    }
}

const fn k(structure: Structure, name: &'static str, weight: u32, about: &'static str) -> Kind {
    Kind {
        structure,
        name,
        weight,
        about,
    }
}

use Structure as S;

/// Every mutation, with its weight.
pub const KINDS: &[Kind] = &[
    k(S::Superblock, "magic", 1, "one bit of the magic flipped"),
    k(S::Superblock, "version", 1, "major version 0, 2, 3 or 0xffff"),
    k(S::Superblock, "minor", 1, "another minor version (valid)"),
    k(S::Superblock, "block-size", 1, "block size other than 4096"),
    k(S::Superblock, "features", 2, "an unknown incompat (refused), ro_compat (read-only) or compat (ignored) bit"),
    k(S::Superblock, "journal-feature", 1, "the journal bit cleared: a 1.0 filesystem with a journal in its reserved region (valid)"),
    k(S::Superblock, "total-blocks", 1, "total_blocks at a boundary: data_start, +-1, 2^48, bitmap limits"),
    k(S::Superblock, "inode-count", 1, "inode_count 0, 1, 2, +-1, +-16, 2^32 - 1, 2^32"),
    k(S::Superblock, "free-counts", 2, "free_blocks or free_inodes 0, +-1, all, all + 1, max"),
    k(S::Superblock, "region", 1, "one region start or length (journal, bitmaps, inode table, data_start)"),
    k(S::Superblock, "layout-shift", 1, "every region moved by one block, still contiguous and of exact size"),
    k(S::Superblock, "root-ino", 1, "root_ino 0, 2, inode_count, max"),
    k(S::Superblock, "state", 1, "state 0, 2 (dirty: valid with a journal), 3, 0xffff"),
    k(S::Superblock, "benign", 1, "label, UUID, times, mount count or reserved bytes (valid)"),
    k(S::BlockBitmap, "free-owned", 3, "the bit of a block owned by a file, directory or overflow chain cleared"),
    k(S::BlockBitmap, "free-metadata", 1, "the bit of a superblock, journal, bitmap or inode table block cleared"),
    k(S::BlockBitmap, "leak", 1, "the bit of a free data block set"),
    k(S::BlockBitmap, "tail", 1, "a bit past total_blocks cleared"),
    k(S::BlockBitmap, "flip", 1, "a random bit flipped"),
    k(S::BlockBitmap, "fill", 1, "a whole bitmap block zeroed or filled with ones"),
    k(S::InodeBitmap, "free-used", 3, "the bit of slot 0, the root or an in-use inode cleared"),
    k(S::InodeBitmap, "leak", 1, "the bit of a free slot set"),
    k(S::InodeBitmap, "tail", 1, "a bit past inode_count cleared"),
    k(S::InodeBitmap, "fill", 1, "a whole bitmap block zeroed or filled with ones"),
    k(S::Inode, "mode", 3, "freed (mode 0), an invalid type, or another type"),
    k(S::Inode, "perm", 1, "other permission bits (valid)"),
    k(S::Inode, "flags", 2, "INLINE_DATA set on a non-symlink or cleared on a fast symlink, an unknown flag"),
    k(S::Inode, "nlink", 3, "link count 0, 1, 2, 65000, 65001, max, +-1"),
    k(S::Inode, "size", 3, "size at the limits of its type (growing a file is valid)"),
    k(S::Inode, "blocks", 1, "blocks 0, +-1, huge"),
    k(S::Inode, "nsec", 1, "a nanoseconds field >= 10^9"),
    k(S::Inode, "times", 1, "a seconds field at an extreme (valid)"),
    k(S::Inode, "owner", 1, "another uid or gid (valid), or -1 (not a valid id)"),
    k(S::Inode, "generation", 1, "another generation (valid)"),
    k(S::Inode, "reserved", 1, "a reserved byte set (valid: ignored)"),
    k(S::Inode, "extent-count", 2, "extent_count 0, +-1, 8, 9, 261, 262, max"),
    k(S::Inode, "extent-overflow", 2, "the overflow pointer at metadata, past the end, at another file's block, a free block, or 0"),
    k(S::Inode, "dir-parent", 2, "dir_parent 0, itself, the root, another directory, a file, out of range"),
    k(S::Inode, "inline", 2, "the inline area: a NUL in a fast symlink target, another device number, bytes in unused slots"),
    k(S::FreeSlot, "resurrect", 2, "a free slot made an in-use file or directory nobody links to"),
    k(S::FreeSlot, "garbage", 1, "garbage in a free slot with mode 0 (valid)"),
    k(S::FreeSlot, "slot0", 1, "reserved slot 0 made an in-use inode"),
    k(S::Extent, "logical", 2, "the first file block moved (0, +-1, max, onto a neighbour)"),
    k(S::Extent, "len", 2, "length 0, +-1, max"),
    k(S::Extent, "unwritten", 2, "the unwritten flag flipped (valid for regular files)"),
    k(S::Extent, "physical-metadata", 1, "pointing at the superblock, a bitmap or the inode table"),
    k(S::Extent, "physical-end", 1, "pointing past the end, or wrapping around 2^64"),
    k(S::Extent, "alias-other", 3, "sharing another file's, directory's or overflow chain's blocks"),
    k(S::Extent, "alias-dir", 2, "sharing a directory block of another directory"),
    k(S::Extent, "alias-self", 1, "sharing the blocks of another extent of the same file"),
    k(S::Extent, "physical-free", 2, "moved onto free blocks without updating the bitmap"),
    k(S::Extent, "swap", 1, "two neighbouring extents swapped (unsorted)"),
    k(S::Extent, "overlap", 1, "overlapping the extent before it"),
    k(S::Extent, "relocate", 2, "data copied to free blocks, extent and bitmap updated (valid)"),
    k(S::OverflowBlock, "magic", 1, "one bit of the magic flipped"),
    k(S::OverflowBlock, "count", 2, "count 0, +-1, 253, 254, max"),
    k(S::OverflowBlock, "next", 3, "next at 0, itself, the chain's head (a loop), another chain, a data or directory block, metadata, past the end"),
    k(S::OverflowBlock, "owner", 1, "owner 0, another inode, max"),
    k(S::OverflowBlock, "reserved", 1, "reserved header bytes or unused extent slots set (valid)"),
    k(S::OverflowBlock, "relocate", 1, "the block copied to a free block, pointer and bitmap updated (valid)"),
    k(S::DirBlock, "magic", 1, "one bit of the magic flipped"),
    k(S::DirBlock, "owner", 2, "owner 0, another directory, max"),
    k(S::DirBlock, "reserved", 1, "a reserved byte set (valid: ignored)"),
    k(S::DirBlock, "empty", 1, "the block re-initialised empty: its entries' inodes orphaned"),
    k(S::DirEntry, "ino", 4, "the inode number 0, the directory itself, its parent, the root, another file, a free slot, out of range"),
    k(S::DirEntry, "rec-len", 2, "record length 0, 4, odd, -+8, past the block"),
    k(S::DirEntry, "name-len", 2, "name length 0, 255, +-1"),
    k(S::DirEntry, "file-type", 2, "file type 0, 3, 255, or another valid type"),
    k(S::DirEntry, "name-bad", 2, "a '/' or NUL in the name, or the name '.' or '..'"),
    k(S::DirEntry, "name-dup", 1, "the name of another entry of the same directory"),
    k(S::DirEntry, "rename", 1, "another unique valid name (valid)"),
    k(S::DirEntry, "remove", 1, "the entry removed: its inode orphaned or its link count off"),
    k(S::SymlinkBlock, "nul", 1, "a NUL inside a long symlink's target"),
    k(S::SymlinkBlock, "byte", 1, "another non-NUL byte in the target (valid)"),
    k(S::SymlinkBlock, "tail", 1, "bytes after the target set (valid: not part of it)"),
    k(S::Journal, "garbage", 1, "bytes in the unused log, or the unused 1.0 region (valid)"),
    k(S::Journal, "super-magic", 1, "one bit of the journal superblock's magic flipped"),
    k(S::Journal, "super-checksum", 1, "a byte of the journal superblock's checksum changed (not resealed)"),
    k(S::Journal, "super-blocks", 1, "the journal superblock's length 0, 15, +-1, twice, max: not the superblock's journal_blocks"),
    k(S::Journal, "super-start", 1, "start past the log, or inside a log with nothing committed (valid: nothing to replay)"),
    k(S::Journal, "super-sequence", 1, "another next sequence in an empty journal (valid)"),
    k(S::Journal, "logged", 4, "another kind's change committed in the log and not written home, anywhere in the circular log: replay makes it, fsck must agree with that kind"),
    k(S::Journal, "tag-home", 2, "a committed transaction logging a journal block, a block past the end or 2^64 - 1"),
    k(S::Journal, "revoke-home", 1, "a committed transaction revoking a journal block, a block past the end or 2^64 - 1"),
    k(S::Journal, "descriptor-count", 1, "damaging copies whose descriptor count is 0, off by one, 255 or 2^32 - 1: torn, not replayed (valid)"),
    k(S::Journal, "torn", 2, "damaging copies without a commit, with another sequence's commit, or a copy that does not match its tag: not replayed (valid)"),
];

/// One changed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The block it is in.
    pub block: u64,
    /// What changed ("inode 12 (regular file /a) nlink").
    pub what: String,
    /// Old value, as text.
    pub old: String,
    /// New value, as text.
    pub new: String,
}

/// What [`mutate`] did.
#[derive(Clone, Debug)]
pub struct Mutation {
    /// The seed.
    pub seed: u64,
    /// The kind applied.
    pub kind: Kind,
    /// The values changed.
    pub changes: Vec<Change>,
    /// What fsck should say.
    pub expect: Expect,
    /// The blocks written, checksums recomputed where they have one.
    pub blocks: Vec<u64>,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}: {}:", self.seed, self.kind.full_name())?;
        for (i, c) in self.changes.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            write!(
                f,
                "{sep}{}: {} -> {} [block {}]",
                c.what, c.old, c.new, c.block
            )?;
        }
        write!(f, " ({})", self.expect.as_str())
    }
}

/// How to show a value.
#[derive(Clone, Copy)]
enum Fmt {
    Dec,
    Hex,
    Oct,
    Signed,
}

fn show(v: u64, width: usize, fmt: Fmt) -> String {
    match fmt {
        Fmt::Dec => v.to_string(),
        Fmt::Hex => format!("{v:#x}"),
        Fmt::Oct => format!("{v:#o}"),
        Fmt::Signed => match width {
            8 => (v as i64).to_string(),
            4 => (v as u32 as i32).to_string(),
            _ => v.to_string(),
        },
    }
}

fn show_extent(logical: u64, raw_len: u64, physical: u64) -> String {
    let unwritten = if raw_len & u64::from(EXTENT_UNWRITTEN) != 0 {
        " unwritten"
    } else {
        ""
    };
    format!(
        "{{file block {logical}, {} blocks{unwritten}, at {physical}}}",
        raw_len & u64::from(MAX_EXTENT_LEN)
    )
}

fn show_name(name: &[u8]) -> String {
    short_name(name)
}

/// A mutation in progress.
struct Mutator<'a> {
    inv: &'a Inventory,
    img: Img,
    rng: &'a mut Rng,
    changes: Vec<Change>,
    expect: Expect,
}

impl Mutator<'_> {
    fn change(&mut self, block: u64, what: String, old: String, new: String) {
        self.changes.push(Change {
            block,
            what,
            old,
            new,
        });
    }

    /// Sets an integer field; `None` (nothing done) if it already has the value.
    #[allow(clippy::too_many_arguments)] // where (4), what, value, how to show it
    fn set(
        &mut self,
        block: u64,
        off: usize,
        width: usize,
        role: Role,
        what: String,
        new: u64,
        fmt: Fmt,
    ) -> Option<()> {
        let old = self.img.get(block, off, width);
        if old == new {
            return None;
        }
        self.img.put(block, off, width, new, role);
        self.change(block, what, show(old, width, fmt), show(new, width, fmt));
        Some(())
    }

    /// Sets a field of inode `ino` (the inode is resealed).
    fn set_inode(
        &mut self,
        ino: u64,
        off: usize,
        width: usize,
        what: String,
        new: u64,
        fmt: Fmt,
    ) -> Option<()> {
        let old = self.img.inode_get(ino, off, width);
        if old == new {
            return None;
        }
        self.img.inode_put(ino, off, width, new);
        let (block, _) = self.img.inode_location(ino);
        self.change(block, what, show(old, width, fmt), show(new, width, fmt));
        Some(())
    }

    /// One of `candidates` that differs from `old`.
    fn choose(&mut self, old: u64, candidates: &[u64]) -> Option<u64> {
        let c: Vec<u64> = candidates.iter().copied().filter(|v| *v != old).collect();
        self.rng.pick(&c).copied()
    }

    /// Sets bit `index` of the bitmap starting at block `start` to `value`.
    fn set_bit(
        &mut self,
        start: u64,
        index: u64,
        value: bool,
        role: Role,
        what: String,
    ) -> Option<()> {
        let block = start + index / BITS_PER_BLOCK;
        let byte = ((index % BITS_PER_BLOCK) / 8) as usize;
        let mask = 1u64 << (index % 8);
        let old = self.img.get(block, byte, 1);
        let new = if value { old | mask } else { old & !mask };
        if old == new {
            return None;
        }
        self.img.put(block, byte, 1, new, role);
        let b = |v: u64| {
            if v & mask != 0 {
                "1".to_string()
            } else {
                "0".to_string()
            }
        };
        self.change(block, what, b(old), b(new));
        Some(())
    }

    /// Sets a byte to a different non-zero value.
    fn scribble(&mut self, block: u64, off: usize, role: Role, what: String) -> Option<()> {
        let old = self.img.get(block, off, 1);
        let new = (old + 1 + self.rng.below(255)) % 256;
        let new = if new == 0 { 0x5a } else { new };
        self.set(block, off, 1, role, what, new, Fmt::Hex)
    }

    /// Where extent `at` of inode `ino` is: (block, offset, role).
    fn extent_place(&self, ino: u64, at: ExtentAt) -> (u64, usize, Role) {
        match at {
            ExtentAt::Inline(i) => {
                let (b, base) = self.img.inode_location(ino);
                (
                    b,
                    base + ino_off::INLINE + i * EXTENT_SIZE,
                    Role::InodeTable,
                )
            }
            ExtentAt::Overflow(b, i) => (b, ext_off::EXTENTS + i * EXTENT_SIZE, Role::Overflow),
        }
    }

    /// Writes an extent's raw fields (`raw_len` with the unwritten bit).
    fn put_extent(
        &mut self,
        rec: &InodeRec,
        at: ExtentAt,
        what: String,
        logical: u64,
        raw_len: u64,
        physical: u64,
    ) -> Option<()> {
        let (b, off, role) = self.extent_place(rec.ino, at);
        let old = (
            self.img.get(b, off, 4),
            self.img.get(b, off + 4, 4),
            self.img.get(b, off + 8, 8),
        );
        if old == (logical, raw_len, physical) {
            return None;
        }
        if role == Role::InodeTable {
            let (_, base) = self.img.inode_location(rec.ino);
            let rel = off - base;
            self.img.inode_put(rec.ino, rel, 4, logical);
            self.img.inode_put(rec.ino, rel + 4, 4, raw_len);
            self.img.inode_put(rec.ino, rel + 8, 8, physical);
        } else {
            self.img.put(b, off, 4, logical, role);
            self.img.put(b, off + 4, 4, raw_len, role);
            self.img.put(b, off + 8, 8, physical, role);
        }
        self.change(
            b,
            what,
            show_extent(old.0, old.1, old.2),
            show_extent(logical, raw_len, physical),
        );
        Some(())
    }

    /// Copies `len` blocks from `from` to `to` (data, no checksum of its own).
    fn copy_blocks(&mut self, from: u64, to: u64, len: u64) {
        for i in 0..len {
            let src = *self.img.block(from + i);
            *self.img.block_mut(to + i, Role::Data) = src;
        }
    }

    /// Marks blocks `start .. start + len` used or free in the block bitmap.
    fn bitmap_range(&mut self, start: u64, len: u64, used: bool) {
        let g = self.inv.g;
        for b in start..start + len {
            let _ = self.set_bit(
                g.block_bitmap_start,
                b,
                used,
                Role::BlockBitmap,
                format!("block bitmap bit {b}"),
            );
        }
    }

    fn pick_inode(&mut self, filter: impl Fn(&InodeRec) -> bool) -> Option<InodeRec> {
        let c: Vec<&InodeRec> = self.inv.inodes.iter().filter(|r| filter(r)).collect();
        self.rng.pick(&c).map(|r| (*r).clone())
    }

    fn pick_entry(&mut self, filter: impl Fn(&EntryRec) -> bool) -> Option<EntryRec> {
        let c: Vec<&EntryRec> = self.inv.entries.iter().filter(|e| filter(e)).collect();
        self.rng.pick(&c).map(|e| (*e).clone())
    }

    /// A block owned by something other than inode `ino`, with `len`
    /// blocks from it inside the filesystem.
    fn pick_owned_block(
        &mut self,
        not_ino: u64,
        len: u64,
        filter: impl Fn(Owner) -> bool,
    ) -> Option<(u64, Owner)> {
        let total = self.inv.g.total_blocks;
        let c: Vec<(u64, Owner)> = self
            .inv
            .owners
            .iter()
            .filter(|(b, o)| o.ino() != not_ino && filter(**o) && **b + len <= total)
            .map(|(b, o)| (*b, *o))
            .collect();
        self.rng.pick(&c).copied()
    }

    fn dir_path(&self, dir: u64) -> String {
        self.inv
            .inode(dir)
            .map_or_else(|| "?".into(), |r| r.path.clone())
    }

    fn entry_what(&self, e: &EntryRec) -> String {
        format!(
            "directory {} ({}) entry '{}' (offset {})",
            e.dir,
            self.dir_path(e.dir),
            show_name(&e.name),
            e.offset
        )
    }
}

fn describe_owner(o: Owner) -> String {
    match o {
        Owner::Data(i) => format!("data of inode {i}"),
        Owner::Dir(i) => format!("directory block of inode {i}"),
        Owner::Overflow(i) => format!("overflow block of inode {i}"),
    }
}

// ---- one function per structure ---------------------------------------------

fn superblock(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    use sb_off as o;
    let g = m.inv.g;
    let sb = m.inv.sb;
    let field = |m: &mut Mutator<'_>, name: &str, off: usize, width: usize, new: u64, fmt: Fmt| {
        m.set(
            0,
            off,
            width,
            Role::Superblock,
            format!("superblock {name}"),
            new,
            fmt,
        )
    };
    m.expect = Expect::Flagged;
    match kind {
        "magic" => {
            let new = u64::from(SUPER_MAGIC) ^ (1 << m.rng.below(32));
            field(m, "magic", o::MAGIC, 4, new, Fmt::Hex)
        }
        "version" => {
            let new = m.choose(1, &[0, 2, 3, 0xffff])?;
            field(m, "version_major", o::VERSION_MAJOR, 2, new, Fmt::Dec)
        }
        "minor" => {
            m.expect = Expect::Clean;
            let r = m.rng.below(0x10000);
            let new = m.choose(u64::from(sb.version_minor), &[1, 2, 0xffff, r])?;
            field(m, "version_minor", o::VERSION_MINOR, 2, new, Fmt::Dec)
        }
        "block-size" => {
            let new = m.choose(
                4096,
                &[
                    0,
                    512,
                    1024,
                    2048,
                    4095,
                    4097,
                    8192,
                    65536,
                    u64::from(u32::MAX),
                ],
            )?;
            field(m, "block_size", o::BLOCK_SIZE, 4, new, Fmt::Dec)
        }
        "features" => {
            let bit = 1u64 << m.rng.below(32);
            match m.rng.below(3) {
                0 => {
                    // An unknown one, the journal bit kept.
                    let unknown = 1u64 << (1 + m.rng.below(31));
                    let new = u64::from(sb.feature_incompat) | unknown;
                    field(m, "feature_incompat", o::FEATURE_INCOMPAT, 4, new, Fmt::Hex)
                }
                1 => {
                    // Valid: fsck checks without repairing, the kernel
                    // mounts it read-only only.
                    m.expect = Expect::Clean;
                    field(
                        m,
                        "feature_ro_compat",
                        o::FEATURE_RO_COMPAT,
                        4,
                        bit,
                        Fmt::Hex,
                    )
                }
                _ => {
                    m.expect = Expect::Clean;
                    field(m, "feature_compat", o::FEATURE_COMPAT, 4, bit, Fmt::Hex)
                }
            }
        }
        "total-blocks" => {
            let t = g.total_blocks;
            let bits = g.block_bitmap_blocks * BITS_PER_BLOCK;
            let new = m.choose(
                t,
                &[
                    0,
                    g.data_start,
                    g.data_start + 1,
                    t - 1,
                    t + 1,
                    t * 2,
                    bits,
                    bits + 1,
                    MAX_TOTAL_BLOCKS,
                    MAX_TOTAL_BLOCKS + 1,
                    u64::MAX,
                ],
            )?;
            field(m, "total_blocks", o::TOTAL_BLOCKS, 8, new, Fmt::Dec)
        }
        "inode-count" => {
            let n = g.inode_count;
            let new = m.choose(
                n,
                &[
                    0,
                    1,
                    2,
                    3,
                    n - 1,
                    n + 1,
                    n - 16,
                    n + 16,
                    MAX_INODES,
                    MAX_INODES + 1,
                    u64::MAX,
                ],
            )?;
            field(m, "inode_count", o::INODE_COUNT, 8, new, Fmt::Dec)
        }
        "free-counts" => {
            if m.rng.chance(1, 2) {
                let (old, all) = (sb.free_blocks, g.data_blocks());
                let new = m.choose(
                    old,
                    &[0, old.saturating_sub(1), old + 1, all, all + 1, u64::MAX],
                )?;
                field(m, "free_blocks", o::FREE_BLOCKS, 8, new, Fmt::Dec)
            } else {
                let (old, all) = (sb.free_inodes, g.allocatable_inodes());
                let new = m.choose(
                    old,
                    &[0, old.saturating_sub(1), old + 1, all, all + 1, u64::MAX],
                )?;
                field(m, "free_inodes", o::FREE_INODES, 8, new, Fmt::Dec)
            }
        }
        "region" => {
            let regions = [
                ("journal_start", o::JOURNAL_START, g.journal_start),
                ("journal_blocks", o::JOURNAL_BLOCKS, g.journal_blocks),
                (
                    "block_bitmap_start",
                    o::BLOCK_BITMAP_START,
                    g.block_bitmap_start,
                ),
                (
                    "block_bitmap_blocks",
                    o::BLOCK_BITMAP_BLOCKS,
                    g.block_bitmap_blocks,
                ),
                (
                    "inode_bitmap_start",
                    o::INODE_BITMAP_START,
                    g.inode_bitmap_start,
                ),
                (
                    "inode_bitmap_blocks",
                    o::INODE_BITMAP_BLOCKS,
                    g.inode_bitmap_blocks,
                ),
                (
                    "inode_table_start",
                    o::INODE_TABLE_START,
                    g.inode_table_start,
                ),
                (
                    "inode_table_blocks",
                    o::INODE_TABLE_BLOCKS,
                    g.inode_table_blocks,
                ),
                ("data_start", o::DATA_START, g.data_start),
            ];
            let (name, off, old) = *m.rng.pick(&regions)?;
            let t = g.total_blocks;
            let new = m.choose(
                old,
                &[0, 1, old.wrapping_sub(1), old + 1, t - 1, t, u64::MAX],
            )?;
            field(m, name, off, 8, new, Fmt::Dec)
        }
        "layout-shift" => {
            // Every region one block earlier (or later), the journal one
            // shorter (longer): contiguous, exact sizes, a valid
            // superblock whose inode table is in the wrong place.
            let down = g.journal_blocks > 0;
            let mv = |v: u64| if down { v - 1 } else { v + 1 };
            field(
                m,
                "journal_blocks",
                o::JOURNAL_BLOCKS,
                8,
                mv(g.journal_blocks),
                Fmt::Dec,
            )?;
            field(
                m,
                "block_bitmap_start",
                o::BLOCK_BITMAP_START,
                8,
                mv(g.block_bitmap_start),
                Fmt::Dec,
            )?;
            field(
                m,
                "inode_bitmap_start",
                o::INODE_BITMAP_START,
                8,
                mv(g.inode_bitmap_start),
                Fmt::Dec,
            )?;
            field(
                m,
                "inode_table_start",
                o::INODE_TABLE_START,
                8,
                mv(g.inode_table_start),
                Fmt::Dec,
            )?;
            field(
                m,
                "data_start",
                o::DATA_START,
                8,
                mv(g.data_start),
                Fmt::Dec,
            )
        }
        "journal-feature" => {
            // A 1.0 filesystem whose reserved region holds a journal:
            // valid (the kernel mounts it read-only only).
            if !sb.has_journal() {
                return None;
            }
            m.expect = Expect::Clean;
            let new = u64::from(sb.feature_incompat & !FEATURE_INCOMPAT_JOURNAL);
            field(m, "feature_incompat", o::FEATURE_INCOMPAT, 4, new, Fmt::Hex)
        }
        "root-ino" => {
            let new = m.choose(
                ROOT_INO,
                &[0, 2, g.inode_count - 1, g.inode_count, u64::MAX],
            )?;
            field(m, "root_ino", o::ROOT_INO, 8, new, Fmt::Dec)
        }
        "state" => {
            let new = m.choose(u64::from(sb.state), &[0, 2, 3, 0xffff])?;
            if new == u64::from(STATE_DIRTY) && sb.has_journal() {
                // After a crash: normal for a journalled filesystem.
                m.expect = Expect::Clean;
            }
            field(m, "state", o::STATE, 2, new, Fmt::Dec)
        }
        "benign" => {
            m.expect = Expect::Clean;
            let r = m.rng.next_u64();
            match m.rng.below(6) {
                0 => {
                    let off = o::LABEL + m.rng.index(LABEL_LEN);
                    m.scribble(0, off, Role::Superblock, "superblock label byte".into())
                }
                1 => {
                    let off = o::UUID + m.rng.index(UUID_LEN);
                    m.scribble(0, off, Role::Superblock, "superblock uuid byte".into())
                }
                2 => field(m, "mkfs_time", o::MKFS_TIME, 8, r, Fmt::Dec),
                3 => field(
                    m,
                    "mount_time",
                    o::MOUNT_TIME,
                    8,
                    u64::MAX - (r & 0xffff),
                    Fmt::Dec,
                ),
                4 => field(
                    m,
                    "mount_count",
                    o::MOUNT_COUNT,
                    4,
                    u64::from(u32::MAX),
                    Fmt::Dec,
                ),
                _ => {
                    let off = o::RESERVED + m.rng.index(o::CHECKSUM - o::RESERVED);
                    m.scribble(
                        0,
                        off,
                        Role::Superblock,
                        format!("superblock reserved byte {off}"),
                    )
                }
            }
        }
        _ => None,
    }
}

/// One of the two bitmaps, as [`bitmap`] sees it: both take the same
/// damage, only the region, the bits in use and the wording differ.
struct Bitmap<'a> {
    /// "block bitmap" or "inode bitmap", in the descriptions.
    name: &'static str,
    role: Role,
    start: u64,
    blocks: u64,
    /// The bits in use: total_blocks or inode_count; the rest must be clear.
    used: u64,
    /// The clear bits a "leak" sets: free data blocks or free slots.
    free: &'a [u64],
    /// How a "leak" and a "tail" bit are described.
    free_why: &'static str,
    tail_why: &'static str,
}

impl Bitmap<'_> {
    /// Sets bit `index` to `value`, described as `name bit index (why)`.
    fn set(&self, m: &mut Mutator<'_>, (index, value, why): (u64, bool, String)) -> Option<()> {
        m.set_bit(
            self.start,
            index,
            value,
            self.role,
            format!("{} bit {index} ({why})", self.name),
        )
    }
}

/// The kinds both bitmaps share ("leak", "tail", "fill"; [`KINDS`] lists
/// "flip" for the block bitmap only); `None` for any other kind.
fn bitmap(m: &mut Mutator<'_>, map: &Bitmap<'_>, kind: &str) -> Option<()> {
    let bits = map.blocks * BITS_PER_BLOCK;
    let target = match kind {
        "leak" => (*m.rng.pick(map.free)?, true, map.free_why.to_string()),
        "tail" => {
            let room = bits - map.used;
            if room == 0 {
                return None;
            }
            (
                map.used + m.rng.below(room.min(64)),
                false,
                map.tail_why.to_string(),
            )
        }
        "flip" => {
            let b = m.rng.below(bits);
            let old = m.img.get(
                map.start + b / BITS_PER_BLOCK,
                ((b % BITS_PER_BLOCK) / 8) as usize,
                1,
            );
            (b, old & (1 << (b % 8)) == 0, "a random bit".to_string())
        }
        "fill" => {
            let blk = map.start + m.rng.below(map.blocks);
            let v = *m.rng.pick(&[0x00u8, 0xff])?;
            m.img.block_mut(blk, map.role).fill(v);
            m.change(
                blk,
                format!("{} block", map.name),
                "(bits)".into(),
                format!("all {v:#04x}"),
            );
            return Some(());
        }
        _ => return None,
    };
    map.set(m, target)
}

/// The kinds only the block bitmap has here; the others go to [`bitmap`].
fn block_bitmap(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    let inv = m.inv;
    let g = inv.g;
    let map = Bitmap {
        name: "block bitmap",
        role: Role::BlockBitmap,
        start: g.block_bitmap_start,
        blocks: g.block_bitmap_blocks,
        used: g.total_blocks,
        free: &inv.free_blocks,
        free_why: "a free block",
        tail_why: "past the end",
    };
    m.expect = Expect::Flagged;
    let target = match kind {
        "free-owned" => {
            let owned: Vec<(u64, Owner)> = inv.owners.iter().map(|(b, o)| (*b, *o)).collect();
            let (b, o) = *m.rng.pick(&owned)?;
            (b, false, describe_owner(o))
        }
        "free-metadata" => {
            let r = m.rng.below(g.data_start);
            let cands = [
                0,
                1,
                g.block_bitmap_start,
                g.inode_bitmap_start,
                g.inode_table_start,
                g.data_start - 1,
                r,
            ];
            (*m.rng.pick(&cands)?, false, "metadata".to_string())
        }
        _ => return bitmap(m, &map, kind),
    };
    map.set(m, target)
}

/// The kinds only the inode bitmap has here; the others go to [`bitmap`].
fn inode_bitmap(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    let inv = m.inv;
    let g = inv.g;
    let map = Bitmap {
        name: "inode bitmap",
        role: Role::InodeBitmap,
        start: g.inode_bitmap_start,
        blocks: g.inode_bitmap_blocks,
        used: g.inode_count,
        free: &inv.free_slots,
        free_why: "a free slot",
        tail_why: "past the last inode",
    };
    m.expect = Expect::Flagged;
    let target = match kind {
        "free-used" => {
            let mut c: Vec<u64> = vec![0, ROOT_INO];
            c.extend(inv.inodes.iter().map(|r| r.ino));
            let i = *m.rng.pick(&c)?;
            let why = match i {
                0 => "reserved slot 0".to_string(),
                _ => inv.inode(i).map_or("?".into(), |r| r.describe()),
            };
            (i, false, why)
        }
        _ => return bitmap(m, &map, kind),
    };
    map.set(m, target)
}

/// Whether a regular file (or symlink) of `rec` with size `new` is valid.
fn size_is_valid(rec: &InodeRec, new: u64) -> bool {
    let old = rec.inode.size;
    match rec.kind {
        FileKind::Regular => {
            new <= inode_max_size() && new.div_ceil(BLOCK_SIZE_U64) >= rec.mapped_end()
        }
        FileKind::Symlink if rec.is_fast_symlink() => new >= 1 && new <= old,
        FileKind::Symlink => new > FAST_SYMLINK_MAX as u64 && new <= old,
        _ => new == old,
    }
}

fn inode_max_size() -> u64 {
    MAX_FILE_SIZE
}

fn inode(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    use ino_off as o;
    let rec = match kind {
        "inline" => {
            m.pick_inode(|r| r.kind != FileKind::Regular || r.extents.len() < INLINE_EXTENTS)?
        }
        _ => m.pick_inode(|_| true)?,
    };
    let ino = rec.ino;
    let d = rec.describe();
    let g = m.inv.g;
    let i = &rec.inode;
    m.expect = Expect::Flagged;
    match kind {
        "mode" => {
            let perm = i.mode & S_IALLUGO;
            let types = [
                0, S_IFMT, 0o030000, 0o050000, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR,
                S_IFSOCK,
            ];
            let c: Vec<u64> = types
                .iter()
                .map(|t| if *t == 0 { 0 } else { u64::from(t | perm) })
                .collect();
            let new = m.choose(u64::from(i.mode), &c)?;
            m.set_inode(ino, o::MODE, 2, format!("{d} mode"), new, Fmt::Oct)
        }
        "perm" => {
            m.expect = Expect::Clean;
            let new = u64::from(i.mode & S_IFMT) | m.rng.below(0o10000);
            m.set_inode(ino, o::MODE, 2, format!("{d} mode"), new, Fmt::Oct)
        }
        "flags" => {
            let f = u64::from(i.flags);
            let unknown = f | (2 << m.rng.below(15));
            let new = if rec.is_fast_symlink() {
                m.choose(f, &[f & !u64::from(INODE_FLAG_INLINE_DATA), unknown])?
            } else {
                m.choose(f, &[f | u64::from(INODE_FLAG_INLINE_DATA), unknown])?
            };
            m.set_inode(ino, o::FLAGS, 2, format!("{d} flags"), new, Fmt::Hex)
        }
        "nlink" => {
            let n = u64::from(i.nlink);
            let max = u64::from(MAX_LINKS);
            let new = m.choose(
                n,
                &[0, 1, 2, max, max + 1, u64::from(u32::MAX), n + 1, n - 1],
            )?;
            m.set_inode(ino, o::NLINK, 4, format!("{d} nlink"), new, Fmt::Dec)
        }
        "size" => {
            let s = i.size;
            let c: Vec<u64> = match rec.kind {
                FileKind::Regular => {
                    let last = rec.mapped_end().saturating_sub(1) * BLOCK_SIZE_U64 + 1;
                    vec![
                        0,
                        1,
                        s.saturating_sub(1),
                        s + 1,
                        s + 4096,
                        s + (1 << 20),
                        last,
                        1 << 40,
                        MAX_FILE_SIZE,
                        MAX_FILE_SIZE + 1,
                        u64::MAX,
                    ]
                }
                FileKind::Dir => vec![
                    0,
                    s + 4096,
                    s.saturating_sub(4096),
                    s + 1,
                    4095,
                    MAX_FILE_SIZE + 4096,
                    u64::MAX,
                ],
                FileKind::Symlink => vec![0, s - 1, s + 1, 127, 128, 4095, 4096, u64::MAX],
                _ => vec![1, 4096, u64::MAX],
            };
            let new = m.choose(s, &c)?;
            m.expect = if size_is_valid(&rec, new) {
                Expect::Clean
            } else {
                Expect::Flagged
            };
            m.set_inode(ino, o::SIZE, 8, format!("{d} size"), new, Fmt::Dec)
        }
        "blocks" => {
            let b = i.blocks;
            let new = m.choose(b, &[0, b + 1, b.wrapping_sub(1), 1 << 61, u64::MAX])?;
            m.set_inode(ino, o::BLOCKS, 8, format!("{d} blocks"), new, Fmt::Dec)
        }
        "nsec" => {
            let fields = [
                ("atime_nsec", o::ATIME_NSEC),
                ("mtime_nsec", o::MTIME_NSEC),
                ("ctime_nsec", o::CTIME_NSEC),
                ("crtime_nsec", o::CRTIME_NSEC),
            ];
            let (name, off) = *m.rng.pick(&fields)?;
            let new = *m
                .rng
                .pick(&[1_000_000_000u64, 1_000_000_001, u64::from(u32::MAX)])?;
            m.set_inode(ino, off, 4, format!("{d} {name}"), new, Fmt::Dec)
        }
        "times" => {
            m.expect = Expect::Clean;
            let fields = [
                ("atime", o::ATIME),
                ("mtime", o::MTIME),
                ("ctime", o::CTIME),
                ("crtime", o::CRTIME),
            ];
            let (name, off) = *m.rng.pick(&fields)?;
            let new = *m.rng.pick(&[
                0u64,
                u64::MAX,
                i64::MIN as u64,
                i64::MAX as u64,
                1 << 40,
                253_402_300_800,
            ])?;
            m.set_inode(ino, off, 8, format!("{d} {name}"), new, Fmt::Signed)
        }
        "owner" => {
            let (name, off, old) = if m.rng.chance(1, 2) {
                ("uid", o::UID, i.uid)
            } else {
                ("gid", o::GID, i.gid)
            };
            let new = if m.rng.chance(1, 3) {
                // (uid_t)-1 maps to no id: the VFS refuses to change such
                // an inode (EOVERFLOW), so fsck must not call it clean.
                u64::from(u32::MAX)
            } else {
                m.expect = Expect::Clean;
                let r = m.rng.below(1 << 31);
                m.choose(u64::from(old), &[1000, 65534, u64::from(u32::MAX) - 1, r])?
            };
            m.set_inode(ino, off, 4, format!("{d} {name}"), new, Fmt::Dec)
        }
        "generation" => {
            m.expect = Expect::Clean;
            let new = m.rng.below(1 << 32);
            m.set_inode(
                ino,
                o::GENERATION,
                4,
                format!("{d} generation"),
                new,
                Fmt::Dec,
            )
        }
        "reserved" => {
            m.expect = Expect::Clean;
            let off = o::RESERVED + m.rng.index(o::CHECKSUM - o::RESERVED);
            let old = m.img.inode_get(ino, off, 1);
            let new = if old == 0xa5 { 0x5a } else { 0xa5 };
            m.set_inode(
                ino,
                off,
                1,
                format!("{d} reserved byte {off}"),
                new,
                Fmt::Hex,
            )
        }
        "extent-count" => {
            let n = u64::from(i.extent_count);
            let new = m.choose(
                n,
                &[
                    0,
                    n + 1,
                    n.wrapping_sub(1) & 0xffff_ffff,
                    8,
                    9,
                    261,
                    262,
                    u64::from(u32::MAX),
                ],
            )?;
            m.set_inode(
                ino,
                o::EXTENT_COUNT,
                4,
                format!("{d} extent_count"),
                new,
                Fmt::Dec,
            )
        }
        "extent-overflow" => {
            let own_data = rec
                .extents
                .first()
                .map_or(g.data_start, |e| e.extent.physical);
            let other = m
                .pick_owned_block(ino, 1, |_| true)
                .map_or(g.data_start, |(b, _)| b);
            let free = m
                .rng
                .pick(&m.inv.free_blocks)
                .copied()
                .unwrap_or(g.total_blocks - 1);
            let c = [
                0,
                1,
                g.inode_table_start,
                g.data_start - 1,
                g.total_blocks,
                u64::MAX,
                other,
                own_data,
                free,
            ];
            let new = m.choose(i.extent_overflow, &c)?;
            m.set_inode(
                ino,
                o::EXTENT_OVERFLOW,
                8,
                format!("{d} extent_overflow"),
                new,
                Fmt::Dec,
            )
        }
        "dir-parent" => {
            let dirs: Vec<u64> = m
                .inv
                .inodes
                .iter()
                .filter(|r| r.kind == FileKind::Dir && r.ino != ino)
                .map(|r| r.ino)
                .collect();
            let files: Vec<u64> = m
                .inv
                .inodes
                .iter()
                .filter(|r| r.kind != FileKind::Dir)
                .map(|r| r.ino)
                .collect();
            let other_dir = m.rng.pick(&dirs).copied().unwrap_or(ROOT_INO);
            let file = m.rng.pick(&files).copied().unwrap_or(g.inode_count);
            let c = if rec.kind == FileKind::Dir {
                vec![0, ino, ROOT_INO, other_dir, file, g.inode_count, u64::MAX]
            } else {
                vec![ROOT_INO, other_dir]
            };
            let new = m.choose(i.dir_parent, &c)?;
            m.set_inode(
                ino,
                o::DIR_PARENT,
                8,
                format!("{d} dir_parent"),
                new,
                Fmt::Dec,
            )
        }
        "inline" => {
            let size = i.size as usize;
            match rec.kind {
                _ if rec.is_fast_symlink() => {
                    let at = m.rng.index(INLINE_SIZE);
                    let what = format!("{d} symlink target byte {at}");
                    let old = m.img.inode_get(ino, o::INLINE + at, 1);
                    let new = if at < size && m.rng.chance(1, 2) {
                        0
                    } else {
                        m.expect = Expect::Clean;
                        if old == u64::from(b'Q') {
                            u64::from(b'W')
                        } else {
                            u64::from(b'Q')
                        }
                    };
                    m.set_inode(ino, o::INLINE + at, 1, what, new, Fmt::Hex)
                }
                FileKind::CharDev | FileKind::BlockDev => {
                    m.expect = Expect::Clean;
                    let new = m.rng.below(1 << 32);
                    m.set_inode(
                        ino,
                        o::INLINE,
                        4,
                        format!("{d} device number"),
                        new,
                        Fmt::Hex,
                    )
                }
                FileKind::Fifo | FileKind::Socket => {
                    m.expect = Expect::Clean;
                    let at = m.rng.index(INLINE_SIZE);
                    let old = m.img.inode_get(ino, o::INLINE + at, 1);
                    m.set_inode(
                        ino,
                        o::INLINE + at,
                        1,
                        format!("{d} inline byte {at}"),
                        old ^ 0xff,
                        Fmt::Hex,
                    )
                }
                _ => {
                    // Bytes of an inline extent slot past extent_count: unused.
                    let used = rec
                        .extents
                        .iter()
                        .filter(|e| matches!(e.at, ExtentAt::Inline(_)))
                        .count();
                    if used >= INLINE_EXTENTS {
                        return None;
                    }
                    m.expect = Expect::Clean;
                    let at =
                        used * EXTENT_SIZE + m.rng.index((INLINE_EXTENTS - used) * EXTENT_SIZE);
                    let old = m.img.inode_get(ino, o::INLINE + at, 1);
                    m.set_inode(
                        ino,
                        o::INLINE + at,
                        1,
                        format!("{d} unused inline byte {at}"),
                        old ^ 0xff,
                        Fmt::Hex,
                    )
                }
            }
        }
        _ => None,
    }
}

fn free_slot(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    let slot = match kind {
        "slot0" => 0,
        _ => *m.rng.pick(&m.inv.free_slots)?,
    };
    let (block, _) = m.img.inode_location(slot);
    match kind {
        "resurrect" | "slot0" => {
            m.expect = Expect::Flagged;
            let dir = kind == "resurrect" && m.rng.chance(1, 3);
            let mut inode = Inode::new(if dir {
                S_IFDIR | 0o755
            } else {
                S_IFREG | 0o644
            });
            inode.nlink = if dir { 2 } else { 1 };
            inode.dir_parent = if dir { ROOT_INO } else { 0 };
            inode.generation = slot as u32;
            let mut raw = [0u8; INODE_SIZE];
            inode.encode(slot, &mut raw);
            m.img.inode_set_raw(slot, &raw);
            let what = if dir {
                "an empty directory"
            } else {
                "an empty regular file"
            };
            m.change(
                block,
                format!("inode slot {slot}"),
                "free".into(),
                what.into(),
            );
            Some(())
        }
        "garbage" => {
            m.expect = Expect::Clean;
            let mut raw = m.img.inode_raw(slot);
            for b in raw.iter_mut().skip(2) {
                *b = m.rng.next_u64() as u8;
            }
            raw[0] = 0;
            raw[1] = 0;
            m.img.inode_set_raw(slot, &raw);
            m.change(
                block,
                format!("inode slot {slot} (mode 0) bytes 2..256"),
                "(free slot)".into(),
                "random".into(),
            );
            Some(())
        }
        _ => None,
    }
}

fn extent(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    let need = if matches!(kind, "alias-self" | "swap" | "overlap") {
        2
    } else {
        1
    };
    // Half the time an inode with an overflow chain, so that extents
    // stored there are hit as often as inline ones.
    let chained = m.rng.chance(1, 2);
    let rec = m
        .pick_inode(|r| r.extents.len() >= need && (!chained || !r.chain.is_empty()))
        .or_else(|| m.pick_inode(|r| r.extents.len() >= need))?;
    let n = rec.extents.len();
    let i = match kind {
        "swap" => m.rng.index(n - 1),
        "overlap" => 1 + m.rng.index(n - 1),
        _ if chained && n > INLINE_EXTENTS => INLINE_EXTENTS + m.rng.index(n - INLINE_EXTENTS),
        _ => m.rng.index(n),
    };
    let ExtentRec { extent: e, at } = rec.extents[i];
    let place = match at {
        ExtentAt::Inline(s) => format!("inline slot {s}"),
        ExtentAt::Overflow(b, s) => format!("overflow block {b} slot {s}"),
    };
    let what = format!("{} extent {i} ({place})", rec.describe());
    let flag = if e.unwritten {
        u64::from(EXTENT_UNWRITTEN)
    } else {
        0
    };
    let raw_len = u64::from(e.len) | flag;
    let (logical, len, physical) = (u64::from(e.logical), u64::from(e.len), e.physical);
    let g = m.inv.g;
    let total = g.total_blocks;
    m.expect = Expect::Flagged;
    let put = |m: &mut Mutator<'_>, l: u64, rl: u64, p: u64| -> Option<()> {
        m.put_extent(&rec, at, what.clone(), l, rl, p)
    };
    match kind {
        "logical" => {
            let prev_end = i
                .checked_sub(1)
                .map_or(0, |p| rec.extents[p].extent.logical_end());
            let next = rec.extents.get(i + 1).map(|x| u64::from(x.extent.logical));
            let c = [
                0,
                logical + 1,
                logical.wrapping_sub(1) & 0xffff_ffff,
                prev_end,
                next.unwrap_or(logical + 2),
                u64::from(u32::MAX),
                (1u64 << 32) - len + 1,
            ];
            let new = m.choose(logical, &c)?;
            let end = new + len;
            let before_next = match next {
                Some(nx) => end <= nx,
                None => true,
            };
            let fits = new >= prev_end && before_next && end <= MAX_FILE_BLOCKS;
            let within = next.is_some() || end <= rec.inode.size_in_blocks();
            m.expect = if rec.kind == FileKind::Regular && fits && within {
                Expect::Clean
            } else {
                Expect::Flagged
            };
            put(m, new, raw_len, physical)
        }
        "len" => {
            let new = m.choose(
                len,
                &[0, len + 1, len - 1, u64::from(MAX_EXTENT_LEN), 1 << 30],
            )?;
            put(m, logical, new | flag, physical)
        }
        "unwritten" => {
            if rec.kind == FileKind::Regular {
                m.expect = Expect::Clean;
            }
            put(m, logical, raw_len ^ u64::from(EXTENT_UNWRITTEN), physical)
        }
        "physical-metadata" => {
            let new = m.choose(
                physical,
                &[
                    0,
                    1,
                    g.block_bitmap_start,
                    g.inode_bitmap_start,
                    g.inode_table_start,
                    g.data_start - 1,
                ],
            )?;
            put(m, logical, raw_len, new)
        }
        "physical-end" => {
            let new = m.choose(
                physical,
                &[total - len + 1, total, u64::MAX, u64::MAX - len + 1],
            )?;
            put(m, logical, raw_len, new)
        }
        "alias-other" => {
            let (b, _) = m.pick_owned_block(rec.ino, len, |_| true)?;
            put(m, logical, raw_len, b)
        }
        "alias-dir" => {
            let c: Vec<DirBlockRec> = m
                .inv
                .dir_blocks
                .iter()
                .filter(|d| d.dir != rec.ino && d.block + len <= total)
                .copied()
                .collect();
            let b = m.rng.pick(&c)?.block;
            put(m, logical, raw_len, b)
        }
        "alias-self" => {
            let j = (i + 1 + m.rng.index(n - 1)) % n;
            let b = rec.extents[j].extent.physical;
            if b + len > total {
                return None;
            }
            put(m, logical, raw_len, b)
        }
        "physical-free" => {
            let b = m.inv.free_run(len)?;
            put(m, logical, raw_len, b)
        }
        "swap" => {
            let f = rec.extents[i + 1];
            let fl = u64::from(f.extent.len)
                | if f.extent.unwritten {
                    u64::from(EXTENT_UNWRITTEN)
                } else {
                    0
                };
            put(m, u64::from(f.extent.logical), fl, f.extent.physical)?;
            let what2 = format!("{} extent {} (swapped)", rec.describe(), i + 1);
            m.put_extent(&rec, f.at, what2, logical, raw_len, physical)
        }
        "overlap" => {
            let p = rec.extents[i - 1].extent;
            let new = m.choose(logical, &[u64::from(p.logical), p.logical_end() - 1])?;
            put(m, new, raw_len, physical)
        }
        "relocate" => {
            m.expect = Expect::Clean;
            let to = m.inv.free_run(len)?;
            m.copy_blocks(physical, to, len);
            put(m, logical, raw_len, to)?;
            m.bitmap_range(to, len, true);
            m.bitmap_range(physical, len, false);
            Some(())
        }
        _ => None,
    }
}

fn overflow_block(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    use ext_off as o;
    let rec = m.pick_inode(|r| !r.chain.is_empty())?;
    let k = m.rng.index(rec.chain.len());
    let blk = rec.chain[k];
    let what = |f: &str| {
        format!(
            "overflow block {blk} ({} chain block {k}) {f}",
            rec.describe()
        )
    };
    let g = m.inv.g;
    m.expect = Expect::Flagged;
    match kind {
        "magic" => {
            let new = u64::from(EXTENT_BLOCK_MAGIC) ^ (1 << m.rng.below(32));
            m.set(
                blk,
                o::MAGIC,
                4,
                Role::Overflow,
                what("magic"),
                new,
                Fmt::Hex,
            )
        }
        "count" => {
            let c = m.img.get(blk, o::COUNT, 4);
            let new = m.choose(
                c,
                &[
                    0,
                    c + 1,
                    c - 1,
                    EXTENTS_PER_BLOCK as u64,
                    EXTENTS_PER_BLOCK as u64 + 1,
                    u64::from(u32::MAX),
                ],
            )?;
            m.set(
                blk,
                o::COUNT,
                4,
                Role::Overflow,
                what("count"),
                new,
                Fmt::Dec,
            )
        }
        "next" => {
            let old = m.img.get(blk, o::NEXT, 8);
            let other = m
                .pick_owned_block(rec.ino, 1, |o| matches!(o, Owner::Overflow(_)))
                .map_or(0, |(b, _)| b);
            let dir = m.rng.pick(&m.inv.dir_blocks).map_or(0, |d| d.block);
            let data = rec.extents.first().map_or(0, |e| e.extent.physical);
            let free = m.rng.pick(&m.inv.free_blocks).copied().unwrap_or(0);
            let c = [
                0,
                blk,
                rec.chain[0],
                other,
                data,
                dir,
                free,
                1,
                g.inode_table_start,
                g.total_blocks,
                u64::MAX,
            ];
            let new = m.choose(old, &c)?;
            m.set(blk, o::NEXT, 8, Role::Overflow, what("next"), new, Fmt::Dec)
        }
        "owner" => {
            let other = m.pick_inode(|r| r.ino != rec.ino).map_or(0, |r| r.ino);
            let new = m.choose(rec.ino, &[0, other, rec.ino + 1, ROOT_INO, u64::MAX])?;
            m.set(
                blk,
                o::OWNER,
                8,
                Role::Overflow,
                what("owner"),
                new,
                Fmt::Dec,
            )
        }
        "reserved" => {
            m.expect = Expect::Clean;
            let count = m.img.get(blk, o::COUNT, 4) as usize;
            let unused = o::EXTENTS + count * EXTENT_SIZE;
            let off = if m.rng.chance(1, 2) || unused >= BLOCK_CHECKSUM_OFFSET {
                o::RESERVED + m.rng.index(8)
            } else {
                unused + m.rng.index(BLOCK_CHECKSUM_OFFSET - unused)
            };
            m.scribble(blk, off, Role::Overflow, what(&format!("byte {off}")))
        }
        "relocate" => {
            m.expect = Expect::Clean;
            let to = *m.rng.pick(&m.inv.free_blocks)?;
            m.copy_blocks(blk, to, 1);
            if k == 0 {
                m.set_inode(
                    rec.ino,
                    ino_off::EXTENT_OVERFLOW,
                    8,
                    format!("{} extent_overflow", rec.describe()),
                    to,
                    Fmt::Dec,
                )?;
            } else {
                let prev = rec.chain[k - 1];
                let w = format!(
                    "overflow block {prev} ({} chain block {}) next",
                    rec.describe(),
                    k - 1
                );
                m.set(prev, o::NEXT, 8, Role::Overflow, w, to, Fmt::Dec)?;
            }
            m.bitmap_range(to, 1, true);
            m.bitmap_range(blk, 1, false);
            Some(())
        }
        _ => None,
    }
}

fn dir_block(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    use dir_off as o;
    let d = *m.rng.pick(&m.inv.dir_blocks)?;
    let prefix = format!(
        "directory {} ({}) block {}",
        d.dir,
        m.dir_path(d.dir),
        d.index
    );
    let what = |f: &str| format!("{prefix} {f}");
    m.expect = Expect::Flagged;
    match kind {
        "magic" => {
            let w = what("magic");
            let new = u64::from(DIR_BLOCK_MAGIC) ^ (1 << m.rng.below(32));
            m.set(d.block, o::MAGIC, 4, Role::Dir, w, new, Fmt::Hex)
        }
        "owner" => {
            let w = what("owner");
            let other = m
                .pick_inode(|r| r.kind == FileKind::Dir && r.ino != d.dir)
                .map_or(0, |r| r.ino);
            let new = m.choose(d.dir, &[0, other, d.dir + 1, u64::MAX])?;
            m.set(d.block, o::OWNER, 8, Role::Dir, w, new, Fmt::Dec)
        }
        "reserved" => {
            m.expect = Expect::Clean;
            let off = if m.rng.chance(1, 2) {
                o::RESERVED0
            } else {
                o::RESERVED1
            } + m.rng.index(4);
            let w = what(&format!("reserved byte {off}"));
            m.scribble(d.block, off, Role::Dir, w)
        }
        "empty" => {
            let n = m.inv.entries.iter().filter(|e| e.block == d.block).count();
            if n == 0 {
                return None;
            }
            let w = what("entries");
            dir_block_init(m.img.block_mut(d.block, Role::Dir), d.dir);
            m.change(d.block, w, format!("{n} entries"), "none".into());
            Some(())
        }
        _ => None,
    }
}

/// Whether `name` would be a valid name not used by another entry of `dir`.
fn name_is_free(inv: &Inventory, dir: u64, name: &[u8], except: &EntryRec) -> bool {
    check_name(name).is_ok()
        && !inv
            .entries
            .iter()
            .any(|e| e.dir == dir && e.name == name && e != except)
}

fn dir_entry(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    use dir_off as o;
    let e = m.pick_entry(|_| true)?;
    let at = e.offset;
    let blk = e.block;
    let prefix = m.entry_what(&e);
    let what = |f: &str| format!("{prefix} {f}");
    m.expect = Expect::Flagged;
    match kind {
        "ino" => {
            let w = what("ino");
            let parent = m.inv.inode(e.dir).map_or(ROOT_INO, |r| r.inode.dir_parent);
            let other = m.pick_entry(|x| x.ino != e.ino).map_or(ROOT_INO, |x| x.ino);
            let free = m.rng.pick(&m.inv.free_slots).copied().unwrap_or(0);
            let n = m.inv.g.inode_count;
            let new = m.choose(
                e.ino,
                &[
                    0,
                    e.dir,
                    parent,
                    ROOT_INO,
                    other,
                    free,
                    n,
                    u64::from(u32::MAX),
                ],
            )?;
            m.set(blk, at + o::ENT_INO, 4, Role::Dir, w, new, Fmt::Dec)
        }
        "rec-len" => {
            let w = what("rec_len");
            let r = e.rec_len as u64;
            let new = m.choose(r, &[0, 4, r + 1, r - 8, r + 8, 4096, 0xfff8])?;
            m.set(blk, at + o::ENT_REC_LEN, 2, Role::Dir, w, new, Fmt::Dec)
        }
        "name-len" => {
            let w = what("name_len");
            let l = e.name.len() as u64;
            let new = m.choose(l, &[0, 255, l + 1, l - 1])?;
            if new + 1 == l && name_is_free(m.inv, e.dir, &e.name[..e.name.len() - 1], &e) {
                m.expect = Expect::Clean;
            } else if new + 1 == l {
                m.expect = Expect::Flagged;
            }
            m.set(blk, at + o::ENT_NAME_LEN, 1, Role::Dir, w, new, Fmt::Dec)
        }
        "file-type" => {
            let w = what("file_type");
            let t = u64::from(e.file_type);
            let other = *m
                .rng
                .pick(&[DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK])?;
            let new = m.choose(t, &[0, 3, 255, u64::from(other)])?;
            m.set(blk, at + o::ENT_FILE_TYPE, 1, Role::Dir, w, new, Fmt::Dec)
        }
        "name-bad" => {
            let name_at = at + o::ENT_NAME;
            match m.rng.below(4) {
                0 | 1 => {
                    let i = m.rng.index(e.name.len());
                    let bad = if m.rng.chance(1, 2) {
                        u64::from(b'/')
                    } else {
                        0
                    };
                    let w = what(&format!("name byte {i}"));
                    m.set(blk, name_at + i, 1, Role::Dir, w, bad, Fmt::Hex)
                }
                which => {
                    let dots: &[u8] = if which == 2 { b"." } else { b".." };
                    let w = what("name");
                    let buf = m.img.block_mut(blk, Role::Dir);
                    buf[at + o::ENT_NAME_LEN] = dots.len() as u8;
                    buf[name_at..name_at + dots.len()].copy_from_slice(dots);
                    m.change(
                        blk,
                        w,
                        format!("'{}'", show_name(&e.name)),
                        format!("'{}'", show_name(dots)),
                    );
                    Some(())
                }
            }
        }
        "name-dup" => {
            let fits = |x: &EntryRec| {
                x.dir == e.dir && x.name != e.name && rec_len_for(x.name.len()) <= e.rec_len
            };
            let other = m.pick_entry(fits)?;
            let w = what("name");
            let buf = m.img.block_mut(blk, Role::Dir);
            buf[at + o::ENT_NAME_LEN] = other.name.len() as u8;
            buf[at + o::ENT_NAME..at + o::ENT_NAME + other.name.len()].copy_from_slice(&other.name);
            m.change(
                blk,
                w,
                format!("'{}'", show_name(&e.name)),
                format!("'{}' (a duplicate)", show_name(&other.name)),
            );
            Some(())
        }
        "rename" => {
            m.expect = Expect::Clean;
            const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzQXZ_-~0123456789";
            let i = m.rng.index(e.name.len());
            let c = CHARS[m.rng.index(CHARS.len())];
            let mut name = e.name.clone();
            name[i] = c;
            if name == e.name || !name_is_free(m.inv, e.dir, &name, &e) {
                return None;
            }
            let w = what(&format!("name byte {i}"));
            m.set(
                blk,
                at + o::ENT_NAME + i,
                1,
                Role::Dir,
                w,
                u64::from(c),
                Fmt::Hex,
            )
        }
        "remove" => {
            let w = what("record");
            dir_remove_at(m.img.block_mut(blk, Role::Dir), at).ok()?;
            m.change(blk, w, format!("-> inode {}", e.ino), "removed".into());
            Some(())
        }
        _ => None,
    }
}

fn symlink_block(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    let rec = m.pick_inode(|r| {
        r.kind == FileKind::Symlink && !r.inode.has_inline_data() && r.extents.len() == 1
    })?;
    let blk = rec.extents[0].extent.physical;
    let size = rec.inode.size as usize;
    let d = rec.describe();
    match kind {
        "nul" => {
            m.expect = Expect::Flagged;
            let i = m.rng.index(size);
            m.set(
                blk,
                i,
                1,
                Role::Data,
                format!("{d} target byte {i}"),
                0,
                Fmt::Hex,
            )
        }
        "byte" => {
            m.expect = Expect::Clean;
            let i = m.rng.index(size);
            m.scribble(blk, i, Role::Data, format!("{d} target byte {i}"))
        }
        "tail" => {
            m.expect = Expect::Clean;
            if size >= BLOCK_SIZE {
                return None;
            }
            let i = size + m.rng.index(BLOCK_SIZE - size);
            m.scribble(
                blk,
                i,
                Role::Data,
                format!("{d} byte {i} (past the target)"),
            )
        }
        _ => None,
    }
}

fn journal(m: &mut Mutator<'_>, kind: &str) -> Option<()> {
    let g = m.inv.g;
    if kind == "garbage" {
        m.expect = Expect::Clean;
        // With a journal, only its (empty) log: the journal superblock is
        // not garbage-tolerant.
        let first = u64::from(m.inv.sb.has_journal());
        if g.journal_blocks <= first {
            return None;
        }
        let blk = g.journal_start + first + m.rng.below(g.journal_blocks - first);
        let off = m.rng.index(BLOCK_SIZE);
        return m.scribble(
            blk,
            off,
            Role::Journal,
            format!("journal block {blk} byte {off}"),
        );
    }
    let j = m.inv.journal?;
    let js = g.journal_start;
    let what = |f: &str| format!("journal superblock {f}");
    m.expect = Expect::Flagged;
    match kind {
        "super-magic" => {
            let new = u64::from(JOURNAL_SUPER_MAGIC) ^ (1 << m.rng.below(32));
            m.set(js, 0, 4, Role::JournalSuper, what("magic"), new, Fmt::Hex)
        }
        "super-checksum" => {
            let off = BLOCK_CHECKSUM_OFFSET + m.rng.index(4);
            m.scribble(
                js,
                off,
                Role::Journal,
                what(&format!("checksum byte {off}")),
            )
        }
        "super-blocks" => {
            let b = j.blocks;
            let new = m.choose(
                b,
                &[0, MIN_JOURNAL_BLOCKS - 1, b - 1, b + 1, b * 2, u64::MAX],
            )?;
            m.set(js, 8, 8, Role::JournalSuper, what("blocks"), new, Fmt::Dec)
        }
        "super-start" => {
            let b = j.blocks;
            let inside = 1 + m.rng.below(b - 1);
            let new = m.choose(j.start, &[b, b + 1, u64::MAX, inside, inside])?;
            if new < b {
                // The log holds nothing committed with this sequence.
                m.expect = Expect::Clean;
            }
            m.set(js, 24, 8, Role::JournalSuper, what("start"), new, Fmt::Dec)
        }
        "super-sequence" => {
            m.expect = Expect::Clean;
            let r = m.rng.next_u64();
            let new = m.choose(j.sequence, &[0, 1, 2, u64::MAX - 1, u64::MAX, r])?;
            m.set(
                js,
                16,
                8,
                Role::JournalSuper,
                what("sequence"),
                new,
                Fmt::Dec,
            )
        }
        "logged" => logged(m, j),
        "tag-home" | "revoke-home" => {
            let in_journal = js + 1 + m.rng.below(j.blocks - 1);
            let past_end = g.total_blocks + 1 + m.rng.below(1 << 20);
            let bad = *m
                .rng
                .pick(&[js, in_journal, g.total_blocks, past_end, u64::MAX])?;
            // A harmless copy first: the inode table block as it is.
            let home = g.inode_table_start;
            let same = *m.img.block(home);
            let start = 1 + m.rng.below(j.blocks - 1);
            let mut w = LogWriter::new(j.blocks, start);
            let (copies, revokes): (Vec<(u64, &Block)>, Vec<u64>) = if kind == "tag-home" {
                (vec![(home, &same), (bad, &[0u8; BLOCK_SIZE])], vec![])
            } else {
                (vec![(home, &same)], vec![bad])
            };
            w.transaction(j.sequence, &copies, &revokes, true);
            let verb = if kind == "tag-home" {
                "logging"
            } else {
                "revoking"
            };
            let w_what = format!(
                "journal transaction {} {verb} block {bad} (which the journal may not log)",
                j.sequence
            );
            write_log(m, &w, w_what)
        }
        "descriptor-count" | "torn" => {
            // Copies that would damage the filesystem if they were
            // replayed: an inode table block of garbage, a zeroed bitmap.
            m.expect = Expect::Clean;
            let garbage = [0xa5u8; BLOCK_SIZE];
            let zero = [0u8; BLOCK_SIZE];
            let copies = [
                (g.inode_table_start, &garbage),
                (g.block_bitmap_start, &zero),
            ];
            let start = 1 + m.rng.below(j.blocks - 1);
            let mut w = LogWriter::new(j.blocks, start);
            let seq = j.sequence;
            let how = if kind == "descriptor-count" {
                w.transaction(seq, &copies, &[], true);
                let new = *m
                    .rng
                    .pick(&[0u32, 1, 3, TAGS_PER_DESCRIPTOR as u32 + 1, u32::MAX])?;
                let d = &mut w.out.first_mut()?.1;
                d[4..8].copy_from_slice(&new.to_le_bytes());
                seal_block(d);
                format!("descriptor count 2 -> {new}")
            } else {
                match m.rng.below(4) {
                    0 => {
                        w.transaction(seq, &copies, &[], false);
                        "no commit block".to_string()
                    }
                    1 => {
                        w.transaction(seq, &copies, &[], true);
                        let c = &mut w.out.last_mut()?.1;
                        c[8..16].copy_from_slice(&seq.wrapping_add(1).to_le_bytes());
                        seal_block(c);
                        format!("commit block of transaction {}", seq.wrapping_add(1))
                    }
                    2 => {
                        w.transaction(seq, &copies, &[], true);
                        let c = &mut w.out.last_mut()?.1;
                        c[0] ^= 1;
                        seal_block(c);
                        "commit block magic damaged".to_string()
                    }
                    _ => {
                        w.transaction(seq, &copies, &[], true);
                        let i = 1 + m.rng.index(copies.len());
                        let c = &mut w.out.get_mut(i)?.1;
                        let at = m.rng.index(BLOCK_SIZE);
                        c[at] ^= 0x10;
                        format!("copy {} byte {at} not as its tag says", i - 1)
                    }
                }
            };
            let w_what = format!(
                "journal transaction {seq} (garbage inode table block, zeroed block bitmap) with {how}"
            );
            write_log(m, &w, w_what)
        }
        _ => None,
    }
}

/// Writes the log blocks `w` built to the image and points the journal
/// superblock at the first: a crash after those were written.
fn write_log(m: &mut Mutator<'_>, w: &LogWriter, what: String) -> Option<()> {
    let js = m.inv.g.journal_start;
    let (start, _) = w.out.first()?;
    let start = *start;
    for (index, b) in &w.out {
        *m.img.block_mut(js + index, Role::Journal) = **b;
    }
    m.change(
        js + start,
        what,
        "empty log".into(),
        format!("{} log blocks from index {start}", w.out.len()),
    );
    m.set(
        js,
        24,
        8,
        Role::JournalSuper,
        "journal superblock start".into(),
        start,
        Fmt::Dec,
    )
}

/// Another kind's change, committed in the log instead of written home:
/// what fsck says of the image (checked as replayed) is what it says of
/// that kind's.
fn logged(m: &mut Mutator<'_>, j: JournalSuper) -> Option<()> {
    let g = m.inv.g;
    let inner: Vec<&Kind> = KINDS
        .iter()
        .filter(|k| k.structure != Structure::Journal)
        .collect();
    let total: u64 = inner.iter().map(|k| u64::from(k.weight)).sum();
    let mut x = m.rng.below(total);
    let kind = *inner.iter().find(|k| {
        let w = u64::from(k.weight);
        if x < w {
            true
        } else {
            x -= w;
            false
        }
    })?;
    let mut sub = Mutator {
        inv: m.inv,
        img: m.img.clone(),
        rng: &mut *m.rng,
        changes: Vec::new(),
        expect: Expect::Flagged,
    };
    apply(&mut sub, kind)?;
    let Mutator {
        img: mut changed,
        changes,
        expect,
        ..
    } = sub;
    changed.reseal();
    let homes: Vec<u64> = changed
        .touched()
        .map(|(b, _)| b)
        .filter(|b| changed.block(*b) != m.img.block(*b))
        .collect();
    // One descriptor, the copies and the commit must fit in the log.
    if changes.is_empty()
        || homes.is_empty()
        || homes.len() > TAGS_PER_DESCRIPTOR
        || homes.len() as u64 + 2 > j.blocks - 1
        || homes.iter().any(|h| !g.is_journal_home(*h))
    {
        return None;
    }
    let copies: Vec<(u64, Block)> = homes.iter().map(|h| (*h, *changed.block(*h))).collect();
    let refs: Vec<(u64, &Block)> = copies.iter().map(|(h, b)| (*h, b)).collect();
    let start = 1 + m.rng.below(j.blocks - 1);
    let mut w = LogWriter::new(j.blocks, start);
    w.transaction(j.sequence, &refs, &[], true);
    // The descriptor, then the copies in order. A change is shown at its
    // copy, or at the descriptor if the copy is what the log held there.
    let at: BTreeMap<u64, u64> = homes
        .iter()
        .zip(w.out.iter().skip(1))
        .filter(|(_, (index, b))| **b != *m.img.block(g.journal_start + index))
        .map(|(h, (index, _))| (*h, g.journal_start + index))
        .collect();
    m.expect = expect;
    for c in changes {
        let block = at.get(&c.block).copied().unwrap_or(g.journal_start + start);
        m.changes.push(Change {
            block,
            what: format!(
                "{}.{} logged in transaction {} for block {}: {}",
                kind.structure.name(),
                kind.name,
                j.sequence,
                c.block,
                c.what
            ),
            old: c.old,
            new: c.new,
        });
    }
    let what = format!(
        "journal transaction {} ({} copies, committed, not replayed)",
        j.sequence,
        homes.len()
    );
    write_log(m, &w, what)
}

fn apply(m: &mut Mutator<'_>, kind: &Kind) -> Option<()> {
    match kind.structure {
        Structure::Superblock => superblock(m, kind.name),
        Structure::BlockBitmap => block_bitmap(m, kind.name),
        Structure::InodeBitmap => inode_bitmap(m, kind.name),
        Structure::Inode => inode(m, kind.name),
        Structure::FreeSlot => free_slot(m, kind.name),
        Structure::Extent => extent(m, kind.name),
        Structure::OverflowBlock => overflow_block(m, kind.name),
        Structure::DirBlock => dir_block(m, kind.name),
        Structure::DirEntry => dir_entry(m, kind.name),
        Structure::SymlinkBlock => symlink_block(m, kind.name),
        Structure::Journal => journal(m, kind.name),
    }
}

/// The kinds [`mutate`] chooses from: all of them, or those whose full
/// name (`inode.nlink`) or structure name (`inode`) is `only`.
pub fn kinds(only: Option<&str>) -> Vec<&'static Kind> {
    KINDS
        .iter()
        .filter(|k| match only {
            Some(o) => k.full_name() == o || k.structure.name() == o,
            None => true,
        })
        .collect()
}

/// Applies one mutation, chosen by `seed` (among the kinds `only` names,
/// if given), to a copy of the valid image `base`. Returns the new image
/// and what was done. The same base and seed always give the same image.
pub fn mutate(base: &[u8], seed: u64, only: Option<&str>) -> Result<(Vec<u8>, Mutation), String> {
    let (inv, img) = Inventory::read(base).map_err(|e| format!("base image: {e}"))?;
    let kinds = kinds(only);
    if kinds.is_empty() {
        return Err(format!(
            "no mutation kind or structure is called {:?}",
            only.unwrap_or("")
        ));
    }
    let total: u64 = kinds.iter().map(|k| u64::from(k.weight)).sum();
    let mut rng = Rng::new(seed);
    for _ in 0..1000 {
        let mut x = rng.below(total);
        let kind = kinds
            .iter()
            .find(|k| {
                let w = u64::from(k.weight);
                if x < w {
                    true
                } else {
                    x -= w;
                    false
                }
            })
            .copied()
            .unwrap_or(kinds[0]);
        let mut m = Mutator {
            inv: &inv,
            img: img.clone(),
            rng: &mut rng,
            changes: Vec::new(),
            expect: Expect::Flagged,
        };
        if apply(&mut m, kind).is_none() || m.changes.is_empty() {
            continue;
        }
        let Mutator {
            mut img,
            changes,
            expect,
            ..
        } = m;
        img.reseal();
        let blocks: Vec<u64> = img
            .touched()
            .map(|(b, _)| b)
            .filter(|b| img.block(*b)[..] != *block_of(base, *b))
            .collect();
        if blocks.is_empty() {
            continue;
        }
        return Ok((
            img.bytes,
            Mutation {
                seed,
                kind: *kind,
                changes,
                expect,
                blocks,
            },
        ));
    }
    Err(format!(
        "seed {seed}: no applicable mutation found for this image"
    ))
}
