// SPDX-License-Identifier: GPL-2.0

//! The superblock (block 0) and the filesystem geometry it describes.

use super::le::{get_bytes, get_u16, get_u32, get_u64, put_bytes, put_u16, put_u32, put_u64};
use super::{
    bitmap_set_range, block_checksum, seal_block, stored_block_checksum, Block, FormatError, BLOCK_SIZE,
    BLOCK_SIZE_U64,
};

/// Superblock magic: the bytes `"RSFS"` read as a little-endian `u32`.
pub const SUPER_MAGIC: u32 = 0x5346_5352;
/// Major format version this code reads and writes. Another major version is
/// refused.
pub const VERSION_MAJOR: u16 = 1;
/// Minor version of a filesystem without a journal (format 1.0).
pub const VERSION_MINOR_NO_JOURNAL: u16 = 0;
/// Minor version of a journalled filesystem (format 1.1,
/// [`FEATURE_INCOMPAT_JOURNAL`]).
pub const VERSION_MINOR_JOURNAL: u16 = 1;
/// Minor format version this code writes by default (1.1, journalled).
/// Minor versions are compatible: what a reader must understand is in the
/// incompatible feature bits, not in the minor version.
pub const VERSION_MINOR: u16 = VERSION_MINOR_JOURNAL;

/// Incompatible feature: the journal region holds a metadata journal
/// (`journal.rs`; format 1.1). Code that does not replay the journal must
/// not mount the filesystem.
pub const FEATURE_INCOMPAT_JOURNAL: u32 = 0x1;

/// Compatible feature bits this code knows (none yet). Unknown ones are ignored.
pub const FEATURE_COMPAT_SUPPORTED: u32 = 0;
/// Incompatible feature bits this code knows. Unknown ones: refuse to mount.
pub const FEATURE_INCOMPAT_SUPPORTED: u32 = FEATURE_INCOMPAT_JOURNAL;
/// Read-only-compatible feature bits this code knows (none yet). Unknown
/// ones: mount read-only only.
pub const FEATURE_RO_COMPAT_SUPPORTED: u32 = 0;

/// `state`: cleanly unmounted (or never mounted).
pub const STATE_CLEAN: u16 = 1;
/// `state`: mounted read-write, or not cleanly unmounted.
pub const STATE_DIRTY: u16 = 2;

/// The root directory's inode number.
pub const ROOT_INO: u64 = 1;

/// Largest supported inode count (inode numbers are 32-bit in directory entries).
pub const MAX_INODES: u64 = u32::MAX as u64;

/// Largest supported block count: 2^48 blocks (1 EiB), so that byte and
/// sector offsets of every block fit comfortably in 64 bits.
pub const MAX_TOTAL_BLOCKS: u64 = 1 << 48;

/// Bits in one bitmap block.
pub const BITS_PER_BLOCK: u64 = (BLOCK_SIZE as u64) * 8;

/// Length of the volume label field.
pub const LABEL_LEN: usize = 32;

/// Length of the UUID field.
pub const UUID_LEN: usize = 16;

/// Superblock field offsets (bytes from the start of block 0).
pub mod sb_off {
    /// `magic: u32`
    pub const MAGIC: usize = 0;
    /// `version_major: u16`
    pub const VERSION_MAJOR: usize = 4;
    /// `version_minor: u16`
    pub const VERSION_MINOR: usize = 6;
    /// `block_size: u32`
    pub const BLOCK_SIZE: usize = 8;
    /// `feature_compat: u32`
    pub const FEATURE_COMPAT: usize = 12;
    /// `feature_incompat: u32`
    pub const FEATURE_INCOMPAT: usize = 16;
    /// `feature_ro_compat: u32`
    pub const FEATURE_RO_COMPAT: usize = 20;
    /// `total_blocks: u64`
    pub const TOTAL_BLOCKS: usize = 24;
    /// `inode_count: u64`
    pub const INODE_COUNT: usize = 32;
    /// `free_blocks: u64`
    pub const FREE_BLOCKS: usize = 40;
    /// `free_inodes: u64`
    pub const FREE_INODES: usize = 48;
    /// `journal_start: u64`
    pub const JOURNAL_START: usize = 56;
    /// `journal_blocks: u64`
    pub const JOURNAL_BLOCKS: usize = 64;
    /// `block_bitmap_start: u64`
    pub const BLOCK_BITMAP_START: usize = 72;
    /// `block_bitmap_blocks: u64`
    pub const BLOCK_BITMAP_BLOCKS: usize = 80;
    /// `inode_bitmap_start: u64`
    pub const INODE_BITMAP_START: usize = 88;
    /// `inode_bitmap_blocks: u64`
    pub const INODE_BITMAP_BLOCKS: usize = 96;
    /// `inode_table_start: u64`
    pub const INODE_TABLE_START: usize = 104;
    /// `inode_table_blocks: u64`
    pub const INODE_TABLE_BLOCKS: usize = 112;
    /// `data_start: u64`
    pub const DATA_START: usize = 120;
    /// `root_ino: u64`
    pub const ROOT_INO: usize = 128;
    /// `state: u16`
    pub const STATE: usize = 136;
    /// `mkfs_time: u64` (seconds since the epoch)
    pub const MKFS_TIME: usize = 144;
    /// `mount_time: u64`
    pub const MOUNT_TIME: usize = 152;
    /// `write_time: u64`
    pub const WRITE_TIME: usize = 160;
    /// `mount_count: u32`
    pub const MOUNT_COUNT: usize = 168;
    /// `uuid: [u8; 16]`
    pub const UUID: usize = 176;
    /// `label: [u8; 32]`
    pub const LABEL: usize = 192;
    /// First reserved byte after the label; bytes up to the checksum are zero.
    pub const RESERVED: usize = 224;
    /// `checksum: u32`, CRC-32C of bytes `0..4092`.
    pub const CHECKSUM: usize = 4092;
}

