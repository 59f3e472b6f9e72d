// SPDX-License-Identifier: GPL-2.0

//! Pages: byte ranges of pages and a sparse, lazily populated page array.
//!
//! C headers: [`include/linux/highmem.h`](srctree/include/linux/highmem.h),
//! [`include/linux/xarray.h`](srctree/include/linux/xarray.h)

use crate::kext::{bindings, rcu::RcuReadGuard};
use core::{
    ffi::c_void,
    marker::PhantomData,
    ptr::{self, NonNull},
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::{
    alloc::{flags, KBox},
    error::{code, Result},
    types::Opaque,
};

/// Size of a page in bytes.
pub const PAGE_SIZE: usize = 1 << bindings::PAGE_SHIFT;

/// Allocation flags, as in `include/linux/gfp_types.h`.
#[derive(Clone, Copy)]
pub struct Gfp(bindings::gfp_t);

impl Gfp {
    /// May not sleep; may dip into reserves. For atomic context.
    pub const ATOMIC: Gfp = Gfp(bindings::KEXT_GFP_ATOMIC | bindings::KEXT_GFP_NOWARN);
    /// May not sleep, no reserves; failure is expected and handled.
    pub const NOWAIT: Gfp = Gfp(bindings::KEXT_GFP_NOWAIT | bindings::KEXT_GFP_NOWARN);
    /// May sleep, but must not recurse into I/O (block drivers, writeback).
    pub const NOIO: Gfp = Gfp(bindings::KEXT_GFP_NOIO);
    /// Ordinary process-context allocation.
    pub const KERNEL: Gfp = Gfp(bindings::KEXT_GFP_KERNEL);
}

/// A byte range within one page that the holder may read and write for
/// lifetime `'a`.
///
/// Page contents are treated as foreign memory, as C does: they are only
/// ever accessed through raw pointers by [`PageSlice::copy_from`] and
/// [`PageSlice::zero`], never through Rust references, because other agents
/// (DMA, user mappings, the page cache) may access the same bytes.
pub struct PageSlice<'a> {
    page: NonNull<bindings::page>,
    offset: usize,
    len: usize,
    _lifetime: PhantomData<&'a ()>,
}

