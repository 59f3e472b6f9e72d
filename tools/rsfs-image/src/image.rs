// SPDX-License-Identifier: GPL-2.0

//! A filesystem image: superblock, bitmaps in memory, and operations on
//! inodes, extents and directories.
//!
//! This is deliberately simple (no caching, every change written through)
//! and meant for building and inspecting images: tests, mkfs, debugging.
//! Bitmaps and the superblock's free counts are written by [`Image::flush`].

use crate::dev::BlockDev;
use crate::format::{self, *};
use crate::{now_timespec, zero_block, Error, Result};
use std::path::Path;

/// What to do with all-zero blocks of file content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroBlocks {
    /// Store them like any other block.
    Write,
    /// Leave them unmapped (holes).
    Hole,
    /// Map them with unwritten extents (allocated, read as zeros).
    Unwritten,
}

/// How to lay out a file's blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLayout {
    /// Longest extent in blocks; 0 for no limit.
    pub max_extent_blocks: u32,
    /// Leave one free block after each extent, so extents are not physically
    /// adjacent (real fragmentation).
    pub gap: bool,
    /// Treatment of all-zero blocks.
    pub zero_blocks: ZeroBlocks,
}

impl FileLayout {
    /// As few extents as the free space allows.
    pub const fn contiguous() -> FileLayout {
        FileLayout {
            max_extent_blocks: 0,
            gap: false,
            zero_blocks: ZeroBlocks::Write,
        }
    }

    /// Extents of at most `blocks` blocks each, with gaps between them.
    pub const fn fragmented(blocks: u32) -> FileLayout {
        FileLayout {
            max_extent_blocks: blocks,
            gap: true,
            zero_blocks: ZeroBlocks::Write,
        }
    }
}

impl Default for FileLayout {
    fn default() -> Self {
        Self::contiguous()
    }
}

/// One used directory entry, as listed by [`Image::read_dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirListing {
    /// The name.
    pub name: Vec<u8>,
    /// Inode number.
    pub ino: u64,
    /// `DT_*` file type.
    pub file_type: u8,
}

/// An open, valid rsfs filesystem.
#[derive(Debug)]
pub struct Image {
    /// The underlying file or device.
    pub dev: BlockDev,
    /// The superblock as last read or written.
    pub sb: Superblock,
    block_bitmap: Vec<u8>,
    inode_bitmap: Vec<u8>,
    cursor: u64,
}

fn fmt_err(what: impl Into<String>) -> impl FnOnce(FormatError) -> Error {
    let what = what.into();
    move |e| Error::format(what, e)
}

impl Image {
    /// Opens and validates the filesystem in `path`.
    pub fn open(path: &Path, writable: bool) -> Result<Image> {
        Self::from_dev(BlockDev::open(path, writable)?)
    }

    /// Opens the filesystem in `path` read-only, as the journal's replay
    /// would leave it: committed transactions still in the log are laid
    /// over the device in memory (nothing is written). For reading an
    /// image of a mounted or crashed filesystem, whose newest metadata may
    /// be in its log only. A corrupt journal is an error.
    pub fn open_replayed(path: &Path) -> Result<Image> {
        let mut dev = BlockDev::open(path, false)?;
        let buf = dev.read_block_new(0)?;
        let sb =
            Superblock::decode_and_validate(&buf, dev.blocks()).map_err(fmt_err("superblock"))?;
        if sb.has_journal() {
            let g = sb.geometry;
            match crate::journal::check(&dev, &g)? {
                crate::journal::JournalState::NeedsRecovery(r) => r.overlay(&mut dev, &g)?,
                crate::journal::JournalState::Empty(_) => {}
                crate::journal::JournalState::BadSuper(e) => return Err(Error::format("journal superblock", e)),
                crate::journal::JournalState::Corrupt(..) => {
                    return Err(Error::msg("the journal is corrupt".to_string()))
                }
            }
        }
        Self::from_dev(dev)
    }

