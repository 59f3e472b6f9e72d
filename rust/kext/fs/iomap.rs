// SPDX-License-Identifier: GPL-2.0

//! The block-mapping contract with iomap, and the iomap library calls.
//!
//! C header: [`include/linux/iomap.h`](srctree/include/linux/iomap.h)
//!
//! A filesystem maps file ranges to disk ranges in one place,
//! [`FileSystem::iomap_begin`]; iomap then drives buffered writes, reads,
//! readahead, direct I/O, page faults, zeroing and `SEEK_DATA`/`SEEK_HOLE`
//! with that mapper. The functions here are those library entry points,
//! each bound to the filesystem's mapper.

use super::{
    file::{from_ssize, IovIter, Kiocb, VmFault},
    inode::Inode,
    writeback::{Mapping, WritebackControl},
    FileSystem,
};
use crate::kext::{bindings, error::from_ret};
use core::{
    ffi::{c_int, c_uint},
    marker::PhantomData,
};
use kernel::error::{Error, Result};

/// Why iomap asks for a mapping (`IOMAP_*` flags).
#[derive(Clone, Copy)]
pub struct IomapFlags(u32);

impl IomapFlags {
    /// Writing: holes in the range must be allocated.
    pub fn is_write(self) -> bool {
        self.0 & bindings::KEXT_IOMAP_WRITE != 0
    }
    /// Zeroing a range: holes stay holes.
    pub fn is_zero(self) -> bool {
        self.0 & bindings::KEXT_IOMAP_ZERO != 0
    }
    /// Only reporting (`SEEK_DATA`, fiemap): never allocate.
    pub fn is_report(self) -> bool {
        self.0 & bindings::KEXT_IOMAP_REPORT != 0
    }
    /// Direct I/O.
    pub fn is_direct(self) -> bool {
        self.0 & bindings::KEXT_IOMAP_DIRECT != 0
    }
    /// Direct I/O that must not allocate or zero (it would fail with
    /// `EAGAIN` rather than use a new mapping).
    pub fn is_overwrite_only(self) -> bool {
        self.0 & bindings::KEXT_IOMAP_OVERWRITE_ONLY != 0
    }
}

/// How to run a direct I/O.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DioFlags {
    write: bool,
    overwrite_only: bool,
    force_wait: bool,
}

impl DioFlags {
    /// A read.
    pub const READ: DioFlags = DioFlags { write: false, overwrite_only: false, force_wait: false };
    /// A write into written blocks only, under a shared `i_rwsem`; fails
    /// with `EAGAIN` if it would need anything else.
    pub const OVERWRITE: DioFlags = DioFlags { write: true, overwrite_only: true, force_wait: false };
    /// Any write, waited for even if asynchronous, so that its completion
    /// (size, unwritten conversion) runs while the caller's lock is held.
    pub const WRITE_AND_WAIT: DioFlags = DioFlags { write: true, overwrite_only: false, force_wait: true };
}

/// What a file range maps to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapKind {
    /// No blocks: reads as zeros.
    Hole,
    /// Blocks with data, at this byte address on the device.
    Mapped(u64),
    /// Blocks allocated but never written, at this byte address: reads as
    /// zeros; writes to them must be recorded as written afterwards.
    Unwritten(u64),
}

/// A mapping returned by the block mapper.
#[derive(Clone, Copy, Debug)]
pub struct IoMapping {
    /// File offset in bytes.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// What the range is.
    pub kind: MapKind,
    /// The blocks were allocated by this very call (`IOMAP_F_NEW`).
    pub new: bool,
}

impl IoMapping {
    /// The device byte address of file offset `pos`, if mapped.
    pub fn disk_addr(&self, pos: u64) -> Option<u64> {
        match self.kind {
            MapKind::Mapped(a) | MapKind::Unwritten(a) if pos >= self.offset && pos < self.offset + self.length => {
                Some(a + (pos - self.offset))
            }
            _ => None,
        }
    }

    fn fill(&self, map: *mut bindings::iomap, bdev: *mut bindings::block_device) {
        let (ty, addr) = match self.kind {
            MapKind::Hole => (bindings::KEXT_IOMAP_HOLE, IOMAP_NULL_ADDR),
            MapKind::Mapped(a) => (bindings::KEXT_IOMAP_MAPPED, a),
            MapKind::Unwritten(a) => (bindings::KEXT_IOMAP_UNWRITTEN, a),
        };
        // SAFETY: iomap hands us a valid `struct iomap` to fill.
        unsafe {
            (*map).addr = addr;
            (*map).offset = self.offset as i64;
            (*map).length = self.length;
            (*map).type_ = ty;
            (*map).flags = if self.new { bindings::KEXT_IOMAP_F_NEW } else { 0 };
            (*map).bdev = bdev;
        }
    }

