// SPDX-License-Identifier: GPL-2.0

//! The medium behind one device: what it stores, what is durable, and
//! whether it has power.
//!
//! A [`Media`] outlives the disk that the block layer sees: powering a
//! device off removes its disk, powering it on makes a new one over the
//! same medium, which holds exactly what was durable at the cut. Every
//! request checks the power first; while it is off, I/O fails with `EIO`.
//!
//! Without a cache (`cache_size=0`) every completed write is durable and
//! the data path takes no lock. With one, writes, flushes and the cut
//! serialise on the cache lock ([`crate::cache`] says how the cache is
//! emulated).

use crate::{
    cache::{Lost, WriteCache},
    faults::Faults,
    kext::{mm::PageSlice, rcu::RcuReadGuard},
    storage::{pages_of, MemoryStore},
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{error::Error, init::PinInit, new_spinlock, prelude::*, sync::SpinLock};

/// Bytes in a page.
const PAGE_BYTES: u64 = crate::kext::mm::PAGE_SIZE as u64;

/// One device's medium.
#[pin_data]
pub(crate) struct Media {
    store: MemoryStore,
    /// The volatile cache, while powered with `cache_size` set.
    #[pin]
    cache: SpinLock<Option<WriteCache>>,
    powered: AtomicBool,
    /// Whether `cache` is `Some`; set only while no disk exists, so the
    /// uncached data path can skip the lock.
    cached: AtomicBool,
    #[pin]
    pub(crate) faults: Faults,
}

impl Media {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            store: MemoryStore::new()?,
            cache <- new_spinlock!(None, "rsnull_cache"),
            powered: AtomicBool::new(false),
            cached: AtomicBool::new(false),
            faults <- Faults::new(),
        }? Error)
    }

    /// Whether the medium has power.
    pub(crate) fn powered(&self) -> bool {
        self.powered.load(Ordering::Acquire)
    }

    /// Powers on, with a volatile cache of `cache_pages` pages (0: none).
    pub(crate) fn power_on(&self, cache_pages: usize) -> Result {
        let cache = if cache_pages > 0 { Some(WriteCache::new(cache_pages)?) } else { None };
        let old = {
            let mut c = self.cache.lock();
            self.cached.store(cache.is_some(), Ordering::Relaxed);
            self.powered.store(true, Ordering::Release);
            core::mem::replace(&mut *c, cache)
        };
        // Freed outside the spinlock (the page map's drop waits for RCU).
        drop(old);
        Ok(())
    }

    /// Cuts the power: what the cache held that was not durable is lost,
    /// and every request from now on fails. Returns `None` if the power
    /// was already off. May be called from `queue_rq` (a crash point).
    pub(crate) fn power_cut(&self) -> Option<Lost> {
        let mut c = self.cache.lock();
        if !self.powered.swap(false, Ordering::AcqRel) {
            return None;
        }
        Some(match c.as_mut() {
            Some(cache) => cache.cut(&self.store),
            None => Lost { writes: 0, pages: 0 },
        })
    }

    /// Pages of memory the medium holds.
    pub(crate) fn nr_pages(&self) -> usize {
        self.store.nr_pages()
    }

    /// Copies device bytes from `pos` on into `dst`.
    pub(crate) fn read(&self, pos: u64, dst: &PageSlice<'_>) {
        self.store.read(pos, dst);
    }

    /// Writes `segments` (`bytes` in all) at `pos`; `fua`: durable at once.
    /// `ENOMEM` if memory ran short (the write may be retried whole);
    /// `EIO` if the power is off.
    pub(crate) fn write<'a>(
        &self,
        pos: u64,
        bytes: u64,
        fua: bool,
        segments: impl Iterator<Item = PageSlice<'a>> + Clone,
    ) -> Result {
        if !self.cached.load(Ordering::Relaxed) {
            return if self.powered() { self.write_store(pos, segments) } else { Err(EIO) };
        }
        self.with_cache(|cache| {
            let guard = RcuReadGuard::new();
            for page in pages_of(pos, bytes) {
                cache.save(&self.store, page, &guard)?;
            }
            self.write_store(pos, segments.clone())?;
            if fua {
                let mut at = pos;
                for seg in segments {
                    // A segment lies within one request page; it may
                    // straddle two device pages when the request is not
                    // page-aligned.
                    let mut done = 0;
                    while done < seg.len() {
                        let off = (at % PAGE_BYTES) as usize;
                        let n = (seg.len() - done).min(PAGE_BYTES as usize - off);
                        if let Some(part) = seg.sub(done, n) {
                            cache.make_durable(at / PAGE_BYTES, off, &part, &guard);
                        }
                        done += n;
                        at += n as u64;
                    }
                }
            }
            cache.note_write();
            Ok(())
        })
    }

    /// Runs `f` on the cache under its lock; `EIO` if the power is off.
    fn with_cache(&self, f: impl FnOnce(&mut WriteCache) -> Result) -> Result {
        let mut c = self.cache.lock();
        match c.as_mut() {
            Some(cache) if self.powered() => f(cache),
            _ => Err(EIO),
        }
    }

    fn write_store<'a>(&self, mut pos: u64, segments: impl Iterator<Item = PageSlice<'a>>) -> Result {
        for seg in segments {
            self.store.write(pos, &seg)?;
            pos += seg.len() as u64;
        }
        Ok(())
    }

    /// Makes `len` bytes at `pos` read as zeros (discard, write-zeroes).
    pub(crate) fn zero(&self, pos: u64, len: u64) -> Result {
        if !self.cached.load(Ordering::Relaxed) {
            if !self.powered() {
                return Err(EIO);
            }
            self.store.zero_range(pos, len, true);
            return Ok(());
        }
        self.with_cache(|cache| {
            let guard = RcuReadGuard::new();
            for page in pages_of(pos, len) {
                // A page that was never written stays a hole: nothing to undo.
                if self.store.page(page, &guard).is_some() {
                    cache.save(&self.store, page, &guard)?;
                }
            }
            self.store.zero_range(pos, len, false);
            cache.note_write();
            Ok(())
        })
    }

    /// A flush: everything written so far is durable. `EIO` if the power
    /// is off (and then nothing was made durable by it).
    pub(crate) fn flush(&self) -> Result {
        if !self.cached.load(Ordering::Relaxed) {
            return if self.powered() { Ok(()) } else { Err(EIO) };
        }
        self.with_cache(|cache| {
            cache.flush();
            Ok(())
        })
    }
}
