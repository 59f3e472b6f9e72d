// SPDX-License-Identifier: GPL-2.0

//! An rsfs image held in memory, and an inventory of its metadata.
//!
//! [`Img`] is the bytes of a whole filesystem plus a record of which blocks
//! (and which inode slots) a mutation touched, so that [`Img::reseal`] can
//! recompute exactly their checksums. [`Inventory`] is what a mutation
//! chooses from: every in-use inode with its extents and where each is
//! stored, the overflow chains, directory blocks and entries, long
//! symlink blocks, who owns each data block, the free blocks and slots.
//! It is read from a valid image with the shared format code.

use rsfs_format::*;
use rsfs_image::file_kind_name;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a block is, for resealing after a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Block 0 (CRC-32C of bytes 0..4092).
    Superblock,
    /// A journal block whose checksum the mutation sets itself (log
    /// blocks built whole, the unused log, a journal superblock whose
    /// checksum is the damage), or none.
    Journal,
    /// The journal superblock (CRC-32C of bytes 0..4092).
    JournalSuper,
    /// A block bitmap block (no checksum).
    BlockBitmap,
    /// An inode bitmap block (no checksum).
    InodeBitmap,
    /// An inode table block (each touched inode's own checksum).
    InodeTable,
    /// An extent overflow block (CRC-32C of bytes 0..4092).
    Overflow,
    /// A directory block (CRC-32C of bytes 0..4092).
    Dir,
    /// File data or a long symlink target (no checksum).
    Data,
}

impl Role {
    /// Whether the block carries a trailing CRC-32C over bytes 0..4092.
    pub fn sealed(self) -> bool {
        matches!(
            self,
            Role::Superblock | Role::Overflow | Role::Dir | Role::JournalSuper
        )
    }
}

/// A whole filesystem image in memory.
#[derive(Clone, Debug)]
pub struct Img {
    /// The bytes, a whole number of blocks.
    pub bytes: Vec<u8>,
    /// Where the regions are (from the base image's superblock).
    pub g: Geometry,
    touched: BTreeMap<u64, Role>,
    touched_inodes: BTreeSet<u64>,
}

fn get_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

impl Img {
    /// An image of `bytes` laid out as `g`.
    pub fn new(bytes: Vec<u8>, g: Geometry) -> Img {
        Img {
            bytes,
            g,
            touched: BTreeMap::new(),
            touched_inodes: BTreeSet::new(),
        }
    }

    /// Blocks in the image.
    pub fn blocks(&self) -> u64 {
        (self.bytes.len() / BLOCK_SIZE) as u64
    }

    fn range(&self, block: u64, off: usize, len: usize) -> std::ops::Range<usize> {
        let start = block as usize * BLOCK_SIZE + off;
        assert!(
            off + len <= BLOCK_SIZE && start + len <= self.bytes.len(),
            "block {block} offset {off} length {len} is outside the image"
        );
        start..start + len
    }

    /// Block `block`.
    pub fn block(&self, block: u64) -> &Block {
        let r = self.range(block, 0, BLOCK_SIZE);
        self.bytes[r].try_into().expect("a block is 4096 bytes")
    }

    /// Block `block` for changing; it is recorded as touched, with `role`.
    pub fn block_mut(&mut self, block: u64, role: Role) -> &mut Block {
        self.touched.entry(block).or_insert(role);
        let r = self.range(block, 0, BLOCK_SIZE);
        (&mut self.bytes[r])
            .try_into()
            .expect("a block is 4096 bytes")
    }

    /// The little-endian integer of `width` bytes at `off` in `block`.
    pub fn get(&self, block: u64, off: usize, width: usize) -> u64 {
        get_le(&self.bytes[self.range(block, off, width)])
    }

    /// Stores a little-endian integer of `width` bytes at `off` in `block`.
    pub fn put(&mut self, block: u64, off: usize, width: usize, value: u64, role: Role) {
        let b = self.block_mut(block, role);
        b[off..off + width].copy_from_slice(&value.to_le_bytes()[..width]);
    }

