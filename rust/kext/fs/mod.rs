// SPDX-License-Identifier: GPL-2.0

//! Disk filesystems: registration, super blocks, inodes, directories,
//! files, and the data path through iomap and writeback.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)
//!
//! A filesystem implements [`FileSystem`] and registers it with
//! [`Registration`]. This layer owns every C operation table
//! ([`vtable`]): each callback is a private trampoline that turns raw
//! pointers into the safe types of this module and calls the trait. The
//! filesystem never sees a raw pointer.
//!
//! - [`sb`], [`inode`]: super blocks and inodes with per-fs data.
//! - [`buffer`]: metadata blocks through the buffer cache.
//! - [`file`]: `kiocb`, `iov_iter`, open files and page faults.
//! - [`iomap`]: the block-mapping contract and the iomap library calls.
//! - [`writeback`]: `writeback_iter()`, locked folios and write bios.
//! - [`write_end`]: where writes to unwritten blocks complete.

pub mod buffer;
pub mod file;
pub mod inode;
pub mod iomap;
pub mod sb;
pub mod vtable;
pub mod write_end;
pub mod writeback;

use crate::kext::bindings;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::ffi::c_char;
use file::{File, IovIter, Kiocb, VmFault};
use inode::Inode;
use iomap::{IoMapping, IomapFlags};
use kernel::{
    alloc::{KBox, KVec},
    error::{code, Error, Result},
    init::PinInit,
    str::CStr,
    types::ARef,
    ThisModule,
};
use sb::{RawSuperBlock, SuperBlock};
use writeback::{Mapping, WritebackControl};

/// Why a mount option was not accepted.
pub enum ParamError {
    /// Not an option of this filesystem (the VFS then reports it).
    Unknown,
    /// A known option with a bad value; the text is shown to the user.
    Invalid(&'static CStr),
}

/// Filesystem statistics for `statfs(2)`.
#[derive(Default)]
pub struct StatFs {
    /// Blocks in the filesystem.
    pub blocks: u64,
    /// Free blocks.
    pub free_blocks: u64,
    /// Inodes in the filesystem.
    pub files: u64,
    /// Free inodes.
    pub free_files: u64,
    /// Longest name.
    pub name_len: u64,
    /// A filesystem id (from the UUID).
    pub fsid: u64,
}

/// How a rename may go, from `renameat2(2)` flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RenameMode {
    /// Replace the target if it exists.
    Replace,
    /// Fail with `EEXIST` if the target exists (checked by the VFS).
    NoReplace,
    /// Swap source and target, which both exist.
    Exchange,
}

