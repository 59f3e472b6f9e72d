// SPDX-License-Identifier: GPL-2.0

//! The C operation tables of a [`FileSystem`] and their trampolines.
//!
//! Each table is a constant per filesystem type; each callback converts
//! its raw arguments into the safe types of [`super`] and calls the trait.
//! Library functions are used directly wherever the VFS, the page cache or
//! iomap already does the job (`generic_file_llseek`, `filemap_fault`,
//! `iomap_dirty_folio`...).

use super::{
    file::{File, IovIter, Kiocb, VmFault},
    inode::{Inode, InodeBox, Kind},
    iomap,
    sb::{RawSuperBlock, SuperBlock},
    writeback::{Mapping, WritebackControl},
    DirEmitter, FileSystem, FsContext, ParamError, RenameMode, SeqFile,
};
use crate::kext::bindings;
use core::{
    ffi::{c_int, c_uint, c_void},
    marker::PhantomData,
    mem::MaybeUninit,
    ptr::{self, NonNull},
};
use kernel::ffi::c_char;
use kernel::str::CStr;
use kernel::{
    alloc::{flags, KBox},
    error::{code, Error, Result},
    init::{InPlaceInit, PinInit},
    types::ARef,
};

/// `ERR_PTR(err)`.
fn err_ptr<P>(err: Error) -> *mut P {
    err.to_errno() as isize as *mut P
}

fn to_errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The name of a dentry.
///
/// # Safety
///
/// `dentry` must be live and its name stable (the parent's `i_rwsem` or
/// the dentry's own reference keeps it so in every caller).
unsafe fn dentry_name<'a>(dentry: *const bindings::dentry) -> &'a [u8] {
    let mut len = 0;
    // SAFETY: per the function's contract.
    unsafe {
        let name = bindings::kext_dentry_name(dentry, &mut len);
        core::slice::from_raw_parts(name, len as usize)
    }
}

struct Tables<T>(PhantomData<T>);

/// An all-zero operation table, completed field by field in the constants
/// below. Only used for the C operation structs.
const fn zeroed<S>() -> S {
    // SAFETY: the operation tables are plain C structs of optional
    // function pointers, flags and pointers, for which all-zero is valid
    // and means "no operation".
    unsafe { MaybeUninit::<S>::zeroed().assume_init() }
}

impl<T: FileSystem> Tables<T> {
    const FC_OPS: bindings::fs_context_operations = bindings::fs_context_operations {
        free: Some(fc_free::<T>),
        parse_param: Some(fc_parse_param::<T>),
        get_tree: Some(fc_get_tree::<T>),
        reconfigure: Some(fc_reconfigure::<T>),
        ..zeroed()
    };

    const SUPER_OPS: bindings::super_operations = bindings::super_operations {
        alloc_inode: Some(alloc_inode::<T>),
        free_inode: Some(free_inode::<T>),
        write_inode: Some(write_inode::<T>),
        dirty_inode: Some(dirty_inode::<T>),
        evict_inode: Some(evict_inode::<T>),
        put_super: Some(put_super::<T>),
        sync_fs: Some(sync_fs::<T>),
        statfs: Some(statfs::<T>),
        show_options: Some(show_options::<T>),
        ..zeroed()
    };

    const DIR_IOPS: bindings::inode_operations = bindings::inode_operations {
        lookup: Some(lookup::<T>),
        create: Some(create::<T>),
        mkdir: Some(mkdir::<T>),
        mknod: Some(mknod::<T>),
        symlink: Some(symlink::<T>),
        link: Some(link::<T>),
        unlink: Some(unlink::<T>),
        rmdir: Some(rmdir::<T>),
        rename: Some(rename::<T>),
        setattr: Some(setattr::<T>),
        getattr: Some(getattr::<T>),
        ..zeroed()
    };

    const FILE_IOPS: bindings::inode_operations =
        bindings::inode_operations { setattr: Some(setattr::<T>), getattr: Some(getattr::<T>), ..zeroed() };

    const SYMLINK_IOPS: bindings::inode_operations = bindings::inode_operations {
        get_link: Some(get_link::<T>),
        setattr: Some(setattr::<T>),
        getattr: Some(getattr::<T>),
        ..zeroed()
    };

