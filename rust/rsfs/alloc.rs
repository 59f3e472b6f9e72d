// SPDX-License-Identifier: GPL-2.0

//! Block and inode allocation on the on-disk bitmaps.
//!
//! Both bitmaps are read and changed through [`meta`] under
//! `FsInfo::alloc`, which also holds the free counts. Block allocation
//! takes a goal (for file data: just past the file's previous block) and
//! returns the longest free run there, up to what was asked, so that a
//! file written sequentially gets contiguous blocks and its writeback
//! bios merge.

use crate::{
    errors::{self, Loc},
    format::{bitmap_find_zero, bitmap_get, bitmap_set_range, FormatError, BITS_PER_BLOCK, ROOT_INO},
    kext::fs::sb::SuperBlock,
    meta, Rsfs,
};
use kernel::prelude::*;

/// One on-disk bitmap: `blocks` blocks from `start`, `bits` bits in use.
#[derive(Clone, Copy)]
struct Bitmap {
    start: u64,
    blocks: u64,
    bits: u64,
}

/// Finds the first clear bit at or after `goal` (wrapping around once),
/// sets it and up to `want - 1` clear bits after it in the same bitmap
/// block, and returns (first bit, count). The caller holds
/// `FsInfo::alloc`.
fn take_bits(sb: &SuperBlock<Rsfs>, map: Bitmap, goal: u64, want: u64) -> Result<Option<(u64, u64)>> {
    if map.blocks == 0 {
        return Ok(None);
    }
    let goal = if goal < map.bits { goal } else { 0 };
    let first_index = goal / BITS_PER_BLOCK;
    let first_bit = goal % BITS_PER_BLOCK;
    // Every bitmap block once from the goal's on, then the start of the
    // goal's own block.
    for step in 0..=map.blocks {
        let index = (first_index + step) % map.blocks;
        let base = index * BITS_PER_BLOCK;
        // The geometry was validated (each bitmap exactly covers its bits),
        // but a block with no bits in use is skipped, never underflowed.
        let limit = map.bits.saturating_sub(base).min(BITS_PER_BLOCK);
        if limit == 0 {
            continue;
        }
        let (from, to) = match step {
            0 => (first_bit, limit),
            s if s == map.blocks => (0, first_bit.min(limit)),
            _ => (0, limit),
        };
        let mut buf = meta::read_fixed(sb, map.start + index)?;
        let Some(bit) = bitmap_find_zero(&*buf.data(), from, to) else {
            continue;
        };
        let mut len = 1;
        while len < want && bit + len < limit && bitmap_get(&*buf.data(), bit + len) == Ok(false) {
            len += 1;
        }
        meta::modify(sb, &mut buf, |b| bitmap_set_range(b, bit, bit + len, true))?;
        return Ok(Some((base + bit, len)));
    }
    Ok(None)
}

/// Allocates up to `want` contiguous blocks, starting the search at
/// `goal`. Returns (first block, count); `ENOSPC` when the disk is full.
pub(crate) fn alloc_blocks(sb: &SuperBlock<Rsfs>, goal: u64, want: u32) -> Result<(u64, u32)> {
    let info = sb.info();
    let g = &info.geometry;
    let mut st = info.alloc.lock();
    if st.sb.free_blocks == 0 {
        return Err(ENOSPC);
    }
    let goal = if g.is_data_range(goal, 1) { goal } else { st.block_goal };
    let want = u64::from(want.max(1)).min(st.sb.free_blocks);
    let map = Bitmap { start: g.block_bitmap_start, blocks: g.block_bitmap_blocks, bits: g.total_blocks };
    let Some((start, len)) = take_bits(sb, map, goal, want)? else {
        return Err(ENOSPC);
    };
    // mkfs marks the metadata region used; a clear bit there is corruption.
    if !g.is_data_range(start, len) {
        return Err(errors::corrupt(sb, "block bitmap", Loc::Block(start), FormatError::OutOfRange));
    }
    st.sb.free_blocks -= len;
    st.block_goal = start + len;
    Ok((start, len as u32))
}

/// Frees blocks `start .. start + len` now. Everyone else frees through
/// [`meta::free_blocks`]; the journal calls this when the transaction
/// that freed them commits.
pub(crate) fn release_blocks(sb: &SuperBlock<Rsfs>, start: u64, len: u64) -> Result {
    let info = sb.info();
    let g = &info.geometry;
    if !g.is_data_range(start, len) {
        return Err(errors::corrupt(sb, "extent", Loc::Block(start), FormatError::OutOfRange));
    }
    let mut st = info.alloc.lock();
    let mut block = start;
    let end = start + len;
    while block < end {
        let (map, bit) = g.block_bitmap_location(block).map_err(|_| EINVAL)?;
        let bit = bit as u64;
        let n = (end - block).min(BITS_PER_BLOCK - bit);
        let mut buf = meta::read_fixed(sb, map)?;
        let mut was_free = 0;
        for b in bit..bit + n {
            if bitmap_get(&*buf.data(), b) != Ok(true) {
                was_free += 1;
            }
        }
        if was_free != 0 {
            errors::inconsistent(sb, format_args!("freeing {} block(s) near {} that were already free", was_free, block));
        }
        meta::modify(sb, &mut buf, |b| bitmap_set_range(b, bit, bit + n, false))?;
        // Clamped: a free count too high on disk must not grow past the
        // data blocks (a superblock the mount check would refuse).
        st.sb.free_blocks = (st.sb.free_blocks + n - was_free).min(g.data_blocks());
        block += n;
    }
    Ok(())
}

/// Allocates an inode number; `ENOSPC` when none is left.
pub(crate) fn alloc_inode(sb: &SuperBlock<Rsfs>) -> Result<u64> {
    let info = sb.info();
    let g = &info.geometry;
    let mut st = info.alloc.lock();
    if st.sb.free_inodes == 0 {
        return Err(ENOSPC);
    }
    let map = Bitmap { start: g.inode_bitmap_start, blocks: g.inode_bitmap_blocks, bits: g.inode_count };
    let Some((ino, _)) = take_bits(sb, map, st.inode_goal, 1)? else {
        return Err(ENOSPC);
    };
    // mkfs marks slot 0 and the root used.
    if !g.is_valid_ino(ino) || ino == ROOT_INO {
        return Err(errors::corrupt(sb, "inode bitmap", Loc::Inode(ino), FormatError::OutOfRange));
    }
    st.sb.free_inodes -= 1;
    st.inode_goal = ino + 1;
    Ok(ino)
}

/// Frees inode number `ino`.
pub(crate) fn free_inode(sb: &SuperBlock<Rsfs>, ino: u64) -> Result {
    let info = sb.info();
    let g = &info.geometry;
    let (map, bit) = g.inode_bitmap_location(ino).map_err(|_| EINVAL)?;
    let bit = bit as u64;
    let mut st = info.alloc.lock();
    let mut buf = meta::read_fixed(sb, map)?;
    if bitmap_get(&*buf.data(), bit) != Ok(true) {
        errors::inconsistent(sb, format_args!("freeing inode {} that was already free", ino));
        return Ok(());
    }
    meta::modify(sb, &mut buf, |b| bitmap_set_range(b, bit, bit + 1, false))?;
    st.sb.free_inodes = (st.sb.free_inodes + 1).min(g.allocatable_inodes());
    if ino < st.inode_goal {
        st.inode_goal = ino;
    }
    Ok(())
}
