// SPDX-License-Identifier: GPL-2.0

//! Open files, I/O control blocks, user buffers and page faults.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/uio.h`](srctree/include/linux/uio.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h)

use super::{inode::Inode, FileSystem};
use crate::kext::{bindings, error::from_ret};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::error::{Error, Result};

/// Converts a C `ssize_t`/`loff_t` return into a `Result`.
pub(crate) fn from_ssize(ret: isize) -> Result<usize> {
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// An open file of filesystem `T`.
pub struct File<'a, T: FileSystem> {
    pub(crate) file: NonNull<bindings::file>,
    pub(crate) _p: PhantomData<(&'a bindings::file, T)>,
}

impl<'a, T: FileSystem> File<'a, T> {
    /// The file's inode.
    pub fn inode(&self) -> &'a Inode<T> {
        // SAFETY: an open file of `T` pins its inode for `'a`.
        unsafe { Inode::from_raw(bindings::kext_file_inode(self.file.as_ptr())) }
    }

    /// Writes the inode of every directory from the file's parent up to
    /// the filesystem root, and waits.
    pub fn sync_ancestors(&self) -> Result {
        // SAFETY: live file; the helper takes and drops its own references.
        from_ret(unsafe { bindings::kext_sync_ancestors(self.file.as_ptr()) })
    }

    /// `lseek` for the whence values the VFS implements itself.
    pub fn generic_llseek(&self, offset: i64, whence: i32) -> Result<i64> {
        // SAFETY: live file.
        let r = unsafe { bindings::generic_file_llseek(self.file.as_ptr(), offset, whence) };
        from_ssize(r as isize).map(|p| p as i64)
    }

    /// Sets the file position to `offset` (checked against `max`).
    pub fn set_pos(&self, offset: i64, max: i64) -> Result<i64> {
        // SAFETY: live file.
        let r = unsafe { bindings::vfs_setpos(self.file.as_ptr(), offset, max) };
        from_ssize(r as isize).map(|p| p as i64)
    }

    /// Writes dirty page cache in `start..=end` and waits for it; reports
    /// errors not yet seen through this file.
    pub fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: live file.
        from_ret(unsafe { bindings::file_write_and_wait_range(self.file.as_ptr(), start, end) })
    }
}

/// User memory being read or written (`struct iov_iter`).
pub struct IovIter<'a> {
    pub(crate) iter: NonNull<bindings::iov_iter>,
    pub(crate) _p: PhantomData<&'a mut bindings::iov_iter>,
}

impl IovIter<'_> {
    /// Bytes left.
    pub fn count(&self) -> usize {
        // SAFETY: live iterator; `count` is the plain byte count.
        unsafe { bindings::kext_iov_iter_count(self.iter.as_ptr()) }
    }
}

/// An I/O request on an open file (`struct kiocb`).
pub struct Kiocb<'a, T: FileSystem> {
    pub(crate) iocb: NonNull<bindings::kiocb>,
    pub(crate) _p: PhantomData<(&'a mut bindings::kiocb, T)>,
}

impl<'a, T: FileSystem> Kiocb<'a, T> {
    pub(crate) fn as_ptr(&self) -> *mut bindings::kiocb {
        self.iocb.as_ptr()
    }

    /// The file being read or written.
    pub fn file(&self) -> File<'a, T> {
        // SAFETY: a live kiocb has a live file.
        File { file: unsafe { NonNull::new_unchecked((*self.as_ptr()).ki_filp) }, _p: PhantomData }
    }

    /// The file's inode.
    pub fn inode(&self) -> &'a Inode<T> {
        self.file().inode()
    }

    /// File position of the I/O.
    pub fn pos(&self) -> i64 {
        // SAFETY: live kiocb.
        unsafe { (*self.as_ptr()).ki_pos }
    }

    /// Whether this is direct I/O (`O_DIRECT`).
    pub fn is_direct(&self) -> bool {
        // SAFETY: live kiocb.
        unsafe { (*self.as_ptr()).ki_flags & bindings::KEXT_IOCB_DIRECT != 0 }
    }

    /// Whether the caller must not block (`RWF_NOWAIT`, io_uring).
    pub fn is_nowait(&self) -> bool {
        // SAFETY: live kiocb.
        unsafe { (*self.as_ptr()).ki_flags & bindings::KEXT_IOCB_NOWAIT != 0 }
    }

    /// Buffered read through the page cache (`generic_file_read_iter`).
    pub fn generic_read(&mut self, to: &mut IovIter<'_>) -> Result<usize> {
        // SAFETY: live kiocb and iterator.
        from_ssize(unsafe { bindings::generic_file_read_iter(self.as_ptr(), to.iter.as_ptr()) })
    }

    /// `generic_write_checks`: limits, `O_APPEND` position. Returns the
    /// bytes to write (0: nothing to do).
    pub fn write_checks(&mut self, from: &mut IovIter<'_>) -> Result<usize> {
        // SAFETY: live kiocb and iterator; the caller holds `i_rwsem`.
        from_ssize(unsafe { bindings::generic_write_checks(self.as_ptr(), from.iter.as_ptr()) })
    }

    /// Drops setuid bits and updates times before a write (`file_modified`).
    pub fn file_modified(&mut self) -> Result {
        // SAFETY: live file; the caller holds `i_rwsem`.
        from_ret(unsafe { bindings::file_modified((*self.as_ptr()).ki_filp) })
    }

    /// After a write of `written` bytes: syncs if `O_SYNC`/`O_DSYNC` asked.
    pub fn write_sync(&mut self, written: usize) -> Result<usize> {
        // SAFETY: live kiocb.
        from_ssize(unsafe { bindings::kext_generic_write_sync(self.as_ptr(), written as isize) })
    }
}