    const DIR_FOPS: bindings::file_operations = bindings::file_operations {
        llseek: Some(bindings::generic_file_llseek),
        read: Some(bindings::generic_read_dir),
        iterate_shared: Some(readdir::<T>),
        fsync: Some(fsync::<T>),
        unlocked_ioctl: Some(ioctl::<T>),
        ..zeroed()
    };

    const FILE_FOPS: bindings::file_operations = bindings::file_operations {
        llseek: Some(llseek::<T>),
        read_iter: Some(read_iter::<T>),
        write_iter: Some(write_iter::<T>),
        mmap: Some(mmap::<T>),
        open: Some(open::<T>),
        fsync: Some(fsync::<T>),
        unlocked_ioctl: Some(ioctl::<T>),
        splice_read: Some(bindings::filemap_splice_read),
        splice_write: Some(bindings::iter_file_splice_write),
        fop_flags: bindings::KEXT_FOP_BUFFER_RASYNC,
        ..zeroed()
    };

    const AOPS: bindings::address_space_operations = bindings::address_space_operations {
        read_folio: Some(iomap::read_folio::<T>),
        readahead: Some(iomap::readahead::<T>),
        writepages: Some(writepages::<T>),
        dirty_folio: Some(bindings::iomap_dirty_folio),
        release_folio: Some(bindings::iomap_release_folio),
        invalidate_folio: Some(bindings::iomap_invalidate_folio),
        is_partially_uptodate: Some(bindings::iomap_is_partially_uptodate),
        error_remove_folio: Some(bindings::generic_error_remove_folio),
        ..zeroed()
    };

    const VM_OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(bindings::filemap_fault),
        map_pages: Some(bindings::filemap_map_pages),
        page_mkwrite: Some(page_mkwrite::<T>),
        ..zeroed()
    };
}

/// Installs the operation tables for an inode of `kind`.
pub(crate) fn set_inode_ops<T: FileSystem>(inode: *mut bindings::inode, kind: Kind) {
    // SAFETY: called on new inodes (`I_NEW` or not yet instantiated) that
    // nobody else uses yet; the tables are 'static.
    unsafe {
        match kind {
            Kind::Regular => {
                (*inode).i_op = &Tables::<T>::FILE_IOPS;
                (*inode).__bindgen_anon_3.i_fop = &Tables::<T>::FILE_FOPS;
                (*(*inode).i_mapping).a_ops = &Tables::<T>::AOPS;
            }
            Kind::Directory => {
                (*inode).i_op = &Tables::<T>::DIR_IOPS;
                (*inode).__bindgen_anon_3.i_fop = &Tables::<T>::DIR_FOPS;
            }
            Kind::Symlink => {
                (*inode).i_op = &Tables::<T>::SYMLINK_IOPS;
            }
            Kind::Special(rdev) => {
                (*inode).i_op = &Tables::<T>::FILE_IOPS;
                bindings::init_special_inode(inode, (*inode).i_mode, bindings::kext_new_decode_dev(rdev));
            }
        }
    }
}

// ---- mounting ---------------------------------------------------------

pub(crate) unsafe extern "C" fn init_fs_context<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    let Ok(opts) = KBox::new(T::Options::default(), flags::GFP_KERNEL) else {
        return code::ENOMEM.to_errno();
    };
    // SAFETY: the VFS passes a new context; `fc_free` frees `fs_private`.
    unsafe {
        (*fc).fs_private = KBox::into_raw(opts).cast();
        (*fc).ops = &Tables::<T>::FC_OPS;
    }
    0
}

/// # Safety
///
/// `fc` must be a context set up by `init_fs_context::<T>`.
unsafe fn options<'a, T: FileSystem>(fc: *mut bindings::fs_context) -> &'a mut T::Options {
    // SAFETY: `fs_private` is our boxed options until `fc_free`.
    unsafe { &mut *(*fc).fs_private.cast::<T::Options>() }
}

