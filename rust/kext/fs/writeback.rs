// SPDX-License-Identifier: GPL-2.0

//! Writeback: the kernel's folio iterator, locked folios, and write bios.
//!
//! C headers: [`include/linux/writeback.h`](srctree/include/linux/writeback.h),
//! [`include/linux/bio.h`](srctree/include/linux/bio.h)
//!
//! A filesystem's `writepages` is a loop over [`WritebackIter`]:
//!
//! ```ignore
//! let mut iter = WritebackIter::new(mapping, wbc);
//! let mut status = Ok(());
//! while let Some(folio) = iter.next(status) {
//!     status = write_one(folio);
//! }
//! iter.status()
//! ```
//!
//! `writeback_iter()` hands out each dirty folio locked, with its dirty bit
//! cleared for I/O; it counts `nr_to_write`, decides (from `sync_mode`)
//! whether an error ends the walk, and remembers the first error. The
//! caller gives every folio back through `next`. Breaking out of the loop
//! loses nothing: dropping the iterator releases the folios it still held
//! in its batch (they stay dirty, for the next writeback).
//!
//! A [`LockedFolio`] is turned into a [`WritebackFolio`] with
//! `folio_start_writeback()`, or skipped because it lies past end of file,
//! or dropped: then it is dirtied again, because `writeback_iter()` cleared
//! its dirty bit and its data is not on disk. A [`WritebackFolio`] either
//! joins a [`WriteBio`] — whose completion ends its writeback (for
//! [`Blocks::Unwritten`], only after the blocks were made written:
//! [`super::write_end`]) — or is failed (the error goes to the file, for
//! `fsync`).

use super::{inode::Inode, sb::RawSuperBlock, FileSystem};
use crate::kext::bindings;
use core::{ffi::c_int, marker::PhantomData, mem::ManuallyDrop, ptr::NonNull};
use kernel::error::{code, Error, Result};

/// The page cache of a regular file (`struct address_space`).
pub struct Mapping<'a, T: FileSystem> {
    pub(crate) mapping: NonNull<bindings::address_space>,
    pub(crate) _p: PhantomData<(&'a bindings::address_space, T)>,
}

impl<'a, T: FileSystem> Mapping<'a, T> {
    pub(crate) fn as_ptr(&self) -> *mut bindings::address_space {
        self.mapping.as_ptr()
    }

    /// The file the page cache belongs to.
    pub fn host(&self) -> &'a Inode<T> {
        // SAFETY: a mapping under writeback has a live host inode of `T`.
        unsafe { Inode::from_raw((*self.as_ptr()).host) }
    }
}

/// What writeback asks for (`struct writeback_control`).
#[repr(transparent)]
pub struct WritebackControl(bindings::writeback_control);

impl WritebackControl {
    /// # Safety
    ///
    /// `ptr` must be a live `writeback_control` used only through the
    /// returned reference for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::writeback_control) -> &'a mut WritebackControl {
        // SAFETY: transparent wrapper; exclusivity from the caller.
        unsafe { &mut *ptr.cast() }
    }

    pub(crate) fn as_ptr(&mut self) -> *mut bindings::writeback_control {
        &mut self.0
    }

    /// Data-integrity writeback (`WB_SYNC_ALL`): every tagged folio must
    /// be written, errors or not.
    pub fn is_integrity(&self) -> bool {
        self.0.sync_mode == bindings::writeback_sync_modes_WB_SYNC_ALL
    }

    /// Folios still wanted (`nr_to_write`).
    pub fn nr_to_write(&self) -> i64 {
        self.0.nr_to_write as i64
    }

    /// The operation flags for a data write under this writeback
    /// (`REQ_SYNC` for integrity writeback).
    fn write_opf(&mut self) -> u32 {
        // SAFETY: live wbc.
        bindings::KEXT_REQ_OP_WRITE | unsafe { bindings::kext_wbc_to_write_flags(self.as_ptr()) }
    }
}

