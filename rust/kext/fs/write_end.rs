// SPDX-License-Identifier: GPL-2.0

//! Where writes to unwritten blocks end: in process context, after the data
//! is on the device, before the folios' writeback ends.
//!
//! C: `struct kext_write_end_queue` in `helpers.h`; the models are
//! `xfs_end_ioend` and `ext4_end_io_rsv_work`.
//!
//! A block the filesystem allocated for a write is *unwritten* until data
//! reaches it: it reads as zeros, never as what the disk held before. It
//! may become written only once the write that fills it is durable —
//! otherwise a crash, or a failed write, leaves a file that reads another
//! file's old bytes. So a write bio to unwritten blocks does not end its
//! folios' writeback in its `bi_end_io` (interrupt context). It is queued
//! here, and one work item per filesystem type, for every bio queued:
//!
//! 1. flushes the device's volatile cache, once per batch, so that the
//!    data is durable before any metadata saying "written" can be (unless
//!    the filesystem's journal commit flushes first anyway:
//!    [`FileSystem::FLUSH_BEFORE_CONVERT`]);
//! 2. calls [`FileSystem::convert_unwritten`] for the bio's file range,
//!    if the write and the flush succeeded;
//! 3. ends writeback of the bio's folios, recording any error on the file
//!    (`mapping_set_error`, which `fsync` reports).
//!
//! Because writeback ends only after step 2, `fsync` (which waits for it)
//! always writes an inode whose extents already say "written", and the
//! inode and its blocks stay live during the conversion (truncate and
//! eviction wait for writeback). Both our own writer's bios
//! ([`super::writeback::WriteBio`]) and iomap's ioends
//! (`iomap_writeback_ops.prepare_ioend`) end this way.

use super::{inode::Inode, FileSystem};
use crate::kext::bindings;
use core::ffi::c_int;
use kernel::{error::Result, str::CStr};

/// A filesystem type's queue of completed writes to unwritten blocks; it
/// lives in the registration, beside the `file_system_type`.
pub(crate) type Queue = bindings::kext_write_end_queue;

/// Sets up `q` in place, with its workqueue named after the filesystem.
///
/// # Safety
///
/// `q` must stay at its address until [`destroy`].
pub(crate) unsafe fn init<T: FileSystem>(q: *mut Queue, name: &CStr) -> Result {
    // SAFETY: `q` is ours to set up, as the caller promises.
    crate::kext::error::from_ret(unsafe {
        bindings::kext_write_end_queue_init(q, name.as_char_ptr(), Some(work::<T>))
    })
}

/// Runs what is still queued and frees the workqueue.
///
/// # Safety
///
/// `q` was set up by [`init`]; no bio can be queued on it any more.
pub(crate) unsafe fn destroy(q: *mut Queue) {
    // SAFETY: as the caller promises.
    unsafe { bindings::kext_write_end_queue_destroy(q) };
}

/// The queue of the filesystem type `sb` belongs to.
///
/// # Safety
///
/// `sb` must be a live super block of a type registered by
/// [`super::Registration`].
pub(crate) unsafe fn queue_of(sb: *mut bindings::super_block) -> *mut Queue {
    // SAFETY: `s_type` points into a live `RegisteredType`.
    unsafe { super::RegisteredType::write_end_queue((*sb).s_type) }
}

/// `bi_end_io` of our writer's bios to unwritten blocks (see
/// [`super::writeback::WriteBio`]); `bi_private` is the queue.
pub(crate) unsafe extern "C" fn folio_bio_end_io(bio: *mut bindings::bio) {
    // SAFETY: the block layer completes our bio once; its `bi_private` was
    // set to the type's queue, which outlives every super block.
    unsafe { bindings::kext_write_end_queue_add((*bio).bi_private.cast(), bio, false) };
}

/// `bi_end_io` of iomap's ioends to unwritten blocks (set by
/// `prepare_ioend`); `bi_private` is the queue.
pub(crate) unsafe extern "C" fn ioend_bio_end_io(bio: *mut bindings::bio) {
    // SAFETY: as above, for the bio inside an `iomap_ioend`.
    unsafe { bindings::kext_write_end_queue_add((*bio).bi_private.cast(), bio, true) };
}