/// Where the metadata regions are: everything about a filesystem's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Blocks in the filesystem (block 0 to `total_blocks - 1`).
    pub total_blocks: u64,
    /// Inode slots, including the reserved slot 0.
    pub inode_count: u64,
    /// First journal block (always 1).
    pub journal_start: u64,
    /// Journal blocks: the journal superblock and the log (format 1.1), or
    /// reserved and unused (1.0).
    pub journal_blocks: u64,
    /// First block of the block bitmap.
    pub block_bitmap_start: u64,
    /// Blocks of the block bitmap.
    pub block_bitmap_blocks: u64,
    /// First block of the inode bitmap.
    pub inode_bitmap_start: u64,
    /// Blocks of the inode bitmap.
    pub inode_bitmap_blocks: u64,
    /// First block of the inode table.
    pub inode_table_start: u64,
    /// Blocks of the inode table.
    pub inode_table_blocks: u64,
    /// First data block; everything before it is metadata.
    pub data_start: u64,
}

fn blocks_for_bits(bits: u64) -> u64 {
    bits.div_ceil(BITS_PER_BLOCK)
}

impl Geometry {
    /// Lays out a new filesystem of `total_blocks` blocks with (at least)
    /// `inode_count` inode slots and `journal_blocks` journal blocks, as mkfs
    /// does.
    ///
    /// The inode count is rounded up to fill the last inode table block.
    /// The result passes [`Geometry::validate`].
    pub fn compute(
        total_blocks: u64,
        inode_count: u64,
        journal_blocks: u64,
    ) -> Result<Geometry, FormatError> {
        if total_blocks > MAX_TOTAL_BLOCKS {
            return Err(FormatError::TooManyBlocks);
        }
        if inode_count < 2 {
            return Err(FormatError::BadInodeCount);
        }
        let inode_count = inode_count
            .checked_next_multiple_of(super::INODES_PER_BLOCK)
            .filter(|n| *n <= MAX_INODES)
            .ok_or(FormatError::BadInodeCount)?;
        let journal_start = 1u64;
        let block_bitmap_start = journal_start
            .checked_add(journal_blocks)
            .ok_or(FormatError::NoDataBlocks)?;
        let block_bitmap_blocks = blocks_for_bits(total_blocks);
        let inode_bitmap_start = block_bitmap_start
            .checked_add(block_bitmap_blocks)
            .ok_or(FormatError::NoDataBlocks)?;
        let inode_bitmap_blocks = blocks_for_bits(inode_count);
        let inode_table_start = inode_bitmap_start
            .checked_add(inode_bitmap_blocks)
            .ok_or(FormatError::NoDataBlocks)?;
        let inode_table_blocks = inode_count / super::INODES_PER_BLOCK;
        let data_start = inode_table_start
            .checked_add(inode_table_blocks)
            .ok_or(FormatError::NoDataBlocks)?;
        let g = Geometry {
            total_blocks,
            inode_count,
            journal_start,
            journal_blocks,
            block_bitmap_start,
            block_bitmap_blocks,
            inode_bitmap_start,
            inode_bitmap_blocks,
            inode_table_start,
            inode_table_blocks,
            data_start,
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks that the regions are contiguous, in order, start at block 1,
    /// are exactly the size their counts need, and leave at least one data
    /// block.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.total_blocks > MAX_TOTAL_BLOCKS {
            return Err(FormatError::TooManyBlocks);
        }
        if self.inode_count < 2 || self.inode_count > MAX_INODES {
            return Err(FormatError::BadInodeCount);
        }
        let follows = |start: u64, len: u64, next: u64| start.checked_add(len) == Some(next);
        if self.journal_start != 1
            || !follows(
                self.journal_start,
                self.journal_blocks,
                self.block_bitmap_start,
            )
            || !follows(
                self.block_bitmap_start,
                self.block_bitmap_blocks,
                self.inode_bitmap_start,
            )
            || !follows(
                self.inode_bitmap_start,
                self.inode_bitmap_blocks,
                self.inode_table_start,
            )
            || !follows(
                self.inode_table_start,
                self.inode_table_blocks,
                self.data_start,
            )
        {
            return Err(FormatError::BadLayout);
        }
        // Exact sizes, not just large enough: the allocator and fsck walk
        // every block of a region, and a bitmap block past the last bit, or
        // an inode table block past the last inode, is a layout mkfs never
        // makes (and bits no code could account for).
        if self.block_bitmap_blocks != blocks_for_bits(self.total_blocks) {
            return Err(FormatError::BadBlockBitmapSize);
        }
        if self.inode_bitmap_blocks != blocks_for_bits(self.inode_count) {
            return Err(FormatError::BadInodeBitmapSize);
        }
        if self.inode_count % super::INODES_PER_BLOCK != 0
            || self.inode_table_blocks != self.inode_count / super::INODES_PER_BLOCK
        {
            return Err(FormatError::BadInodeTableSize);
        }
        if self.data_start >= self.total_blocks {
            return Err(FormatError::NoDataBlocks);
        }
        Ok(())
    }

