// SPDX-License-Identifier: GPL-2.0

//! Metadata blocks through the block device's buffer cache.
//!
//! C header: [`include/linux/buffer_head.h`](srctree/include/linux/buffer_head.h)
//!
//! A [`Buffer`] is one filesystem block of the device, read (or created)
//! through `sb_bread()`/`sb_getblk()` and released on drop. Changes become
//! durable when the buffer is written back: by the flusher, by
//! [`Buffer::sync`], or by `sync_blockdev()` at `sync_fs` time.
//!
//! Two `Buffer`s of one block share its bytes, and the block layer reads
//! them while writing the buffer back. So the bytes are only reached under
//! the buffer lock: [`Buffer::data`] returns a guard holding it,
//! [`Buffer::modify`] holds it around its closure. Readers and writers of
//! a block never alias, in Rust's sense, and a write in flight never sees
//! half a change. A task must not hold a block's bytes twice at once
//! (through two `Buffer`s of it): the second lock would wait forever.

use super::sb::RawSuperBlock;
use crate::kext::bindings;
use core::{marker::PhantomData, ops::Deref, ptr::NonNull};
use kernel::error::{code, Result};

/// Size of the blocks the filesystem asked for in `sb_set_blocksize`.
pub const BLOCK_SIZE: usize = 4096;

/// A referenced buffer head holding one [`BLOCK_SIZE`] block.
pub struct Buffer {
    bh: NonNull<bindings::buffer_head>,
}

// SAFETY: a buffer head reference may be dropped on any thread.
unsafe impl Send for Buffer {}

impl Buffer {
    /// Reads block `block` of the filesystem's device (from the cache if it
    /// is there). Fails with `EIO` if the device read fails.
    ///
    /// A buffer whose last write failed keeps the newest contents in
    /// memory; the block layer marked it not up to date, and a plain
    /// `sb_bread` would read the older contents back from the device and
    /// silently undo the change (a bitmap bit, an inode). Those contents are
    /// kept instead (as `ext4_buffer_uptodate` does); the filesystem learns
    /// of the failed write from [`RawSuperBlock::check_device_wb_err`].
    pub fn read(sb: &RawSuperBlock, block: u64) -> Result<Buffer> {
        // SAFETY: `sb` is a live super block with its block size set.
        let bh = unsafe { bindings::kext_sb_getblk(sb.as_ptr(), block) };
        let buf = Buffer { bh: NonNull::new(bh).ok_or(code::ENOMEM)? };
        let bh = buf.bh.as_ptr();
        // SAFETY: we hold a reference. Setting uptodate on a buffer whose
        // data is the last one written is what the write-error path left
        // undone; the buffer lock orders it against a read in flight.
        unsafe {
            if bindings::kext_buffer_write_io_error(bh) && !bindings::kext_buffer_uptodate(bh) {
                bindings::kext_lock_buffer(bh);
                if bindings::kext_buffer_write_io_error(bh) {
                    bindings::kext_set_buffer_uptodate(bh);
                }
                bindings::unlock_buffer(bh);
            }
        }
        // SAFETY: we hold a reference; `bh_read` returns at once for an
        // up-to-date buffer, else reads it and waits.
        if unsafe { bindings::kext_bh_read(bh) } < 0 {
            return Err(code::EIO);
        }
        Ok(buf)
    }

    /// Returns block `block` without reading it, zero-filled and up to
    /// date: for a block about to be overwritten completely.
    pub fn new_zeroed(sb: &RawSuperBlock, block: u64) -> Result<Buffer> {
        // SAFETY: `sb` is a live super block with its block size set.
        let bh = unsafe { bindings::kext_sb_getblk(sb.as_ptr(), block) };
        let bh = NonNull::new(bh).ok_or(code::ENOMEM)?;
        let buf = Buffer { bh };
        // SAFETY: we hold a reference; the lock keeps a concurrent read of
        // the same block from overwriting our zeroes. New contents were
        // never checked: whatever mark the block's last use left goes.
        unsafe {
            bindings::kext_lock_buffer(bh.as_ptr());
            bindings::kext_set_buffer_verified(bh.as_ptr(), false);
            core::ptr::write_bytes((*bh.as_ptr()).b_data.cast::<u8>(), 0, BLOCK_SIZE);
            bindings::kext_set_buffer_uptodate(bh.as_ptr());
            bindings::unlock_buffer(bh.as_ptr());
        }
        Ok(buf)
    }