    fn read(map: *const bindings::iomap) -> IoMapping {
        // SAFETY: a mapping we filled earlier, passed back by iomap.
        let m = unsafe { &*map };
        let kind = match m.type_ {
            t if t == bindings::KEXT_IOMAP_MAPPED => MapKind::Mapped(m.addr),
            t if t == bindings::KEXT_IOMAP_UNWRITTEN => MapKind::Unwritten(m.addr),
            _ => MapKind::Hole,
        };
        IoMapping { offset: m.offset as u64, length: m.length, kind, new: m.flags & bindings::KEXT_IOMAP_F_NEW != 0 }
    }
}

/// `IOMAP_NULL_ADDR` (`-1ULL`): the address of a hole.
const IOMAP_NULL_ADDR: u64 = u64::MAX;

fn to_errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

struct Tables<T>(PhantomData<T>);

impl<T: FileSystem> Tables<T> {
    const OPS: bindings::iomap_ops =
        bindings::iomap_ops { iomap_begin: Some(iomap_begin::<T>), iomap_end: Some(iomap_end::<T>) };
    const WRITEBACK_OPS: bindings::iomap_writeback_ops = bindings::iomap_writeback_ops {
        map_blocks: Some(map_blocks::<T>),
        prepare_ioend: Some(prepare_ioend),
        discard_folio: None,
    };
    const DIO_WRITE_OPS: bindings::iomap_dio_ops =
        bindings::iomap_dio_ops { end_io: Some(dio_write_end_io::<T>), submit_io: None, bio_set: core::ptr::null_mut() };
}

pub(crate) fn ops<T: FileSystem>() -> &'static bindings::iomap_ops {
    &Tables::<T>::OPS
}