    /// Validates the filesystem on an open device.
    pub fn from_dev(dev: BlockDev) -> Result<Image> {
        let buf = dev.read_block_new(0)?;
        let sb =
            Superblock::decode_and_validate(&buf, dev.blocks()).map_err(fmt_err("superblock"))?;
        let g = sb.geometry;
        let mut block_bitmap = vec![0u8; (g.block_bitmap_blocks as usize) * BLOCK_SIZE];
        dev.read_blocks(g.block_bitmap_start, &mut block_bitmap)?;
        let mut inode_bitmap = vec![0u8; (g.inode_bitmap_blocks as usize) * BLOCK_SIZE];
        dev.read_blocks(g.inode_bitmap_start, &mut inode_bitmap)?;
        Ok(Image {
            dev,
            sb,
            block_bitmap,
            inode_bitmap,
            cursor: g.data_start,
        })
    }

    /// The filesystem's geometry.
    pub fn geometry(&self) -> Geometry {
        self.sb.geometry
    }

    /// Reads a block.
    pub fn read_block(&self, block: u64) -> Result<Box<Block>> {
        self.dev.read_block_new(block)
    }

    /// Writes a block as is.
    pub fn write_block(&self, block: u64, buf: &Block) -> Result<()> {
        self.dev.write_block(block, buf)
    }

    // ---- inodes -------------------------------------------------------

    /// The raw bytes of inode slot `ino`.
    pub fn read_inode_raw(&self, ino: u64) -> Result<[u8; INODE_SIZE]> {
        let (block, off) = self
            .geometry()
            .inode_location(ino)
            .map_err(fmt_err(format!("inode {ino}")))?;
        let buf = self.read_block(block)?;
        let mut raw = [0u8; INODE_SIZE];
        raw.copy_from_slice(&buf[off..off + INODE_SIZE]);
        Ok(raw)
    }

    /// Overwrites inode slot `ino` with raw bytes (no checksum update).
    pub fn write_inode_raw(&self, ino: u64, raw: &[u8; INODE_SIZE]) -> Result<()> {
        let (block, off) = self
            .geometry()
            .inode_location(ino)
            .map_err(fmt_err(format!("inode {ino}")))?;
        let mut buf = self.read_block(block)?;
        buf[off..off + INODE_SIZE].copy_from_slice(raw);
        self.write_block(block, &buf)
    }

    /// Reads and decodes inode `ino` (checksum checked).
    pub fn read_inode(&self, ino: u64) -> Result<Inode> {
        let raw = self.read_inode_raw(ino)?;
        Inode::decode(ino, &raw).map_err(fmt_err(format!("inode {ino}")))
    }

    /// Encodes and writes inode `ino`.
    pub fn write_inode(&self, ino: u64, inode: &Inode) -> Result<()> {
        let mut raw = [0u8; INODE_SIZE];
        inode.encode(ino, &mut raw);
        self.write_inode_raw(ino, &raw)
    }

    /// Allocates a free inode slot (marks it in the in-memory bitmap).
    pub fn alloc_inode(&mut self) -> Result<u64> {
        let n = self.geometry().inode_count;
        let ino = bitmap_find_zero(&self.inode_bitmap, 1, n)
            .ok_or_else(|| Error::msg("no free inodes"))?;
        bitmap_set(&mut self.inode_bitmap, ino, true).map_err(fmt_err("inode bitmap"))?;
        Ok(ino)
    }

    /// Whether inode slot `ino` is marked in use in the in-memory bitmap.
    pub fn inode_in_use(&self, ino: u64) -> bool {
        bitmap_get(&self.inode_bitmap, ino).unwrap_or(false)
    }

    /// Whether block `block` is marked in use in the in-memory bitmap.
    pub fn block_in_use(&self, block: u64) -> bool {
        bitmap_get(&self.block_bitmap, block).unwrap_or(false)
    }

    /// Sets a block's bit in the in-memory bitmap (written by [`Image::flush`]).
    pub fn set_block_in_use(&mut self, block: u64, used: bool) -> Result<()> {
        bitmap_set(&mut self.block_bitmap, block, used).map_err(fmt_err("block bitmap"))?;
        Ok(())
    }

    /// Sets an inode's bit in the in-memory bitmap (written by [`Image::flush`]).
    pub fn set_inode_in_use(&mut self, ino: u64, used: bool) -> Result<()> {
        bitmap_set(&mut self.inode_bitmap, ino, used).map_err(fmt_err("inode bitmap"))?;
        Ok(())
    }