unsafe extern "C" fn fc_free<T: FileSystem>(fc: *mut bindings::fs_context) {
    // SAFETY: set in `init_fs_context`; freed once, here.
    unsafe {
        let p = (*fc).fs_private.cast::<T::Options>();
        if !p.is_null() {
            drop(KBox::from_raw(p));
            (*fc).fs_private = ptr::null_mut();
        }
    }
}

unsafe extern "C" fn fc_parse_param<T: FileSystem>(
    fc: *mut bindings::fs_context,
    param: *mut bindings::fs_parameter,
) -> c_int {
    // SAFETY: the VFS passes a live parameter with a NUL-terminated key and,
    // for string values, a NUL-terminated string.
    let (key, value) = unsafe {
        let key = CStr::from_char_ptr((*param).key).as_bytes();
        let value = if (*param).type_() == bindings::fs_value_type_fs_value_is_string {
            Some(CStr::from_char_ptr((*param).__bindgen_anon_1.string).as_bytes())
        } else {
            None
        };
        (key, value)
    };
    // SAFETY: `fc` was set up by `init_fs_context::<T>`.
    match T::parse_param(unsafe { options::<T>(fc) }, key, value) {
        Ok(()) => 0,
        Err(ParamError::Unknown) => super::enoparam().to_errno(),
        Err(ParamError::Invalid(msg)) => {
            FsContext(NonNull::new(fc).unwrap_or(NonNull::dangling())).error(msg);
            super::einval().to_errno()
        }
    }
}

unsafe extern "C" fn fc_get_tree<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: live context; `fill_super` matches the expected signature.
    unsafe { bindings::get_tree_bdev(fc, Some(fill_super::<T>)) }
}

/// # Safety
///
/// Called by `reconfigure_super` with a reconfiguration context of one of
/// our mounts; the caller holds `s_umount` for writing.
unsafe extern "C" fn fc_reconfigure<T: FileSystem>(fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: a reconfiguration context has the mounted root, whose super
    // block is ours and held (`s_umount`) for the call.
    let (raw_sb, read_only) = unsafe {
        let raw_sb = (*(*fc).root).d_sb;
        (raw_sb, (*fc).sb_flags & bindings::KEXT_SB_RDONLY as u32 != 0)
    };
    // SAFETY: as above; the super block is live and ours.
    let sb = unsafe { SuperBlock::<T>::from_raw(raw_sb) };
    // The VFS does not write anything back on `remount,ro` (since 5.17 each
    // filesystem syncs in its own reconfigure, as ext4 and xfs do). Once
    // SB_RDONLY is set, dirty pages and inodes can no longer be written, so
    // everything is synced here, before the filesystem sees the change.
    if read_only && !sb.raw().is_read_only() {
        // SAFETY: `s_umount` is held (see above), as `sync_filesystem` needs.
        let ret = unsafe { bindings::sync_filesystem(raw_sb) };
        if ret != 0 {
            return ret;
        }
    }
    // SAFETY: `fc` is the live context of this call.
    to_errno(T::reconfigure(sb, unsafe { options::<T>(fc) }, read_only))
}