/// The last device flushed in a batch, and how that went.
struct Flushed {
    bdev: *mut bindings::block_device,
    err: c_int,
}

impl Flushed {
    /// Flushes `bdev`'s volatile cache unless this batch already did
    /// (a no-op for a device without one); returns the flush's error.
    ///
    /// # Safety
    ///
    /// `bdev` is live: a bio to it has folios still under writeback.
    unsafe fn flush(&mut self, bdev: *mut bindings::block_device) -> c_int {
        if self.bdev != bdev {
            // SAFETY: as the caller promises; process context.
            self.err = unsafe { bindings::blkdev_issue_flush(bdev) };
            self.bdev = bdev;
        }
        self.err
    }
}

/// The status a completed bio ends with: its own, then the flush's, then
/// the conversion's.
///
/// # Safety
///
/// `bio` completed; its folios are still under writeback, so `inode` and
/// the device are live.
unsafe fn finish<T: FileSystem>(
    bio: *mut bindings::bio,
    flushed: &mut Flushed,
    inode: *mut bindings::inode,
    pos: u64,
    len: u64,
) -> c_int {
    // SAFETY: a completed bio we own.
    let err = unsafe { bindings::blk_status_to_errno((*bio).bi_status) };
    if err < 0 {
        return err;
    }
    // SAFETY: as the caller promises.
    let err = if T::FLUSH_BEFORE_CONVERT { unsafe { flushed.flush((*bio).bi_bdev) } } else { 0 };
    if err < 0 {
        // SAFETY: no preconditions.
        if unsafe { bindings::kext_printk_ratelimit() } {
            kernel::pr_err!("cache flush failed ({}): written data stays unwritten\n", err);
        }
        return err;
    }
    // SAFETY: the folios under writeback pin the inode, of type `T`.
    match T::convert_unwritten(unsafe { Inode::<T>::from_raw(inode) }, pos, len) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The work item: finishes every queued bio, in batches.
unsafe extern "C" fn work<T: FileSystem>(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the one in a queue set up by `init::<T>`.
    let q = unsafe { bindings::kext_write_end_queue_of(work) };
    // Completing writeback must not wait for writeback (reclaim).
    // SAFETY: restored below, in the same task.
    let nofs = unsafe { bindings::kext_memalloc_nofs_save() };
    loop {
        let mut folio_bios = core::ptr::null_mut();
        let mut ioend_bios = core::ptr::null_mut();
        // SAFETY: a live queue.
        unsafe { bindings::kext_write_end_queue_take(q, &mut folio_bios, &mut ioend_bios) };
        if folio_bios.is_null() && ioend_bios.is_null() {
            break;
        }
        let mut flushed = Flushed { bdev: core::ptr::null_mut(), err: 0 };
        while let Some(bio) = core::ptr::NonNull::new(folio_bios) {
            let bio = bio.as_ptr();
            // SAFETY: a completed bio of ours, queued by `folio_bio_end_io`;
            // its folios are still under writeback.
            unsafe {
                folio_bios = (*bio).bi_next;
                (*bio).bi_next = core::ptr::null_mut();
                let (inode, pos, len) = super::writeback::bio_file_range(bio);
                let err = finish::<T>(bio, &mut flushed, inode, pos, len);
                super::writeback::end_bio(bio, err);
            }
        }
        while let Some(bio) = core::ptr::NonNull::new(ioend_bios) {
            let bio = bio.as_ptr();
            // SAFETY: the bio of an `iomap_ioend`, queued by
            // `ioend_bio_end_io`; its folios are still under writeback.
            // `iomap_finish_ioends` ends them and frees the ioend.
            unsafe {
                ioend_bios = (*bio).bi_next;
                (*bio).bi_next = core::ptr::null_mut();
                let ioend = bindings::kext_iomap_ioend_from_bio(bio);
                let (inode, pos, len) = ((*ioend).io_inode, (*ioend).io_offset as u64, (*ioend).io_size as u64);
                let err = finish::<T>(bio, &mut flushed, inode, pos, len);
                bindings::iomap_finish_ioends(ioend, err);
            }
            // SAFETY: process context, no locks held.
            unsafe { bindings::kext_cond_resched() };
        }
    }
    // SAFETY: saved above.
    unsafe { bindings::kext_memalloc_nofs_restore(nofs) };
}