    /// Returns whether the journal may log `block`: its copies and revoke
    /// records name block 0 (the superblock) or a block from the end of
    /// the journal region to `total_blocks` (bitmaps, inode table, data
    /// region), never a block of the journal region itself. Replay treats
    /// a committed transaction naming any other block as a corrupt
    /// journal ([`FormatError::BadJournal`]).
    pub fn is_journal_home(&self, block: u64) -> bool {
        block == SUPERBLOCK_BLOCK
            || (block >= self.journal_start.saturating_add(self.journal_blocks) && block < self.total_blocks)
    }

    /// Number of data blocks (`total_blocks - data_start`).
    pub fn data_blocks(&self) -> u64 {
        self.total_blocks.saturating_sub(self.data_start)
    }

    /// Sets, in a whole block bitmap (`block_bitmap_blocks` blocks of bytes),
    /// the bits that are set in every valid filesystem: the metadata blocks
    /// before `data_start` and the padding past `total_blocks`.
    pub fn mark_fixed_blocks(&self, bitmap: &mut [u8]) {
        bitmap_set_range(bitmap, 0, self.data_start, true);
        bitmap_set_range(bitmap, self.total_blocks, u64::MAX, true);
    }

    /// Sets, in a whole inode bitmap, the bits that are set in every valid
    /// filesystem: reserved slot 0 and the padding past `inode_count`.
    pub fn mark_fixed_inodes(&self, bitmap: &mut [u8]) {
        bitmap_set_range(bitmap, 0, 1, true);
        bitmap_set_range(bitmap, self.inode_count, u64::MAX, true);
    }

    /// Number of inodes that can ever be free: all slots but 0 and the root.
    pub fn allocatable_inodes(&self) -> u64 {
        self.inode_count.saturating_sub(2)
    }

    /// Returns whether blocks `start .. start + len` all lie in the data region.
    /// An empty range is never valid.
    pub fn is_data_range(&self, start: u64, len: u64) -> bool {
        match start.checked_add(len) {
            Some(end) => len > 0 && start >= self.data_start && end <= self.total_blocks,
            None => false,
        }
    }

    /// Returns whether `ino` names an inode that may be in use
    /// (`1 <= ino < inode_count`).
    pub fn is_valid_ino(&self, ino: u64) -> bool {
        ino >= 1 && ino < self.inode_count
    }