unsafe extern "C" fn fill_super<T: FileSystem>(sb: *mut bindings::super_block, fc: *mut bindings::fs_context) -> c_int {
    // SAFETY: `get_tree_bdev` passes a new super block and our context.
    let (raw, opts, ctx) = unsafe {
        (RawSuperBlock::from_raw(sb), options::<T>(fc), FsContext(NonNull::new_unchecked(fc)))
    };
    // SAFETY: the super block is not visible to anyone else yet.
    unsafe {
        (*sb).s_op = &Tables::<T>::SUPER_OPS;
    }
    raw.set_limits(T::MAX_BYTES, T::MAX_LINKS, T::MAGIC);
    let info = match T::fill_super(raw, opts, &ctx).and_then(|init| KBox::try_pin_init(init, flags::GFP_KERNEL)) {
        Ok(info) => info,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: from here on `s_fs_info` is our boxed info; `kill_sb` frees
    // it (in place: it is never moved) after the super block is shut down.
    unsafe { (*sb).s_fs_info = KBox::into_raw(core::pin::Pin::into_inner_unchecked(info)).cast() };
    // SAFETY: `s_fs_info` is set.
    let sbt = unsafe { SuperBlock::<T>::from_raw(sb) };
    let root = match T::root(sbt) {
        Ok(root) => root,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: `d_make_root` consumes the inode reference, also on failure.
    let dentry = unsafe { bindings::d_make_root(ARef::into_raw(root).as_ptr().cast()) };
    if dentry.is_null() {
        return code::ENOMEM.to_errno();
    }
    // SAFETY: the new super block is ours to set up.
    unsafe { (*sb).s_root = dentry };
    0
}

pub(crate) unsafe extern "C" fn kill_sb<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: the VFS shuts down one of our super blocks. `put_super` (inside
    // `kill_block_super`) still sees `s_fs_info`; we free it afterwards.
    unsafe {
        let info = (*sb).s_fs_info.cast::<T::SbInfo>();
        bindings::kill_block_super(sb);
        if !info.is_null() {
            drop(KBox::from_raw(info));
        }
    }
}

// ---- super block ------------------------------------------------------

unsafe extern "C" fn alloc_inode<T: FileSystem>(_sb: *mut bindings::super_block) -> *mut bindings::inode {
    let Ok(b) = KBox::<InodeBox<T>>::new_uninit(flags::GFP_KERNEL) else {
        return ptr::null_mut();
    };
    let p = KBox::into_raw(b).cast::<InodeBox<T>>();
    // SAFETY: `p` is a fresh allocation of the right layout; the data field
    // is initialised in place (pinned: the box never moves).
    unsafe {
        let data = ptr::addr_of_mut!((*p).data);
        if T::init_inode_data().__pinned_init(data).is_err() {
            drop(KBox::from_raw(p.cast::<MaybeUninit<InodeBox<T>>>()));
            return ptr::null_mut();
        }
        let inode = (*p).inode.get();
        bindings::inode_init_once(inode);
        inode
    }
}

unsafe extern "C" fn free_inode<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: the VFS frees an inode we allocated, after an RCU grace
    // period; nobody uses it any more.
    unsafe {
        let p = inode.cast::<InodeBox<T>>();
        ptr::drop_in_place(ptr::addr_of_mut!((*p).data));
        drop(KBox::from_raw(p.cast::<MaybeUninit<InodeBox<T>>>()));
    }
}

unsafe extern "C" fn write_inode<T: FileSystem>(
    inode: *mut bindings::inode,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    // SAFETY: the VFS writes a referenced inode of ours.
    let (inode, sync) = unsafe {
        (Inode::<T>::from_raw(inode), (*wbc).sync_mode == bindings::writeback_sync_modes_WB_SYNC_ALL)
    };
    to_errno(T::write_inode(inode, sync))
}

unsafe extern "C" fn dirty_inode<T: FileSystem>(inode: *mut bindings::inode, flags: c_int) {
    // Only the inode's own fields; timestamps alone (`I_DIRTY_TIME`,
    // lazytime) wait for `write_inode`.
    if flags & bindings::KEXT_I_DIRTY_INODE == 0 {
        return;
    }
    // SAFETY: `__mark_inode_dirty` passes a referenced inode of ours.
    T::dirty_inode(unsafe { Inode::<T>::from_raw(inode) })
}

unsafe extern "C" fn evict_inode<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: the last reference is gone; the inode is ours until
    // `clear_inode`. Its page cache goes first, as the contract requires.
    unsafe {
        bindings::truncate_inode_pages_final(&mut (*inode).i_data);
        T::evict_inode(Inode::<T>::from_raw(inode));
        bindings::clear_inode(inode);
    }
}

unsafe extern "C" fn put_super<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: called from `kill_block_super` with `s_fs_info` still set.
    T::put_super(unsafe { SuperBlock::<T>::from_raw(sb) });
}

unsafe extern "C" fn sync_fs<T: FileSystem>(sb: *mut bindings::super_block, wait: c_int) -> c_int {
    // SAFETY: a mounted super block of ours.
    to_errno(T::sync_fs(unsafe { SuperBlock::<T>::from_raw(sb) }, wait != 0))
}