/// A write fault on a shared mapping (`struct vm_fault`).
pub struct VmFault<'a, T: FileSystem> {
    pub(crate) vmf: NonNull<bindings::vm_fault>,
    pub(crate) _p: PhantomData<(&'a bindings::vm_fault, T)>,
}

impl<'a, T: FileSystem> VmFault<'a, T> {
    fn file_ptr(&self) -> *mut bindings::file {
        // SAFETY: a fault on a file mapping has a live vma with a file.
        unsafe { (*(*self.vmf.as_ptr()).__bindgen_anon_1.vma).vm_file }
    }

    /// The mapped file's inode.
    pub fn inode(&self) -> &'a Inode<T> {
        // SAFETY: the mapping pins the file and so its inode.
        unsafe { Inode::from_raw(bindings::kext_file_inode(self.file_ptr())) }
    }

    /// Updates mtime/ctime for the write.
    pub fn update_time(&self) {
        // SAFETY: live file. A failure only leaves the times stale.
        unsafe { bindings::file_update_time(self.file_ptr()) };
    }

    /// Runs `f` with freeze protection for page faults and the mapping's
    /// invalidate lock held shared, as `page_mkwrite` must.
    pub fn with_fault_locks<R>(&self, f: impl FnOnce() -> R) -> R {
        let inode = self.inode();
        // SAFETY: live super block and mapping; paired below.
        unsafe {
            bindings::kext_sb_start_pagefault((*inode.as_ptr()).i_sb);
            bindings::kext_filemap_invalidate_lock_shared((*inode.as_ptr()).i_mapping);
        }
        let r = f();
        // SAFETY: taken above.
        unsafe {
            bindings::kext_filemap_invalidate_unlock_shared((*inode.as_ptr()).i_mapping);
            bindings::kext_sb_end_pagefault((*inode.as_ptr()).i_sb);
        }
        r
    }
}

/// Holds an inode's `i_rwsem`; released on drop.
pub struct InodeLock<'a, T: FileSystem> {
    inode: &'a Inode<T>,
    shared: bool,
}

impl<'a, T: FileSystem> InodeLock<'a, T> {
    /// Takes `i_rwsem` exclusively.
    pub fn exclusive(inode: &'a Inode<T>) -> Self {
        // SAFETY: live inode; released in `drop`.
        unsafe { bindings::kext_inode_lock(inode.as_ptr()) };
        Self { inode, shared: false }
    }

    /// Takes `i_rwsem` shared.
    pub fn shared(inode: &'a Inode<T>) -> Self {
        // SAFETY: live inode; released in `drop`.
        unsafe { bindings::kext_inode_lock_shared(inode.as_ptr()) };
        Self { inode, shared: true }
    }

    /// Whether the lock is held shared.
    pub fn is_shared(&self) -> bool {
        self.shared
    }
}

impl<T: FileSystem> Drop for InodeLock<'_, T> {
    fn drop(&mut self) {
        // SAFETY: taken in the constructor, in the same mode.
        unsafe {
            if self.shared {
                bindings::kext_inode_unlock_shared(self.inode.as_ptr());
            } else {
                bindings::kext_inode_unlock(self.inode.as_ptr());
            }
        }
    }
}

impl<T: FileSystem> Inode<T> {
    /// Waits for in-flight direct I/O (`inode_dio_wait`).
    pub fn dio_wait(&self) {
        // SAFETY: live inode.
        unsafe { bindings::inode_dio_wait(self.as_ptr()) };
    }

    /// Writes back and waits for dirty page cache in `start..=end`.
    pub fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: live inode and mapping.
        from_ret(unsafe { bindings::filemap_write_and_wait_range((*self.as_ptr()).i_mapping, start, end) })
    }

    /// Sets the size and drops page cache past it (`truncate_setsize`).
    /// `i_rwsem` and the invalidate lock are held.
    pub fn truncate_setsize(&self, size: u64) {
        // SAFETY: live inode; locks held by the caller.
        unsafe { bindings::truncate_setsize(self.as_ptr(), size as i64) };
    }

    /// After growing the size from `from`: makes the page straddling the
    /// old size writable again through mmap.
    pub fn pagecache_isize_extended(&self, from: u64, to: u64) {
        // SAFETY: live inode; `i_rwsem` held.
        unsafe { bindings::pagecache_isize_extended(self.as_ptr(), from as i64, to as i64) };
    }

    /// Writes the inode's metadata now (`sync_inode_metadata`).
    pub fn sync_metadata(&self) -> Result {
        // SAFETY: live inode.
        from_ret(unsafe { bindings::sync_inode_metadata(self.as_ptr(), 1) })
    }
}

/// An ioctl's argument as a user-space address.
pub struct UserPtr(pub usize);

impl UserPtr {
    /// Reads a `u32` there (`get_user`); `EFAULT` if it is not readable.
    pub fn read_u32(&self) -> Result<u32> {
        let mut v = 0u32;
        // SAFETY: `get_user` checks the user address itself; `v` is ours.
        crate::kext::error::from_ret(unsafe { bindings::kext_get_user_u32(self.0 as _, &mut v) })?;
        Ok(v)
    }
}

/// Whether the calling task may administer the system (`CAP_SYS_ADMIN`).
pub fn capable_sys_admin() -> bool {
    // SAFETY: looks at the current task's credentials.
    unsafe { bindings::kext_capable_sys_admin() }
}
