// SPDX-License-Identifier: GPL-2.0

//! A file's block map: its extents in memory, and their on-disk form.
//!
//! On disk the first [`INLINE_EXTENTS`] extents sit in the inode and the
//! rest in a chain of overflow blocks. In memory a [`BlockMap`] holds them
//! all in one sorted vector, loaded at `iget` and stored back by
//! `write_inode`. The vector is `kvmalloc`ed: a file of millions of
//! extents needs no large physically contiguous allocation, and a file
//! may have at most [`MAX_EXTENTS`] (a write needing more gets `EFBIG`, as
//! XFS's extent count limit). Overflow blocks are allocated while extents
//! are added (where `ENOSPC` can still be returned to the writer), so that
//! storing the map never needs to allocate.

use crate::{
    errors::{self, Loc},
    alloc,
    format::{
        self, check_extent_order, extent_block_get, extent_block_init, extent_block_set, seal_block, Extent,
        ExtentBlockHeader, Inode as DiskInode, EXTENTS_PER_BLOCK, INLINE_EXTENTS, MAX_EXTENT_LEN,
    },
    kext::fs::sb::SuperBlock,
    meta, Rsfs,
};
// Allocations here happen under the inode's state lock: each is made in a
// NOFS scope (see `inode::StateGuard`).
use crate::kext::mm::nofs;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec},
    prelude::*,
};

/// Most extents a file may have (48 MiB of memory at 24 bytes each). An
/// allocating write past it fails with `EFBIG`; the conversion of blocks
/// already allocated may go a little beyond (each split adds two).
pub(crate) const MAX_EXTENTS: usize = 1 << 21;

/// What a file block maps to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Found {
    /// Extent `Extent`, trimmed to start at the block asked for.
    Mapped(Extent),
    /// A hole of this many blocks (up to the next extent; `u64::MAX` if
    /// none follows).
    Hole(u64),
}

/// A file's extents, sorted by logical block, never overlapping, with
/// neighbours merged where possible; plus its overflow chain.
pub(crate) struct BlockMap {
    extents: KVVec<Extent>,
    /// Overflow blocks owned, in chain order. May be longer than the
    /// extents need (reserved); `store` frees the surplus.
    chain: KVVec<u64>,
    /// Data blocks mapped (the sum of the extents' lengths).
    data_blocks: u64,
    /// Bumped whenever blocks leave the map, so that a cached mapping
    /// (writeback) knows it may be stale.
    pub(crate) seq: u64,
    /// Extents changed since the map was last stored, so that `store`
    /// rewrites (and a transaction logs) only the overflow blocks holding
    /// them: from index `shifted` on every extent moved (an insert or a
    /// removal; `usize::MAX`: none), and `changed.0 .. changed.1` were
    /// changed in place (empty: none).
    shifted: usize,
    changed: (usize, usize),
    /// Overflow blocks the chain on disk had at the last store or load.
    stored_chain: usize,
}

fn chain_needed(extents: usize) -> usize {
    extents.saturating_sub(INLINE_EXTENTS).div_ceil(EXTENTS_PER_BLOCK)
}

impl BlockMap {
    /// An empty map.
    pub(crate) const fn new() -> Self {
        BlockMap { extents: KVVec::new(), chain: KVVec::new(), data_blocks: 0, seq: 0, shifted: usize::MAX, changed: (usize::MAX, 0), stored_chain: 0 }
    }

    /// Data blocks mapped.
    pub(crate) fn data_blocks(&self) -> u64 {
        self.data_blocks
    }

    /// Blocks owned: data plus the overflow blocks the extents need.
    pub(crate) fn owned_blocks(&self) -> u64 {
        self.data_blocks() + chain_needed(self.extents.len()) as u64
    }

    /// One past the last mapped file block (0 if none).
    pub(crate) fn end(&self) -> u64 {
        self.extents.last().map_or(0, |e| e.logical_end())
    }

    /// Index of the first extent ending after `lblk`.
    fn index_after(&self, lblk: u64) -> usize {
        self.extents.partition_point(|e| e.logical_end() <= lblk)
    }

    /// Maps file block `lblk`.
    pub(crate) fn lookup(&self, lblk: u64) -> Found {
        let i = self.index_after(lblk);
        match self.extents.get(i) {
            Some(e) if e.contains(lblk) => {
                let skip = lblk - u64::from(e.logical);
                Found::Mapped(Extent {
                    logical: lblk as u32,
                    len: e.len - skip as u32,
                    unwritten: e.unwritten,
                    physical: e.physical + skip,
                })
            }
            Some(e) => Found::Hole(u64::from(e.logical) - lblk),
            None => Found::Hole(u64::MAX),
        }
    }