    /// Drops any cached copy of `block` without writing it: the block was
    /// freed, and a stale dirty buffer must not later overwrite whoever
    /// owns the block next.
    pub fn forget(sb: &RawSuperBlock, block: u64) {
        // SAFETY: `sb` is live; `bforget` accepts NULL.
        unsafe {
            let bh = bindings::kext_sb_find_get_block(sb.as_ptr(), block);
            if !bh.is_null() {
                bindings::kext_set_buffer_verified(bh, false);
            }
            bindings::kext_bforget(bh);
        }
    }

    /// Whether the filesystem marked the contents as checked (it clears
    /// the mark when it forgets the block).
    pub fn verified(&self) -> bool {
        // SAFETY: we hold a reference to the buffer.
        unsafe { bindings::kext_buffer_verified(self.bh.as_ptr()) }
    }

    /// Marks the contents as checked (or not).
    pub fn set_verified(&self, verified: bool) {
        // SAFETY: we hold a reference; the bit is ours (BH_PrivateStart).
        unsafe { bindings::kext_set_buffer_verified(self.bh.as_ptr(), verified) };
    }

    /// The block's bytes, under the buffer lock until the guard goes
    /// (waits for a write of the buffer in flight).
    pub fn data(&self) -> BufferData<'_> {
        // SAFETY: we hold a reference; the guard unlocks.
        unsafe { bindings::kext_lock_buffer(self.bh.as_ptr()) };
        // INVARIANT: locked above, for the guard's life.
        BufferData { bh: self.bh, _p: PhantomData }
    }

    /// Changes the block's bytes with `f` and marks the buffer dirty.
    ///
    /// The buffer lock is held around `f`: a write of this buffer in
    /// flight holds it too, so the device never gets half of a change (a
    /// torn checksum). `f` must not take this buffer's lock again (read or
    /// change the same block through another `Buffer`).
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut [u8; BLOCK_SIZE]) -> R) -> R {
        self.change(f, true)
    }

    /// Changes the block's bytes with `f` as [`Buffer::modify`] does, but
    /// without marking the buffer dirty: for a journal, which writes its
    /// blocks itself ([`Buffer::submit_write`]) and must not let the
    /// flusher write them home early.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut [u8; BLOCK_SIZE]) -> R) -> R {
        self.change(f, false)
    }

    fn change<R>(&mut self, f: impl FnOnce(&mut [u8; BLOCK_SIZE]) -> R, dirty: bool) -> R {
        let bh = self.bh.as_ptr();
        // SAFETY: we hold a reference; the lock is released below.
        unsafe { bindings::kext_lock_buffer(bh) };
        // SAFETY: as in `data`; the caller's lock excludes other users of
        // these bytes, `&mut self` other users of this reference, and the
        // buffer lock the block layer writing them.
        let r = f(unsafe { &mut *(*bh).b_data.cast::<[u8; BLOCK_SIZE]>() });
        // The buffer was up to date when we got it; only a failed write
        // since has cleared that, and the bytes in memory are the newest: up
        // to date again (as in `read`), so it can be dirtied and rewritten.
        // SAFETY: we hold a reference to the buffer and its lock.
        unsafe {
            if !bindings::kext_buffer_uptodate(bh) {
                bindings::kext_set_buffer_uptodate(bh);
            }
            if dirty {
                bindings::mark_buffer_dirty(bh);
            }
            bindings::unlock_buffer(bh);
        }
        r
    }

    /// The block number on the device.
    pub fn block(&self) -> u64 {
        // SAFETY: we hold a reference to the buffer.
        unsafe { bindings::kext_buffer_block(self.bh.as_ptr()) }
    }

    /// Another reference to the same buffer.
    pub fn clone_ref(&self) -> Buffer {
        // SAFETY: we hold a reference, so taking one more is valid.
        unsafe { bindings::kext_get_bh(self.bh.as_ptr()) };
        Buffer { bh: self.bh }
    }

    /// Sets journal mark `mark` on the buffer; returns whether it was set
    /// already. The marks say which of a journal's lists hold the buffer,
    /// so that a list holds each buffer once.
    pub fn test_set_mark(&self, mark: JournalMark) -> bool {
        // SAFETY: we hold a reference; the bits are the filesystem's
        // (past `BH_PrivateStart`), changed atomically.
        unsafe { bindings::kext_buffer_test_set_mark(self.bh.as_ptr(), mark as u32) }
    }

    /// Clears journal mark `mark`.
    pub fn clear_mark(&self, mark: JournalMark) {
        // SAFETY: as in `test_set_mark`.
        unsafe { bindings::kext_buffer_clear_mark(self.bh.as_ptr(), mark as u32) }
    }

    /// Starts writing the buffer to its block now, dirty or not. With
    /// `durable`, the device's cache is flushed first and the write itself
    /// is FUA: when it completes, it and everything completed before it
    /// is on stable media (a journal's commit block). Wait with
    /// [`Buffer::wait_write`].
    pub fn submit_write(&self, durable: bool) {
        // SAFETY: we hold a reference to an up-to-date buffer; the helper
        // takes the buffer lock (released at completion) and its own
        // reference for the I/O.
        unsafe { bindings::kext_buffer_submit_write(self.bh.as_ptr(), durable) }
    }

    /// Waits for the write [`Buffer::submit_write`] started; `EIO` if it
    /// failed (the block layer also records the error on the device).
    pub fn wait_write(&self) -> Result {
        // SAFETY: we hold a reference to the buffer.
        crate::kext::error::from_ret(unsafe { bindings::kext_buffer_wait_write(self.bh.as_ptr()) })
    }

    /// Writes the buffer now if it is dirty and waits for it.
    pub fn sync(&self) -> Result {
        // SAFETY: we hold a reference to the buffer.
        let ret = unsafe { bindings::sync_dirty_buffer(self.bh.as_ptr()) };
        crate::kext::error::from_ret(ret)
    }
}

