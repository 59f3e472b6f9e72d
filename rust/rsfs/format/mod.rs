// SPDX-License-Identifier: GPL-2.0

//! The on-disk format of rsfs, version 1.1 (1.0 without the journal).
//!
//! This is the single definition of the format. The kernel module compiles it
//! as `pub mod format` (through `#[path]`) and the userspace tools compile the
//! very same files through the `tools/rsfs-format` crate, so the two can not
//! drift apart. `Documentation/rsfs-format.md` describes the format in prose.
//!
//! Rules for everything under this directory, because it runs in the kernel
//! on bytes read from a possibly hostile disk:
//!
//! - `core` only: no `std`, no `alloc`, no floating point, no `unsafe`.
//! - No panics on any input: no indexing that can go out of bounds, no
//!   `unwrap`, no unchecked arithmetic on values read from disk. Decoders
//!   return [`FormatError`].
//! - Every integer is little-endian at an explicit byte offset; structures
//!   are encoded into and decoded from fixed-size byte arrays.
//!
//! Layout of a filesystem of `total_blocks` blocks of [`BLOCK_SIZE`] bytes:
//!
//! ```text
//! block 0        superblock                       (Superblock)
//! 1 ..           journal (1.1; 1.0: reserved)     journal_blocks
//! ..             block bitmap                     block_bitmap_blocks
//! ..             inode bitmap                     inode_bitmap_blocks
//! ..             inode table, 16 inodes a block   inode_table_blocks
//! data_start ..  data blocks: file and directory data, extent overflow
//!                blocks, long symlink targets     up to total_blocks
//! ```

mod bitmap;
mod crc32c;
mod dir;
mod extent;
mod inode;
mod journal;
mod le;
mod superblock;

pub use bitmap::*;
pub use crc32c::*;
pub use dir::*;
pub use extent::*;
pub use inode::*;
pub use journal::*;
pub use superblock::*;

/// Size of every filesystem block, in bytes.
pub const BLOCK_SIZE: usize = 4096;

/// `BLOCK_SIZE` as a `u64`, for arithmetic on block numbers.
pub const BLOCK_SIZE_U64: u64 = 4096;

/// `log2(BLOCK_SIZE)`.
pub const BLOCK_SHIFT: u32 = 12;

/// One filesystem block.
pub type Block = [u8; BLOCK_SIZE];

/// Offset of the trailing CRC-32C in checksummed blocks (superblock, extent
/// overflow blocks, directory blocks). It covers bytes `0..BLOCK_CHECKSUM_OFFSET`.
pub const BLOCK_CHECKSUM_OFFSET: usize = 4092;

/// Why on-disk bytes were rejected, or why an operation on a buffer failed.
///
/// Each variant has a short, fixed message ([`FormatError::as_str`]) that the
/// kernel and the tools print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The magic number is wrong: not an rsfs structure.
    BadMagic,
    /// The major version is not one this code understands.
    UnsupportedVersion,
    /// The block size is not 4096.
    BadBlockSize,
    /// The stored CRC-32C does not match the contents.
    BadChecksum,
    /// The superblock has incompatible feature bits this code does not know.
    IncompatFeatures,
    /// The superblock's regions are not contiguous and in order.
    BadLayout,
    /// The block bitmap is not exactly as many blocks as the block count
    /// needs (the allocator walks every bitmap block).
    BadBlockBitmapSize,
    /// The inode bitmap is not exactly as many blocks as the inode count needs.
    BadInodeBitmapSize,
    /// The inode table is not exactly as many blocks as the inode count
    /// needs, or the inode count does not fill its last block.
    BadInodeTableSize,
    /// There is no room for data blocks (metadata fills the filesystem).
    NoDataBlocks,
    /// The filesystem is larger than the device it is on.
    FsLargerThanDevice,
    /// More blocks than the format supports.
    TooManyBlocks,
    /// More inodes than the format supports, or fewer than two.
    BadInodeCount,
    /// The free block count exceeds the number of data blocks.
    BadFreeBlocks,
    /// The free inode count exceeds the number of allocatable inodes.
    BadFreeInodes,
    /// The root inode number is not 1.
    BadRootIno,
    /// The state field is neither clean nor dirty.
    BadState,
    /// An inode number is 0 or beyond the inode count.
    BadInodeNumber,
    /// An inode's mode has an unknown file type.
    BadMode,
    /// An inode has unknown flag bits, or a flag not valid for its type.
    BadFlags,
    /// An inode's size is impossible for its type and mapping.
    BadSize,
    /// A nanoseconds field is 1e9 or more.
    BadTimestamp,
    /// An inode's `dir_parent` is wrong for its type.
    BadParent,
    /// An inode's extent count does not fit its overflow pointer or type.
    BadExtentCount,
    /// An extent has length 0, or its ranges overflow or leave the data region.
    BadExtent,
    /// Extents are not sorted by logical block, or overlap.
    ExtentOrder,
    /// An extent overflow block's header is invalid (count too large).
    BadExtentBlock,
    /// The journal does not match the filesystem: its superblock's length
    /// or start index, or a committed transaction that names a block the
    /// journal may not log ([`Geometry::is_journal_home`]).
    BadJournal,
    /// The journal feature is set but the journal region is shorter than
    /// [`MIN_JOURNAL_BLOCKS`].
    JournalTooSmall,
    /// Two extents of one inode, or an extent and an overflow block, share
    /// a disk block.
    SharedBlocks,
    /// A block's owner inode is not the inode that points to it.
    BadOwner,
    /// A symlink's target is empty, too long, or contains a NUL byte.
    BadSymlink,
    /// A directory entry's record length is invalid.
    BadRecLen,
    /// A name is empty, too long, contains `/` or NUL, or is `.` or `..`.
    BadName,
    /// A directory entry's file type is not a valid `DT_*` value.
    BadFileType,
    /// There is no room for the entry in this directory block.
    NoSpace,
    /// No entry has that name.
    NotFound,
    /// A bit or slot index is beyond the buffer.
    OutOfRange,
}