unsafe extern "C" fn statfs<T: FileSystem>(dentry: *mut bindings::dentry, buf: *mut bindings::kstatfs) -> c_int {
    // SAFETY: a dentry of a mounted super block of ours; `buf` is writable.
    unsafe {
        let sb = SuperBlock::<T>::from_raw((*dentry).d_sb);
        match T::statfs(sb) {
            Ok(s) => {
                let b = &mut *buf;
                b.f_type = T::MAGIC as _;
                b.f_bsize = T::BLOCK_SIZE as _;
                b.f_frsize = T::BLOCK_SIZE as _;
                b.f_blocks = s.blocks;
                b.f_bfree = s.free_blocks;
                b.f_bavail = s.free_blocks;
                b.f_files = s.files;
                b.f_ffree = s.free_files;
                b.f_namelen = s.name_len as _;
                b.f_fsid.val = [s.fsid as u32 as i32, (s.fsid >> 32) as u32 as i32];
                0
            }
            Err(e) => e.to_errno(),
        }
    }
}

unsafe extern "C" fn show_options<T: FileSystem>(seq: *mut bindings::seq_file, root: *mut bindings::dentry) -> c_int {
    // SAFETY: the root dentry of a mounted super block of ours.
    let sb = unsafe { SuperBlock::<T>::from_raw((*root).d_sb) };
    // SAFETY: `seq` is live during the call.
    let mut out = SeqFile(unsafe { NonNull::new_unchecked(seq) });
    to_errno(T::show_options(sb, &mut out))
}

// ---- directories ------------------------------------------------------

unsafe extern "C" fn lookup<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: the VFS holds the parent's `i_rwsem` and a dentry reference.
    let (dir, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
    match T::lookup(dir, name) {
        // SAFETY: `d_splice_alias` takes over the inode reference (or NULL).
        Ok(found) => unsafe {
            let inode = found.map_or(ptr::null_mut(), |i| ARef::into_raw(i).as_ptr().cast());
            bindings::d_splice_alias(inode, dentry)
        },
        Err(e) => err_ptr(e),
    }
}

/// A new inode being created by [`FileSystem::create`].
pub struct NewChild<'a, T: FileSystem> {
    inode: NonNull<bindings::inode>,
    kind: Kind,
    target: &'a [u8],
    hashed: bool,
    _p: PhantomData<T>,
}

impl<T: FileSystem> NewChild<'_, T> {
    /// The inode (mode, owner and group already set).
    pub fn inode(&self) -> &Inode<T> {
        // SAFETY: we hold the only reference to a new inode of `T`.
        unsafe { Inode::from_raw(self.inode.as_ptr()) }
    }

    /// What is being created.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// For symlinks: the target.
    pub fn symlink_target(&self) -> &[u8] {
        self.target
    }

    /// Gives the inode its number and makes it findable (`I_NEW` until the
    /// create finishes); sets times to now, the link count and the
    /// operation tables.
    pub fn activate(&mut self, ino: u64, generation: u32, nlink: u32) -> Result {
        let i = self.inode.as_ptr();
        // SAFETY: a new inode only we use; `insert_inode_locked` hashes it.
        unsafe {
            (*i).i_ino = ino as usize;
            (*i).i_generation = generation;
            bindings::set_nlink(i, nlink);
            let now = bindings::inode_set_ctime_current(i);
            bindings::kext_inode_set_times(i, 0, now.tv_sec, now.tv_nsec as u32);
            bindings::kext_inode_set_times(i, 1, now.tv_sec, now.tv_nsec as u32);
            if let Err(e) = crate::kext::error::from_ret(bindings::insert_inode_locked(i)) {
                // The number is in use by a live inode: this one must not
                // carry it into its eviction (which frees its number).
                (*i).i_ino = 0;
                return Err(e);
            }
        }
        self.hashed = true;
        set_inode_ops::<T>(i, self.kind);
        Ok(())
    }
}

impl<T: FileSystem> Drop for NewChild<'_, T> {
    fn drop(&mut self) {
        let i = self.inode.as_ptr();
        // SAFETY: the create failed; with no links the inode's eviction
        // gives back whatever `T` allocated for it.
        unsafe {
            bindings::clear_nlink(i);
            if self.hashed {
                bindings::discard_new_inode(i);
            } else {
                bindings::iput(i);
            }
        }
    }
}