/// The loop over `writeback_iter()`; see the module documentation.
pub struct WritebackIter<'a, T: FileSystem> {
    mapping: NonNull<bindings::address_space>,
    wbc: &'a mut WritebackControl,
    folio: *mut bindings::folio,
    error: c_int,
    /// `writeback_iter()` returned NULL: the walk is over, its batch empty.
    done: bool,
    _p: PhantomData<T>,
}

impl<'a, T: FileSystem> WritebackIter<'a, T> {
    /// Starts a walk over `mapping`'s dirty folios as `wbc` asks.
    pub fn new(mapping: &Mapping<'a, T>, wbc: &'a mut WritebackControl) -> Self {
        Self { mapping: mapping.mapping, wbc, folio: core::ptr::null_mut(), error: 0, done: false, _p: PhantomData }
    }

    /// The writeback control, e.g. for [`WriteBio::new`].
    pub fn wbc(&mut self) -> &mut WritebackControl {
        self.wbc
    }

    /// Reports how the previous folio went and returns the next one, or
    /// `None` when the walk is over (see [`WritebackIter::status`]).
    pub fn next(&mut self, previous: Result) -> Option<LockedFolio<'a, T>> {
        if self.done {
            return None;
        }
        self.error = match previous {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        // SAFETY: the mapping is live for `'a`; `folio` is null or the folio
        // this function returned last time, which the caller has unlocked
        // (a `LockedFolio` cannot outlive the call that consumes it).
        self.folio = unsafe {
            bindings::writeback_iter(self.mapping.as_ptr(), self.wbc.as_ptr(), self.folio, &mut self.error)
        };
        let Some(folio) = NonNull::new(self.folio) else {
            self.done = true;
            return None;
        };
        // The folio's reference is the iterator's batch's; the
        // `LockedFolio` takes its own, so that it may outlive the iterator.
        // SAFETY: `writeback_iter` returned a live, locked folio.
        unsafe { bindings::kext_folio_get(folio.as_ptr()) };
        Some(LockedFolio { folio, _p: PhantomData })
    }

    /// After `next` returned `None`: the first error of the walk.
    pub fn status(&self) -> Result {
        crate::kext::error::from_ret(self.error)
    }
}

impl<T: FileSystem> Drop for WritebackIter<'_, T> {
    fn drop(&mut self) {
        if !self.done {
            // The caller left the loop early: give back the references the
            // batch still holds (`writeback_iter()` does this itself at the
            // end of a walk). The folios stay dirty and tagged.
            // SAFETY: the wbc's batch was set up by `writeback_iter`; no
            // further call to it follows.
            unsafe { bindings::kext_wbc_release_batch(self.wbc.as_ptr()) };
        }
    }
}

/// A folio handed out by `writeback_iter()`: locked, its dirty bit cleared
/// for I/O, not yet under writeback; we hold a reference.
///
/// Dropping it dirties it again and unlocks it: data that was not written
/// stays in the page cache, dirty, for the next writeback. Only
/// [`LockedFolio::skip`] lets it go clean.
pub struct LockedFolio<'a, T: FileSystem> {
    folio: NonNull<bindings::folio>,
    _p: PhantomData<(&'a bindings::folio, T)>,
}

