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
    format::{bitmap_find_zero, bitmap_get, bitmap_set_range, BITS_PER_BLOCK},
    kext::fs::sb::SuperBlock,
    meta, Rsfs,
};
use kernel::prelude::*;

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
    let goal = if g.is_data_range(goal, 1) { goal } else { g.data_start };
    let want = u64::from(want.max(1)).min(st.sb.free_blocks);
    let (first_map, first_bit) = g.block_bitmap_location(goal).map_err(|_| EINVAL)?;
    let first_index = first_map - g.block_bitmap_start;
    let maps = g.block_bitmap_blocks;
    // Every bitmap block once from the goal on, then the start of the
    // goal's own block (wrapping around).
    for step in 0..=maps {
        let index = (first_index + step) % maps;
        let base = index * BITS_PER_BLOCK;
        let limit = (g.total_blocks - base).min(BITS_PER_BLOCK);
        let (from, to) = match step {
            0 => (first_bit as u64, limit),
            s if s == maps => (0, (first_bit as u64).min(limit)),
            _ => (0, limit),
        };
        let mut buf = meta::read_fixed(sb, g.block_bitmap_start + index)?;
        let Some(bit) = bitmap_find_zero(buf.data(), from, to) else {
            continue;
        };
        let mut len = 1;
        while len < want && bit + len < limit && bitmap_get(buf.data(), bit + len) == Ok(false) {
            len += 1;
        }
        let start = base + bit;
        if !g.is_data_range(start, len) {
            return Err(meta::corrupt("block bitmap", g.block_bitmap_start + index, crate::format::FormatError::OutOfRange));
        }
        buf.modify(|b| bitmap_set_range(b, bit, bit + len, true));
        st.sb.free_blocks -= len;
        st.block_goal = start + len;
        return Ok((start, len as u32));
    }
    Err(ENOSPC)
}

/// Frees blocks `start .. start + len`.
pub(crate) fn free_blocks(sb: &SuperBlock<Rsfs>, start: u64, len: u64) -> Result {
    let info = sb.info();
    let g = &info.geometry;
    if !g.is_data_range(start, len) {
        return Err(meta::corrupt("extent", start, crate::format::FormatError::OutOfRange));
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
            if bitmap_get(buf.data(), b) != Ok(true) {
                was_free += 1;
            }
        }
        if was_free != 0 {
            pr_err!("freeing {} block(s) near {} that were already free; run fsck.rsfs\n", was_free, block);
        }
        buf.modify(|b| bitmap_set_range(b, bit, bit + n, false));
        st.sb.free_blocks += n - was_free;
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
    let goal = if g.is_valid_ino(st.inode_goal) { st.inode_goal } else { 1 };
    let (first_map, first_bit) = g.inode_bitmap_location(goal).map_err(|_| EINVAL)?;
    let first_index = first_map - g.inode_bitmap_start;
    let maps = g.inode_bitmap_blocks;
    for step in 0..=maps {
        let index = (first_index + step) % maps;
        let base = index * BITS_PER_BLOCK;
        let limit = (g.inode_count - base).min(BITS_PER_BLOCK);
        let (from, to) = match step {
            0 => (first_bit as u64, limit),
            s if s == maps => (0, (first_bit as u64).min(limit)),
            _ => (0, limit),
        };
        let mut buf = meta::read_fixed(sb, g.inode_bitmap_start + index)?;
        let Some(bit) = bitmap_find_zero(buf.data(), from, to) else {
            continue;
        };
        let ino = base + bit;
        if !g.is_valid_ino(ino) || ino == crate::format::ROOT_INO {
            return Err(meta::corrupt("inode bitmap", g.inode_bitmap_start + index, crate::format::FormatError::OutOfRange));
        }
        buf.modify(|b| bitmap_set_range(b, bit, bit + 1, true));
        st.sb.free_inodes -= 1;
        st.inode_goal = ino + 1;
        return Ok(ino);
    }
    Err(ENOSPC)
}

/// Frees inode number `ino`.
pub(crate) fn free_inode(sb: &SuperBlock<Rsfs>, ino: u64) -> Result {
    let info = sb.info();
    let g = &info.geometry;
    let (map, bit) = g.inode_bitmap_location(ino).map_err(|_| EINVAL)?;
    let bit = bit as u64;
    let mut st = info.alloc.lock();
    let mut buf = meta::read_fixed(sb, map)?;
    if bitmap_get(buf.data(), bit) != Ok(true) {
        pr_err!("freeing inode {} that was already free; run fsck.rsfs\n", ino);
        return Ok(());
    }
    buf.modify(|b| bitmap_set_range(b, bit, bit + 1, false));
    st.sb.free_inodes += 1;
    if ino < st.inode_goal {
        st.inode_goal = ino;
    }
    Ok(())
}
