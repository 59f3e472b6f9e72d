// SPDX-License-Identifier: GPL-2.0

//! Inodes: the VFS `struct inode` with a filesystem's own data beside it.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h)
//!
//! Every inode of a filesystem `T` lives in an [`InodeBox<T>`]: the C inode
//! followed by `T::InodeData`. The box is allocated by our `alloc_inode`
//! and freed (after an RCU grace period) by our `free_inode`, so
//! [`Inode::data`] is always valid. References are counted with
//! `ihold`/`iput` through [`ARef`].

use super::{sb::SuperBlock, vtable, FileSystem};
use crate::kext::bindings;
use core::{marker::PhantomData, mem::ManuallyDrop, ptr::NonNull};
use kernel::{
    error::{code, Result},
    types::{ARef, AlwaysRefCounted, Opaque},
};

/// The allocation behind each inode of `T`.
#[repr(C)]
pub(crate) struct InodeBox<T: FileSystem> {
    pub(crate) inode: Opaque<bindings::inode>,
    pub(crate) data: T::InodeData,
}

/// What kind of file an inode is; decides its operation tables.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Regular file: data through the page cache and iomap.
    Regular,
    /// Directory.
    Directory,
    /// Symbolic link; the target is read with `FileSystem::read_link`.
    Symlink,
    /// Device node, FIFO or socket, with its device number.
    Special(u32),
}

/// Which inode timestamp.
#[derive(Clone, Copy)]
pub enum Time {
    /// Last access.
    Access = 0,
    /// Last data change.
    Modify = 1,
    /// Last inode change.
    Change = 2,
}

/// An inode of filesystem `T`.
///
/// # Invariants
///
/// The C inode is inside an [`InodeBox<T>`] and referenced for the lifetime
/// of any `&Inode<T>`.
#[repr(transparent)]
pub struct Inode<T: FileSystem>(Opaque<bindings::inode>, PhantomData<T>);

// SAFETY: inodes are shared between threads by design; all mutation goes
// through the VFS's own locking or `T::InodeData`'s.
unsafe impl<T: FileSystem> Send for Inode<T> {}
// SAFETY: see `Send`.
unsafe impl<T: FileSystem> Sync for Inode<T> {}

