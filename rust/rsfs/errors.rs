// SPDX-License-Identifier: GPL-2.0

//! What rsfs does when the disk is wrong or fails.
//!
//! - **Corruption** (metadata that fails its checks): the operation fails
//!   with `EUCLEAN` (the kernel's `EFSCORRUPTED`), and a message names the
//!   device, the structure and the block or inode; messages are
//!   ratelimited, so a crafted image cannot flood the log.
//! - **A failed metadata write** (an inode table, bitmap or directory
//!   block that did not reach the disk): the filesystem goes read-only at
//!   once, with one message naming the device, as ext4 does with
//!   `errors=remount-ro`. The operation that finds out gets `EIO`; later
//!   writes get `EROFS`; what is cached stays readable. Nothing is silently
//!   undone: a buffer whose write failed keeps its newest contents
//!   (`kext::fs::buffer::Buffer::read`), and the failure is found through
//!   the device's own error sequence, which the flusher's writes update
//!   too, not only through whichever `sync_blockdev` sees it first.

use crate::{format::FormatError, kext::error::more::euclean, kext::fs::sb::SuperBlock, Rsfs};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

/// Corruption messages allowed per [`WINDOW_SECS`].
const BURST: u32 = 10;
const WINDOW_SECS: u64 = 5;

/// Where corrupt metadata was found.
#[derive(Clone, Copy)]
pub(crate) enum Loc {
    /// A block of the device.
    Block(u64),
    /// An inode (its extents, or an inode-relative block index).
    Inode(u64),
}

impl core::fmt::Display for Loc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Loc::Block(b) => write!(f, "block {b}"),
            Loc::Inode(i) => write!(f, "inode {i}"),
        }
    }
}

/// Per-mount error state (part of `FsInfo`).
pub(crate) struct ErrorState {
    /// The device's write-error sequence when the filesystem was mounted.
    device_wb_err: u32,
    /// Whether a metadata write failed (the filesystem is read-only since).
    write_failed: AtomicBool,
    /// The corruption-message ratelimit: the window's start, messages in it.
    window: AtomicU64,
    in_window: AtomicU32,
}

impl ErrorState {
    pub(crate) fn new(device_wb_err: u32) -> Self {
        Self {
            device_wb_err,
            write_failed: AtomicBool::new(false),
            window: AtomicU64::new(0),
            in_window: AtomicU32::new(0),
        }
    }

    /// Whether one more corruption message may be printed now.
    fn may_print(&self) -> bool {
        // SAFETY: reads the clock; no preconditions.
        let now = unsafe { crate::kext::bindings::ktime_get_seconds() } as u64;
        let start = self.window.load(Ordering::Relaxed);
        if now >= start + WINDOW_SECS {
            self.window.store(now, Ordering::Relaxed);
            self.in_window.store(1, Ordering::Relaxed);
            return true;
        }
        self.in_window.fetch_add(1, Ordering::Relaxed) < BURST
    }
}

/// Metadata at `loc` failed its checks: logs (ratelimited) and returns the
/// error for the operation, `EUCLEAN`.
pub(crate) fn corrupt(sb: &SuperBlock<Rsfs>, what: &str, loc: Loc, err: FormatError) -> Error {
    if sb.info().errors.may_print() {
        pr_err!(
            "{}: corrupt {} at {}: {}; run fsck.rsfs\n",
            sb.raw().id().to_str().unwrap_or("?"),
            what,
            loc,
            err.as_str()
        );
    }
    euclean()
}

/// Something on disk is inconsistent in a way no single block's checks
/// catch (a count, a link): logs `what` (ratelimited, naming the device).
pub(crate) fn inconsistent(sb: &SuperBlock<Rsfs>, what: core::fmt::Arguments<'_>) {
    if sb.info().errors.may_print() {
        pr_err!("{}: {}; run fsck.rsfs\n", sb.raw().id().to_str().unwrap_or("?"), what);
    }
}

/// Metadata at `loc` could not be read: logs (ratelimited), returns `err`.
pub(crate) fn read_failed(sb: &SuperBlock<Rsfs>, loc: Loc, err: Error) -> Error {
    if sb.info().errors.may_print() {
        pr_err!("{}: cannot read metadata at {}: {:?}\n", sb.raw().id().to_str().unwrap_or("?"), loc, err);
    }
    err
}

/// A metadata write failed (`err`, while `doing`): the filesystem goes
/// read-only. Returns the error for the operation that found out.
pub(crate) fn write_failed(sb: &SuperBlock<Rsfs>, doing: &str, err: Error) -> Error {
    let errors = &sb.info().errors;
    if !errors.write_failed.swap(true, Ordering::AcqRel) {
        sb.raw().force_read_only();
        pr_crit!(
            "{}: metadata write failed ({:?}) while {}; the filesystem is read-only now; unmount and run fsck.rsfs\n",
            sb.raw().id().to_str().unwrap_or("?"),
            err,
            doing
        );
    }
    err
}

/// `Err(EIO)` (and read-only) if any metadata write to the device failed
/// since the mount, found now for the first time. Cheap: one atomic read.
/// Called before metadata is read for a change, and at every sync.
pub(crate) fn check_device_writes(sb: &SuperBlock<Rsfs>) -> Result {
    let errors = &sb.info().errors;
    if errors.write_failed.load(Ordering::Acquire) {
        return Ok(()); // Reported once; the filesystem is read-only.
    }
    sb.raw()
        .check_device_wb_err(errors.device_wb_err)
        .map_err(|e| write_failed(sb, "writing back metadata", e))
}
