// SPDX-License-Identifier: GPL-2.0

//! Extents, and the extent overflow blocks that hold the ones that do not fit
//! in an inode.

use super::le::{get_u32, get_u64, put_u32, put_u64};
use super::{block_checksum_ok, Block, FormatError, Geometry};

/// Size of one encoded extent.
pub const EXTENT_SIZE: usize = 16;
/// Flag in the on-disk `len` field: allocated but unwritten, reads as zeros.
pub const EXTENT_UNWRITTEN: u32 = 1 << 31;
/// Largest extent length in blocks (the `len` field without the flag).
pub const MAX_EXTENT_LEN: u32 = EXTENT_UNWRITTEN - 1;
/// Number of logical blocks a file can address (logical block numbers are `u32`).
pub const MAX_FILE_BLOCKS: u64 = 1 << 32;

/// Extent overflow block magic: `"RSEX"` as a little-endian `u32`.
pub const EXTENT_BLOCK_MAGIC: u32 = 0x5845_5352;
/// Size of the extent overflow block header; extents follow it.
pub const EXTENT_BLOCK_HEADER_SIZE: usize = 32;
/// Extents in one overflow block: as many as fit between the header and the
/// checksum (`(4092 - 32) / 16`).
pub const EXTENTS_PER_BLOCK: usize =
    (super::BLOCK_CHECKSUM_OFFSET - EXTENT_BLOCK_HEADER_SIZE) / EXTENT_SIZE;

/// Extent overflow block field offsets.
pub mod ext_off {
    /// `magic: u32`
    pub const MAGIC: usize = 0;
    /// `count: u32`, extents in this block
    pub const COUNT: usize = 4;
    /// `next: u64`, next overflow block or 0
    pub const NEXT: usize = 8;
    /// `owner_ino: u64`
    pub const OWNER: usize = 16;
    /// Two reserved `u32`s (zero).
    pub const RESERVED: usize = 24;
    /// First extent.
    pub const EXTENTS: usize = 32;
}

/// A run of file blocks mapped to a run of disk blocks.
///
/// On disk: `logical: u32`, `len: u32` (bit 31: [`EXTENT_UNWRITTEN`]),
/// `physical: u64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    /// First file block (in units of [`super::BLOCK_SIZE`]).
    pub logical: u32,
    /// Length in blocks, without the unwritten flag; 1 ..= [`MAX_EXTENT_LEN`].
    pub len: u32,
    /// Allocated but never written: reads as zeros.
    pub unwritten: bool,
    /// First disk block.
    pub physical: u64,
}

impl Extent {
    /// Decodes an extent. Never fails; use [`Extent::check`] on the result.
    pub fn decode(raw: &[u8; EXTENT_SIZE]) -> Extent {
        Self::decode_at(raw, 0)
    }

    /// Decodes the extent at byte `off` of `buf` (zeros beyond the buffer).
    pub(super) fn decode_at(buf: &[u8], off: usize) -> Extent {
        let len = get_u32(buf, off.saturating_add(4));
        Extent {
            logical: get_u32(buf, off),
            len: len & MAX_EXTENT_LEN,
            unwritten: len & EXTENT_UNWRITTEN != 0,
            physical: get_u64(buf, off.saturating_add(8)),
        }
    }

    /// Encodes the extent.
    pub fn encode(&self, out: &mut [u8; EXTENT_SIZE]) {
        self.encode_at(out, 0);
    }

    pub(super) fn encode_at(&self, buf: &mut [u8], off: usize) {
        let mut len = self.len & MAX_EXTENT_LEN;
        if self.unwritten {
            len |= EXTENT_UNWRITTEN;
        }
        put_u32(buf, off, self.logical);
        put_u32(buf, off.saturating_add(4), len);
        put_u64(buf, off.saturating_add(8), self.physical);
    }

    /// One past the last file block (`logical + len`, never overflows).
    pub fn logical_end(&self) -> u64 {
        u64::from(self.logical).saturating_add(u64::from(self.len))
    }

    /// One past the last disk block, or `None` on overflow.
    pub fn physical_end(&self) -> Option<u64> {
        self.physical.checked_add(u64::from(self.len))
    }

    /// Checks the extent on its own: non-zero length, file range addressable,
    /// disk range inside the data region of `geometry`.
    pub fn check(&self, geometry: &Geometry) -> Result<(), FormatError> {
        if self.len == 0 || self.len > MAX_EXTENT_LEN || self.logical_end() > MAX_FILE_BLOCKS {
            return Err(FormatError::BadExtent);
        }
        if !geometry.is_data_range(self.physical, u64::from(self.len)) {
            return Err(FormatError::BadExtent);
        }
        Ok(())
    }