    /// The disk block just past the extent before `lblk`: where an
    /// allocation for `lblk` should go to stay contiguous.
    pub(crate) fn goal_for(&self, lblk: u64) -> u64 {
        let i = self.index_after(lblk);
        match i.checked_sub(1).and_then(|p| self.extents.get(p)) {
            Some(e) => e.physical + (lblk - u64::from(e.logical)).min(u64::from(e.len)),
            None => 0,
        }
    }

    /// Extents from index `i` on moved (and the one before may have grown
    /// into a merge).
    fn touch_shifted(&mut self, i: usize) {
        self.shifted = self.shifted.min(i.saturating_sub(1));
    }

    /// Extent `i` changed in place (and the one before may have grown).
    fn touch_at(&mut self, i: usize) {
        self.changed = (self.changed.0.min(i.saturating_sub(1)), self.changed.1.max(i + 1));
    }

    /// The overflow blocks `store` must rewrite, as a range of chain
    /// indexes: those holding changed extents, every one from the first
    /// moved extent on, and the old last one if the chain's length changed
    /// (its `next` link and count).
    fn dirty_chain_range(&self) -> (usize, usize) {
        let need = chain_needed(self.extents.len());
        let block = |i: usize| i.saturating_sub(INLINE_EXTENTS) / EXTENTS_PER_BLOCK;
        let (mut first, mut end) = (need, 0);
        if self.changed.0 < self.changed.1 {
            first = block(self.changed.0);
            end = block(self.changed.1 - 1) + 1;
        }
        if self.shifted != usize::MAX {
            first = first.min(block(self.shifted));
            end = need;
        }
        if need != self.stored_chain {
            first = first.min(self.stored_chain.min(need).saturating_sub(1));
            end = need;
        }
        let end = end.min(need);
        (first.min(end), end)
    }

    /// Overflow blocks the next `store` rewrites (for a transaction's
    /// credits).
    pub(crate) fn dirty_chain_blocks(&self) -> usize {
        let (first, end) = self.dirty_chain_range();
        end.saturating_sub(first)
    }

    fn insert_at(&mut self, i: usize, e: Extent) -> Result {
        nofs(|| self.extents.push(e, GFP_KERNEL))?;
        self.touch_shifted(i);
        self.extents[i..].rotate_right(1);
        Ok(())
    }

    fn remove_at(&mut self, i: usize) {
        self.touch_shifted(i);
        if i < self.extents.len() {
            self.extents[i..].rotate_left(1);
            let n = self.extents.len() - 1;
            // SAFETY: shrinking; the element moved past the end is `Copy`
            // and needs no drop.
            unsafe { self.extents.set_len(n) };
        }
    }

    /// Adds `e` (which must not overlap the map), merging with neighbours.
    pub(crate) fn insert(&mut self, e: Extent) -> Result {
        let i = self.index_after(u64::from(e.logical));
        if let Some(next) = self.extents.get(i) {
            if u64::from(next.logical) < e.logical_end() {
                pr_err!("block map: extent {:?} overlaps {:?}\n", e, next);
                return Err(crate::kext::error::more::euclean());
            }
        }
        // A merge grows extent i - 1 or i in place; an insert moves the
        // rest (`insert_at`, `remove_at` say so themselves).
        self.touch_at(i);
        let merge_prev = i > 0 && self.extents[i - 1].is_contiguous_with(&e);
        let merge_next = i < self.extents.len() && e.is_contiguous_with(&self.extents[i]);
        match (merge_prev, merge_next) {
            (true, true) if self.extents[i - 1].is_contiguous_with(&Extent { len: e.len + self.extents[i].len, ..e }) => {
                let next_len = self.extents[i].len;
                self.extents[i - 1].len += e.len + next_len;
                self.remove_at(i);
            }
            (true, _) => self.extents[i - 1].len += e.len,
            (false, true) => {
                let n = &mut self.extents[i];
                n.logical = e.logical;
                n.physical = e.physical;
                n.len += e.len;
            }
            (false, false) => self.insert_at(i, e)?,
        }
        self.data_blocks += u64::from(e.len);
        Ok(())
    }