impl<T: FileSystem> LockedFolio<'_, T> {
    /// File offset of the first byte.
    pub fn pos(&self) -> u64 {
        // SAFETY: a locked folio of the mapping.
        unsafe { bindings::kext_folio_pos(self.folio.as_ptr()) as u64 }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        // SAFETY: as above.
        unsafe { bindings::kext_folio_size(self.folio.as_ptr()) as u64 }
    }

    /// Zeroes bytes `from..` of the folio (the part past end of file, which
    /// mmap may have dirtied and must never reach the disk).
    pub fn zero_tail(&mut self, from: u64) {
        let size = self.size();
        if from < size {
            // SAFETY: locked folio; `from < size`.
            unsafe { bindings::kext_folio_zero_segment(self.folio.as_ptr(), from as usize, size as usize) };
        }
    }

    /// Lets the folio go without writing it, clean: only for a folio
    /// wholly past end of file, whose data is not the file's any more (a
    /// truncate is removing it).
    pub fn skip(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: we hold the lock and a reference, given back here once.
        unsafe {
            bindings::folio_unlock(this.folio.as_ptr());
            bindings::kext_folio_put(this.folio.as_ptr());
        }
    }

    /// `folio_start_writeback()`: from here on, the folio's writeback must
    /// be ended, by a bio completion or by [`WritebackFolio::fail`].
    pub fn start_writeback(self) -> WritebackFolio<T> {
        let this = ManuallyDrop::new(self);
        // SAFETY: a locked, clean folio not under writeback. Our reference
        // can go: a folio under writeback stays in its mapping (truncate
        // and reclaim wait for writeback to end).
        unsafe {
            bindings::kext_folio_start_writeback(this.folio.as_ptr());
            bindings::kext_folio_put(this.folio.as_ptr());
        }
        WritebackFolio { folio: this.folio, _p: PhantomData }
    }
}

impl<T: FileSystem> Drop for LockedFolio<'_, T> {
    fn drop(&mut self) {
        // SAFETY: we hold the folio lock and a reference. Its data was not
        // written: dirty again (through the mapping's `dirty_folio`), so
        // that the next writeback writes it.
        unsafe {
            bindings::folio_mark_dirty(self.folio.as_ptr());
            bindings::folio_unlock(self.folio.as_ptr());
            bindings::kext_folio_put(self.folio.as_ptr());
        }
    }
}

/// A folio under writeback, still locked. It joins a [`WriteBio`] or is
/// failed; dropping it fails it with `EIO`.
pub struct WritebackFolio<T: FileSystem> {
    folio: NonNull<bindings::folio>,
    _p: PhantomData<T>,
}

impl<T: FileSystem> WritebackFolio<T> {
    /// File offset of the first byte.
    pub fn pos(&self) -> u64 {
        // SAFETY: a locked folio of the mapping.
        unsafe { bindings::kext_folio_pos(self.folio.as_ptr()) as u64 }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        // SAFETY: as above.
        unsafe { bindings::kext_folio_size(self.folio.as_ptr()) as u64 }
    }

    /// Gives up on writing the folio: unlock, end writeback, and record
    /// `err` on the file so that `fsync` reports it.
    pub fn fail(self, err: Error) {
        let this = ManuallyDrop::new(self);
        end_one(this.folio.as_ptr(), err.to_errno(), true);
    }
}

impl<T: FileSystem> Drop for WritebackFolio<T> {
    fn drop(&mut self) {
        end_one(self.folio.as_ptr(), code::EIO.to_errno(), true);
    }
}

/// Ends writeback of one folio, recording `err` (negative) if any.
///
/// This is the per-folio completion point of our writer. A folio is one
/// block today, so one bio completes it. When folios grow to several
/// blocks that may go to several bios, a pending-bio count kept here,
/// outside `folio->private` (which iomap owns), ends writeback at the last.
fn end_one(folio: *mut bindings::folio, err: c_int, locked: bool) {
    // SAFETY: `folio` is under writeback by us, so it and its mapping stay
    // live until `folio_end_writeback`.
    unsafe {
        if locked {
            bindings::folio_unlock(folio);
        }
        if err < 0 {
            bindings::kext_mapping_set_error((*folio).__bindgen_anon_1.__bindgen_anon_1.mapping, err);
        }
        bindings::folio_end_writeback(folio);
    }
}

/// What the blocks a write bio goes to hold until it completes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Blocks {
    /// Written blocks: the bio overwrites file data.
    Written,
    /// Unwritten blocks (they read as zeros): when the bio completed, the
    /// data is made durable and [`FileSystem::convert_unwritten`] turns
    /// them written, before the folios' writeback ends (see
    /// [`super::write_end`]).
    Unwritten,
}

