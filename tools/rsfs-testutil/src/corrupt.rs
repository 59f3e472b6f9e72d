// SPDX-License-Identifier: GPL-2.0

//! Damaging a valid rsfs superblock in exactly one way, for the mount tests.
//!
//! Each [`Kind`] changes block 0 so that the shared format code
//! ([`Superblock::decode_and_validate`], what a mount does) rejects it with
//! one specific [`FormatError`]: only the magic, only the checksum, or only
//! the geometry (with the checksum recomputed, so a mount that checks the
//! CRC but not the geometry is caught). [`apply`] checks that this is so
//! before anything is written, so a corruption test cannot silently test
//! something else.

use rsfs_format::{sb_off, seal_block, Block, FormatError, Superblock, BITS_PER_BLOCK, INODES_PER_BLOCK};

/// One way to damage a superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The magic number is wrong (nothing else is changed).
    Magic,
    /// A field (`free_blocks`) changed to another plausible value without
    /// updating the CRC: only the checksum is wrong.
    Crc,
    /// The major version is 2, CRC recomputed.
    Version,
    /// `total_blocks` is larger than the device (but still covered by the
    /// block bitmap), CRC recomputed.
    TooBig,
    /// The block bitmap starts beyond the end of the filesystem, CRC
    /// recomputed.
    Layout,
    /// `inode_count` needs more inode table blocks than there are, CRC
    /// recomputed.
    InodeTable,
    /// One block bitmap block more than the block count needs, the later
    /// regions shifted up by one so that the layout stays contiguous, CRC
    /// recomputed (the image that once made the kernel's allocator panic).
    BitmapSize,
}

/// Every kind, in the order the tests use them.
pub const KINDS: &[Kind] = &[
    Kind::Magic,
    Kind::Crc,
    Kind::Version,
    Kind::TooBig,
    Kind::Layout,
    Kind::InodeTable,
    Kind::BitmapSize,
];

impl Kind {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Magic => "magic",
            Kind::Crc => "crc",
            Kind::Version => "version",
            Kind::TooBig => "too-big",
            Kind::Layout => "layout",
            Kind::InodeTable => "inode-table",
            Kind::BitmapSize => "bitmap-size",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.iter().copied().find(|k| k.name() == s)
    }

    /// What the format code says about a superblock damaged this way.
    pub fn expected(self) -> FormatError {
        match self {
            Kind::Magic => FormatError::BadMagic,
            Kind::Crc => FormatError::BadChecksum,
            Kind::Version => FormatError::UnsupportedVersion,
            Kind::TooBig => FormatError::FsLargerThanDevice,
            Kind::Layout => FormatError::BadLayout,
            Kind::InodeTable => FormatError::BadInodeTableSize,
            Kind::BitmapSize => FormatError::BadBlockBitmapSize,
        }
    }
}