    /// Records that file blocks `lblk .. lblk + len` hold data: unwritten
    /// extents there become written (split where the range ends inside).
    /// Returns whether anything changed. On an error (no memory for a
    /// split) the extent being converted is left as it was.
    pub(crate) fn mark_written(&mut self, lblk: u64, len: u64) -> Result<bool> {
        let end = lblk + len;
        let mut pos = lblk;
        let mut changed = false;
        while pos < end {
            let i = self.index_after(pos);
            let Some(&e) = self.extents.get(i) else { break };
            if !e.contains(pos) {
                pos = u64::from(e.logical);
                continue;
            }
            let (start, e_end) = (u64::from(e.logical), e.logical_end());
            let stop = end.min(e_end);
            if !e.unwritten {
                pos = stop;
                continue;
            }
            // Room for the two pieces a split adds, before anything
            // changes: after this nothing below can fail.
            nofs(|| self.extents.reserve(2, GFP_KERNEL))?;
            let piece = |from: u64, to: u64, unwritten: bool| Extent {
                logical: from as u32,
                len: (to - from) as u32,
                unwritten,
                physical: e.physical + (from - start),
            };
            let mut at = i;
            self.touch_at(i);
            self.extents[i] = piece(pos, stop, false);
            if start < pos {
                self.insert_at(i, piece(start, pos, true))?;
                at = i + 1;
            }
            if stop < e_end {
                self.insert_at(at + 1, piece(stop, e_end, true))?;
            }
            self.merge_around(at);
            changed = true;
            pos = stop;
        }
        Ok(changed)
    }

    /// Merges extent `i` with its neighbours where they continue it.
    fn merge_around(&mut self, i: usize) {
        if i + 1 < self.extents.len() && self.extents[i].is_contiguous_with(&self.extents[i + 1]) {
            self.extents[i].len += self.extents[i + 1].len;
            self.remove_at(i + 1);
        }
        if i > 0 && i < self.extents.len() && self.extents[i - 1].is_contiguous_with(&self.extents[i]) {
            self.extents[i - 1].len += self.extents[i].len;
            self.remove_at(i);
        }
    }

    /// Calls `f(start, len)` for every disk range the map owns: its
    /// extents, then its overflow blocks.
    pub(crate) fn for_each_block_range(&self, mut f: impl FnMut(u64, u64)) {
        for e in self.extents.iter() {
            f(e.physical, u64::from(e.len));
        }
        for &block in self.chain.iter() {
            f(block, 1);
        }
    }