    /// Where inode `ino`'s 256 bytes are: (block, offset). Slot 0 too.
    pub fn inode_location(&self, ino: u64) -> (u64, usize) {
        (
            self.g.inode_table_start + ino / INODES_PER_BLOCK,
            (ino % INODES_PER_BLOCK) as usize * INODE_SIZE,
        )
    }

    /// The raw bytes of inode slot `ino`.
    pub fn inode_raw(&self, ino: u64) -> [u8; INODE_SIZE] {
        let (b, off) = self.inode_location(ino);
        self.bytes[self.range(b, off, INODE_SIZE)]
            .try_into()
            .expect("an inode is 256 bytes")
    }

    /// A field of inode slot `ino`.
    pub fn inode_get(&self, ino: u64, off: usize, width: usize) -> u64 {
        let (b, base) = self.inode_location(ino);
        self.get(b, base + off, width)
    }

    /// Changes a field of inode slot `ino` (its checksum is recomputed by
    /// [`Img::reseal`]).
    pub fn inode_put(&mut self, ino: u64, off: usize, width: usize, value: u64) {
        let (b, base) = self.inode_location(ino);
        self.touched_inodes.insert(ino);
        self.put(b, base + off, width, value, Role::InodeTable);
    }

    /// Replaces inode slot `ino` with `raw` (resealed later).
    pub fn inode_set_raw(&mut self, ino: u64, raw: &[u8; INODE_SIZE]) {
        let (b, base) = self.inode_location(ino);
        self.touched_inodes.insert(ino);
        self.block_mut(b, Role::InodeTable)[base..base + INODE_SIZE].copy_from_slice(raw);
    }

    /// The blocks changed so far, with their roles.
    pub fn touched(&self) -> impl Iterator<Item = (u64, Role)> + '_ {
        self.touched.iter().map(|(b, r)| (*b, *r))
    }

    /// The inode slots changed so far.
    pub fn touched_inodes(&self) -> impl Iterator<Item = u64> + '_ {
        self.touched_inodes.iter().copied()
    }

    /// Recomputes the checksum of every touched checksummed block and of
    /// every touched inode, so that only the semantic checks can find what
    /// changed.
    pub fn reseal(&mut self) {
        let sealed: Vec<u64> = self
            .touched
            .iter()
            .filter(|(_, r)| r.sealed())
            .map(|(b, _)| *b)
            .collect();
        for b in sealed {
            let r = self.range(b, 0, BLOCK_SIZE);
            let block: &mut Block = (&mut self.bytes[r]).try_into().expect("a block");
            seal_block(block);
        }
        let inodes: Vec<u64> = self.touched_inodes.iter().copied().collect();
        for ino in inodes {
            let raw = self.inode_raw(ino);
            let sum = inode_checksum(ino, &raw);
            let (b, base) = self.inode_location(ino);
            let r = self.range(b, base + ino_off::CHECKSUM, 4);
            self.bytes[r].copy_from_slice(&sum.to_le_bytes());
        }
    }
}

/// A name as the descriptions show it: escaped, and a long one shortened
/// to its start and length (the seed, not the text, reproduces an image).
pub fn short_name(name: &[u8]) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).escape_default().to_string();
    if name.len() > 40 {
        format!("{}...({} bytes)", text(&name[..24]), name.len())
    } else {
        text(name)
    }
}

/// Block `b` of an image's bytes.
pub fn block_of(bytes: &[u8], b: u64) -> &[u8] {
    let s = b as usize * BLOCK_SIZE;
    &bytes[s..s + BLOCK_SIZE]
}

/// Where an extent is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtentAt {
    /// Inline slot `.0` of the inode.
    Inline(usize),
    /// Entry `.1` of overflow block `.0`.
    Overflow(u64, usize),
}

/// One extent of an inode and where it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtentRec {
    /// The extent.
    pub extent: Extent,
    /// Where it is.
    pub at: ExtentAt,
}