fn put_u16(b: &mut Block, off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut Block, off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut Block, off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Damages `block` (a valid block 0 on a device of `device_blocks` blocks)
/// the way `kind` says, and checks that the format code now rejects it with
/// exactly `kind.expected()`. On error `block` may be partly changed; do not
/// write it.
pub fn apply(kind: Kind, block: &mut Block, device_blocks: u64) -> Result<(), String> {
    let sb = Superblock::decode_and_validate(block, device_blocks)
        .map_err(|e| format!("the superblock is not valid to begin with: {}", e.as_str()))?;
    let g = sb.geometry;
    match kind {
        Kind::Magic => put_u32(block, sb_off::MAGIC, 0x4b4f_4f42),
        Kind::Crc => {
            let free = if sb.free_blocks > 0 {
                sb.free_blocks - 1
            } else {
                1
            };
            put_u64(block, sb_off::FREE_BLOCKS, free);
        }
        Kind::Version => {
            put_u16(block, sb_off::VERSION_MAJOR, 2);
            seal_block(block);
        }
        Kind::TooBig => {
            let room = g.block_bitmap_blocks.saturating_mul(BITS_PER_BLOCK);
            let total = room.min(device_blocks.saturating_add(1024));
            if total <= device_blocks {
                return Err(format!(
                    "the block bitmap covers only {room} blocks, not more than the device's {device_blocks}: \
                     use a device whose size in 4 KiB blocks is not a multiple of {BITS_PER_BLOCK}"
                ));
            }
            put_u64(block, sb_off::TOTAL_BLOCKS, total);
            seal_block(block);
        }
        Kind::Layout => {
            put_u64(block, sb_off::BLOCK_BITMAP_START, g.total_blocks + 8);
            seal_block(block);
        }
        Kind::InodeTable => {
            let count = g.inode_table_blocks * INODES_PER_BLOCK + INODES_PER_BLOCK;
            if g.inode_bitmap_blocks.saturating_mul(BITS_PER_BLOCK) < count {
                return Err("the inode bitmap is full: no room to claim more inodes than the table has".into());
            }
            put_u64(block, sb_off::INODE_COUNT, count);
            seal_block(block);
        }
        Kind::BitmapSize => {
            put_u64(block, sb_off::BLOCK_BITMAP_BLOCKS, g.block_bitmap_blocks + 1);
            put_u64(block, sb_off::INODE_BITMAP_START, g.inode_bitmap_start + 1);
            put_u64(block, sb_off::INODE_TABLE_START, g.inode_table_start + 1);
            put_u64(block, sb_off::DATA_START, g.data_start + 1);
            // One data block fewer: the free count must still fit.
            put_u64(block, sb_off::FREE_BLOCKS, sb.free_blocks.min(g.data_blocks() - 1));
            seal_block(block);
        }
    }
    match Superblock::decode_and_validate(block, device_blocks) {
        Err(e) if e == kind.expected() => Ok(()),
        Err(e) => Err(format!(
            "damaging the {} made the superblock fail with \"{}\", not \"{}\"",
            kind.name(),
            e.as_str(),
            kind.expected().as_str()
        )),
        Ok(_) => Err(format!("damaging the {} left a valid superblock", kind.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsfs_format::{block_checksum_ok, Geometry, BLOCK_SIZE};

    fn valid_block(total: u64, inodes: u64) -> Box<Block> {
        let g = Geometry::compute(total, inodes, 64).unwrap();
        let sb = Superblock::new(g, 1_700_000_000, [7; 16]);
        let mut b = Box::new([0u8; BLOCK_SIZE]);
        sb.encode(&mut b);
        b
    }

    #[test]
    fn every_kind_gives_exactly_its_error() {
        for &k in KINDS {
            let mut b = valid_block(20000, 5000);
            apply(k, &mut b, 20000).unwrap_or_else(|e| panic!("{}: {e}", k.name()));
            assert_eq!(
                Superblock::decode_and_validate(&b, 20000),
                Err(k.expected()),
                "{}",
                k.name()
            );
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(Kind::parse("nonsense"), None);
    }

    #[test]
    fn geometry_kinds_keep_a_good_checksum_and_crc_does_not() {
        for &k in KINDS {
            let mut b = valid_block(20000, 5000);
            apply(k, &mut b, 20000).unwrap();
            let sealed = block_checksum_ok(&b);
            match k {
                Kind::Crc => assert!(!sealed),
                Kind::Magic => {}
                _ => assert!(sealed, "{}", k.name()),
            }
        }
    }

    #[test]
    fn crc_changes_one_field_to_a_valid_value() {
        let mut b = valid_block(20000, 5000);
        apply(Kind::Crc, &mut b, 20000).unwrap();
        // With the checksum recomputed it would be a valid superblock:
        // only the checksum catches it.
        seal_block(&mut b);
        assert!(Superblock::decode_and_validate(&b, 20000).is_ok());
    }

    #[test]
    fn too_big_needs_bitmap_room_beyond_the_device() {
        // 32768 blocks fill one bitmap block exactly: no room to claim more.
        let mut b = valid_block(32768, 1024);
        assert!(apply(Kind::TooBig, &mut b, 32768).is_err());
        // A filesystem smaller than the device, claiming more than the device.
        let mut b = valid_block(10000, 1024);
        apply(Kind::TooBig, &mut b, 20000).unwrap();
        let sb = Superblock::decode(&b).unwrap();
        assert!(sb.geometry.total_blocks > 20000);
    }

    #[test]
    fn refuses_an_invalid_start() {
        let mut b = Box::new([0u8; BLOCK_SIZE]);
        assert!(apply(Kind::Magic, &mut b, 100).is_err());
    }
}