impl FormatError {
    /// A short human-readable description.
    pub const fn as_str(&self) -> &'static str {
        match self {
            FormatError::BadMagic => "bad magic number",
            FormatError::UnsupportedVersion => "unsupported format version",
            FormatError::BadBlockSize => "unsupported block size",
            FormatError::BadChecksum => "checksum mismatch",
            FormatError::IncompatFeatures => "unknown incompatible features",
            FormatError::BadLayout => "metadata regions are not contiguous and in order",
            FormatError::BadBlockBitmapSize => "block bitmap size does not match the block count",
            FormatError::BadInodeBitmapSize => "inode bitmap size does not match the inode count",
            FormatError::BadInodeTableSize => "inode table size does not match the inode count",
            FormatError::NoDataBlocks => "no room for data blocks",
            FormatError::FsLargerThanDevice => "filesystem is larger than the device",
            FormatError::TooManyBlocks => "block count too large",
            FormatError::BadInodeCount => "invalid inode count",
            FormatError::BadFreeBlocks => "free block count larger than data blocks",
            FormatError::BadFreeInodes => "free inode count larger than inodes",
            FormatError::BadRootIno => "root inode is not 1",
            FormatError::BadState => "invalid state",
            FormatError::BadInodeNumber => "inode number out of range",
            FormatError::BadMode => "invalid file mode",
            FormatError::BadFlags => "invalid inode flags",
            FormatError::BadSize => "invalid size",
            FormatError::BadTimestamp => "invalid timestamp",
            FormatError::BadParent => "invalid parent directory",
            FormatError::BadExtentCount => "invalid extent count",
            FormatError::BadExtent => "invalid extent",
            FormatError::ExtentOrder => "extents unsorted or overlapping",
            FormatError::SharedBlocks => "a disk block is mapped twice",
            FormatError::BadJournal => "journal does not match the filesystem",
            FormatError::JournalTooSmall => "journal region too small for a journal",
            FormatError::BadExtentBlock => "invalid extent block header",
            FormatError::BadOwner => "block owned by another inode",
            FormatError::BadSymlink => "invalid symlink target",
            FormatError::BadRecLen => "invalid directory record length",
            FormatError::BadName => "invalid name",
            FormatError::BadFileType => "invalid directory entry file type",
            FormatError::NoSpace => "no space in directory block",
            FormatError::NotFound => "no such entry",
            FormatError::OutOfRange => "index out of range",
        }
    }
}

/// Computes the checksum of a checksummed block: CRC-32C of bytes
/// `0..BLOCK_CHECKSUM_OFFSET`.
pub fn block_checksum(block: &Block) -> u32 {
    match block.get(..BLOCK_CHECKSUM_OFFSET) {
        Some(covered) => crc32c(covered),
        None => 0,
    }
}

/// Returns the checksum stored in the last four bytes of a checksummed block.
pub fn stored_block_checksum(block: &Block) -> u32 {
    le::get_u32(block, BLOCK_CHECKSUM_OFFSET)
}

/// Returns whether a checksummed block's stored checksum matches its contents.
pub fn block_checksum_ok(block: &Block) -> bool {
    stored_block_checksum(block) == block_checksum(block)
}

/// Stores the checksum of a checksummed block in its last four bytes.
///
/// Call this after the last change to a superblock, extent overflow block or
/// directory block and before writing it out.
pub fn seal_block(block: &mut Block) {
    let sum = block_checksum(block);
    le::put_u32(block, BLOCK_CHECKSUM_OFFSET, sum);
}
