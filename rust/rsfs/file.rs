// SPDX-License-Identifier: GPL-2.0

//! The data path of regular files, and the block mapper behind it.
//!
//! [`map_begin`] is the one place where file offsets become disk blocks:
//! iomap calls it for buffered writes, reads, readahead, direct I/O, page
//! faults, zeroing and `SEEK_DATA`/`SEEK_HOLE`. Writing into a hole
//! allocates blocks there as *unwritten* extents: they read as zeros until
//! data reaches them, so no path can expose what the disk held before.
//! Writeback completion ([`convert_unwritten`], after the data is durable)
//! and direct I/O completion ([`dio_write_end`]) turn them into written
//! extents.

use crate::{
    alloc,
    extents::{Found, MAX_ALLOC},
    format::{self, Extent},
    kext::{
        bindings,
        fs::{
            file::{capable_sys_admin, File, InodeLock, IovIter, Kiocb, UserPtr, VmFault},
            inode::Inode,
            iomap::{self, IoMapping, IomapFlags, MapKind},
        },
    },
    journal, Rsfs,
};
use kernel::{error::Error, prelude::*};

const BS: u64 = format::BLOCK_SIZE_U64;
const SHIFT: u32 = format::BLOCK_SHIFT;

fn mapping_of(e: &Extent, new: bool) -> IoMapping {
    let addr = e.physical << SHIFT;
    IoMapping {
        offset: u64::from(e.logical) << SHIFT,
        length: u64::from(e.len) << SHIFT,
        kind: if e.unwritten { MapKind::Unwritten(addr) } else { MapKind::Mapped(addr) },
        new,
    }
}

/// The block mapper: maps file bytes `pos .. pos + len` (at least their
/// first block). Writes allocate holes as unwritten extents.
pub(crate) fn map_begin(inode: &Inode<Rsfs>, pos: u64, len: u64, flags: IomapFlags) -> Result<IoMapping> {
    let lblk = pos >> SHIFT;
    if lblk >= format::MAX_FILE_BLOCKS {
        return Err(EFBIG);
    }
    let end = (pos + len.max(1)).div_ceil(BS).min(format::MAX_FILE_BLOCKS);
    let sb = inode.sb();
    let st = inode.data().lock();
    let hole = match st.map.lookup(lblk) {
        Found::Mapped(e) => return Ok(mapping_of(&e, false)),
        Found::Hole(h) => h.min(format::MAX_FILE_BLOCKS - lblk),
    };
    let allocating = flags.is_write() && !flags.is_zero() && !flags.is_report() && !flags.is_overwrite_only();
    if !allocating {
        return Ok(IoMapping { offset: lblk << SHIFT, length: hole << SHIFT, kind: MapKind::Hole, new: false });
    }
    drop(st);
    let (e, new) = journal::transaction_or_retry(sb, journal::credits::ALLOCATE, || allocate(inode, lblk, end))?;
    Ok(mapping_of(&e, new))
}

/// Allocates unwritten blocks for file blocks `lblk ..` (up to `end`, as
/// many as are contiguous on disk), in a transaction that also logs the
/// inode's new map. Returns the extent and whether it is new.
fn allocate(inode: &Inode<Rsfs>, lblk: u64, end: u64) -> Result<(Extent, bool)> {
    let sb = inode.sb();
    let mut st = inode.data().lock();
    // Another task may have filled the hole since it was looked at.
    let hole = match st.map.lookup(lblk) {
        Found::Mapped(e) => return Ok((e, false)),
        Found::Hole(h) => h.min(format::MAX_FILE_BLOCKS - lblk),
    };
    if st.map.len() + 2 > sb.info().journal.max_extents() {
        return Err(EFBIG);
    }
    let want = hole.min(end - lblk).min(u64::from(MAX_ALLOC)) as u32;
    let goal = st.map.goal_for(lblk);
    // Room for this extent and for splitting one when it is written.
    st.map.reserve(sb, 2, goal)?;
    let (physical, n) = alloc::alloc_blocks(sb, goal, want)?;
    let e = Extent { logical: lblk as u32, len: n, unwritten: true, physical };
    if let Err(err) = st.map.insert(e) {
        let _ = crate::meta::free_blocks(sb, physical, u64::from(n), false);
        return Err(err);
    }
    inode.set_fs_blocks(st.map.owned_blocks());
    drop(st);
    crate::inode::write_inode(inode, false)?;
    Ok((e, true))
}