impl<'a> PageSlice<'a> {
    /// Creates a slice of `len` bytes at `offset` in `page`.
    ///
    /// Returns `None` if the range does not fit in one page.
    ///
    /// # Safety
    ///
    /// `page` must point to a page that stays allocated for `'a`, and the
    /// caller must be entitled to access those bytes for `'a`.
    pub unsafe fn new(page: *mut bindings::page, offset: usize, len: usize) -> Option<Self> {
        let end = offset.checked_add(len)?;
        if end > PAGE_SIZE {
            return None;
        }
        Some(Self {
            page: NonNull::new(page)?,
            offset,
            len,
            _lifetime: PhantomData,
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sub-slice `[offset, offset + len)` of this slice, if it fits.
    pub fn sub(&self, offset: usize, len: usize) -> Option<PageSlice<'a>> {
        if offset.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: the sub-range lies inside `self`, which satisfies the
        // requirements of `new` for `'a`.
        unsafe { PageSlice::new(self.page.as_ptr(), self.offset + offset, len) }
    }

    /// Copies `min(self.len(), src.len())` bytes from `src` into `self`.
    pub fn copy_from(&self, src: &PageSlice<'_>) {
        let len = self.len.min(src.len);
        // SAFETY: both pages are valid for the slices' lifetimes (type
        // invariant), so they can be mapped.
        let (dst_map, src_map) = unsafe {
            (
                bindings::kext_kmap_local_page(self.page.as_ptr()),
                bindings::kext_kmap_local_page(src.page.as_ptr()),
            )
        };
        // SAFETY: each mapping covers its whole page and `offset + len` is
        // within the page for both (type invariant, `len` is the smaller one).
        let (from, to) = unsafe { (src_map.cast::<u8>().add(src.offset), dst_map.cast::<u8>().add(self.offset)) };
        if self.page == src.page {
            // SAFETY: as above; `ptr::copy` tolerates the overlap that two
            // slices of one page may have.
            unsafe { ptr::copy(from, to, len) };
        } else {
            // Distinct pages are mapped at distinct, disjoint addresses, so
            // memcpy is allowed. It is also what null_blk uses, and on CPUs
            // with ERMS but not FSRM (QEMU's TCG CPU among them) the kernel's
            // memmove is `rep movsb`, which TCG runs a byte at a time: rsnull
            // read and wrote at a third of null_blk's bandwidth with it.
            // SAFETY: as above, and the ranges do not overlap.
            unsafe { ptr::copy_nonoverlapping(from, to, len) };
        }
        // SAFETY: local mappings are released in reverse order of creation.
        unsafe {
            bindings::kext_kunmap_local(src_map);
            bindings::kext_kunmap_local(dst_map);
        }
    }

    /// Fills the slice with zeros.
    pub fn zero(&self) {
        // SAFETY: the page is valid for the slice's lifetime.
        let map = unsafe { bindings::kext_kmap_local_page(self.page.as_ptr()) };
        // SAFETY: `offset + len` lies within the mapped page.
        unsafe { ptr::write_bytes(map.cast::<u8>().add(self.offset), 0, self.len) };
        // SAFETY: `map` came from `kext_kmap_local_page` just above.
        unsafe { bindings::kext_kunmap_local(map) };
    }
}

/// A sparse array of zero-initialised pages, indexed by `u64`, allocated on
/// first write.
///
/// Lookups are lock-free (RCU); inserting or removing a page takes the
/// xarray's internal spinlock for that one operation. Removed pages are freed
/// after an RCU grace period, so a reader that looked a page up under an
/// [`RcuReadGuard`] can finish copying even if the page is removed meanwhile.
pub struct PageMap {
    /// Boxed because xarray nodes point back at the `struct xarray`.
    xa: KBox<Opaque<bindings::xarray>>,
    nr_pages: AtomicUsize,
}

// SAFETY: the xarray API is safe to call from any thread; it synchronises
// internally (RCU for readers, `xa_lock` for writers).
unsafe impl Send for PageMap {}
// SAFETY: as above; all `&self` methods go through the xarray API.
unsafe impl Sync for PageMap {}

impl PageMap {
    /// Creates an empty map.
    pub fn new() -> Result<Self> {
        let xa = KBox::new(Opaque::<bindings::xarray>::uninit(), flags::GFP_KERNEL)?;
        // SAFETY: `xa` points to a live allocation that will not move.
        unsafe { bindings::kext_xa_init(xa.get()) };
        Ok(Self {
            xa,
            nr_pages: AtomicUsize::new(0),
        })
    }

    /// Number of pages currently allocated.
    pub fn nr_pages(&self) -> usize {
        self.nr_pages.load(Ordering::Relaxed)
    }

    fn index(idx: u64) -> Result<kernel::ffi::c_ulong> {
        kernel::ffi::c_ulong::try_from(idx).map_err(|_| code::ERANGE)
    }

    /// The page at `idx`, if one was ever written.
    pub fn get<'g>(&self, idx: u64, _guard: &'g RcuReadGuard) -> Option<PageSlice<'g>> {
        let idx = Self::index(idx).ok()?;
        // SAFETY: `xa` is initialised; `xa_load` takes the RCU read lock
        // itself and may be called from any context.
        let page = unsafe { bindings::xa_load(self.xa.get(), idx) }.cast::<bindings::page>();
        // SAFETY: the entry is a page this map owns; removal frees it only
        // after an RCU grace period, and `_guard` holds one open for `'g`.
        unsafe { PageSlice::new(page, 0, PAGE_SIZE) }
    }