    /// Where inode `ino` lives: (block number, byte offset in that block).
    pub fn inode_location(&self, ino: u64) -> Result<(u64, usize), FormatError> {
        if !self.is_valid_ino(ino) {
            return Err(FormatError::BadInodeNumber);
        }
        let block = self
            .inode_table_start
            .checked_add(ino / super::INODES_PER_BLOCK)
            .ok_or(FormatError::BadInodeNumber)?;
        let offset = ((ino % super::INODES_PER_BLOCK) as usize).saturating_mul(super::INODE_SIZE);
        Ok((block, offset))
    }

    /// Where block `block`'s bit is in the block bitmap: (bitmap block number,
    /// bit index within that block).
    pub fn block_bitmap_location(&self, block: u64) -> Result<(u64, usize), FormatError> {
        if block >= self.total_blocks {
            return Err(FormatError::OutOfRange);
        }
        let b = self
            .block_bitmap_start
            .checked_add(block / BITS_PER_BLOCK)
            .ok_or(FormatError::OutOfRange)?;
        Ok((b, (block % BITS_PER_BLOCK) as usize))
    }

    /// Where inode slot `ino`'s bit is in the inode bitmap: (bitmap block
    /// number, bit index within that block).
    pub fn inode_bitmap_location(&self, ino: u64) -> Result<(u64, usize), FormatError> {
        if ino >= self.inode_count {
            return Err(FormatError::OutOfRange);
        }
        let b = self
            .inode_bitmap_start
            .checked_add(ino / BITS_PER_BLOCK)
            .ok_or(FormatError::OutOfRange)?;
        Ok((b, (ino % BITS_PER_BLOCK) as usize))
    }
}

/// The decoded superblock.
///
/// The magic number and checksum are not stored here: [`Superblock::encode`]
/// writes them and [`Superblock::decode`] checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Major version (1).
    pub version_major: u16,
    /// Minor version: 1 with a journal, 0 without.
    pub version_minor: u16,
    /// Block size in bytes (4096).
    pub block_size: u32,
    /// Compatible features.
    pub feature_compat: u32,
    /// Incompatible features.
    pub feature_incompat: u32,
    /// Read-only-compatible features.
    pub feature_ro_compat: u32,
    /// Layout: sizes and positions of all regions.
    pub geometry: Geometry,
    /// Free data blocks.
    pub free_blocks: u64,
    /// Free inode slots.
    pub free_inodes: u64,
    /// The root directory's inode number (always [`ROOT_INO`]).
    pub root_ino: u64,
    /// [`STATE_CLEAN`] or [`STATE_DIRTY`].
    pub state: u16,
    /// When mkfs ran, seconds since the epoch.
    pub mkfs_time: u64,
    /// Last mount, seconds since the epoch (0: never).
    pub mount_time: u64,
    /// Last superblock write, seconds since the epoch.
    pub write_time: u64,
    /// Number of mounts since mkfs.
    pub mount_count: u32,
    /// Filesystem UUID.
    pub uuid: [u8; UUID_LEN],
    /// Volume label: up to 32 bytes, NUL-padded, not necessarily NUL-terminated.
    pub label: [u8; LABEL_LEN],
}

impl Superblock {
    /// A superblock for a freshly made, journalled filesystem (format 1.1):
    /// clean, every data block and every inode but slot 0 and the root
    /// free. [`Superblock::set_journal`]`(false)` makes it a 1.0 one.
    pub fn new(geometry: Geometry, now: u64, uuid: [u8; UUID_LEN]) -> Superblock {
        Superblock {
            version_major: VERSION_MAJOR,
            version_minor: VERSION_MINOR_JOURNAL,
            block_size: BLOCK_SIZE as u32,
            feature_compat: 0,
            feature_incompat: FEATURE_INCOMPAT_JOURNAL,
            feature_ro_compat: 0,
            geometry,
            free_blocks: geometry.data_blocks(),
            free_inodes: geometry.allocatable_inodes(),
            root_ino: ROOT_INO,
            state: STATE_CLEAN,
            mkfs_time: now,
            mount_time: 0,
            write_time: now,
            mount_count: 0,
            uuid,
            label: [0; LABEL_LEN],
        }
    }

