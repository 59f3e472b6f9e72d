// SPDX-License-Identifier: GPL-2.0

//! Mounting a filesystem that was not cleanly unmounted.
//!
//! rsfs has no journal yet: after a crash the bitmaps may have lost updates
//! that the inodes they describe did not (or the other way round). A block
//! a file uses but the bitmap calls free would be handed to the next
//! writer — anyone's file could take over another's data. So a read-write
//! mount of an unclean filesystem first walks the inode table and marks
//! used every inode in use and every block one claims (data, directory and
//! symlink blocks, extent overflow blocks), plus the metadata region; then
//! recounts the free blocks and inodes from the bitmaps.
//!
//! Nothing is ever freed here: a block the bitmap calls used that no inode
//! claims stays used (a leak, which `fsck.rsfs` reclaims), because freeing
//! it on a guess could be the very double allocation this prevents. An
//! inode that cannot be read is reported and skipped; fsck repairs it.

use crate::{
    extents::BlockMap,
    format::{bitmap_count_zeros, bitmap_get, bitmap_set_range, BITS_PER_BLOCK},
    kext::{fs::sb::SuperBlock, task::yield_killable},
    meta, Rsfs,
};
use kernel::prelude::*;

/// What the walk found missing from the bitmaps.
#[derive(Default)]
struct Claimed {
    blocks: u64,
    inodes: u64,
    unreadable: u64,
}

/// Marks used every inode in use and every block an inode claims; see the
/// module documentation. Runs at mount, before anyone else sees the
/// filesystem.
pub(crate) fn claim_used(sb: &SuperBlock<Rsfs>) -> Result {
    let g = sb.info().geometry;
    let mut claimed = Claimed::default();
    claimed.blocks += mark(sb, Map::Blocks, 0, g.data_start)?;
    claimed.inodes += mark(sb, Map::Inodes, 0, 1)?;
    // Bits past the end are set, as mkfs leaves them.
    mark(sb, Map::Blocks, g.total_blocks, u64::MAX)?;
    mark(sb, Map::Inodes, g.inode_count, u64::MAX)?;
    for ino in 1..g.inode_count {
        yield_killable()?;
        let d = match meta::read_inode(sb, ino) {
            Ok(d) if d.is_free() => continue,
            Ok(d) => d,
            Err(e) if e == EIO || e == EINTR => return Err(e),
            Err(_) => {
                claimed.unreadable += 1;
                continue;
            }
        };
        claimed.inodes += mark(sb, Map::Inodes, ino, 1)?;
        let map = match BlockMap::load(sb, ino, &d) {
            Ok(map) => map,
            Err(e) if e == EIO || e == ENOMEM || e == EINTR => return Err(e),
            Err(_) => {
                claimed.unreadable += 1;
                continue;
            }
        };
        let mut result = Ok(());
        map.for_each_block_range(|start, len| {
            if result.is_ok() && g.is_data_range(start, len) {
                match mark(sb, Map::Blocks, start, len) {
                    Ok(n) => claimed.blocks += n,
                    Err(e) => result = Err(e),
                }
            }
        });
        result?;
    }
    recount(sb)?;
    let id = sb.raw().id().to_str().unwrap_or("?");
    if claimed.blocks != 0 || claimed.inodes != 0 {
        pr_warn!(
            "{}: not cleanly unmounted: {} block(s) and {} inode(s) in use were marked free; now marked used\n",
            id,
            claimed.blocks,
            claimed.inodes
        );
    }
    if claimed.unreadable != 0 {
        pr_warn!("{}: {} inode(s) could not be read; run fsck.rsfs\n", id, claimed.unreadable);
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Map {
    Blocks,
    Inodes,
}

/// Sets bits `start .. start + len` of a bitmap (up to the end of its
/// last block); returns how many were clear.
fn mark(sb: &SuperBlock<Rsfs>, which: Map, start: u64, len: u64) -> Result<u64> {
    let g = &sb.info().geometry;
    let (first, blocks) = match which {
        Map::Blocks => (g.block_bitmap_start, g.block_bitmap_blocks),
        Map::Inodes => (g.inode_bitmap_start, g.inode_bitmap_blocks),
    };
    let end = start.saturating_add(len).min(blocks.saturating_mul(BITS_PER_BLOCK));
    let _alloc = sb.info().alloc.lock();
    let mut newly = 0;
    let mut bit = start;
    while bit < end {
        let (index, offset) = (bit / BITS_PER_BLOCK, bit % BITS_PER_BLOCK);
        let n = (end - bit).min(BITS_PER_BLOCK - offset);
        let mut buf = meta::read_fixed(sb, first + index)?;
        let clear = (offset..offset + n).filter(|&b| bitmap_get(&*buf.data(), b) == Ok(false)).count() as u64;
        if clear != 0 {
            buf.modify(|b| bitmap_set_range(b, offset, offset + n, true));
            newly += clear;
        }
        bit += n;
    }
    Ok(newly)
}

/// Sets the free counts from the bitmaps.
fn recount(sb: &SuperBlock<Rsfs>) -> Result {
    let g = &sb.info().geometry;
    let count = |first: u64, blocks: u64, bits: u64| -> Result<u64> {
        let mut free = 0;
        for index in 0..blocks {
            let limit = bits.saturating_sub(index * BITS_PER_BLOCK).min(BITS_PER_BLOCK);
            let buf = meta::read_fixed(sb, first + index)?;
            free += bitmap_count_zeros(&*buf.data(), limit);
        }
        Ok(free)
    };
    let mut st = sb.info().alloc.lock();
    st.sb.free_blocks = count(g.block_bitmap_start, g.block_bitmap_blocks, g.total_blocks)?;
    st.sb.free_inodes = count(g.inode_bitmap_start, g.inode_bitmap_blocks, g.inode_count)?;
    Ok(())
}