/// A write bio being filled with folios contiguous on disk and in the
/// file, all going to blocks in one [`Blocks`] state.
pub struct WriteBio {
    bio: NonNull<bindings::bio>,
    next_sector: u64,
    /// File offset the next folio must start at.
    next_pos: u64,
    blocks: Blocks,
    remaining_vecs: u32,
}

// SAFETY: a bio may be submitted from any thread.
unsafe impl Send for WriteBio {}

impl WriteBio {
    /// Most folios one bio holds (`BIO_MAX_VECS`).
    pub const MAX_FOLIOS: u32 = bindings::KEXT_BIO_MAX_VECS;

    /// A write bio to the filesystem's device holding `folio`, which goes
    /// to device byte `disk_pos`, into `blocks`; room for up to
    /// `max_folios` folios. On failure the folio is failed with the error.
    pub fn start<T: FileSystem>(
        sb: &RawSuperBlock,
        disk_pos: u64,
        blocks: Blocks,
        folio: WritebackFolio<T>,
        max_folios: u32,
        wbc: &mut WritebackControl,
    ) -> Result<WriteBio> {
        let mut bio = match Self::alloc(sb, disk_pos, folio.pos(), blocks, max_folios, wbc) {
            Ok(bio) => bio,
            Err(e) => {
                folio.fail(e);
                return Err(e);
            }
        };
        match bio.try_add(disk_pos, blocks, folio) {
            Ok(()) => Ok(bio),
            Err(folio) => {
                // Cannot happen with an empty bio; keep the folio safe anyway.
                folio.fail(code::EIO);
                core::mem::forget(bio);
                Err(code::EIO)
            }
        }
    }

    fn alloc(
        sb: &RawSuperBlock,
        disk_pos: u64,
        file_pos: u64,
        blocks: Blocks,
        max_folios: u32,
        wbc: &mut WritebackControl,
    ) -> Result<WriteBio> {
        let nr = max_folios.clamp(1, Self::MAX_FOLIOS);
        let opf = wbc.write_opf();
        // SAFETY: live super block; `fs_bio_set` is the kernel's shared
        // pool. With GFP_NOFS (may sleep) the mempool allocation does not
        // fail, but we check anyway.
        let bio = unsafe {
            bindings::bio_alloc_bioset(
                (*sb.as_ptr()).s_bdev,
                nr as u16,
                opf,
                bindings::KEXT_GFP_NOFS,
                core::ptr::addr_of_mut!(bindings::fs_bio_set),
            )
        };
        let bio = NonNull::new(bio).ok_or(code::ENOMEM)?;
        let sector = disk_pos >> 9;
        // SAFETY: a new bio that we own; the super block's type is one of
        // ours (a `Registration`), whose queue outlives the bio.
        unsafe {
            (*bio.as_ptr()).bi_iter.bi_sector = sector;
            match blocks {
                Blocks::Written => (*bio.as_ptr()).bi_end_io = Some(write_end_io),
                Blocks::Unwritten => {
                    (*bio.as_ptr()).bi_end_io = Some(super::write_end::folio_bio_end_io);
                    (*bio.as_ptr()).bi_private = super::write_end::queue_of(sb.as_ptr()).cast();
                }
            }
            bindings::kext_wbc_init_bio(wbc.as_ptr(), bio.as_ptr());
        }
        Ok(WriteBio { bio, next_sector: sector, next_pos: file_pos, blocks, remaining_vecs: nr })
    }