    // ---- blocks -------------------------------------------------------

    /// Allocates up to `want` contiguous free data blocks, searching from
    /// `goal` (or the allocation cursor) and wrapping around. Returns
    /// (first block, count).
    pub fn alloc_run(&mut self, want: u64, goal: Option<u64>) -> Result<(u64, u64)> {
        let g = self.geometry();
        let goal = goal
            .unwrap_or(self.cursor)
            .clamp(g.data_start, g.total_blocks);
        let start = bitmap_find_zero(&self.block_bitmap, goal, g.total_blocks)
            .or_else(|| bitmap_find_zero(&self.block_bitmap, g.data_start, goal))
            .ok_or_else(|| Error::msg("no free blocks"))?;
        let mut len = 0;
        while len < want.max(1)
            && start + len < g.total_blocks
            && !bitmap_get(&self.block_bitmap, start + len).unwrap_or(true)
        {
            bitmap_set(&mut self.block_bitmap, start + len, true)
                .map_err(fmt_err("block bitmap"))?;
            len += 1;
        }
        self.cursor = start + len;
        Ok((start, len))
    }

    /// Frees blocks in the in-memory bitmap.
    pub fn free_run(&mut self, start: u64, len: u64) -> Result<()> {
        for b in start..start + len {
            bitmap_set(&mut self.block_bitmap, b, false).map_err(fmt_err("block bitmap"))?;
        }
        Ok(())
    }

    /// Moves the allocation cursor (where the next search starts).
    pub fn set_alloc_cursor(&mut self, block: u64) {
        self.cursor = block;
    }

    // ---- extents ------------------------------------------------------

    /// The overflow chain blocks of an inode, in order (checked).
    pub fn extent_chain(&self, ino: u64, inode: &Inode) -> Result<Vec<u64>> {
        Ok(self.extents_and_chain(ino, inode)?.1)
    }

    /// All extents of an inode, inline ones first then the overflow chain,
    /// each checked against the geometry and for order.
    pub fn extents(&self, ino: u64, inode: &Inode) -> Result<Vec<Extent>> {
        Ok(self.extents_and_chain(ino, inode)?.0)
    }

    fn extents_and_chain(&self, ino: u64, inode: &Inode) -> Result<(Vec<Extent>, Vec<u64>)> {
        let g = self.geometry();
        let what = |s: &str| format!("inode {ino}: {s}");
        let mut out = Vec::new();
        let mut chain = Vec::new();
        for i in 0..inode.inline_extent_count() {
            out.push(inode.inline_extent(i).unwrap_or_default());
        }
        let mut remaining = inode.overflow_extent_count();
        let mut next = inode.extent_overflow;
        while next != 0 {
            if !g.is_data_range(next, 1) || remaining == 0 {
                return Err(Error::format(
                    what("extent chain"),
                    FormatError::BadExtentCount,
                ));
            }
            let buf = self.read_block(next)?;
            let h = ExtentBlockHeader::decode_for(&buf, ino)
                .map_err(fmt_err(what(&format!("extent block {next}"))))?;
            if h.count == 0 || u64::from(h.count) > remaining {
                return Err(Error::format(
                    what("extent chain"),
                    FormatError::BadExtentCount,
                ));
            }
            for i in 0..h.count as usize {
                out.push(extent_block_get(&buf, i).unwrap_or_default());
            }
            remaining -= u64::from(h.count);
            chain.push(next);
            next = h.next;
        }
        if remaining != 0 {
            return Err(Error::format(
                what("extent chain"),
                FormatError::BadExtentCount,
            ));
        }
        let mut prev: Option<Extent> = None;
        for e in &out {
            e.check(&g).map_err(fmt_err(what("extent")))?;
            check_extent_order(prev.as_ref(), e).map_err(fmt_err(what("extents")))?;
            prev = Some(*e);
        }
        Ok((out, chain))
    }