    /// The page at `idx`, allocating a zeroed one with `gfp` if there is none.
    pub fn get_or_alloc<'g>(
        &self,
        idx: u64,
        gfp: Gfp,
        guard: &'g RcuReadGuard,
    ) -> Result<PageSlice<'g>> {
        if let Some(page) = self.get(idx, guard) {
            return Ok(page);
        }
        let index = Self::index(idx)?;
        // SAFETY: allocating a page has no preconditions beyond valid flags.
        let new = unsafe { bindings::kext_alloc_zeroed_page(gfp.0) };
        if new.is_null() {
            return Err(code::ENOMEM);
        }
        // SAFETY: `xa` is initialised; a page pointer is a valid xarray
        // entry (aligned, not an internal entry).
        let old = unsafe {
            bindings::kext_xa_cmpxchg(
                self.xa.get(),
                index,
                ptr::null_mut(),
                new.cast::<c_void>(),
                gfp.0,
            )
        };
        // SAFETY: `old` is whatever the xarray returned; checking it is pure.
        let failed = unsafe { bindings::kext_xa_is_err(old) };
        if failed || !old.is_null() {
            // Out of memory for xarray nodes, or another CPU inserted first.
            // Either way `new` was never published, so free it at once.
            // SAFETY: `new` came from `alloc_page` and nobody else saw it.
            unsafe { bindings::__free_pages(new, 0) };
            if failed {
                return Err(code::ENOMEM);
            }
            // SAFETY: `old` is the page the winner published; it is freed
            // only after a grace period, and `guard` holds one open.
            return unsafe { PageSlice::new(old.cast(), 0, PAGE_SIZE) }.ok_or(code::EINVAL);
        }
        self.nr_pages.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `new` is now owned by the map, freed only via RCU.
        unsafe { PageSlice::new(new, 0, PAGE_SIZE) }.ok_or(code::EINVAL)
    }

    /// Removes and frees the page at `idx`, if any.
    pub fn remove(&self, idx: u64) {
        let Ok(index) = Self::index(idx) else { return };
        // SAFETY: `xa` is initialised; `xa_erase` takes the xarray lock.
        let old = unsafe { bindings::xa_erase(self.xa.get(), index) };
        if !old.is_null() {
            self.nr_pages.fetch_sub(1, Ordering::Relaxed);
            // SAFETY: `old` is a page this map owned and no longer
            // publishes; current readers are done after a grace period.
            unsafe { bindings::kext_free_page_rcu(old.cast()) };
        }
    }

    /// Removes and frees every page with an index in `first..=last`.
    pub fn remove_range(&self, first: u64, last: u64) {
        let (Ok(mut index), Ok(last)) = (Self::index(first), Self::index(last)) else {
            return;
        };
        loop {
            // SAFETY: `xa` is initialised and `index` is a valid local.
            let entry = unsafe {
                bindings::xa_find(self.xa.get(), &mut index, last, bindings::KEXT_XA_PRESENT)
            };
            if entry.is_null() {
                break;
            }
            self.remove(index as u64);
            if index >= last {
                break;
            }
            index += 1;
        }
    }
}

impl Drop for PageMap {
    fn drop(&mut self) {
        let mut index: kernel::ffi::c_ulong = 0;
        loop {
            // SAFETY: `xa` is initialised and `index` is a valid local.
            let page = unsafe {
                bindings::xa_find(self.xa.get(), &mut index, kernel::ffi::c_ulong::MAX, bindings::KEXT_XA_PRESENT)
            };
            if page.is_null() {
                break;
            }
            // SAFETY: `&mut self` means no reader can hold a page any more, so
            // the page can go straight back to the allocator once unpublished.
            unsafe {
                bindings::xa_erase(self.xa.get(), index);
                bindings::__free_pages(page.cast(), 0);
            }
        }
        // SAFETY: the xarray is empty and no one else can reach it.
        unsafe { bindings::xa_destroy(self.xa.get()) };
        // Pages removed earlier may still sit in RCU callbacks whose code is
        // in this module: wait for them before the module can go away.
        // SAFETY: `rcu_barrier` may sleep; `drop` runs in process context.
        unsafe { bindings::rcu_barrier() };
    }
}

/// Runs `f` with every allocation of this task behaving as `GFP_NOFS`
/// (`memalloc_nofs_save`): memory reclaim will not call back into
/// filesystems. For allocations made under a filesystem lock that reclaim
/// (inode eviction) may also take, so that allocating cannot deadlock.
///
/// A closure, not a guard: scopes nest, and each must end in the reverse
/// order it began (a guard dropped out of order would leave the task in, or
/// out of, NOFS mode after both ended).
pub fn nofs<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: no preconditions; restored below on the same task, after `f`
    // (scopes opened inside `f` were closed by then).
    let saved = unsafe { bindings::kext_memalloc_nofs_save() };
    let r = f();
    // SAFETY: restores what was saved above, in LIFO order.
    unsafe { bindings::kext_memalloc_nofs_restore(saved) };
    r
}
