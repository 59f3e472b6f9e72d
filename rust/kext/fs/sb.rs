// SPDX-License-Identifier: GPL-2.0

//! Super blocks.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)

use super::FileSystem;
use crate::kext::{bindings, error::from_ret};
use core::marker::PhantomData;
use kernel::{
    error::Result,
    init::PinInit,
    pin_init,
    prelude::pin_data,
    types::Opaque,
};

/// A super block of any filesystem, before or after it is filled.
///
/// # Invariants
///
/// The wrapped `struct super_block` is live for the lifetime of the
/// reference (the VFS holds `s_umount` or an active reference around every
/// callback that receives one).
#[repr(transparent)]
pub struct RawSuperBlock(Opaque<bindings::super_block>);

impl RawSuperBlock {
    /// # Safety
    ///
    /// `ptr` must point to a live super block for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a RawSuperBlock {
        // SAFETY: `RawSuperBlock` is transparent over the C struct.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer, for the kext layer's own calls.
    pub(crate) fn as_ptr(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// Size of the underlying block device in bytes.
    pub fn device_bytes(&self) -> u64 {
        // SAFETY: a block-device super block has a live `s_bdev`.
        unsafe { bindings::kext_bdev_nr_bytes((*self.as_ptr()).s_bdev) }
    }

    /// Whether the block device itself refuses writes (`blockdev --setro`,
    /// a write-protected disk): then nothing may be written to it, not
    /// even by a read-only mount's log replay.
    pub fn device_is_read_only(&self) -> bool {
        // SAFETY: a block-device super block has a live `s_bdev`.
        unsafe { bindings::kext_bdev_read_only((*self.as_ptr()).s_bdev) }
    }

    /// Whether the filesystem is mounted read-only.
    pub fn is_read_only(&self) -> bool {
        // SAFETY: reading `s_flags` of a live super block.
        unsafe { (*self.as_ptr()).s_flags & bindings::KEXT_SB_RDONLY != 0 }
    }

    /// The device's name (`s_id`, e.g. `rsnull0`), for messages.
    pub fn id(&self) -> &kernel::str::CStr {
        // SAFETY: `s_id` is a NUL-terminated array set at mount and not
        // changed while the super block lives.
        unsafe { kernel::str::CStr::from_char_ptr((*self.as_ptr()).s_id.as_ptr().cast()) }
    }

    /// Freezes the filesystem through its block device (`bdev_freeze`:
    /// syncs it, then blocks writers), runs `f`, and thaws it.
    pub fn with_device_frozen<R>(&self, f: impl FnOnce() -> R) -> Result<R> {
        // SAFETY: a live block-device super block.
        from_ret(unsafe { bindings::kext_bdev_freeze(self.as_ptr()) })?;
        let r = f();
        // SAFETY: frozen just above.
        unsafe { bindings::kext_bdev_thaw(self.as_ptr()) };
        Ok(r)
    }

    /// Makes the filesystem read-only at once, without writing anything
    /// (after an error, as ext4's `errors=remount-ro`): from now on writes
    /// and namespace changes fail with `EROFS`; what is cached stays
    /// readable.
    pub fn force_read_only(&self) {
        // SAFETY: the VFS checks the flag before every write; setting it
        // without `s_umount` is what ext4's error path does too.
        unsafe { bindings::kext_sb_force_rdonly(self.as_ptr()) };
    }

    /// A sample of the device's write-error state: pass it to
    /// [`RawSuperBlock::check_device_wb_err`] later.
    pub fn device_wb_err(&self) -> u32 {
        // SAFETY: `s_bdev` is live while the super block is.
        unsafe { bindings::kext_bdev_wb_err_sample(self.as_ptr()) }
    }

    /// `Err(EIO)` if a write of the device's buffers (metadata written by
    /// the flusher, or by anyone) failed since `since` was sampled. Unlike
    /// the result of [`RawSuperBlock::sync_device`], this error is not
    /// consumed by whoever sees it first.
    pub fn check_device_wb_err(&self, since: u32) -> Result {
        // SAFETY: `s_bdev` is live while the super block is.
        from_ret(unsafe { bindings::kext_bdev_wb_err_check(self.as_ptr(), since) })
    }

    /// Writes every dirty inode of the filesystem, data then metadata, and
    /// waits for them (`sync_inodes_sb`). The VFS does this before
    /// `sync_fs(wait)`, but metadata an I/O completion dirtied while it
    /// waited (unwritten blocks made written) is written only by a second
    /// pass. Call with `s_umount` held (as in `sync_fs`).
    pub fn write_dirty_inodes(&self) {
        // SAFETY: a live super block; the caller holds `s_umount`.
        unsafe { bindings::sync_inodes_sb(self.as_ptr()) };
    }

    /// Writes every dirty buffer of the device and waits for them.
    pub fn sync_device(&self) -> Result {
        // SAFETY: `s_bdev` is live while the super block is.
        from_ret(unsafe { bindings::sync_blockdev((*self.as_ptr()).s_bdev) })
    }

    /// Makes completed writes durable (a cache flush), if the device caches.
    pub fn flush_device(&self) -> Result {
        // SAFETY: `s_bdev` is live while the super block is.
        from_ret(unsafe { bindings::blkdev_issue_flush((*self.as_ptr()).s_bdev) })
    }

    /// Sets the filesystem block size; fails if the device cannot do it,
    /// or if it is not the size [`super::buffer::Buffer`] is made for.
    pub fn set_block_size(&self, size: u32) -> Result {
        if size as usize != super::buffer::BLOCK_SIZE {
            return Err(kernel::error::code::EINVAL);
        }
        // SAFETY: called from `fill_super`, before any buffer is read.
        let got = unsafe { bindings::sb_set_blocksize(self.as_ptr(), size as i32) };
        if got as u32 == size {
            Ok(())
        } else {
            Err(kernel::error::code::EINVAL)
        }
    }

    /// Sets the largest file size, the magic, and the time granularity.
    pub(crate) fn set_limits(&self, max_bytes: u64, max_links: u32, magic: u64) {
        // SAFETY: called while filling the super block, before it is
        // visible to anyone else.
        unsafe {
            let sb = self.as_ptr();
            (*sb).s_maxbytes = max_bytes as i64;
            (*sb).s_max_links = max_links;
            (*sb).s_magic = magic as _;
            (*sb).s_time_gran = 1;
            (*sb).s_time_min = i64::MIN;
            (*sb).s_time_max = i64::MAX;
        }
    }
}

/// A filled super block of filesystem `T`, whose `s_fs_info` is `T::SbInfo`.
#[repr(transparent)]
pub struct SuperBlock<T: FileSystem>(RawSuperBlock, PhantomData<T>);

impl<T: FileSystem> SuperBlock<T> {
    /// # Safety
    ///
    /// `ptr` must point to a live super block of `T` whose `s_fs_info` was
    /// set by [`super::vtable`] and stays set for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a SuperBlock<T> {
        // SAFETY: transparent over `RawSuperBlock`, itself over the struct.
        unsafe { &*ptr.cast() }
    }