    /// Encodes the superblock into a full block, reserved bytes zero, checksum
    /// last.
    pub fn encode(&self, out: &mut Block) {
        use sb_off as o;
        for b in out.iter_mut() {
            *b = 0;
        }
        let g = &self.geometry;
        put_u32(out, o::MAGIC, SUPER_MAGIC);
        put_u16(out, o::VERSION_MAJOR, self.version_major);
        put_u16(out, o::VERSION_MINOR, self.version_minor);
        put_u32(out, o::BLOCK_SIZE, self.block_size);
        put_u32(out, o::FEATURE_COMPAT, self.feature_compat);
        put_u32(out, o::FEATURE_INCOMPAT, self.feature_incompat);
        put_u32(out, o::FEATURE_RO_COMPAT, self.feature_ro_compat);
        put_u64(out, o::TOTAL_BLOCKS, g.total_blocks);
        put_u64(out, o::INODE_COUNT, g.inode_count);
        put_u64(out, o::FREE_BLOCKS, self.free_blocks);
        put_u64(out, o::FREE_INODES, self.free_inodes);
        put_u64(out, o::JOURNAL_START, g.journal_start);
        put_u64(out, o::JOURNAL_BLOCKS, g.journal_blocks);
        put_u64(out, o::BLOCK_BITMAP_START, g.block_bitmap_start);
        put_u64(out, o::BLOCK_BITMAP_BLOCKS, g.block_bitmap_blocks);
        put_u64(out, o::INODE_BITMAP_START, g.inode_bitmap_start);
        put_u64(out, o::INODE_BITMAP_BLOCKS, g.inode_bitmap_blocks);
        put_u64(out, o::INODE_TABLE_START, g.inode_table_start);
        put_u64(out, o::INODE_TABLE_BLOCKS, g.inode_table_blocks);
        put_u64(out, o::DATA_START, g.data_start);
        put_u64(out, o::ROOT_INO, self.root_ino);
        put_u16(out, o::STATE, self.state);
        put_u64(out, o::MKFS_TIME, self.mkfs_time);
        put_u64(out, o::MOUNT_TIME, self.mount_time);
        put_u64(out, o::WRITE_TIME, self.write_time);
        put_u32(out, o::MOUNT_COUNT, self.mount_count);
        put_bytes(out, o::UUID, &self.uuid);
        put_bytes(out, o::LABEL, &self.label);
        seal_block(out);
    }

    /// Decodes block 0. Checks, in this order, the magic number, the major
    /// version and the checksum; everything else is checked by
    /// [`Superblock::validate`].
    pub fn decode(buf: &Block) -> Result<Superblock, FormatError> {
        use sb_off as o;
        if get_u32(buf, o::MAGIC) != SUPER_MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version_major = get_u16(buf, o::VERSION_MAJOR);
        if version_major != VERSION_MAJOR {
            return Err(FormatError::UnsupportedVersion);
        }
        if stored_block_checksum(buf) != block_checksum(buf) {
            return Err(FormatError::BadChecksum);
        }
        let mut uuid = [0u8; UUID_LEN];
        get_bytes(buf, o::UUID, &mut uuid);
        let mut label = [0u8; LABEL_LEN];
        get_bytes(buf, o::LABEL, &mut label);
        Ok(Superblock {
            version_major,
            version_minor: get_u16(buf, o::VERSION_MINOR),
            block_size: get_u32(buf, o::BLOCK_SIZE),
            feature_compat: get_u32(buf, o::FEATURE_COMPAT),
            feature_incompat: get_u32(buf, o::FEATURE_INCOMPAT),
            feature_ro_compat: get_u32(buf, o::FEATURE_RO_COMPAT),
            geometry: Geometry {
                total_blocks: get_u64(buf, o::TOTAL_BLOCKS),
                inode_count: get_u64(buf, o::INODE_COUNT),
                journal_start: get_u64(buf, o::JOURNAL_START),
                journal_blocks: get_u64(buf, o::JOURNAL_BLOCKS),
                block_bitmap_start: get_u64(buf, o::BLOCK_BITMAP_START),
                block_bitmap_blocks: get_u64(buf, o::BLOCK_BITMAP_BLOCKS),
                inode_bitmap_start: get_u64(buf, o::INODE_BITMAP_START),
                inode_bitmap_blocks: get_u64(buf, o::INODE_BITMAP_BLOCKS),
                inode_table_start: get_u64(buf, o::INODE_TABLE_START),
                inode_table_blocks: get_u64(buf, o::INODE_TABLE_BLOCKS),
                data_start: get_u64(buf, o::DATA_START),
            },
            free_blocks: get_u64(buf, o::FREE_BLOCKS),
            free_inodes: get_u64(buf, o::FREE_INODES),
            root_ino: get_u64(buf, o::ROOT_INO),
            state: get_u16(buf, o::STATE),
            mkfs_time: get_u64(buf, o::MKFS_TIME),
            mount_time: get_u64(buf, o::MOUNT_TIME),
            write_time: get_u64(buf, o::WRITE_TIME),
            mount_count: get_u32(buf, o::MOUNT_COUNT),
            uuid,
            label,
        })
    }