/// A filesystem type.
///
/// Locking, as the VFS provides it: namespace methods run with the parent
/// directories' `i_rwsem` held exclusively (shared for `lookup` and
/// `readdir`) and the child's held for the ones that change it.
pub trait FileSystem: Sized + Send + Sync + 'static {
    /// Per-mount state (`s_fs_info`).
    type SbInfo: Send + Sync;
    /// Per-inode state, stored beside each inode.
    type InodeData: Send + Sync;
    /// Parsed mount options.
    type Options: Default + Send + Sync;

    /// Name in `/proc/filesystems` and for `mount -t`.
    const NAME: &'static CStr;
    /// `statfs` magic.
    const MAGIC: u64;
    /// Largest file size in bytes.
    const MAX_BYTES: u64;
    /// Most hard links an inode may have (`s_max_links`): the VFS refuses
    /// `link` and `mkdir` past it with `EMLINK`.
    const MAX_LINKS: u32;
    /// Filesystem block size in bytes.
    const BLOCK_SIZE: u32;
    /// Whether the write-end work ([`write_end`]) flushes the device's
    /// cache before [`FileSystem::convert_unwritten`]. A filesystem whose
    /// metadata reaches the disk only through a journal commit that
    /// flushes first (`REQ_PREFLUSH`) orders data itself and says `false`.
    const FLUSH_BEFORE_CONVERT: bool = true;

    /// Initialises the per-inode data of a freshly allocated inode.
    fn init_inode_data() -> impl PinInit<Self::InodeData, Error>;

    /// Parses one mount option.
    fn parse_param(opts: &mut Self::Options, key: &[u8], value: Option<&[u8]>) -> Result<(), ParamError>;

    /// Reads and checks the on-disk super block; returns the mount state.
    /// Errors are reported to the user with `fc`.
    fn fill_super(
        sb: &RawSuperBlock,
        opts: &Self::Options,
        fc: &FsContext,
    ) -> Result<impl PinInit<Self::SbInfo, Error>>;

    /// `mount -o remount`: `opts` are the new options, `read_only` the new
    /// state (the current one is `sb.raw().is_read_only()`). The VFS has
    /// synced the filesystem before a switch to read-only.
    fn reconfigure(sb: &SuperBlock<Self>, opts: &Self::Options, read_only: bool) -> Result;

    /// Returns the root directory, once `fill_super` succeeded.
    fn root(sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>>;

    /// Appends `,option=value` text for `/proc/mounts`.
    fn show_options(sb: &SuperBlock<Self>, out: &mut SeqFile) -> Result;

    /// Filesystem statistics.
    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs>;

    /// Writes everything dirty that is not inode data; `wait`: and waits.
    fn sync_fs(sb: &SuperBlock<Self>, wait: bool) -> Result;

    /// Unmount: the last chance to write the super block.
    fn put_super(sb: &SuperBlock<Self>);

    /// Writes the inode's metadata; `sync`: durably before returning.
    fn write_inode(inode: &Inode<Self>, sync: bool) -> Result;

    /// The VFS marked the inode's own fields dirty (`mark_inode_dirty`,
    /// not only its pages or timestamps under `lazytime`): a journalling
    /// filesystem records the inode in its running transaction now, as
    /// ext4's `ext4_dirty_inode` does. Called without the filesystem's
    /// locks held by kext (the caller may hold its own).
    fn dirty_inode(_inode: &Inode<Self>) {}

    /// An ioctl on one of the filesystem's files or directories: `arg` is
    /// the user's argument (a user address for most commands; read it with
    /// [`file::UserPtr`]). `ENOTTY` for commands the filesystem does not
    /// know.
    fn ioctl(_file: &File<'_, Self>, _cmd: u32, _arg: usize) -> Result<i64> {
        Err(kernel::error::code::ENOTTY)
    }

    /// An [`sb::SbTimer`] armed by the filesystem went off (process
    /// context, workqueue).
    fn timer(_sb: &SuperBlock<Self>) {}

    /// The inode leaves memory; if unlinked, free its blocks and number.
    /// Its page cache is already gone.
    fn evict_inode(inode: &Inode<Self>);

    /// Looks `name` up in `dir`.
    fn lookup(dir: &Inode<Self>, name: &[u8]) -> Result<Option<ARef<Inode<Self>>>>;

    /// Creates `name` in `dir` as the new inode `child` (already owned and
    /// moded by `inode_init_owner`).
    fn create(dir: &Inode<Self>, name: &[u8], child: &mut vtable::NewChild<'_, Self>) -> Result;

    /// Adds `name` in `dir` as a new link to `inode`.
    fn link(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result;

    /// Removes `name` (a non-directory, `inode`) from `dir`.
    fn unlink(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result;

    /// Removes the directory `name` (`inode`) from `dir`.
    fn rmdir(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result;

    /// Renames; `new_inode` is the existing target, if any.
    #[allow(clippy::too_many_arguments)]
    fn rename(
        old_dir: &Inode<Self>,
        old_name: &[u8],
        old_inode: &Inode<Self>,
        new_dir: &Inode<Self>,
        new_name: &[u8],
        new_inode: Option<&Inode<Self>>,
        mode: RenameMode,
    ) -> Result;

    /// Lists `dir` from `ctx.pos()`.
    fn readdir(dir: &Inode<Self>, ctx: &mut DirEmitter<'_>) -> Result;

    /// A symlink's target, without a trailing NUL.
    fn read_link(inode: &Inode<Self>) -> Result<KVec<u8>>;

    /// Changes a regular file's size (`truncate`); `i_rwsem` and the
    /// invalidate lock are held.
    fn set_size(inode: &Inode<Self>, size: u64) -> Result;

    /// `read(2)` and friends on a regular file.
    fn read_iter(iocb: &mut Kiocb<'_, Self>, to: &mut IovIter<'_>) -> Result<usize>;

    /// `write(2)` and friends on a regular file.
    fn write_iter(iocb: &mut Kiocb<'_, Self>, from: &mut IovIter<'_>) -> Result<usize>;

    /// `lseek(2)` on a regular file.
    fn llseek(file: &File<'_, Self>, offset: i64, whence: i32) -> Result<i64>;

    /// `fsync(2)`/`fdatasync(2)` for bytes `start..=end`.
    fn fsync(file: &File<'_, Self>, start: i64, end: i64, datasync: bool) -> Result;

    /// A shared writable mapping is about to dirty a page.
    fn page_mkwrite(vmf: &VmFault<'_, Self>) -> u32;

    /// Writes dirty folios of a regular file.
    fn writepages(mapping: &Mapping<'_, Self>, wbc: &mut WritebackControl) -> Result;

    /// The block mapper: maps file bytes `pos..pos+len` for `flags`.
    fn iomap_begin(inode: &Inode<Self>, pos: u64, len: u64, flags: IomapFlags) -> Result<IoMapping>;

    /// Ends a mapping of [`FileSystem::iomap_begin`]; `written` bytes of it
    /// were used.
    fn iomap_end(inode: &Inode<Self>, pos: u64, len: u64, written: u64, flags: IomapFlags, map: &IoMapping) -> Result;

    /// Maps a dirty range for `iomap_writepages`.
    fn writeback_map(inode: &Inode<Self>, pos: u64, len: u64) -> Result<IoMapping>;

    /// A direct write of `size` bytes at `pos` completed (process context).
    fn dio_write_end(inode: &Inode<Self>, pos: u64, size: u64, error: Option<Error>, unwritten: bool) -> Result;

    /// Writeback wrote file bytes `pos..pos + len` into unwritten blocks
    /// and the data is durable (the write completed, the device cache was
    /// flushed): make those blocks written. Process context; the folios
    /// are still under writeback, so the inode and its blocks stay put.
    /// An error is recorded on the file (`fsync` reports it) and the blocks
    /// stay unwritten (they read as zeros). See [`write_end`].
    fn convert_unwritten(inode: &Inode<Self>, pos: u64, len: u64) -> Result;
}

/// A mount's `fs_context`, for error messages.
pub struct FsContext(NonNull<bindings::fs_context>);

impl FsContext {
    /// Reports `msg` to the mounting process and the kernel log. (With the
    /// old `mount(2)` call `errorfc` prints it; with `fsopen(2)` it goes to
    /// the context's log, so we print it too.)
    pub fn error(&self, msg: &CStr) {
        // SAFETY: the context is live during the mount callbacks.
        unsafe {
            let fc = self.0.as_ptr();
            if !(*fc).log.log.is_null() {
                kernel::pr_err!("{}\n", msg.to_str().unwrap_or("mount failed"));
            }
            bindings::kext_fc_error(fc, msg.as_char_ptr());
        }
    }

    /// Whether the mount asked for quiet errors (`MS_SILENT`).
    pub fn silent(&self) -> bool {
        // SAFETY: as above.
        unsafe { (*self.0.as_ptr()).sb_flags & bindings::KEXT_SB_SILENT as u32 != 0 }
    }
}

/// Output for `show_options`.
pub struct SeqFile(NonNull<bindings::seq_file>);

impl SeqFile {
    /// Appends `s`.
    pub fn puts(&mut self, s: &CStr) {
        // SAFETY: the seq_file is live during `show_options`.
        unsafe { bindings::kext_seq_puts(self.0.as_ptr(), s.as_char_ptr()) };
    }
}

/// The `readdir` cursor and output (`struct dir_context`).
pub struct DirEmitter<'a> {
    file: NonNull<bindings::file>,
    ctx: NonNull<bindings::dir_context>,
    _p: PhantomData<&'a mut bindings::dir_context>,
}

impl DirEmitter<'_> {
    /// The position to continue from.
    pub fn pos(&self) -> i64 {
        // SAFETY: the context is live during `iterate_shared`.
        unsafe { (*self.ctx.as_ptr()).pos }
    }

    /// Moves the position.
    pub fn set_pos(&mut self, pos: i64) {
        // SAFETY: as above; we are its only user.
        unsafe { (*self.ctx.as_ptr()).pos = pos };
    }

    /// Emits "." and ".." if the position is before them (positions 0, 1).
    pub fn emit_dots(&mut self) -> bool {
        // SAFETY: as above.
        unsafe { bindings::kext_dir_emit_dots(self.file.as_ptr(), self.ctx.as_ptr()) }
    }

    /// Emits an entry; `false`: the caller's buffer is full, stop.
    pub fn emit(&mut self, name: &[u8], ino: u64, dt: u8) -> bool {
        // SAFETY: `name` is valid for its length during the call.
        unsafe {
            bindings::kext_dir_emit(
                self.ctx.as_ptr(),
                name.as_ptr().cast::<c_char>(),
                name.len() as i32,
                ino,
                dt.into(),
            )
        }
    }
}

/// What a [`Registration`] keeps at a fixed address: the type the VFS
/// knows, and the queue where its writes to unwritten blocks complete.
/// `fs_type` comes first, so a super block's `s_type` leads here.
#[repr(C)]
pub(crate) struct RegisteredType {
    fs_type: bindings::file_system_type,
    write_end: write_end::Queue,
}

impl RegisteredType {
    /// The write-end queue of the type `fs_type` is part of.
    ///
    /// # Safety
    ///
    /// `fs_type` is the `fs_type` field of a live `RegisteredType`.
    pub(crate) unsafe fn write_end_queue(fs_type: *mut bindings::file_system_type) -> *mut write_end::Queue {
        // SAFETY: `fs_type` is the first field of a `repr(C)` struct.
        unsafe { core::ptr::addr_of_mut!((*fs_type.cast::<RegisteredType>()).write_end) }
    }
}

/// A registered filesystem type; unregistered on drop.
pub struct Registration<T: FileSystem> {
    registered: KBox<RegisteredType>,
    _p: PhantomData<T>,
}

// SAFETY: the registration is only touched at module load and unload.
unsafe impl<T: FileSystem> Send for Registration<T> {}
// SAFETY: as above.
unsafe impl<T: FileSystem> Sync for Registration<T> {}

impl<T: FileSystem> Registration<T> {
    /// Registers `T` as filesystem type `T::NAME`.
    pub fn new(module: &'static ThisModule) -> Result<Self> {
        let mut registered = KBox::new(
            RegisteredType {
                fs_type: bindings::file_system_type::default(),
                write_end: bindings::kext_write_end_queue::default(),
            },
            kernel::alloc::flags::GFP_KERNEL,
        )?;
        // SAFETY: the queue lives in the box, at a fixed address, until
        // `Drop` destroys it.
        unsafe { write_end::init::<T>(&mut registered.write_end, T::NAME)? };
        let fs_type = &mut registered.fs_type;
        fs_type.name = T::NAME.as_char_ptr();
        fs_type.fs_flags = bindings::KEXT_FS_REQUIRES_DEV as i32;
        fs_type.init_fs_context = Some(vtable::init_fs_context::<T>);
        fs_type.kill_sb = Some(vtable::kill_sb::<T>);
        fs_type.owner = module.as_ptr().cast();
        // SAFETY: the keys live in the box, at a fixed address, until `Drop`
        // unregisters them after the filesystem type.
        unsafe { bindings::kext_fs_type_keys(fs_type, true) };
        // SAFETY: `fs_type` is fully set up and stays at this address until
        // `Drop` unregisters it.
        if let Err(e) = crate::kext::error::from_ret(unsafe { bindings::register_filesystem(fs_type) }) {
            // SAFETY: set up above; nothing used them.
            unsafe {
                bindings::kext_fs_type_keys(&mut registered.fs_type, false);
                write_end::destroy(&mut registered.write_end);
            }
            return Err(e);
        }
        Ok(Self { registered, _p: PhantomData })
    }
}

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        // The module cannot unload while a super block of this type exists
        // (each holds a module reference), so no bio can be queued any more;
        // `destroy` waits for the work item still finishing the last ones.
        // SAFETY: registered and set up in `new`, torn down once here.
        unsafe {
            bindings::unregister_filesystem(&mut self.registered.fs_type);
            write_end::destroy(&mut self.registered.write_end);
            bindings::kext_fs_type_keys(&mut self.registered.fs_type, false);
        }
        // Inodes are freed by RCU callbacks (`free_inode`) that run module
        // code: an unmount just before `rmmod` may still have some queued.
        // Wait for all of them before the module text goes away.
        // SAFETY: `drop` runs at module unload, in process context.
        unsafe { bindings::rcu_barrier() };
    }
}

/// `ENOPARAM`: not an option of ours.
pub(crate) fn enoparam() -> Error {
    Error::from_errno(-(bindings::ENOPARAM as i32))
}

/// Rejects what no filesystem of ours supports.
pub(crate) fn einval() -> Error {
    code::EINVAL
}