    /// Adds the whole folio, which goes to device byte `disk_pos` into
    /// `blocks`, if that continues the bio on disk and in the file, in the
    /// same block state, and the bio has room. On success the folio is
    /// unlocked and its writeback ends when the bio completes; otherwise
    /// the folio is given back.
    pub fn try_add<T: FileSystem>(
        &mut self,
        disk_pos: u64,
        blocks: Blocks,
        folio: WritebackFolio<T>,
    ) -> core::result::Result<(), WritebackFolio<T>> {
        if self.remaining_vecs == 0
            || disk_pos >> 9 != self.next_sector
            || folio.pos() != self.next_pos
            || blocks != self.blocks
        {
            return Err(folio);
        }
        let size = folio.size();
        // SAFETY: our bio, a locked folio under writeback.
        let added = unsafe { bindings::bio_add_folio(self.bio.as_ptr(), folio.folio.as_ptr(), size as usize, 0) };
        if !added {
            self.remaining_vecs = 0;
            return Err(folio);
        }
        self.remaining_vecs -= 1;
        self.next_sector += size >> 9;
        self.next_pos += size;
        let folio = ManuallyDrop::new(folio);
        // SAFETY: the folio is in the bio now; its completion ends its
        // writeback. It stays locked only while we map and add it.
        unsafe { bindings::folio_unlock(folio.folio.as_ptr()) };
        Ok(())
    }

    /// Sends the bio to the device.
    pub fn submit(self) {
        // Dropping submits.
    }
}

impl Drop for WriteBio {
    fn drop(&mut self) {
        // SAFETY: our bio, holding at least one folio (`start` never keeps
        // an empty one); every folio in it must see its completion.
        unsafe { bindings::submit_bio(self.bio.as_ptr()) };
    }
}

/// `bi_end_io` of write bios to written blocks: ends writeback of every
/// folio in the bio and records an I/O error on the files.
unsafe extern "C" fn write_end_io(bio: *mut bindings::bio) {
    // SAFETY: the block layer completes our bio once; we own it here.
    unsafe {
        let err = bindings::blk_status_to_errno((*bio).bi_status);
        end_bio(bio, err);
    }
}

/// Ends writeback of every folio of a completed bio of ours, recording
/// `err` (negative) on their files, and frees the bio.
///
/// # Safety
///
/// `bio` is a completed [`WriteBio`] we own; its folios are under
/// writeback, unlocked.
pub(crate) unsafe fn end_bio(bio: *mut bindings::bio, err: c_int) {
    // SAFETY: as the caller promises.
    unsafe {
        // Ratelimited: a disk that died under writeback fails every bio.
        if err < 0 && bindings::kext_printk_ratelimit() {
            let folios = (*bio).bi_vcnt;
            kernel::pr_err!("write error {} on a bio of {} folio(s)\n", err, folios);
        }
        let mut fi = bindings::folio_iter::default();
        let mut folio = bindings::kext_bio_first_folio(bio, &mut fi);
        while !folio.is_null() {
            end_one(folio, err, false);
            folio = bindings::kext_bio_next_folio(bio, &mut fi);
        }
        bindings::bio_put(bio);
    }
}

/// The file and the byte range a completed bio of ours wrote: its folios
/// are contiguous in one file ([`WriteBio::try_add`]).
///
/// # Safety
///
/// `bio` is a completed [`WriteBio`]; its folios are under writeback.
pub(crate) unsafe fn bio_file_range(bio: *mut bindings::bio) -> (*mut bindings::inode, u64, u64) {
    let mut fi = bindings::folio_iter::default();
    // SAFETY: as the caller promises: a non-empty bio whose folios (under
    // writeback) keep their mapping and its host.
    unsafe {
        let mut folio = bindings::kext_bio_first_folio(bio, &mut fi);
        let inode = (*(*folio).__bindgen_anon_1.__bindgen_anon_1.mapping).host;
        let pos = bindings::kext_folio_pos(folio) as u64;
        let mut len = 0;
        while !folio.is_null() {
            len += bindings::kext_folio_size(folio) as u64;
            folio = bindings::kext_bio_next_folio(bio, &mut fi);
        }
        (inode, pos, len)
    }
}
