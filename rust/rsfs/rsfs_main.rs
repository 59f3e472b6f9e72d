// SPDX-License-Identifier: GPL-2.0

//! rsfs: a read-write disk filesystem in Rust.
//!
//! Buffered writes go through iomap into the page cache; writeback goes
//! through our own `writepages` ([`writeback`]), a loop over the kernel's
//! `writeback_iter()` with a single-folio writer. Reads, readahead, direct
//! I/O, page faults and `SEEK_DATA`/`SEEK_HOLE` go through iomap too, all
//! driven by one block mapper ([`file::map_begin`]).
//!
//! The pieces, in the order a mount meets them:
//!
//! - [`format`]: the on-disk format, shared with `mkfs.rsfs`/`fsck.rsfs`.
//! - [`super_block`]: mount options, mount, statfs, sync, unmount,
//!   `FS_IOC_SHUTDOWN`.
//! - [`journal`]: the metadata journal: transactions, commit, checkpoint,
//!   replay at mount.
//! - [`meta`]: every metadata read and write, through the journal.
//! - [`errors`]: corruption reports and read-only after a failed write.
//! - [`recover`]: a mount after an unclean shutdown frees orphans.
//! - [`alloc`]: block and inode bitmaps.
//! - [`extents`]: a file's block map in memory and on disk.
//! - [`inode`]: reading, writing, truncating and evicting inodes.
//! - [`dir`]: directories and the namespace operations.
//! - [`file`]: the data path and the block mapper.
//! - [`writeback`]: `writepages`; unwritten blocks become written when the
//!   write completes (`kext::fs::write_end`, [`file::convert_unwritten`]).
//!
//! The VFS glue (operation tables, trampolines) is the shared [`kext`]
//! layer; this crate implements [`kext::fs::FileSystem`] for [`Rsfs`].

#[path = "../kext/mod.rs"]
pub mod kext;

#[path = "format/mod.rs"]
pub mod format;

mod alloc;
mod dir;
mod dir_index;
mod errors;
mod extents;
mod file;
mod inode;
mod journal;
mod meta;
mod recover;
mod super_block;
mod writeback;

use core::ffi::c_char;
use kernel::{c_str, error::Error, init::PinInit, prelude::*, str::CStr, types::ARef};
use kext::fs::{
    file::{File, IovIter, Kiocb, VmFault},
    inode::Inode,
    iomap::{IoMapping, IomapFlags},
    sb::{RawSuperBlock, SuperBlock},
    vtable::NewChild,
    writeback::{Mapping, WritebackControl},
    DirEmitter, FileSystem, FsContext, ParamError, Registration, RenameMode, SeqFile, StatFs,
};

module! {
    type: RsfsModule,
    name: "rsfs",
    author: "rsfs developers",
    description: "rsfs: a read-write Rust filesystem on iomap with its own writeback_iter() writepages",
    license: "GPL",
}

extern "C" {
    /// The `writeback=` module parameter (params.c).
    static rsfs_writeback: *const c_char;
}

/// Which `writepages` writes dirty file data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WritebackMode {
    /// Ours: a loop over `writeback_iter()` with a single-folio writer.
    Folio,
    /// The kernel's `iomap_writepages()` with our `map_blocks`.
    Iomap,
}

impl WritebackMode {
    fn parse(s: &[u8]) -> Option<WritebackMode> {
        match s {
            b"folio" => Some(WritebackMode::Folio),
            b"iomap" => Some(WritebackMode::Iomap),
            _ => None,
        }
    }

    fn name(self) -> &'static CStr {
        match self {
            WritebackMode::Folio => c_str!("folio"),
            WritebackMode::Iomap => c_str!("iomap"),
        }
    }
}

/// The default writeback mode, from the module parameter (checked at load).
fn default_writeback() -> WritebackMode {
    // SAFETY: the parameter is read-only (0444) and set before init runs;
    // a charp parameter always points to a NUL-terminated string.
    let s = unsafe { CStr::from_char_ptr(rsfs_writeback.cast()) };
    WritebackMode::parse(s.as_bytes()).unwrap_or(WritebackMode::Folio)
}

struct RsfsModule {
    _fs: Registration<Rsfs>,
}

impl kernel::Module for RsfsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: see `default_writeback`.
        let param = unsafe { CStr::from_char_ptr(rsfs_writeback.cast()) };
        let Some(mode) = WritebackMode::parse(param.as_bytes()) else {
            pr_err!("writeback={}: must be \"folio\" or \"iomap\"\n", param.to_str().unwrap_or("?"));
            return Err(EINVAL);
        };
        let fs = Registration::new(module)?;
        pr_info!("registered; default writeback={}\n", mode.name().to_str().unwrap_or("?"));
        Ok(Self { _fs: fs })
    }
}

/// The rsfs filesystem type.
pub(crate) struct Rsfs;

impl FileSystem for Rsfs {
    type SbInfo = super_block::FsInfo;
    type InodeData = inode::InodeData;
    type Options = super_block::Options;

    const NAME: &'static CStr = c_str!("rsfs");
    const MAGIC: u64 = format::SUPER_MAGIC as u64;
    const MAX_BYTES: u64 = format::MAX_FILE_SIZE;
    const MAX_LINKS: u32 = format::MAX_LINKS;
    const BLOCK_SIZE: u32 = format::BLOCK_SIZE as u32;
    // The journal's commit flushes the cache before metadata can say
    // "written" (`file::convert_unwritten` flushes itself without one).
    const FLUSH_BEFORE_CONVERT: bool = false;

    fn init_inode_data() -> impl PinInit<Self::InodeData, Error> {
        inode::InodeData::new()
    }

