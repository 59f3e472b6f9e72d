// SPDX-License-Identifier: GPL-2.0

//! The emulated volatile write cache (`cache_size`).
//!
//! A real disk with a write cache acknowledges a write once it is in the
//! cache; only a flush (or a FUA write) makes it durable, and a power cut
//! loses whatever was not. rsnull keeps one copy of the data, in the
//! store, where reads find it, and emulates the cache by remembering, for
//! every page written since the last flush, what the page held before:
//! an undo log. Then:
//!
//! - a write saves the old contents of each page it touches (once per page
//!   between flushes), then writes the store as without a cache;
//! - a flush forgets the saved copies: everything written is now durable;
//! - a power cut puts every saved copy back: the store holds exactly what
//!   was durable;
//! - a FUA write also writes its bytes into the saved copies, so that a
//!   power cut keeps them while it undoes the page's other unflushed
//!   writes (a page that did not exist is saved as zeros, and made to
//!   exist, so that a cut can always copy back);
//! - a full cache (more saved pages than `cache_size` holds) forgets its
//!   oldest copies: those pages were written back and are durable.
//!
//! Reads need no lookup in the cache, flushes copy nothing, and a cut
//! needs no memory. What the cache loses at a cut is all of a page's
//! unflushed writes together, which is one of the outcomes a real cache
//! allows.

use crate::kext::{
    mm::{Gfp, PageMap, PageSlice},
    rcu::RcuReadGuard,
};
use crate::storage::MemoryStore;
use kernel::{
    alloc::{flags, KVVec},
    error::Result,
};

/// The undo log of one device; lives under the device's cache lock.
pub(crate) struct WriteCache {
    /// The saved pages: each page's contents before its first write since
    /// the last flush (zeros for a page that did not exist).
    saved: PageMap,
    /// Saved page numbers, oldest first: a ring of `ring.len()` slots,
    /// `len` of them used from `head`.
    ring: KVVec<u64>,
    head: usize,
    len: usize,
    /// Write requests since the last flush, for the power-cut report.
    unflushed_writes: u64,
}

/// What a power cut lost.
pub(crate) struct Lost {
    /// Write requests acknowledged since the last flush.
    pub(crate) writes: u64,
    /// Pages put back to their durable contents.
    pub(crate) pages: usize,
}

impl WriteCache {
    /// A cache of `capacity_pages` pages (at least one).
    pub(crate) fn new(capacity_pages: usize) -> Result<Self> {
        let capacity = capacity_pages.max(1);
        // kvmalloc: a 1 GiB cache's ring is 2 MiB.
        let ring = KVVec::from_elem(0, capacity, flags::GFP_KERNEL)?;
        Ok(Self { saved: PageMap::new()?, ring, head: 0, len: 0, unflushed_writes: 0 })
    }

    /// Saves what device page `page` holds now, unless it was saved since
    /// the last flush. `ENOMEM` if no page could be had without sleeping.
    pub(crate) fn save(&mut self, store: &MemoryStore, page: u64, guard: &RcuReadGuard) -> Result {
        if self.saved.get(page, guard).is_some() {
            return Ok(());
        }
        if self.len == self.ring.len() {
            self.write_back_oldest();
        }
        // The page is made to exist (zeroed) if it did not, so that a cut
        // has a page to copy the saved contents back into.
        let current = store.page_or_alloc(page, guard)?;
        let copy = self.saved.get_or_alloc(page, Gfp::NOWAIT, guard)?;
        copy.copy_from(&current);
        let slot = (self.head + self.len) % self.ring.len();
        self.ring[slot] = page;
        self.len += 1;
        Ok(())
    }

    /// A FUA write put `data` at byte `offset` of device page `page`: it
    /// is durable, so a cut must keep it.
    pub(crate) fn make_durable(&self, page: u64, offset: usize, data: &PageSlice<'_>, guard: &RcuReadGuard) {
        if let Some(dst) = self.saved.get(page, guard).and_then(|p| p.sub(offset, data.len())) {
            dst.copy_from(data);
        }
    }

    /// Counts one acknowledged write request.
    pub(crate) fn note_write(&mut self) {
        self.unflushed_writes += 1;
    }

    /// The oldest saved page leaves the cache: its current contents are
    /// durable from now on.
    fn write_back_oldest(&mut self) {
        self.saved.remove(self.ring[self.head]);
        self.head = (self.head + 1) % self.ring.len();
        self.len -= 1;
    }

    /// A flush: everything written is durable.
    pub(crate) fn flush(&mut self) {
        while self.len > 0 {
            self.write_back_oldest();
        }
        self.head = 0;
        self.unflushed_writes = 0;
    }

    /// A power cut: every page goes back to its durable contents.
    pub(crate) fn cut(&mut self, store: &MemoryStore) -> Lost {
        let lost = Lost { writes: self.unflushed_writes, pages: self.len };
        let guard = RcuReadGuard::new();
        for i in 0..self.len {
            let page = self.ring[(self.head + i) % self.ring.len()];
            // `save` made the page exist, and the store never frees a page
            // while a cache is on (discards zero in place).
            if let (Some(saved), Some(current)) = (self.saved.get(page, &guard), store.page(page, &guard)) {
                current.copy_from(&saved);
            }
        }
        drop(guard);
        self.flush();
        lost
    }
}