// SAFETY: `ihold`/`iput` manage the inode reference count.
unsafe impl<T: FileSystem> AlwaysRefCounted for Inode<T> {
    fn inc_ref(&self) {
        // SAFETY: the existence of `&self` proves a reference is held.
        unsafe { bindings::ihold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller gives up one reference.
        unsafe { bindings::iput(obj.as_ptr().cast()) };
    }
}

impl<T: FileSystem> Inode<T> {
    /// # Safety
    ///
    /// `ptr` must be a referenced inode of filesystem `T` for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::inode) -> &'a Inode<T> {
        // SAFETY: transparent over the C struct.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer, for the kext layer's own calls.
    pub(crate) fn as_ptr(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// The filesystem's data for this inode.
    pub fn data(&self) -> &T::InodeData {
        // SAFETY: type invariant: the inode is the first field of an
        // `InodeBox<T>` (repr(C)), so the box starts at the same address.
        unsafe { &(*self.as_ptr().cast::<InodeBox<T>>()).data }
    }

    /// The super block.
    pub fn sb(&self) -> &SuperBlock<T> {
        // SAFETY: an inode of `T` belongs to a filled super block of `T`.
        unsafe { SuperBlock::from_raw((*self.as_ptr()).i_sb) }
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        // SAFETY: `i_ino` is set before the inode is visible.
        unsafe { (*self.as_ptr()).i_ino as u64 }
    }

    /// Mode: type and permission bits.
    pub fn mode(&self) -> u16 {
        // SAFETY: reading a field of a live inode.
        unsafe { (*self.as_ptr()).i_mode }
    }

    /// Size in bytes (`i_size_read`).
    pub fn size(&self) -> u64 {
        // SAFETY: live inode.
        unsafe { bindings::kext_i_size_read(self.as_ptr()) as u64 }
    }

    /// Sets the size (`i_size_write`). The caller holds the inode lock (or
    /// is the only user, as in `fill_inode`).
    pub fn set_size(&self, size: u64) {
        // SAFETY: live inode; callers serialise size changes.
        unsafe { bindings::kext_i_size_write(self.as_ptr(), size as i64) };
    }

    /// Link count.
    pub fn nlink(&self) -> u32 {
        // SAFETY: live inode.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.i_nlink }
    }

    /// Sets the link count.
    pub fn set_nlink(&self, n: u32) {
        // SAFETY: live inode; callers hold the locks the VFS requires.
        unsafe { bindings::set_nlink(self.as_ptr(), n) };
    }

    /// Adds a link.
    pub fn inc_nlink(&self) {
        // SAFETY: as `set_nlink`.
        unsafe { bindings::inc_nlink(self.as_ptr()) };
    }

    /// Removes a link. A count that is already zero (a corrupt count the
    /// C `drop_nlink` would WARN about) is left alone and `false` returned.
    #[must_use]
    pub fn drop_nlink(&self) -> bool {
        if self.nlink() == 0 {
            return false;
        }
        // SAFETY: as `set_nlink`; the count is not zero.
        unsafe { bindings::drop_nlink(self.as_ptr()) };
        true
    }

    /// Owner and group.
    pub fn owner(&self) -> (u32, u32) {
        // SAFETY: live inode.
        unsafe { (bindings::kext_i_uid_read(self.as_ptr()), bindings::kext_i_gid_read(self.as_ptr())) }
    }

    /// Generation number.
    pub fn generation(&self) -> u32 {
        // SAFETY: live inode.
        unsafe { (*self.as_ptr()).i_generation }
    }

    /// Device number of a special file, `new_encode_dev` format.
    pub fn rdev(&self) -> u32 {
        // SAFETY: live inode.
        unsafe { bindings::kext_new_encode_dev((*self.as_ptr()).i_rdev) }
    }

    /// A timestamp as (seconds, nanoseconds).
    pub fn time(&self, which: Time) -> (i64, u32) {
        let (mut sec, mut nsec) = (0i64, 0u32);
        // SAFETY: live inode; valid out pointers.
        unsafe { bindings::kext_inode_get_times(self.as_ptr(), which as i32, &mut sec, &mut nsec) };
        (sec, nsec)
    }

    /// Sets ctime and mtime to now (a namespace or data change).
    pub fn touch_change(&self) {
        // SAFETY: live inode.
        unsafe {
            let now = bindings::inode_set_ctime_current(self.as_ptr());
            bindings::kext_inode_set_times(self.as_ptr(), Time::Modify as i32, now.tv_sec, now.tv_nsec as u32);
        }
    }

    /// Sets ctime to now (an inode change).
    pub fn touch_ctime(&self) {
        // SAFETY: live inode.
        unsafe { bindings::inode_set_ctime_current(self.as_ptr()) };
    }

    /// Sets the block count the VFS reports (`i_blocks`, 512-byte units)
    /// from a count of 4 KiB blocks.
    pub fn set_fs_blocks(&self, blocks: u64) {
        // SAFETY: live inode; `i_blocks` is protected by the callers'
        // locks like the block map it mirrors.
        unsafe { (*self.as_ptr()).i_blocks = blocks << 3 };
    }

    /// Queues the inode for `write_inode` (`mark_inode_dirty`).
    pub fn mark_dirty(&self) {
        // SAFETY: live inode.
        unsafe { bindings::kext_mark_inode_dirty(self.as_ptr()) };
    }

    /// Finds inode `ino` in the inode cache or starts a new one that the
    /// caller must fill in ([`Lookup::New`]).
    pub fn iget(sb: &SuperBlock<T>, ino: u64) -> Result<Lookup<T>> {
        // SAFETY: `sb` is a live super block of `T`.
        let inode = unsafe { bindings::iget_locked(sb.raw().as_ptr(), ino as usize) };
        let inode = NonNull::new(inode).ok_or(code::ENOMEM)?;
        // SAFETY: `iget_locked` returned a referenced inode of `sb`.
        if unsafe { (*inode.as_ptr()).i_state } & bindings::KEXT_S_NEW as u32 != 0 {
            Ok(Lookup::New(NewInode { inode, _p: PhantomData }))
        } else {
            // SAFETY: the inode is ours to own one reference of.
            Ok(Lookup::Cached(unsafe { ARef::from_raw(inode.cast()) }))
        }
    }
}

/// The result of [`Inode::iget`].
pub enum Lookup<T: FileSystem> {
    /// The inode was in the cache, fully set up.
    Cached(ARef<Inode<T>>),
    /// A new, locked inode that must be filled from disk.
    New(NewInode<T>),
}

/// A locked inode (`I_NEW`) being read in. [`NewInode::finish`] publishes
/// it; dropping it instead marks it bad and releases it.
pub struct NewInode<T: FileSystem> {
    inode: NonNull<bindings::inode>,
    _p: PhantomData<T>,
}

/// The identity of a new inode: what `T` read from disk or just chose.
pub struct InodeParams {
    /// Type and permission bits.
    pub mode: u16,
    /// Link count.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// 4 KiB blocks owned.
    pub blocks: u64,
    /// Access, modification and change times as (seconds, nanoseconds).
    pub atime: (i64, u32),
    /// Modification time.
    pub mtime: (i64, u32),
    /// Change time.
    pub ctime: (i64, u32),
    /// Generation number.
    pub generation: u32,
    /// The kind, which picks the operation tables.
    pub kind: Kind,
}

impl<T: FileSystem> NewInode<T> {
    /// The inode, for `T` to fill its data.
    pub fn inode(&self) -> &Inode<T> {
        // SAFETY: we hold a reference to a new inode of `T`.
        unsafe { Inode::from_raw(self.inode.as_ptr()) }
    }