unsafe extern "C" fn iomap_begin<T: FileSystem>(
    inode: *mut bindings::inode,
    pos: i64,
    length: i64,
    flags: c_uint,
    iomap: *mut bindings::iomap,
    _srcmap: *mut bindings::iomap,
) -> c_int {
    // SAFETY: iomap calls us for an inode of `T` it holds a reference to.
    let inode = unsafe { Inode::<T>::from_raw(inode) };
    match T::iomap_begin(inode, pos as u64, length as u64, IomapFlags(flags)) {
        Ok(m) => {
            // SAFETY: live inode of a block-device super block.
            m.fill(iomap, unsafe { (*(*inode.as_ptr()).i_sb).s_bdev });
            0
        }
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn iomap_end<T: FileSystem>(
    inode: *mut bindings::inode,
    pos: i64,
    length: i64,
    written: isize,
    flags: c_uint,
    iomap: *mut bindings::iomap,
) -> c_int {
    // SAFETY: as in `iomap_begin`.
    let inode = unsafe { Inode::<T>::from_raw(inode) };
    let map = IoMapping::read(iomap);
    to_errno(T::iomap_end(inode, pos as u64, length as u64, written.max(0) as u64, IomapFlags(flags), &map))
}

unsafe extern "C" fn map_blocks<T: FileSystem>(
    wpc: *mut bindings::iomap_writepage_ctx,
    inode: *mut bindings::inode,
    offset: i64,
    len: c_uint,
) -> c_int {
    // SAFETY: iomap_writepages holds the inode (its mapping is being written).
    let inode = unsafe { Inode::<T>::from_raw(inode) };
    match T::writeback_map(inode, offset as u64, len.into()) {
        Ok(m) => {
            // SAFETY: `wpc` is the context we passed to iomap_writepages.
            m.fill(unsafe { &mut (*wpc).iomap }, unsafe { (*(*inode.as_ptr()).i_sb).s_bdev });
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Before iomap submits an ioend: one that writes unwritten blocks ends
/// in [`super::write_end`] (conversion, then the folios' writeback), as
/// xfs's `xfs_prepare_ioend` arranges.
unsafe extern "C" fn prepare_ioend(ioend: *mut bindings::iomap_ioend, status: c_int) -> c_int {
    // SAFETY: iomap passes its ioend before submitting it; its inode is one
    // of ours (a registered type's).
    unsafe {
        if status == 0 && u32::from((*ioend).io_type) == bindings::IOMAP_UNWRITTEN {
            let bio = &mut (*ioend).io_bio;
            bio.bi_end_io = Some(super::write_end::ioend_bio_end_io);
            bio.bi_private = super::write_end::queue_of((*(*ioend).io_inode).i_sb).cast();
        }
    }
    status
}

unsafe extern "C" fn dio_write_end_io<T: FileSystem>(
    iocb: *mut bindings::kiocb,
    size: isize,
    error: c_int,
    flags: c_uint,
) -> c_int {
    // SAFETY: iomap completes a kiocb of an open file of `T`.
    let inode = unsafe { Inode::<T>::from_raw(bindings::kext_file_inode((*iocb).ki_filp)) };
    // SAFETY: live kiocb; `ki_pos` is still the start of this write.
    let pos = unsafe { (*iocb).ki_pos } as u64;
    let err = if error < 0 { Some(Error::from_errno(error)) } else { None };
    let unwritten = flags & bindings::IOMAP_DIO_UNWRITTEN != 0;
    match T::dio_write_end(inode, pos, size.max(0) as u64, err, unwritten) {
        Ok(()) => error,
        Err(e) if error == 0 => e.to_errno(),
        Err(_) => error,
    }
}

/// Buffered write through the page cache (`iomap_file_buffered_write`).
/// The caller holds `i_rwsem` and did the write checks.
pub fn buffered_write<T: FileSystem>(iocb: &mut Kiocb<'_, T>, from: &mut IovIter<'_>) -> Result<usize> {
    // SAFETY: live kiocb and iterator; our ops outlive the call.
    from_ssize(unsafe {
        bindings::iomap_file_buffered_write(iocb.as_ptr(), from.iter.as_ptr(), ops::<T>(), core::ptr::null_mut())
    })
}

/// Direct I/O (`iomap_dio_rw`); writes complete through
/// [`FileSystem::dio_write_end`].
pub fn direct_io<T: FileSystem>(iocb: &mut Kiocb<'_, T>, iter: &mut IovIter<'_>, how: DioFlags) -> Result<usize> {
    let dops: *const bindings::iomap_dio_ops =
        if how.write { &Tables::<T>::DIO_WRITE_OPS } else { core::ptr::null() };
    let mut flags = 0;
    if how.overwrite_only {
        flags |= bindings::KEXT_IOMAP_DIO_OVERWRITE_ONLY;
    }
    if how.force_wait {
        flags |= bindings::IOMAP_DIO_FORCE_WAIT;
    }
    // SAFETY: live kiocb and iterator; our ops are static.
    from_ssize(unsafe {
        bindings::iomap_dio_rw(iocb.as_ptr(), iter.iter.as_ptr(), ops::<T>(), dops, flags, core::ptr::null_mut(), 0)
    })
}

/// `SEEK_DATA` (`data`) or `SEEK_HOLE` from `offset`.
pub fn seek<T: FileSystem>(inode: &Inode<T>, offset: i64, data: bool) -> Result<i64> {
    // SAFETY: live inode; the caller holds `i_rwsem` shared.
    let r = unsafe {
        if data {
            bindings::iomap_seek_data(inode.as_ptr(), offset, ops::<T>())
        } else {
            bindings::iomap_seek_hole(inode.as_ptr(), offset, ops::<T>())
        }
    };
    from_ssize(r as isize).map(|p| p as i64)
}

/// Zeroes `pos..pos+len` in the page cache where it has data.
pub fn zero_range<T: FileSystem>(inode: &Inode<T>, pos: u64, len: u64) -> Result {
    // SAFETY: live inode; `i_rwsem` held by the caller.
    from_ret(unsafe {
        bindings::iomap_zero_range(inode.as_ptr(), pos as i64, len as i64, core::ptr::null_mut(), ops::<T>())
    })
}

/// Zeroes from `pos` to the end of its block, before truncating to `pos`.
pub fn truncate_page<T: FileSystem>(inode: &Inode<T>, pos: u64) -> Result {
    // SAFETY: live inode; `i_rwsem` held by the caller.
    from_ret(unsafe { bindings::iomap_truncate_page(inode.as_ptr(), pos as i64, core::ptr::null_mut(), ops::<T>()) })
}

/// Makes the faulting page writable (`iomap_page_mkwrite`); a `vm_fault_t`.
pub fn page_mkwrite<T: FileSystem>(vmf: &VmFault<'_, T>) -> u32 {
    // SAFETY: live fault; the caller holds the fault locks.
    unsafe { bindings::iomap_page_mkwrite(vmf.vmf.as_ptr(), ops::<T>()) }
}

/// The kernel's own writepages (`iomap_writepages`) with
/// [`FileSystem::writeback_map`] as `map_blocks`.
pub fn writepages<T: FileSystem>(mapping: &Mapping<'_, T>, wbc: &mut WritebackControl) -> Result {
    // SAFETY: an all-zero context is the documented initial state.
    let mut wpc: bindings::iomap_writepage_ctx = unsafe { core::mem::zeroed() };
    // SAFETY: live mapping and wbc; `wpc` lives across the call.
    from_ret(unsafe {
        bindings::iomap_writepages(mapping.as_ptr(), wbc.as_ptr(), &mut wpc, &Tables::<T>::WRITEBACK_OPS)
    })
}

/// `read_folio` through the mapper.
pub(crate) unsafe extern "C" fn read_folio<T: FileSystem>(
    _file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    // SAFETY: the VFS passes a locked folio of one of our inodes.
    unsafe { bindings::iomap_read_folio(folio, ops::<T>()) }
}

/// `readahead` through the mapper.
pub(crate) unsafe extern "C" fn readahead<T: FileSystem>(rac: *mut bindings::readahead_control) {
    // SAFETY: the VFS passes a live readahead request for our inode.
    unsafe { bindings::iomap_readahead(rac, ops::<T>()) }
}