    fn parse_param(opts: &mut Self::Options, key: &[u8], value: Option<&[u8]>) -> Result<(), ParamError> {
        super_block::parse_param(opts, key, value)
    }

    fn fill_super(
        sb: &RawSuperBlock,
        opts: &Self::Options,
        fc: &FsContext,
    ) -> Result<impl PinInit<Self::SbInfo, Error>> {
        super_block::fill_super(sb, opts, fc)
    }

    fn reconfigure(sb: &SuperBlock<Self>, opts: &Self::Options, read_only: bool) -> Result {
        super_block::reconfigure(sb, opts, read_only)
    }

    fn root(sb: &SuperBlock<Self>) -> Result<ARef<Inode<Self>>> {
        super_block::recover_if_unclean(sb)?;
        inode::iget(sb, format::ROOT_INO)
    }

    fn show_options(sb: &SuperBlock<Self>, out: &mut SeqFile) -> Result {
        super_block::show_options(sb, out)
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<StatFs> {
        super_block::statfs(sb)
    }

    fn sync_fs(sb: &SuperBlock<Self>, wait: bool) -> Result {
        super_block::sync_fs(sb, wait)
    }

    fn put_super(sb: &SuperBlock<Self>) {
        super_block::put_super(sb)
    }

    fn write_inode(inode: &Inode<Self>, sync: bool) -> Result {
        inode::write_inode(inode, sync)
    }

    fn dirty_inode(inode: &Inode<Self>) {
        inode::dirty_inode(inode)
    }

    fn timer(sb: &SuperBlock<Self>) {
        journal::commit_timer(sb)
    }

    fn evict_inode(inode: &Inode<Self>) {
        inode::evict_inode(inode)
    }

    fn lookup(dir: &Inode<Self>, name: &[u8]) -> Result<Option<ARef<Inode<Self>>>> {
        dir::lookup(dir, name)
    }

    fn create(dir: &Inode<Self>, name: &[u8], child: &mut NewChild<'_, Self>) -> Result {
        journal::transaction(dir.sb(), journal::credits::NAMESPACE, || dir::create(dir, name, child))
    }

    fn link(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result {
        journal::transaction(dir.sb(), journal::credits::NAMESPACE, || dir::link(dir, name, inode))
    }

    fn unlink(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result {
        journal::transaction(dir.sb(), journal::credits::NAMESPACE, || dir::unlink(dir, name, inode))
    }

    fn rmdir(dir: &Inode<Self>, name: &[u8], inode: &Inode<Self>) -> Result {
        journal::transaction(dir.sb(), journal::credits::NAMESPACE, || dir::rmdir(dir, name, inode))
    }

    fn rename(
        old_dir: &Inode<Self>,
        old_name: &[u8],
        old_inode: &Inode<Self>,
        new_dir: &Inode<Self>,
        new_name: &[u8],
        new_inode: Option<&Inode<Self>>,
        mode: RenameMode,
    ) -> Result {
        journal::transaction(old_dir.sb(), journal::credits::NAMESPACE, || {
            dir::rename(old_dir, old_name, old_inode, new_dir, new_name, new_inode, mode)
        })
    }

    fn readdir(dir: &Inode<Self>, ctx: &mut DirEmitter<'_>) -> Result {
        dir::readdir(dir, ctx)
    }

    fn read_link(inode: &Inode<Self>) -> Result<KVec<u8>> {
        dir::read_link(inode)
    }

    fn set_size(inode: &Inode<Self>, size: u64) -> Result {
        inode::set_size(inode, size)
    }

    fn read_iter(iocb: &mut Kiocb<'_, Self>, to: &mut IovIter<'_>) -> Result<usize> {
        file::read_iter(iocb, to)
    }

    fn write_iter(iocb: &mut Kiocb<'_, Self>, from: &mut IovIter<'_>) -> Result<usize> {
        file::write_iter(iocb, from)
    }

    fn llseek(file: &File<'_, Self>, offset: i64, whence: i32) -> Result<i64> {
        file::llseek(file, offset, whence)
    }

    fn ioctl(file: &File<'_, Self>, cmd: u32, arg: usize) -> Result<i64> {
        file::ioctl(file, cmd, arg)
    }

    fn fsync(file: &File<'_, Self>, start: i64, end: i64, datasync: bool) -> Result {
        file::fsync(file, start, end, datasync)
    }

    fn page_mkwrite(vmf: &VmFault<'_, Self>) -> u32 {
        file::page_mkwrite(vmf)
    }

    fn writepages(mapping: &Mapping<'_, Self>, wbc: &mut WritebackControl) -> Result {
        writeback::writepages(mapping, wbc)
    }

    fn iomap_begin(inode: &Inode<Self>, pos: u64, len: u64, flags: IomapFlags) -> Result<IoMapping> {
        file::map_begin(inode, pos, len, flags)
    }

    fn iomap_end(inode: &Inode<Self>, pos: u64, len: u64, written: u64, flags: IomapFlags, map: &IoMapping) -> Result {
        file::map_end(inode, pos, len, written, flags, map)
    }

    fn writeback_map(inode: &Inode<Self>, pos: u64, len: u64) -> Result<IoMapping> {
        file::map_for_writeback(inode, pos, len)
    }

    fn dio_write_end(inode: &Inode<Self>, pos: u64, size: u64, error: Option<Error>, unwritten: bool) -> Result {
        file::dio_write_end(inode, pos, size, error, unwritten)
    }

    fn convert_unwritten(inode: &Inode<Self>, pos: u64, len: u64) -> Result {
        file::convert_unwritten(inode, pos, len)
    }
}
