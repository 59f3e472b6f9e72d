// SPDX-License-Identifier: GPL-2.0

//! A list of bad sector ranges: the kernel's `struct badblocks`, as md and
//! null_blk use it.
//!
//! C header: [`include/linux/badblocks.h`](srctree/include/linux/badblocks.h)
//!
//! The list locks itself (a seqlock): lookups are lock-free and may run in
//! any context, changes take the lock with interrupts off.

use crate::kext::{bindings, configfs::Page, error::from_ret};
use kernel::{
    error::{code, Error, Result},
    init::PinInit,
    prelude::*,
    types::Opaque,
};

/// The most sectors one call into the C list may name (it takes an `int`).
const CHUNK_SECTORS: u64 = 1 << 30;

/// A list of bad 512-byte sectors.
///
/// # Invariants
///
/// `bb` was set up by `badblocks_init` (enabled) and is torn down once, by
/// `drop`.
#[pin_data(PinnedDrop)]
pub struct BadBlocks {
    #[pin]
    bb: Opaque<bindings::badblocks>,
}

// SAFETY: the C list serialises every access with its own seqlock.
unsafe impl Send for BadBlocks {}
// SAFETY: as above.
unsafe impl Sync for BadBlocks {}

impl BadBlocks {
    /// An empty, enabled list.
    pub fn new() -> impl PinInit<Self, Error> {
        // SAFETY: on success the closure has initialised the only field in
        // place (INVARIANT: with `badblocks_init`); on failure nothing needs
        // undoing (`badblocks_init` frees what it allocated).
        unsafe {
            kernel::init::pin_init_from_closure(|slot: *mut Self| {
                let bb = Opaque::raw_get(core::ptr::addr_of!((*slot).bb));
                from_ret(bindings::badblocks_init(bb, 1))
            })
        }
    }

    /// Whether any sector of `start .. start + sectors` is bad.
    pub fn any_bad(&self, start: u64, sectors: u64) -> bool {
        let mut start = start;
        let end = start.saturating_add(sectors);
        while start < end {
            let n = (end - start).min(CHUNK_SECTORS);
            let (mut first_bad, mut bad_sectors) = (0u64, 0i32);
            // SAFETY: the list is initialised (type invariant); the out
            // parameters are valid locals.
            let r = unsafe { bindings::badblocks_check(self.bb.get(), start, n as i32, &mut first_bad, &mut bad_sectors) };
            if r != 0 {
                return true;
            }
            start += n;
        }
        false
    }

    /// Marks `start .. start + sectors` bad. `ENOSPC` if the list is full.
    pub fn set(&self, start: u64, sectors: u64) -> Result {
        self.each_chunk(start, sectors, |s, n| {
            // SAFETY: the list is initialised; the C code takes its lock.
            unsafe { bindings::badblocks_set(self.bb.get(), s, n, 1) }
        })
    }

    /// Marks `start .. start + sectors` good again.
    pub fn clear(&self, start: u64, sectors: u64) -> Result {
        self.each_chunk(start, sectors, |s, n| {
            // SAFETY: as in `set`.
            unsafe { bindings::badblocks_clear(self.bb.get(), s, n) }
        })
    }

    fn each_chunk(&self, start: u64, sectors: u64, mut f: impl FnMut(u64, i32) -> i32) -> Result {
        let end = start.checked_add(sectors).ok_or(code::EINVAL)?;
        let mut s = start;
        while s < end {
            let n = (end - s).min(CHUNK_SECTORS);
            // The C calls return 0 on success and 1 when the list is full.
            if f(s, n as i32) != 0 {
                return Err(code::ENOSPC);
            }
            s += n;
        }
        Ok(())
    }

    /// Writes the list as `badblocks_show` does: one `START LENGTH` line
    /// per range, in sectors.
    pub fn show(&self, out: &mut Page) {
        if !out.is_empty() {
            return; // `badblocks_show` fills a whole, empty page.
        }
        // SAFETY: the list is initialised; the page is configfs's PAGE_SIZE
        // buffer, empty so far, which is what `badblocks_show` fills.
        let n = unsafe { bindings::badblocks_show(self.bb.get(), out.tail_ptr(), 0) };
        out.advance(usize::try_from(n).unwrap_or(0));
    }
}

#[pinned_drop]
impl PinnedDrop for BadBlocks {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: initialised in `new` (type invariant), torn down once here.
        unsafe { bindings::badblocks_exit(self.bb.get()) };
    }
}