    /// The filesystem's per-mount state.
    pub fn info(&self) -> &T::SbInfo {
        // SAFETY: `s_fs_info` is a `T::SbInfo` leaked from a `KBox` at mount
        // and freed only in `kill_sb`, after every user is gone.
        unsafe { &*(*self.0.as_ptr()).s_fs_info.cast::<T::SbInfo>() }
    }

    /// The untyped super block.
    pub fn raw(&self) -> &RawSuperBlock {
        &self.0
    }
}

/// A delayed call of [`FileSystem::timer`] for one mounted filesystem (a
/// journal's commit interval). Lives in the filesystem's `SbInfo`, armed
/// with [`SbTimer::arm`]; dropping it disarms it and waits for a call in
/// progress, so put it first in `SbInfo` (fields drop in order) or
/// [`SbTimer::cancel`] it before the rest of the state goes.
#[pin_data(PinnedDrop)]
pub struct SbTimer<T: FileSystem> {
    #[pin]
    call: Opaque<bindings::kext_delayed_call>,
    _t: PhantomData<T>,
}

// SAFETY: the delayed work is armed and cancelled from any task; the
// workqueue serialises its own state.
unsafe impl<T: FileSystem> Send for SbTimer<T> {}
// SAFETY: as above; `&SbTimer` only arms or cancels.
unsafe impl<T: FileSystem> Sync for SbTimer<T> {}

impl<T: FileSystem> SbTimer<T> {
    /// A disarmed timer for `sb` (being filled: `fill_super`).
    pub fn new(sb: &RawSuperBlock) -> impl PinInit<Self> + use<T> {
        let sb = sb.as_ptr();
        pin_init!(SbTimer {
            call <- Opaque::ffi_init(move |slot: *mut bindings::kext_delayed_call| {
                // SAFETY: initialises the C struct in place; `sb` outlives
                // the timer (it is in the super block's `s_fs_info`,
                // dropped before the super block is freed).
                unsafe { bindings::kext_delayed_call_init(slot, Some(Self::call), sb.cast()) }
            }),
            _t: PhantomData,
        })
    }

    /// Calls `T::timer` in `msecs` milliseconds, unless already armed.
    pub fn arm(&self, msecs: u32) {
        // SAFETY: initialised in `new`, pinned.
        unsafe { bindings::kext_delayed_call_arm(self.call.get(), msecs) }
    }

    /// Disarms it and waits for a call in progress. Not from `T::timer`.
    pub fn cancel(&self) {
        // SAFETY: initialised in `new`, pinned.
        unsafe { bindings::kext_delayed_call_cancel(self.call.get()) }
    }

    unsafe extern "C" fn call(data: *mut core::ffi::c_void) {
        // SAFETY: `data` is the timer's super block, armed only once filled;
        // `s_fs_info` stays until the timer's drop, which waits for us.
        let sb = unsafe { SuperBlock::<T>::from_raw(data.cast()) };
        T::timer(sb)
    }
}

#[kernel::prelude::pinned_drop]
impl<T: FileSystem> PinnedDrop for SbTimer<T> {
    fn drop(self: core::pin::Pin<&mut Self>) {
        self.cancel();
    }
}
