// SPDX-License-Identifier: GPL-2.0

//! The memory that backs a device: pages allocated on first write.
//!
//! Never-written ranges read as zeros. Discard and write-zeroes free whole
//! pages and zero partial ones. There is no device-wide lock: lookups are
//! RCU, and the pages are spread over [`SHARDS`] independent page maps so
//! that first writes from different queues rarely meet on one xarray lock.

use crate::kext::{
    mm::{Gfp, PageMap, PageSlice, PAGE_SIZE},
    rcu::RcuReadGuard,
};
use kernel::{
    alloc::{flags, KVec},
    error::{code, Result},
};

/// Number of page maps the device's pages are spread over.
const SHARDS: u64 = 16;

const PAGE_SHIFT: u32 = PAGE_SIZE.trailing_zeros();

/// Sparse memory for one device.
pub(crate) struct MemoryStore {
    shards: KVec<PageMap>,
}

impl MemoryStore {
    pub(crate) fn new() -> Result<Self> {
        let mut shards = KVec::with_capacity(SHARDS as usize, flags::GFP_KERNEL)?;
        for _ in 0..SHARDS {
            shards.push(PageMap::new()?, flags::GFP_KERNEL)?;
        }
        Ok(Self { shards })
    }

    /// The map that holds device page `page` and the page's index in it.
    fn locate(&self, page: u64) -> (&PageMap, u64) {
        // `shards` has exactly SHARDS entries, so the index is in range.
        (&self.shards[(page % SHARDS) as usize], page / SHARDS)
    }

    /// Pages currently allocated.
    pub(crate) fn nr_pages(&self) -> usize {
        self.shards.iter().map(PageMap::nr_pages).sum()
    }

    /// Copies device bytes starting at `pos` into `dst`.
    pub(crate) fn read(&self, mut pos: u64, dst: &PageSlice<'_>) {
        let guard = RcuReadGuard::new();
        let mut done = 0;
        while done < dst.len() {
            let (off, n) = chunk(pos, dst.len() - done);
            let Some(out) = dst.sub(done, n) else { return };
            let (map, idx) = self.locate(pos >> PAGE_SHIFT);
            match map.get(idx, &guard).and_then(|page| page.sub(off, n)) {
                Some(src) => out.copy_from(&src),
                None => out.zero(),
            }
            pos += n as u64;
            done += n;
        }
    }

    /// Copies `src` to the device bytes starting at `pos`.
    ///
    /// Fails with `ENOMEM` if a page could not be allocated without
    /// sleeping; the caller retries the whole request later (or fails it).
    pub(crate) fn write(&self, mut pos: u64, src: &PageSlice<'_>) -> Result {
        let guard = RcuReadGuard::new();
        let mut done = 0;
        while done < src.len() {
            let (off, n) = chunk(pos, src.len() - done);
            let (map, idx) = self.locate(pos >> PAGE_SHIFT);
            let page = map.get_or_alloc(idx, Gfp::NOWAIT, &guard)?;
            let (Some(dst), Some(from)) = (page.sub(off, n), src.sub(done, n)) else {
                return Err(code::EINVAL);
            };
            dst.copy_from(&from);
            pos += n as u64;
            done += n;
        }
        Ok(())
    }

    /// Makes `len` bytes at `pos` read back as zeros. `free_pages`: whole
    /// pages are freed (else zeroed in place: the write cache's saved
    /// copies expect every page they saved to stay).
    pub(crate) fn zero_range(&self, mut pos: u64, len: u64, free_pages: bool) {
        let end = pos.saturating_add(len);
        let guard = RcuReadGuard::new();
        while pos < end {
            let (off, n) = chunk(pos, usize::try_from(end - pos).unwrap_or(usize::MAX));
            let (map, idx) = self.locate(pos >> PAGE_SHIFT);
            if n == PAGE_SIZE && free_pages {
                map.remove(idx);
            } else if let Some(part) = map.get(idx, &guard).and_then(|page| page.sub(off, n)) {
                part.zero();
            }
            pos += n as u64;
        }
    }

    /// Device page `page`, if it was ever written.
    pub(crate) fn page<'g>(&self, page: u64, guard: &'g RcuReadGuard) -> Option<PageSlice<'g>> {
        let (map, idx) = self.locate(page);
        map.get(idx, guard)
    }

    /// Device page `page`, allocated (zeroed, without sleeping) if needed.
    pub(crate) fn page_or_alloc<'g>(&self, page: u64, guard: &'g RcuReadGuard) -> Result<PageSlice<'g>> {
        let (map, idx) = self.locate(page);
        map.get_or_alloc(idx, Gfp::NOWAIT, guard)
    }
}

/// The device pages that bytes `pos .. pos + len` touch.
pub(crate) fn pages_of(pos: u64, len: u64) -> core::ops::Range<u64> {
    let first = pos >> PAGE_SHIFT;
    let end = pos.saturating_add(len).div_ceil(PAGE_SIZE as u64);
    first..end.max(first)
}

/// The offset of `pos` in its page and how many of `want` bytes fit there.
fn chunk(pos: u64, want: usize) -> (usize, usize) {
    let off = (pos & (PAGE_SIZE as u64 - 1)) as usize;
    (off, want.min(PAGE_SIZE - off))
}