    /// Replaces an inode's extent list: frees its old overflow chain,
    /// stores the first 8 extents inline and the rest in newly allocated
    /// overflow blocks, and sets `extent_count`, `extent_overflow` and
    /// `blocks` (data blocks plus overflow blocks). Does not free or touch
    /// data blocks, and does not write the inode.
    pub fn set_extents(&mut self, ino: u64, inode: &mut Inode, extents: &[Extent]) -> Result<()> {
        if inode.extent_overflow != 0 {
            for b in self.extent_chain(ino, inode)? {
                self.free_run(b, 1)?;
            }
        }
        let count = u32::try_from(extents.len()).map_err(|_| Error::msg("too many extents"))?;
        inode.flags &= !INODE_FLAG_INLINE_DATA;
        inode.inline = [0; INLINE_SIZE];
        for (i, e) in extents.iter().take(INLINE_EXTENTS).enumerate() {
            inode
                .set_inline_extent(i, e)
                .map_err(fmt_err("inline extent"))?;
        }
        let rest: Vec<&[Extent]> = extents
            .get(INLINE_EXTENTS..)
            .unwrap_or(&[])
            .chunks(EXTENTS_PER_BLOCK)
            .collect();
        let mut chain = Vec::new();
        for _ in 0..rest.len() {
            let goal = extents.last().and_then(|e| e.physical_end());
            chain.push(self.alloc_run(1, goal)?.0);
        }
        for (i, chunk) in rest.iter().enumerate() {
            let mut buf = zero_block();
            let next = chain.get(i + 1).copied().unwrap_or(0);
            extent_block_init(&mut buf, ino, next);
            ExtentBlockHeader {
                count: chunk.len() as u32,
                next,
                owner_ino: ino,
            }
            .encode(&mut buf);
            for (j, e) in chunk.iter().enumerate() {
                extent_block_set(&mut buf, j, e).map_err(fmt_err("extent block"))?;
            }
            seal_block(&mut buf);
            self.write_block(chain[i], &buf)?;
        }
        inode.extent_count = count;
        inode.extent_overflow = chain.first().copied().unwrap_or(0);
        let data: u64 = extents.iter().map(|e| u64::from(e.len)).sum();
        inode.blocks = data + chain.len() as u64;
        Ok(())
    }

    /// Maps file block `logical` of an inode to its disk block: `None` for a
    /// hole; `Some((block, unwritten))` otherwise.
    pub fn map_block(&self, ino: u64, inode: &Inode, logical: u64) -> Result<Option<(u64, bool)>> {
        for e in self.extents(ino, inode)? {
            if let Some(p) = e.map(logical) {
                return Ok(Some((p, e.unwritten)));
            }
        }
        Ok(None)
    }

    /// Reads a regular file's (or long symlink's) content.
    pub fn read_file(&self, ino: u64) -> Result<Vec<u8>> {
        let inode = self.read_inode(ino)?;
        if let Some(t) = inode.fast_symlink_target() {
            return Ok(t.to_vec());
        }
        let size = usize::try_from(inode.size).map_err(|_| Error::msg("file too large"))?;
        let mut out = vec![0u8; size.div_ceil(BLOCK_SIZE) * BLOCK_SIZE];
        for e in self.extents(ino, &inode)? {
            if e.unwritten {
                continue;
            }
            for i in 0..u64::from(e.len) {
                let l = (u64::from(e.logical) + i) as usize;
                if l * BLOCK_SIZE >= out.len() {
                    break;
                }
                let buf = self.read_block(e.physical + i)?;
                out[l * BLOCK_SIZE..(l + 1) * BLOCK_SIZE].copy_from_slice(&buf[..]);
            }
        }
        out.truncate(size);
        Ok(out)
    }

    /// A symlink's target.
    pub fn read_link(&self, ino: u64) -> Result<Vec<u8>> {
        self.read_file(ino)
    }

    // ---- directories --------------------------------------------------

    /// The disk block of each directory block, in logical order.
    pub fn dir_blocks(&self, dir: u64) -> Result<Vec<u64>> {
        let inode = self.read_inode(dir)?;
        if !is_dir(inode.mode) {
            return Err(Error::msg(format!("inode {dir} is not a directory")));
        }
        let mut out = Vec::new();
        for e in self.extents(dir, &inode)? {
            if u64::from(e.logical) != out.len() as u64 || e.unwritten {
                return Err(Error::msg(format!("directory {dir} has a hole")));
            }
            for i in 0..u64::from(e.len) {
                out.push(e.physical + i);
            }
        }
        Ok(out)
    }