/// An in-use inode.
#[derive(Clone, Debug)]
pub struct InodeRec {
    /// Its number.
    pub ino: u64,
    /// Decoded.
    pub inode: Inode,
    /// Its type.
    pub kind: FileKind,
    /// Its extents in logical order.
    pub extents: Vec<ExtentRec>,
    /// Its overflow chain, in order.
    pub chain: Vec<u64>,
    /// A path from the root ("?" if unreachable).
    pub path: String,
}

impl InodeRec {
    /// "inode 12 (regular file /a/b)".
    pub fn describe(&self) -> String {
        format!(
            "inode {} ({} {})",
            self.ino,
            file_kind_name(self.kind),
            self.path
        )
    }

    /// A fast symlink (target inline).
    pub fn is_fast_symlink(&self) -> bool {
        self.kind == FileKind::Symlink && self.inode.has_inline_data()
    }

    /// One past the last mapped file block.
    pub fn mapped_end(&self) -> u64 {
        self.extents.last().map_or(0, |e| e.extent.logical_end())
    }
}

/// One used directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRec {
    /// The directory.
    pub dir: u64,
    /// The disk block holding it.
    pub block: u64,
    /// Its offset in the block.
    pub offset: usize,
    /// Its record length.
    pub rec_len: usize,
    /// The inode it names.
    pub ino: u64,
    /// Its `DT_*` type.
    pub file_type: u8,
    /// Its name.
    pub name: Vec<u8>,
}

/// A block of a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirBlockRec {
    /// The directory.
    pub dir: u64,
    /// Its index in the directory.
    pub index: u64,
    /// The disk block.
    pub block: u64,
}

/// Who owns a data block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// File data (regular file or long symlink target) of an inode.
    Data(u64),
    /// A directory block of an inode.
    Dir(u64),
    /// An extent overflow block of an inode.
    Overflow(u64),
}

impl Owner {
    /// The owning inode.
    pub fn ino(self) -> u64 {
        match self {
            Owner::Data(i) | Owner::Dir(i) | Owner::Overflow(i) => i,
        }
    }
}

/// Everything a mutation may aim at, read from a valid image.
#[derive(Clone, Debug)]
pub struct Inventory {
    /// The superblock.
    pub sb: Superblock,
    /// Its geometry.
    pub g: Geometry,
    /// The journal superblock (an empty journal), if the filesystem is
    /// journalled.
    pub journal: Option<JournalSuper>,
    /// In-use inodes, by number.
    pub inodes: Vec<InodeRec>,
    /// Free inode slots (1 ..).
    pub free_slots: Vec<u64>,
    /// Every directory block.
    pub dir_blocks: Vec<DirBlockRec>,
    /// Every used directory entry.
    pub entries: Vec<EntryRec>,
    /// Owner of every owned data block.
    pub owners: BTreeMap<u64, Owner>,
    /// Data blocks clear in the block bitmap.
    pub free_blocks: Vec<u64>,
}

fn bit(map: &[u8], i: u64) -> bool {
    bitmap_get(map, i).unwrap_or(true)
}