    /// Returns whether file block `logical` is inside this extent.
    pub fn contains(&self, logical: u64) -> bool {
        logical >= u64::from(self.logical) && logical < self.logical_end()
    }

    /// Maps file block `logical` to its disk block, if inside this extent.
    pub fn map(&self, logical: u64) -> Option<u64> {
        if !self.contains(logical) {
            return None;
        }
        self.physical
            .checked_add(logical.checked_sub(u64::from(self.logical))?)
    }

    /// Returns whether `next` continues this extent in both file and disk
    /// space with the same written state, so the two can be merged.
    pub fn is_contiguous_with(&self, next: &Extent) -> bool {
        self.unwritten == next.unwritten
            && self.logical_end() == u64::from(next.logical)
            && self.physical_end() == Some(next.physical)
            && u64::from(self.len).saturating_add(u64::from(next.len)) <= u64::from(MAX_EXTENT_LEN)
    }
}

/// Checks that `next` comes after `prev` in a file's extent list: sorted by
/// logical block and not overlapping.
pub fn check_extent_order(prev: Option<&Extent>, next: &Extent) -> Result<(), FormatError> {
    match prev {
        Some(p) if p.logical_end() > u64::from(next.logical) => Err(FormatError::ExtentOrder),
        _ => Ok(()),
    }
}

/// The header of an extent overflow block.
///
/// Layout: `magic: u32` ("RSEX"), `count: u32`, `next: u64`, `owner_ino: u64`,
/// two reserved `u32`s, then `count` extents from byte 32, checksum at 4092.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtentBlockHeader {
    /// Extents in this block, 0 ..= [`EXTENTS_PER_BLOCK`].
    pub count: u32,
    /// Next block of the chain, or 0 for the last one.
    pub next: u64,
    /// The inode this block belongs to.
    pub owner_ino: u64,
}

impl ExtentBlockHeader {
    /// Decodes and checks an overflow block header: magic, checksum, count.
    pub fn decode(buf: &Block) -> Result<ExtentBlockHeader, FormatError> {
        if get_u32(buf, ext_off::MAGIC) != EXTENT_BLOCK_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if !block_checksum_ok(buf) {
            return Err(FormatError::BadChecksum);
        }
        let count = get_u32(buf, ext_off::COUNT);
        if count as usize > EXTENTS_PER_BLOCK {
            return Err(FormatError::BadExtentBlock);
        }
        Ok(ExtentBlockHeader {
            count,
            next: get_u64(buf, ext_off::NEXT),
            owner_ino: get_u64(buf, ext_off::OWNER),
        })
    }

    /// Like [`ExtentBlockHeader::decode`], and checks that the block belongs
    /// to inode `owner`.
    pub fn decode_for(buf: &Block, owner: u64) -> Result<ExtentBlockHeader, FormatError> {
        let h = Self::decode(buf)?;
        if h.owner_ino != owner {
            return Err(FormatError::BadOwner);
        }
        Ok(h)
    }

    /// Writes the header fields (magic included; reserved fields zeroed).
    /// Does not touch the extents or the checksum: call
    /// [`super::seal_block`] after the last change.
    pub fn encode(&self, buf: &mut Block) {
        put_u32(buf, ext_off::MAGIC, EXTENT_BLOCK_MAGIC);
        put_u32(buf, ext_off::COUNT, self.count);
        put_u64(buf, ext_off::NEXT, self.next);
        put_u64(buf, ext_off::OWNER, self.owner_ino);
        put_u64(buf, ext_off::RESERVED, 0);
    }
}

/// Initialises `buf` as an empty overflow block of inode `owner` (all other
/// bytes zero). Seal it before writing.
pub fn extent_block_init(buf: &mut Block, owner: u64, next: u64) {
    for b in buf.iter_mut() {
        *b = 0;
    }
    ExtentBlockHeader {
        count: 0,
        next,
        owner_ino: owner,
    }
    .encode(buf);
}

fn extent_block_offset(i: usize) -> Option<usize> {
    if i >= EXTENTS_PER_BLOCK {
        return None;
    }
    i.checked_mul(EXTENT_SIZE)?.checked_add(ext_off::EXTENTS)
}

/// Returns extent `i` of an overflow block (`None` if `i` is beyond the
/// block's capacity; the caller checks `i` against the header's count).
pub fn extent_block_get(buf: &Block, i: usize) -> Option<Extent> {
    extent_block_offset(i).map(|off| Extent::decode_at(buf, off))
}

/// Stores extent `i` of an overflow block. Does not change the count.
pub fn extent_block_set(buf: &mut Block, i: usize, extent: &Extent) -> Result<(), FormatError> {
    let off = extent_block_offset(i).ok_or(FormatError::OutOfRange)?;
    extent.encode_at(buf, off);
    Ok(())
}