    /// Lists a directory (without `.` and `..`).
    pub fn read_dir(&self, dir: u64) -> Result<Vec<DirListing>> {
        let mut out = Vec::new();
        for b in self.dir_blocks(dir)? {
            let buf = self.read_block(b)?;
            dir_block_check_header(&buf, dir)
                .map_err(fmt_err(format!("directory {dir} block {b}")))?;
            for e in dir_entries(&buf) {
                let e = e.map_err(fmt_err(format!("directory {dir} block {b}")))?;
                out.push(DirListing {
                    name: e.name.to_vec(),
                    ino: u64::from(e.ino),
                    file_type: e.file_type,
                });
            }
        }
        Ok(out)
    }

    /// Looks `name` up in directory `dir`.
    pub fn lookup(&self, dir: u64, name: &[u8]) -> Result<Option<DirListing>> {
        Ok(self.read_dir(dir)?.into_iter().find(|e| e.name == name))
    }

    /// Resolves a `/`-separated path from the root (no symlinks followed;
    /// `.` and `..` handled).
    pub fn resolve(&self, path: &str) -> Result<u64> {
        let mut ino = ROOT_INO;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            ino = match comp {
                "." => ino,
                ".." => self.read_inode(ino)?.dir_parent,
                _ => {
                    self.lookup(ino, comp.as_bytes())?
                        .ok_or_else(|| Error::msg(format!("{path}: {comp} not found")))?
                        .ino
                }
            };
        }
        Ok(ino)
    }

    /// Adds entry `name` -> `ino` to directory `dir`, growing the directory
    /// by a block if needed. Does not change link counts.
    pub fn add_entry(&mut self, dir: u64, name: &[u8], ino: u64, file_type: u8) -> Result<()> {
        check_name(name).map_err(fmt_err(String::from_utf8_lossy(name).into_owned()))?;
        if self.lookup(dir, name)?.is_some() {
            return Err(Error::msg(format!(
                "directory {dir}: {} already exists",
                String::from_utf8_lossy(name)
            )));
        }
        let ino32 = u32::try_from(ino).map_err(|_| Error::msg("inode number too large"))?;
        let blocks = self.dir_blocks(dir)?;
        for &b in &blocks {
            let mut buf = self.read_block(b)?;
            match dir_insert(&mut buf, name, ino32, file_type) {
                Ok(_) => {
                    seal_block(&mut buf);
                    return self.write_block(b, &buf);
                }
                Err(FormatError::NoSpace) => {}
                Err(e) => return Err(Error::format(format!("directory {dir} block {b}"), e)),
            }
        }
        // Grow the directory by one block.
        let mut inode = self.read_inode(dir)?;
        let goal = blocks.last().map(|b| b + 1);
        let (b, _) = self.alloc_run(1, goal)?;
        let mut buf = zero_block();
        dir_block_init(&mut buf, dir);
        dir_insert(&mut buf, name, ino32, file_type).map_err(fmt_err("new directory block"))?;
        seal_block(&mut buf);
        self.write_block(b, &buf)?;
        let mut extents = self.extents(dir, &inode)?;
        let new = Extent {
            logical: blocks.len() as u32,
            len: 1,
            unwritten: false,
            physical: b,
        };
        match extents.last_mut() {
            Some(last) if last.is_contiguous_with(&new) => last.len += 1,
            _ => extents.push(new),
        }
        self.set_extents(dir, &mut inode, &extents)?;
        inode.size += BLOCK_SIZE_U64;
        inode.mtime = now_timespec();
        inode.ctime = inode.mtime;
        self.write_inode(dir, &inode)
    }

    /// Removes entry `name` from directory `dir`, returning the inode it
    /// pointed to. Does not change link counts or free anything.
    pub fn remove_entry(&mut self, dir: u64, name: &[u8]) -> Result<u64> {
        for b in self.dir_blocks(dir)? {
            let mut buf = self.read_block(b)?;
            match dir_remove(&mut buf, name) {
                Ok(ino) => {
                    seal_block(&mut buf);
                    self.write_block(b, &buf)?;
                    return Ok(u64::from(ino));
                }
                Err(FormatError::NotFound) => {}
                Err(e) => return Err(Error::format(format!("directory {dir} block {b}"), e)),
            }
        }
        Err(Error::msg(format!(
            "directory {dir}: {} not found",
            String::from_utf8_lossy(name)
        )))
    }

    fn new_inode(&mut self, mode: u16) -> Result<(u64, Inode)> {
        let ino = self.alloc_inode()?;
        let mut inode = Inode::new(mode);
        let now = now_timespec();
        inode.atime = now;
        inode.mtime = now;
        inode.ctime = now;
        inode.crtime = now;
        inode.nlink = 1;
        inode.generation = ino as u32;
        Ok((ino, inode))
    }

    fn check_parent(&self, dir: u64) -> Result<()> {
        if !is_dir(self.read_inode(dir)?.mode) {
            return Err(Error::msg(format!("inode {dir} is not a directory")));
        }
        Ok(())
    }

    /// Creates directory `name` in `parent` with permissions `perm`.
    pub fn mkdir(&mut self, parent: u64, name: &[u8], perm: u16) -> Result<u64> {
        self.check_parent(parent)?;
        let (ino, mut inode) = self.new_inode(S_IFDIR | (perm & S_IALLUGO))?;
        inode.nlink = 2;
        inode.dir_parent = parent;
        self.write_inode(ino, &inode)?;
        self.add_entry(parent, name, ino, DT_DIR)?;
        let mut p = self.read_inode(parent)?;
        p.nlink += 1;
        self.write_inode(parent, &p)?;
        Ok(ino)
    }

    /// Creates regular file `name` in `parent` holding `data`, laid out as
    /// `layout` says.
    pub fn create_file(
        &mut self,
        parent: u64,
        name: &[u8],
        data: &[u8],
        layout: FileLayout,
    ) -> Result<u64> {
        self.check_parent(parent)?;
        let (ino, mut inode) = self.new_inode(S_IFREG | 0o644)?;
        inode.size = data.len() as u64;
        let extents = self.write_data(data, layout)?;
        self.set_extents(ino, &mut inode, &extents)?;
        self.write_inode(ino, &inode)?;
        self.add_entry(parent, name, ino, DT_REG)?;
        Ok(ino)
    }

    /// Allocates blocks for `data` and writes it, returning the extents.
    fn write_data(&mut self, data: &[u8], layout: FileLayout) -> Result<Vec<Extent>> {
        let nblocks = data.len().div_ceil(BLOCK_SIZE);
        let block_of = |l: usize| &data[l * BLOCK_SIZE..((l + 1) * BLOCK_SIZE).min(data.len())];
        let is_zero = |l: usize| block_of(l).iter().all(|b| *b == 0);
        let max = if layout.max_extent_blocks == 0 {
            MAX_EXTENT_LEN
        } else {
            layout.max_extent_blocks.min(MAX_EXTENT_LEN)
        };
        let mut extents: Vec<Extent> = Vec::new();
        let mut l = 0usize;
        while l < nblocks {
            let zero = layout.zero_blocks != ZeroBlocks::Write && is_zero(l);
            if zero && layout.zero_blocks == ZeroBlocks::Hole {
                l += 1;
                continue;
            }
            // A run of blocks of the same kind (data, or unwritten zeros).
            let mut run = 1usize;
            while l + run < nblocks
                && (run as u32) < max
                && (layout.zero_blocks != ZeroBlocks::Write && is_zero(l + run)) == zero
            {
                run += 1;
            }
            let (start, got) = self.alloc_run(run as u64, None)?;
            let got = got as usize;
            if !zero {
                let mut buf = vec![0u8; got * BLOCK_SIZE];
                let src = &data[l * BLOCK_SIZE..((l + got) * BLOCK_SIZE).min(data.len())];
                buf[..src.len()].copy_from_slice(src);
                self.dev.write_blocks(start, &buf)?;
            }
            let e = Extent {
                logical: u32::try_from(l).map_err(|_| Error::msg("file too large"))?,
                len: got as u32,
                unwritten: zero,
                physical: start,
            };
            match extents.last_mut() {
                Some(last) if layout.max_extent_blocks == 0 && last.is_contiguous_with(&e) => {
                    last.len += e.len
                }
                _ => extents.push(e),
            }
            if layout.gap {
                self.cursor = start + got as u64 + 1;
            }
            l += got;
        }
        Ok(extents)
    }

    /// Creates symbolic link `name` -> `target` in `parent`: inline if the
    /// target is at most 127 bytes, in one data block otherwise.
    pub fn symlink(&mut self, parent: u64, name: &[u8], target: &[u8]) -> Result<u64> {
        self.check_parent(parent)?;
        if target.is_empty() || target.len() > SYMLINK_MAX || target.contains(&0) {
            return Err(Error::format("symlink target", FormatError::BadSymlink));
        }
        let (ino, mut inode) = self.new_inode(S_IFLNK | 0o777)?;
        if target.len() <= FAST_SYMLINK_MAX {
            inode.set_fast_symlink(target).map_err(fmt_err("symlink"))?;
        } else {
            let (b, _) = self.alloc_run(1, None)?;
            let mut buf = zero_block();
            buf[..target.len()].copy_from_slice(target);
            self.write_block(b, &buf)?;
            inode.size = target.len() as u64;
            let e = Extent {
                logical: 0,
                len: 1,
                unwritten: false,
                physical: b,
            };
            self.set_extents(ino, &mut inode, &[e])?;
        }
        self.write_inode(ino, &inode)?;
        self.add_entry(parent, name, ino, DT_LNK)?;
        Ok(ino)
    }

    /// Creates a device node, FIFO or socket `name` in `parent`. `mode`
    /// includes the file type; `rdev` is used for devices.
    pub fn mknod(&mut self, parent: u64, name: &[u8], mode: u16, rdev: u32) -> Result<u64> {
        self.check_parent(parent)?;
        let kind = FileKind::from_mode(mode)
            .ok_or_else(|| Error::format("mknod", FormatError::BadMode))?;
        if matches!(kind, FileKind::Dir | FileKind::Regular | FileKind::Symlink) {
            return Err(Error::msg("mknod: use mkdir, create_file or symlink"));
        }
        let (ino, mut inode) = self.new_inode(mode)?;
        if matches!(kind, FileKind::CharDev | FileKind::BlockDev) {
            inode.set_rdev(rdev);
        }
        self.write_inode(ino, &inode)?;
        self.add_entry(parent, name, ino, kind.dt())?;
        Ok(ino)
    }

    /// Adds hard link `name` in `parent` to existing non-directory `ino`.
    pub fn link(&mut self, parent: u64, name: &[u8], ino: u64) -> Result<()> {
        self.check_parent(parent)?;
        let mut inode = self.read_inode(ino)?;
        let kind = inode
            .kind()
            .ok_or_else(|| Error::format("link", FormatError::BadMode))?;
        if kind == FileKind::Dir {
            return Err(Error::msg("cannot hard-link a directory"));
        }
        self.add_entry(parent, name, ino, kind.dt())?;
        inode.nlink += 1;
        inode.ctime = now_timespec();
        self.write_inode(ino, &inode)
    }

    /// Writes the in-memory bitmaps and the superblock (free counts from the
    /// bitmaps, write time), then syncs.
    pub fn flush(&mut self) -> Result<()> {
        let g = self.geometry();
        self.dev
            .write_blocks(g.block_bitmap_start, &self.block_bitmap)?;
        self.dev
            .write_blocks(g.inode_bitmap_start, &self.inode_bitmap)?;
        self.sb.free_blocks = bitmap_count_zeros(&self.block_bitmap, g.total_blocks);
        self.sb.free_inodes = bitmap_count_zeros(&self.inode_bitmap, g.inode_count);
        self.sb.write_time = crate::now_secs();
        self.write_superblock()?;
        self.dev.sync()
    }

    /// Encodes and writes `self.sb` as it is.
    pub fn write_superblock(&self) -> Result<()> {
        let mut buf = zero_block();
        self.sb.encode(&mut buf);
        self.write_block(format::SUPERBLOCK_BLOCK, &buf)
    }
}