impl Inventory {
    /// Reads the inventory of a valid image. Anything the format code
    /// rejects is an error: mutations start from a clean image.
    pub fn read(bytes: &[u8]) -> Result<(Inventory, Img), String> {
        if bytes.len() < BLOCK_SIZE || bytes.len() & (BLOCK_SIZE - 1) != 0 {
            return Err(format!(
                "{} bytes is not a whole number of blocks",
                bytes.len()
            ));
        }
        let b0: &Block = bytes[..BLOCK_SIZE].try_into().map_err(|_| "short image")?;
        let blocks = (bytes.len() / BLOCK_SIZE) as u64;
        let sb = Superblock::decode_and_validate(b0, blocks)
            .map_err(|e| format!("superblock: {}", e.as_str()))?;
        let g = sb.geometry;
        if g.total_blocks != blocks {
            return Err(format!(
                "the image has {blocks} blocks but the filesystem {}: give an image of exactly the filesystem",
                g.total_blocks
            ));
        }
        let img = Img::new(bytes.to_vec(), g);
        let journal = if sb.has_journal() {
            let j = JournalSuper::decode(img.block(g.journal_start), g.journal_blocks)
                .map_err(|e| format!("journal superblock: {}", e.as_str()))?;
            if j.needs_recovery() {
                return Err("the journal needs recovery (replay it first: fsck.rsfs)".into());
            }
            Some(j)
        } else {
            None
        };
        let mut inv = Inventory {
            sb,
            g,
            journal,
            inodes: Vec::new(),
            free_slots: Vec::new(),
            dir_blocks: Vec::new(),
            entries: Vec::new(),
            owners: BTreeMap::new(),
            free_blocks: Vec::new(),
        };
        for ino in 1..g.inode_count {
            let raw = img.inode_raw(ino);
            if raw_inode_mode(&raw) == 0 {
                inv.free_slots.push(ino);
                continue;
            }
            let err = |e: FormatError| format!("inode {ino}: {}", e.as_str());
            let inode = Inode::decode(ino, &raw).map_err(err)?;
            inode.check(&g).map_err(err)?;
            let kind = inode.kind().ok_or_else(|| err(FormatError::BadMode))?;
            let (extents, chain) = read_extents(&img, ino, &inode)?;
            inv.inodes.push(InodeRec {
                ino,
                inode,
                kind,
                extents,
                chain,
                path: "?".into(),
            });
        }
        for rec in &inv.inodes {
            for &c in &rec.chain {
                inv.owners.insert(c, Owner::Overflow(rec.ino));
            }
            let mut index = 0u64;
            for e in &rec.extents {
                for b in e.extent.physical..e.extent.physical + u64::from(e.extent.len) {
                    let owner = if rec.kind == FileKind::Dir {
                        inv.dir_blocks.push(DirBlockRec {
                            dir: rec.ino,
                            index,
                            block: b,
                        });
                        index += 1;
                        Owner::Dir(rec.ino)
                    } else {
                        Owner::Data(rec.ino)
                    };
                    inv.owners.insert(b, owner);
                }
            }
        }
        for d in &inv.dir_blocks {
            let buf = img.block(d.block);
            dir_block_verify(buf, d.dir)
                .map_err(|e| format!("directory {} block {}: {}", d.dir, d.block, e.as_str()))?;
            for e in dir_entries(buf).flatten() {
                inv.entries.push(EntryRec {
                    dir: d.dir,
                    block: d.block,
                    offset: e.offset,
                    rec_len: e.rec_len,
                    ino: u64::from(e.ino),
                    file_type: e.file_type,
                    name: e.name.to_vec(),
                });
            }
        }
        let bitmap = &img.bytes[g.block_bitmap_start as usize * BLOCK_SIZE
            ..(g.block_bitmap_start + g.block_bitmap_blocks) as usize * BLOCK_SIZE];
        inv.free_blocks = (g.data_start..g.total_blocks)
            .filter(|b| !bit(bitmap, *b))
            .collect();
        inv.set_paths();
        Ok((inv, img))
    }

    fn set_paths(&mut self) {
        let mut paths: BTreeMap<u64, String> = BTreeMap::new();
        paths.insert(ROOT_INO, "/".into());
        let mut queue = VecDeque::from([ROOT_INO]);
        while let Some(dir) = queue.pop_front() {
            let base = paths.get(&dir).cloned().unwrap_or_default();
            for e in self.entries.iter().filter(|e| e.dir == dir) {
                if paths.contains_key(&e.ino) {
                    continue;
                }
                let sep = if base.ends_with('/') { "" } else { "/" };
                paths.insert(e.ino, format!("{base}{sep}{}", short_name(&e.name)));
                if e.file_type == DT_DIR {
                    queue.push_back(e.ino);
                }
            }
        }
        for rec in &mut self.inodes {
            if let Some(p) = paths.get(&rec.ino) {
                rec.path = p.clone();
            }
        }
    }

    /// The in-use inode `ino`.
    pub fn inode(&self, ino: u64) -> Option<&InodeRec> {
        self.inodes
            .binary_search_by_key(&ino, |r| r.ino)
            .ok()
            .and_then(|i| self.inodes.get(i))
    }