/// Ends a mapping. A buffered write that stopped short (a fault copying
/// from user memory, a signal) leaves blocks allocated past the new end of
/// file; they are freed again.
pub(crate) fn map_end(inode: &Inode<Rsfs>, pos: u64, len: u64, written: u64, flags: IomapFlags, map: &IoMapping) -> Result {
    // iomap grew the size in memory only ("up to the file system to write
    // the updated size"): log it. The new blocks are unwritten, so a crash
    // shows zeros there, never stale data.
    if flags.is_write() && !flags.is_direct() && written > 0 && pos + written >= inode.size() {
        inode.mark_dirty();
    }
    if !flags.is_write() || flags.is_direct() || !map.new || written >= len {
        return Ok(());
    }
    let size = inode.size();
    if map.offset + map.length > size.next_multiple_of(BS) {
        crate::inode::free_blocks_from(inode, size.div_ceil(BS))?;
    }
    Ok(())
}

/// Maps a dirty folio's range for writeback. Unwritten blocks stay
/// unwritten: [`convert_unwritten`] turns them written once the data is
/// durable.
pub(crate) fn map_for_writeback(inode: &Inode<Rsfs>, pos: u64, _len: u64) -> Result<IoMapping> {
    let lblk = pos >> SHIFT;
    match inode.data().lock().map.lookup(lblk) {
        Found::Mapped(e) => Ok(mapping_of(&e, false)),
        Found::Hole(_) => {
            crate::errors::inconsistent(inode.sb(), format_args!("writeback: inode {} block {} has no disk block", inode.ino(), lblk));
            Err(EIO)
        }
    }
}

/// Writeback wrote file bytes `pos .. pos + len` into unwritten blocks and
/// the data is durable: they become written. Called from kext's write-end
/// work, before the folios' writeback ends (so an `fsync` waiting for them
/// writes the converted map).
pub(crate) fn convert_unwritten(inode: &Inode<Rsfs>, pos: u64, len: u64) -> Result {
    let first = pos >> SHIFT;
    let end = (pos + len.max(1)).div_ceil(BS);
    let sb = inode.sb();
    if !sb.info().journal.enabled() {
        // No commit will flush before the conversion reaches the disk.
        sb.raw().flush_device()?;
    }
    let credits = journal::credits::SMALL + inode.data().lock().map.dirty_chain_blocks() as u64 + 1;
    journal::transaction_or_retry(sb, credits, || {
        let mut st = inode.data().lock();
        let goal = st.map.goal_for(first);
        // A conversion inside an extent splits it in three: make room in
        // the overflow chain first, so that storing the map cannot fail
        // later.
        st.map.reserve(sb, 2, goal)?;
        if st.map.mark_written(first, end - first)? {
            drop(st);
            crate::inode::write_inode(inode, false)?;
        }
        Ok(())
    })
}

/// A direct write completed: convert what it wrote and extend the size.
/// Blocks a failed or short write allocated past the end of file are
/// freed by `direct_write`, under its exclusive `i_rwsem`: a completion
/// may run after a shared lock is gone, beside an extending write whose
/// new blocks it must not touch.
pub(crate) fn dio_write_end(inode: &Inode<Rsfs>, pos: u64, size: u64, error: Option<Error>, unwritten: bool) -> Result {
    if error.is_some() || size == 0 {
        return Ok(());
    }
    let sb = inode.sb();
    if unwritten && !sb.info().journal.enabled() {
        // No commit will flush before the conversion reaches the disk.
        sb.raw().flush_device()?;
    }
    // The conversion and the new size in one transaction: a crash never
    // leaves written blocks past the logged end of file. The data must be
    // durable before metadata calling its blocks written: the commit
    // flushes first.
    let credits = journal::credits::SMALL + inode.data().lock().map.dirty_chain_blocks() as u64 + 1;
    journal::transaction_or_retry(sb, credits, || {
        if unwritten {
            convert_unwritten(inode, pos, size)?;
        }
        if pos + size > inode.size() {
            inode.set_size(pos + size);
            crate::inode::write_inode(inode, false)?;
        }
        Ok(())
    })
}