    /// Sets the VFS fields from `p`.
    pub fn set_params(&self, p: &InodeParams) {
        let i = self.inode.as_ptr();
        // SAFETY: nobody else can see an `I_NEW` inode's fields yet.
        unsafe {
            (*i).i_mode = p.mode;
            bindings::set_nlink(i, p.nlink);
            bindings::kext_i_uid_write(i, p.uid);
            bindings::kext_i_gid_write(i, p.gid);
            bindings::kext_i_size_write(i, p.size as i64);
            (*i).i_blocks = p.blocks << 3;
            bindings::kext_inode_set_times(i, 0, p.atime.0, p.atime.1);
            bindings::kext_inode_set_times(i, 1, p.mtime.0, p.mtime.1);
            bindings::kext_inode_set_times(i, 2, p.ctime.0, p.ctime.1);
            (*i).i_generation = p.generation;
        }
        vtable::set_inode_ops::<T>(i, p.kind);
    }

    /// Unlocks the inode and returns it, ready for use.
    pub fn finish(self) -> ARef<Inode<T>> {
        let this = ManuallyDrop::new(self);
        // SAFETY: a filled `I_NEW` inode that we hold a reference to.
        unsafe { bindings::unlock_new_inode(this.inode.as_ptr()) };
        // SAFETY: the reference we held is handed to the `ARef`.
        unsafe { ARef::from_raw(this.inode.cast()) }
    }
}

impl<T: FileSystem> Drop for NewInode<T> {
    fn drop(&mut self) {
        // SAFETY: an `I_NEW` inode we hold a reference to; `iget_failed`
        // marks it bad, unlocks it and drops the reference.
        unsafe { bindings::iget_failed(self.inode.as_ptr()) };
    }
}