/// The lists of a filesystem journal a buffer can be on (a bit each in
/// the buffer head's state, past `BH_PrivateStart`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum JournalMark {
    /// Changed by the running transaction.
    Running = 0,
    /// Committed to the log, not yet written home.
    Checkpoint = 1,
}

/// A block's bytes, read under its buffer lock (from [`Buffer::data`]).
///
/// # Invariants
///
/// The guard holds the buffer lock of an up-to-date buffer whose
/// [`Buffer`] outlives it.
#[must_use = "the buffer lock is released when the guard is dropped"]
pub struct BufferData<'a> {
    bh: NonNull<bindings::buffer_head>,
    _p: PhantomData<&'a Buffer>,
}

impl Deref for BufferData<'_> {
    type Target = [u8; BLOCK_SIZE];

    fn deref(&self) -> &[u8; BLOCK_SIZE] {
        // Every writer of these bytes (`modify`, the block layer's
        // writeback) holds the buffer lock, which this guard holds.
        // SAFETY: an up-to-date buffer of our block size has `BLOCK_SIZE`
        // bytes at `b_data` while its `Buffer` holds a reference; no writer
        // runs while the guard holds the lock (type invariant).
        unsafe { &*(*self.bh.as_ptr()).b_data.cast::<[u8; BLOCK_SIZE]>() }
    }
}

impl Drop for BufferData<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock (type invariant).
        unsafe { bindings::unlock_buffer(self.bh.as_ptr()) };
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: we own one reference, given back exactly once here.
        unsafe { bindings::kext_brelse(self.bh.as_ptr()) };
    }
}