/// The common part of create, mkdir, mknod and symlink.
///
/// # Safety
///
/// Arguments as the VFS passes them to those inode operations.
unsafe fn new_child<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
    kind: Kind,
    target: &[u8],
) -> c_int {
    // SAFETY: per the contract.
    let (dirt, name) = unsafe { (Inode::<T>::from_raw(dir), dentry_name(dentry)) };
    // SAFETY: live super block of the parent.
    let inode = unsafe { bindings::new_inode((*dir).i_sb) };
    let Some(inode) = NonNull::new(inode) else {
        return code::ENOMEM.to_errno();
    };
    // SAFETY: a new inode; sets owner, group and mode as the VFS rules say.
    unsafe { bindings::inode_init_owner(idmap, inode.as_ptr(), dir, mode) };
    let mut child = NewChild::<T> { inode, kind, target, hashed: false, _p: PhantomData };
    match T::create(dirt, name, &mut child) {
        Ok(()) if child.hashed => {
            let child = core::mem::ManuallyDrop::new(child);
            // SAFETY: instantiate the hashed `I_NEW` inode; consumes our
            // reference and clears `I_NEW`.
            unsafe { bindings::d_instantiate_new(dentry, child.inode.as_ptr()) };
            0
        }
        Ok(()) => code::EIO.to_errno(),
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn create<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
    _excl: bool,
) -> c_int {
    // SAFETY: forwarded from the VFS.
    unsafe { new_child::<T>(idmap, dir, dentry, mode, Kind::Regular, &[]) }
}

unsafe extern "C" fn mkdir<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
) -> c_int {
    // SAFETY: forwarded from the VFS.
    unsafe { new_child::<T>(idmap, dir, dentry, mode | bindings::S_IFDIR as u16, Kind::Directory, &[]) }
}

unsafe extern "C" fn mknod<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
    rdev: bindings::dev_t,
) -> c_int {
    let kind = if mode as u32 & bindings::S_IFMT == bindings::S_IFREG {
        Kind::Regular
    } else {
        // SAFETY: pure conversion.
        Kind::Special(unsafe { bindings::kext_new_encode_dev(rdev) })
    };
    // SAFETY: forwarded from the VFS.
    unsafe { new_child::<T>(idmap, dir, dentry, mode, kind, &[]) }
}

unsafe extern "C" fn symlink<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    target: *const c_char,
) -> c_int {
    // SAFETY: the VFS passes a NUL-terminated target.
    let target = unsafe { CStr::from_char_ptr(target) }.as_bytes();
    let mode = (bindings::S_IFLNK | 0o777) as u16;
    // SAFETY: forwarded from the VFS.
    unsafe { new_child::<T>(idmap, dir, dentry, mode, Kind::Symlink, target) }
}

unsafe extern "C" fn link<T: FileSystem>(
    old_dentry: *mut bindings::dentry,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    // SAFETY: the VFS holds both locks and references.
    unsafe {
        let inode = bindings::kext_d_inode(old_dentry);
        let r = T::link(Inode::<T>::from_raw(dir), dentry_name(dentry), Inode::<T>::from_raw(inode));
        if r.is_ok() {
            bindings::ihold(inode);
            bindings::d_instantiate(dentry, inode);
        }
        to_errno(r)
    }
}

unsafe extern "C" fn unlink<T: FileSystem>(dir: *mut bindings::inode, dentry: *mut bindings::dentry) -> c_int {
    // SAFETY: the VFS holds the locks of parent and child.
    unsafe {
        let inode = Inode::<T>::from_raw(bindings::kext_d_inode(dentry));
        to_errno(T::unlink(Inode::<T>::from_raw(dir), dentry_name(dentry), inode))
    }
}

unsafe extern "C" fn rmdir<T: FileSystem>(dir: *mut bindings::inode, dentry: *mut bindings::dentry) -> c_int {
    // SAFETY: the VFS holds the locks of parent and child.
    unsafe {
        let inode = Inode::<T>::from_raw(bindings::kext_d_inode(dentry));
        to_errno(T::rmdir(Inode::<T>::from_raw(dir), dentry_name(dentry), inode))
    }
}