/// `EIO` once the filesystem was shut down (`FS_IOC_SHUTDOWN`), as ext4
/// and XFS fail reads and writes then.
fn check_shut_down(inode: &Inode<Rsfs>) -> Result {
    if inode.sb().info().journal.is_shut_down() {
        Err(EIO)
    } else {
        Ok(())
    }
}

/// `ioctl`: `FS_IOC_SHUTDOWN` (see `super_block::shutdown`).
pub(crate) fn ioctl(file: &File<'_, Rsfs>, cmd: u32, arg: usize) -> Result<i64> {
    match cmd {
        crate::super_block::FS_IOC_SHUTDOWN => {
            if !capable_sys_admin() {
                return Err(EPERM);
            }
            let flags = UserPtr(arg).read_u32()?;
            crate::super_block::shutdown(file.inode().sb(), flags)?;
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
}

/// `read_iter`.
pub(crate) fn read_iter(iocb: &mut Kiocb<'_, Rsfs>, to: &mut IovIter<'_>) -> Result<usize> {
    check_shut_down(iocb.inode())?;
    if to.count() == 0 {
        return Ok(0);
    }
    if !iocb.is_direct() {
        return iocb.generic_read(to);
    }
    if iocb.is_nowait() {
        return Err(EAGAIN);
    }
    let inode = iocb.inode();
    let _lock = InodeLock::shared(inode);
    iomap::direct_io(iocb, to, iomap::DioFlags::READ)
}

/// `write_iter`.
pub(crate) fn write_iter(iocb: &mut Kiocb<'_, Rsfs>, from: &mut IovIter<'_>) -> Result<usize> {
    check_shut_down(iocb.inode())?;
    if iocb.is_nowait() {
        return Err(EAGAIN);
    }
    let written = if iocb.is_direct() { direct_write(iocb, from)? } else { buffered_write(iocb, from)? };
    iocb.write_sync(written)
}

fn buffered_write(iocb: &mut Kiocb<'_, Rsfs>, from: &mut IovIter<'_>) -> Result<usize> {
    let inode = iocb.inode();
    let _lock = InodeLock::exclusive(inode);
    if iocb.write_checks(from)? == 0 {
        return Ok(0);
    }
    iocb.file_modified()?;
    iomap::buffered_write(iocb, from)
}

/// Whether file bytes `pos .. pos + len` are block-aligned, inside the
/// file, and fully backed by written blocks: a direct write there changes
/// no metadata and may run beside others under a shared `i_rwsem` (as
/// ext4's `ext4_dio_write_checks` decides).
fn is_pure_overwrite(inode: &Inode<Rsfs>, pos: u64, len: u64) -> bool {
    if len == 0 || pos % BS != 0 || len % BS != 0 || pos + len > inode.size() {
        return false;
    }
    if inode.mode() & (bindings::KEXT_S_ISUID as u16 | bindings::KEXT_S_ISGID as u16) != 0 {
        return false; // file_modified() must drop them, exclusively
    }
    let st = inode.data().lock();
    let (mut lblk, end) = (pos >> SHIFT, (pos + len) >> SHIFT);
    while lblk < end {
        match st.map.lookup(lblk) {
            Found::Mapped(e) if !e.unwritten => lblk += u64::from(e.len),
            _ => return false,
        }
    }
    true
}

fn direct_write(iocb: &mut Kiocb<'_, Rsfs>, from: &mut IovIter<'_>) -> Result<usize> {
    let inode = iocb.inode();
    let mut shared = is_pure_overwrite(inode, iocb.pos() as u64, from.count() as u64);
    loop {
        let lock = if shared { InodeLock::shared(inode) } else { InodeLock::exclusive(inode) };
        if iocb.write_checks(from)? == 0 {
            return Ok(0);
        }
        // The checks may have moved the position (O_APPEND): decide again.
        if shared && !is_pure_overwrite(inode, iocb.pos() as u64, from.count() as u64) {
            drop(lock);
            shared = false;
            continue;
        }
        iocb.file_modified()?;
        let flags = if shared { iomap::DioFlags::OVERWRITE } else { iomap::DioFlags::WRITE_AND_WAIT };
        let r = iomap::direct_io(iocb, from, flags);
        if !shared {
            // Allocating writes are synchronous and hold the lock: what a
            // failed or short one allocated past the end of file goes now.
            // (A shared, pure overwrite allocates nothing.)
            trim_past_eof(inode)?;
        }
        match r {
            Err(e) if e == EAGAIN && shared => {
                drop(lock);
                shared = false;
                continue;
            }
            // The page cache over the range could not be dropped: write
            // through it instead (still under the exclusive lock).
            Err(e) if e == ENOTBLK && !shared => return iomap::buffered_write(iocb, from),
            r => return r,
        }
    }
}

/// Frees blocks past the end of file (left by a write that stopped
/// short). The caller holds `i_rwsem` exclusively.
fn trim_past_eof(inode: &Inode<Rsfs>) -> Result {
    let end_block = inode.size().div_ceil(BS);
    if inode.data().lock().map.end() > end_block {
        crate::inode::free_blocks_from(inode, end_block)?;
    }
    Ok(())
}

/// `lseek`, with `SEEK_DATA`/`SEEK_HOLE` from the block map and the page
/// cache.
pub(crate) fn llseek(file: &File<'_, Rsfs>, offset: i64, whence: i32) -> Result<i64> {
    let data = match whence {
        w if w == bindings::KEXT_SEEK_DATA => true,
        w if w == bindings::KEXT_SEEK_HOLE => false,
        _ => return file.generic_llseek(offset, whence),
    };
    let inode = file.inode();
    let pos = {
        let _lock = InodeLock::shared(inode);
        iomap::seek(inode, offset, data)?
    };
    file.set_pos(pos, format::MAX_FILE_SIZE as i64)
}

/// `fsync`/`fdatasync`: the data, then a commit of the running
/// transaction if it logged the inode (it holds every metadata change made
/// so far: the inode, a new file's directory entry, the conversion of the
/// blocks just written); its cache flush makes the data durable too. If
/// the inode's last change committed already, a cache flush does (as
/// ext4's `fsync` issues one when no commit is needed). Without a journal:
/// the inode and the directories above it (so that a new file's entry is
/// found after a crash, as ext4 without a journal does), every dirty
/// metadata block, then a device cache flush.
pub(crate) fn fsync(file: &File<'_, Rsfs>, start: i64, end: i64, _datasync: bool) -> Result {
    let inode = file.inode();
    let sb = inode.sb();
    file.write_and_wait_range(start, end)?;
    if sb.info().journal.enabled() {
        let logged_in = inode.data().logged_in.load(core::sync::atomic::Ordering::Acquire);
        return sb.info().journal.commit_through(sb, logged_in);
    }
    inode.sync_metadata()?;
    file.sync_ancestors()?;
    crate::meta::sync_all(sb)?;
    sb.raw().flush_device()
}

/// A shared writable mapping dirties a page: allocate its block now (as
/// unwritten), where `ENOSPC` can still be reported (`SIGBUS`).
pub(crate) fn page_mkwrite(vmf: &VmFault<'_, Rsfs>) -> u32 {
    if check_shut_down(vmf.inode()).is_err() {
        return bindings::KEXT_VM_FAULT_SIGBUS;
    }
    vmf.with_fault_locks(|| {
        vmf.update_time();
        iomap::page_mkwrite(vmf)
    })
}