    /// Checks everything [`Superblock::decode`] does not: block size,
    /// features, geometry (see [`Geometry::validate`]), that the filesystem
    /// fits in `device_blocks` blocks, free counts, root inode and state.
    pub fn validate(&self, device_blocks: u64) -> Result<(), FormatError> {
        if self.version_major != VERSION_MAJOR {
            return Err(FormatError::UnsupportedVersion);
        }
        if self.block_size as usize != BLOCK_SIZE {
            return Err(FormatError::BadBlockSize);
        }
        if self.feature_incompat & !FEATURE_INCOMPAT_SUPPORTED != 0 {
            return Err(FormatError::IncompatFeatures);
        }
        self.geometry.validate()?;
        if self.has_journal() && self.geometry.journal_blocks < super::MIN_JOURNAL_BLOCKS {
            return Err(FormatError::JournalTooSmall);
        }
        if self.geometry.total_blocks > device_blocks {
            return Err(FormatError::FsLargerThanDevice);
        }
        if self.free_blocks > self.geometry.data_blocks() {
            return Err(FormatError::BadFreeBlocks);
        }
        if self.free_inodes > self.geometry.allocatable_inodes() {
            return Err(FormatError::BadFreeInodes);
        }
        if self.root_ino != ROOT_INO || self.root_ino >= self.geometry.inode_count {
            return Err(FormatError::BadRootIno);
        }
        if self.state != STATE_CLEAN && self.state != STATE_DIRTY {
            return Err(FormatError::BadState);
        }
        Ok(())
    }

    /// [`Superblock::decode`] followed by [`Superblock::validate`]: what a
    /// mount does with block 0 of a device of `device_blocks` blocks.
    pub fn decode_and_validate(buf: &Block, device_blocks: u64) -> Result<Superblock, FormatError> {
        let sb = Superblock::decode(buf)?;
        sb.validate(device_blocks)?;
        Ok(sb)
    }

    /// Returns whether the filesystem has a journal
    /// ([`FEATURE_INCOMPAT_JOURNAL`], format 1.1).
    pub const fn has_journal(&self) -> bool {
        self.feature_incompat & FEATURE_INCOMPAT_JOURNAL != 0
    }

    /// Gives the filesystem a journal (sets [`FEATURE_INCOMPAT_JOURNAL`],
    /// minor version at least 1) or takes it away (format 1.0). Writing the
    /// journal superblock is the caller's.
    pub fn set_journal(&mut self, on: bool) {
        if on {
            self.feature_incompat |= FEATURE_INCOMPAT_JOURNAL;
            if self.version_minor < VERSION_MINOR_JOURNAL {
                self.version_minor = VERSION_MINOR_JOURNAL;
            }
        } else {
            self.feature_incompat &= !FEATURE_INCOMPAT_JOURNAL;
            self.version_minor = VERSION_MINOR_NO_JOURNAL;
        }
    }

    /// Returns whether read-only-compatible features unknown to this code are
    /// set: the filesystem may then only be mounted read-only.
    pub fn has_unknown_ro_compat(&self) -> bool {
        self.feature_ro_compat & !FEATURE_RO_COMPAT_SUPPORTED != 0
    }

    /// The label text: the label bytes up to the first NUL.
    pub fn label_bytes(&self) -> &[u8] {
        let len = self.label.iter().position(|b| *b == 0).unwrap_or(LABEL_LEN);
        self.label.get(..len).unwrap_or(&[])
    }

    /// Sets the label: at most [`LABEL_LEN`] bytes, no NUL.
    pub fn set_label(&mut self, text: &[u8]) -> Result<(), FormatError> {
        if text.len() > LABEL_LEN || text.contains(&0) {
            return Err(FormatError::BadName);
        }
        self.label = [0; LABEL_LEN];
        put_bytes(&mut self.label, 0, text);
        Ok(())
    }

    /// Returns whether the last unmount was clean.
    pub fn is_clean(&self) -> bool {
        self.state == STATE_CLEAN
    }
}

/// Block number of the superblock.
pub const SUPERBLOCK_BLOCK: u64 = 0;

// Compile-time check that the superblock fields end before the checksum.
const _: () = assert!(sb_off::RESERVED <= sb_off::CHECKSUM && BLOCK_SIZE_U64 == 4096);