unsafe extern "C" fn rename<T: FileSystem>(
    _idmap: *mut bindings::mnt_idmap,
    old_dir: *mut bindings::inode,
    old_dentry: *mut bindings::dentry,
    new_dir: *mut bindings::inode,
    new_dentry: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    let mode = match flags {
        0 => RenameMode::Replace,
        f if f == bindings::KEXT_RENAME_NOREPLACE => RenameMode::NoReplace,
        f if f == bindings::KEXT_RENAME_EXCHANGE => RenameMode::Exchange,
        _ => return code::EINVAL.to_errno(),
    };
    // SAFETY: the VFS holds the rename locks and references to everything.
    unsafe {
        let new_inode = bindings::kext_d_inode(new_dentry);
        let new_inode = if new_inode.is_null() { None } else { Some(Inode::<T>::from_raw(new_inode)) };
        to_errno(T::rename(
            Inode::<T>::from_raw(old_dir),
            dentry_name(old_dentry),
            Inode::<T>::from_raw(bindings::kext_d_inode(old_dentry)),
            Inode::<T>::from_raw(new_dir),
            dentry_name(new_dentry),
            new_inode,
            mode,
        ))
    }
}

unsafe extern "C" fn setattr<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    // SAFETY: the VFS holds the inode's `i_rwsem` and passes a live iattr.
    unsafe {
        let raw = bindings::kext_d_inode(dentry);
        let r = bindings::setattr_prepare(idmap, dentry, attr);
        if r != 0 {
            return r;
        }
        let inode = Inode::<T>::from_raw(raw);
        if (*attr).ia_valid & bindings::KEXT_ATTR_SIZE != 0 && (*attr).ia_size as u64 != inode.size() {
            let mapping = (*raw).i_mapping;
            bindings::kext_filemap_invalidate_lock(mapping);
            let r = T::set_size(inode, (*attr).ia_size as u64);
            bindings::kext_filemap_invalidate_unlock(mapping);
            if let Err(e) = r {
                return e.to_errno();
            }
        }
        bindings::setattr_copy(idmap, raw, attr);
        bindings::kext_mark_inode_dirty(raw);
        0
    }
}

unsafe extern "C" fn getattr<T: FileSystem>(
    idmap: *mut bindings::mnt_idmap,
    path: *const bindings::path,
    stat: *mut bindings::kstat,
    request_mask: u32,
    _flags: c_uint,
) -> c_int {
    // SAFETY: the VFS passes a live path and a writable kstat.
    unsafe { bindings::generic_fillattr(idmap, request_mask, bindings::kext_d_inode((*path).dentry), stat) };
    0
}

unsafe extern "C" fn get_link<T: FileSystem>(
    dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    done: *mut bindings::delayed_call,
) -> *const c_char {
    if dentry.is_null() {
        // RCU walk: reading the target may sleep; ask for a ref-walk.
        return err_ptr::<c_char>(code::ECHILD);
    }
    // SAFETY: the VFS holds a reference to the symlink inode.
    let target = match T::read_link(unsafe { Inode::<T>::from_raw(inode) }) {
        Ok(t) => t,
        Err(e) => return err_ptr::<c_char>(e),
    };
    let mut target = target;
    if target.push(0, flags::GFP_KERNEL).is_err() {
        return err_ptr::<c_char>(code::ENOMEM);
    }
    let (buf, _len, _cap) = target.into_raw_parts();
    // SAFETY: `buf` is a kmalloc'd (KVec) NUL-terminated string; the VFS
    // frees it with `kfree_link` when done.
    unsafe { bindings::kext_set_delayed_call_kfree(done, buf.cast::<c_void>()) };
    buf.cast::<c_char>()
}

unsafe extern "C" fn readdir<T: FileSystem>(file: *mut bindings::file, ctx: *mut bindings::dir_context) -> c_int {
    // SAFETY: the VFS holds the directory's `i_rwsem` shared and passes a
    // live context.
    unsafe {
        let dir = Inode::<T>::from_raw(bindings::kext_file_inode(file));
        let mut emitter = DirEmitter {
            file: NonNull::new_unchecked(file),
            ctx: NonNull::new_unchecked(ctx),
            _p: PhantomData,
        };
        to_errno(T::readdir(dir, &mut emitter))
    }
}