    /// The first run of `len` free data blocks.
    pub fn free_run(&self, len: u64) -> Option<u64> {
        let mut start = None;
        let mut prev = None;
        for &b in &self.free_blocks {
            if prev.map(|p| p + 1) != Some(b) {
                start = Some(b);
            }
            prev = Some(b);
            if let Some(s) = start {
                if b + 1 - s >= len {
                    return Some(s);
                }
            }
        }
        None
    }

    /// A one-line summary: how much of each structure the image has.
    pub fn summary(&self) -> String {
        let count = |k: FileKind| self.inodes.iter().filter(|r| r.kind == k).count();
        let long = self
            .inodes
            .iter()
            .filter(|r| r.kind == FileKind::Symlink && !r.inode.has_inline_data())
            .count();
        let max_dir = self
            .inodes
            .iter()
            .filter(|r| r.kind == FileKind::Dir)
            .map(|r| self.dir_blocks.iter().filter(|d| d.dir == r.ino).count())
            .max()
            .unwrap_or(0);
        let max_chain = self.inodes.iter().map(|r| r.chain.len()).max().unwrap_or(0);
        let max_extents = self
            .inodes
            .iter()
            .map(|r| r.extents.len())
            .max()
            .unwrap_or(0);
        format!(
            "inodes={} dirs={} files={} symlinks={} long_symlinks={} special={} entries={} dir_blocks={} max_dir_blocks={} max_extents={} overflow_blocks={} max_chain={} free_blocks={} free_slots={} journal={}",
            self.inodes.len(),
            count(FileKind::Dir),
            count(FileKind::Regular),
            count(FileKind::Symlink),
            long,
            self.inodes.len()
                - count(FileKind::Dir)
                - count(FileKind::Regular)
                - count(FileKind::Symlink),
            self.entries.len(),
            self.dir_blocks.len(),
            max_dir,
            max_extents,
            self.inodes.iter().map(|r| r.chain.len()).sum::<usize>(),
            max_chain,
            self.free_blocks.len(),
            self.free_slots.len(),
            self.journal.map_or(0, |j| j.blocks),
        )
    }
}

/// An inode's extents (checked) and overflow chain.
fn read_extents(img: &Img, ino: u64, inode: &Inode) -> Result<(Vec<ExtentRec>, Vec<u64>), String> {
    let g = img.g;
    let mut out = Vec::new();
    for i in 0..inode.inline_extent_count() {
        let e = inode.inline_extent(i).unwrap_or_default();
        out.push(ExtentRec {
            extent: e,
            at: ExtentAt::Inline(i),
        });
    }
    let mut chain = Vec::new();
    let mut remaining = inode.overflow_extent_count();
    let mut next = inode.extent_overflow;
    while next != 0 {
        if !g.is_data_range(next, 1) || remaining == 0 || chain.contains(&next) {
            return Err(format!("inode {ino}: bad extent overflow chain at {next}"));
        }
        let buf = img.block(next);
        let h = ExtentBlockHeader::decode_for(buf, ino)
            .map_err(|e| format!("inode {ino}: overflow block {next}: {}", e.as_str()))?;
        if h.count == 0 || u64::from(h.count) > remaining {
            return Err(format!("inode {ino}: overflow block {next}: bad count"));
        }
        for i in 0..h.count as usize {
            out.push(ExtentRec {
                extent: extent_block_get(buf, i).unwrap_or_default(),
                at: ExtentAt::Overflow(next, i),
            });
        }
        remaining -= u64::from(h.count);
        chain.push(next);
        next = h.next;
    }
    if remaining != 0 {
        return Err(format!(
            "inode {ino}: extent count does not match its chain"
        ));
    }
    let mut prev: Option<Extent> = None;
    for e in &out {
        let err = |x: FormatError| format!("inode {ino}: {}", x.as_str());
        e.extent.check(&g).map_err(err)?;
        check_extent_order(prev.as_ref(), &e.extent).map_err(err)?;
        prev = Some(e.extent);
    }
    Ok((out, chain))
}