    /// Checks that no disk block is mapped twice (by two extents, or an
    /// extent and an overflow block): for directories and symlinks, whose
    /// blocks are metadata, a shared block would be changed through two
    /// owners. O(n log n), on a copy.
    pub(crate) fn check_no_shared_blocks(&self) -> Result<core::result::Result<(), format::FormatError>> {
        let mut ranges = KVVec::with_capacity(self.extents.len() + self.chain.len(), GFP_KERNEL)?;
        self.for_each_block_range(|start, len| {
            // Cannot fail: the capacity is there.
            let _ = ranges.push((start, len), GFP_KERNEL);
        });
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            if pair[0].0.saturating_add(pair[0].1) > pair[1].0 {
                return Ok(Err(format::FormatError::SharedBlocks));
            }
        }
        Ok(Ok(()))
    }

    /// Extents in the map.
    pub(crate) fn len(&self) -> usize {
        self.extents.len()
    }

    /// Removes every block from file block `from` on; returns the freed
    /// disk ranges through `free` (called with the map still locked).
    pub(crate) fn truncate(&mut self, from: u64, mut free_range: impl FnMut(u64, u64)) {
        let mut freed = 0;
        let mut free = |start: u64, len: u64| {
            freed += len;
            free_range(start, len);
        };
        let i = self.index_after(from);
        // Extent i may shrink in place, and the new last one's block
        // loses the rest (its count changes).
        self.touch_at(i);
        let mut keep = i;
        if let Some(e) = self.extents.get_mut(i) {
            if u64::from(e.logical) < from {
                let kept = (from - u64::from(e.logical)) as u32;
                free(e.physical + u64::from(kept), u64::from(e.len - kept));
                e.len = kept;
                keep = i + 1;
            }
        }
        for e in self.extents.iter().skip(keep) {
            free(e.physical, u64::from(e.len));
        }
        if keep < self.extents.len() {
            // SAFETY: shrinking a vector of `Copy` extents.
            unsafe { self.extents.set_len(keep) };
        }
        self.data_blocks -= freed;
        self.seq += 1;
    }

    /// Makes sure the overflow chain can hold `extra` more extents than
    /// the map has, allocating overflow blocks near `goal`.
    pub(crate) fn reserve(&mut self, sb: &SuperBlock<Rsfs>, extra: usize, goal: u64) -> Result {
        let need = chain_needed(self.extents.len() + extra);
        while self.chain.len() < need {
            let (block, _) = alloc::alloc_blocks(sb, goal, 1)?;
            if let Err(e) = nofs(|| self.chain.push(block, GFP_KERNEL)) {
                let _ = meta::free_blocks(sb, block, 1, true);
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Reads the map of inode `ino` from its disk inode and overflow chain.
    pub(crate) fn load(sb: &SuperBlock<Rsfs>, ino: u64, d: &DiskInode) -> Result<BlockMap> {
        let g = &sb.info().geometry;
        let mut map = BlockMap::new();
        let bad = |e| errors::corrupt(sb, "extents", Loc::Inode(ino), e);
        let push = |map: &mut BlockMap, e: Extent| -> Result {
            e.check(g).map_err(bad)?;
            check_extent_order(map.extents.last(), &e).map_err(bad)?;
            nofs(|| map.extents.push(e, GFP_KERNEL))?;
            map.data_blocks += u64::from(e.len);
            Ok(())
        };
        for i in 0..d.inline_extent_count() {
            let e = d.inline_extent(i).ok_or(EINVAL)?;
            push(&mut map, e)?;
        }
        let mut remaining = d.overflow_extent_count();
        let mut next = d.extent_overflow;
        while next != 0 {
            if remaining == 0 || map.chain.len() as u64 > g.total_blocks {
                return Err(bad(format::FormatError::BadExtentBlock));
            }
            crate::kext::task::yield_killable()?;
            let buf = meta::read(sb, next)?;
            let h = ExtentBlockHeader::decode_for(&*buf.data(), ino).map_err(|e| errors::corrupt(sb, "extent block", Loc::Block(next), e))?;
            if h.count == 0 || u64::from(h.count) > remaining {
                return Err(errors::corrupt(sb, "extent block", Loc::Block(next), format::FormatError::BadExtentBlock));
            }
            for i in 0..h.count as usize {
                let e = extent_block_get(&*buf.data(), i).ok_or(EINVAL)?;
                push(&mut map, e)?;
            }
            remaining -= u64::from(h.count);
            nofs(|| map.chain.push(next, GFP_KERNEL))?;
            next = h.next;
        }
        map.stored_chain = map.chain.len();
        if remaining != 0 {
            return Err(bad(format::FormatError::BadExtentBlock));
        }
        Ok(map)
    }

    /// Stores the map into disk inode `d` and the overflow chain, freeing
    /// overflow blocks no longer needed.
    pub(crate) fn store(&mut self, sb: &SuperBlock<Rsfs>, ino: u64, d: &mut DiskInode) -> Result {
        let need = chain_needed(self.extents.len());
        if self.chain.len() < need {
            // `reserve` was skipped (cannot happen); allocate now.
            self.reserve(sb, 0, 0)?;
        }
        while self.chain.len() > need {
            let block = self.chain[self.chain.len() - 1];
            meta::free_blocks(sb, block, 1, true)?;
            // SAFETY: shrinking a vector of `u64`.
            unsafe { self.chain.set_len(self.chain.len() - 1) };
        }
        d.inline = [0; format::INLINE_SIZE];
        for (i, e) in self.extents.iter().take(INLINE_EXTENTS).enumerate() {
            d.set_inline_extent(i, e).map_err(|_| EINVAL)?;
        }
        let (first, end) = self.dirty_chain_range();
        let rest = self.extents.get(INLINE_EXTENTS..).unwrap_or(&[]);
        for (n, chunk) in rest.chunks(EXTENTS_PER_BLOCK).enumerate().skip(first).take(end.saturating_sub(first)) {
            let block = self.chain[n];
            let next = self.chain.get(n + 1).copied().unwrap_or(0);
            let mut buf = meta::new_block(sb, block)?;
            meta::modify(sb, &mut buf, |b| -> Result {
                extent_block_init(b, ino, next);
                for (i, e) in chunk.iter().enumerate() {
                    extent_block_set(b, i, e).map_err(|_| EINVAL)?;
                }
                ExtentBlockHeader { count: chunk.len() as u32, next, owner_ino: ino }.encode(b);
                seal_block(b);
                Ok(())
            })??;
        }
        self.shifted = usize::MAX;
        self.changed = (usize::MAX, 0);
        self.stored_chain = need;
        d.extent_count = self.extents.len() as u32;
        d.extent_overflow = self.chain.first().copied().unwrap_or(0);
        d.blocks = self.owned_blocks();
        Ok(())
    }

    /// Frees every overflow block (the inode is being deleted).
    pub(crate) fn free_chain(&mut self, sb: &SuperBlock<Rsfs>) {
        for &block in self.chain.iter() {
            let _ = meta::free_blocks(sb, block, 1, true);
        }
        // SAFETY: emptying a vector of `u64`.
        unsafe { self.chain.set_len(0) };
    }
}

/// Longest extent a single allocation may create.
pub(crate) const MAX_ALLOC: u32 = if MAX_EXTENT_LEN < 1 << 16 { MAX_EXTENT_LEN } else { 1 << 16 };