// ---- regular files ----------------------------------------------------

fn file<'a, T: FileSystem>(file: *mut bindings::file) -> File<'a, T> {
    // SAFETY: only called with the live file of a file operation.
    File { file: unsafe { NonNull::new_unchecked(file) }, _p: PhantomData }
}

unsafe extern "C" fn open<T: FileSystem>(inode: *mut bindings::inode, f: *mut bindings::file) -> c_int {
    // SAFETY: the VFS opens a file of ours; `f_mode` is ours to extend
    // during `open`.
    unsafe {
        (*f).f_mode |= bindings::KEXT_FMODE_CAN_ODIRECT;
        bindings::generic_file_open(inode, f)
    }
}

unsafe extern "C" fn llseek<T: FileSystem>(f: *mut bindings::file, offset: i64, whence: c_int) -> i64 {
    match T::llseek(&file::<T>(f), offset, whence) {
        Ok(pos) => pos,
        Err(e) => e.to_errno() as i64,
    }
}

unsafe extern "C" fn ioctl<T: FileSystem>(f: *mut bindings::file, cmd: c_uint, arg: usize) -> isize {
    match T::ioctl(&file::<T>(f), cmd, arg) {
        Ok(v) => v as isize,
        Err(e) => e.to_errno() as isize,
    }
}

unsafe extern "C" fn fsync<T: FileSystem>(f: *mut bindings::file, start: i64, end: i64, datasync: c_int) -> c_int {
    to_errno(T::fsync(&file::<T>(f), start, end, datasync != 0))
}

unsafe extern "C" fn read_iter<T: FileSystem>(iocb: *mut bindings::kiocb, to: *mut bindings::iov_iter) -> isize {
    // SAFETY: the VFS passes live, exclusive kiocb and iterator.
    let (mut iocb, mut to) = unsafe {
        (
            Kiocb::<T> { iocb: NonNull::new_unchecked(iocb), _p: PhantomData },
            IovIter { iter: NonNull::new_unchecked(to), _p: PhantomData },
        )
    };
    match T::read_iter(&mut iocb, &mut to) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

unsafe extern "C" fn write_iter<T: FileSystem>(iocb: *mut bindings::kiocb, from: *mut bindings::iov_iter) -> isize {
    // SAFETY: as in `read_iter`.
    let (mut iocb, mut from) = unsafe {
        (
            Kiocb::<T> { iocb: NonNull::new_unchecked(iocb), _p: PhantomData },
            IovIter { iter: NonNull::new_unchecked(from), _p: PhantomData },
        )
    };
    match T::write_iter(&mut iocb, &mut from) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

unsafe extern "C" fn mmap<T: FileSystem>(f: *mut bindings::file, vma: *mut bindings::vm_area_struct) -> c_int {
    // SAFETY: the VFS sets up a mapping of our file; `vm_ops` is ours to set.
    unsafe {
        bindings::touch_atime(&mut (*f).f_path);
        (*vma).vm_ops = &Tables::<T>::VM_OPS;
    }
    0
}

unsafe extern "C" fn page_mkwrite<T: FileSystem>(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    // SAFETY: the fault handler passes a live fault on our mapping.
    let vmf = VmFault::<T> { vmf: unsafe { NonNull::new_unchecked(vmf) }, _p: PhantomData };
    T::page_mkwrite(&vmf)
}

unsafe extern "C" fn writepages<T: FileSystem>(
    mapping: *mut bindings::address_space,
    wbc: *mut bindings::writeback_control,
) -> c_int {
    // SAFETY: writeback passes a live mapping of our inode and its control.
    let (mapping, wbc) = unsafe {
        (Mapping::<T> { mapping: NonNull::new_unchecked(mapping), _p: PhantomData }, WritebackControl::from_raw(wbc))
    };
    to_errno(T::writepages(&mapping, wbc))
}
