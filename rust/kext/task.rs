// SPDX-License-Identifier: GPL-2.0

//! The current task: yielding the CPU in long loops, fatal signals.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h)

use crate::kext::bindings;
use kernel::error::{code, Result};

/// Gives the CPU to others if this task should (`cond_resched`), then
/// `EINTR` if the task was killed: for loops whose length a disk image
/// decides, which must neither hog a CPU (soft lockup) nor be unkillable.
/// Process context only.
pub fn yield_killable() -> Result {
    // SAFETY: both helpers only look at (and may schedule) the current
    // task; callers are in process context without spinlocks held.
    let killed = unsafe {
        bindings::kext_cond_resched();
        bindings::kext_fatal_signal_pending()
    };
    if killed {
        Err(code::EINTR)
    } else {
        Ok(())
    }
}

/// The running task's journal handle pointer (`current->journal_info`,
/// jbd2's and XFS's too): null when the task is in no transaction.
pub fn journal_info() -> *mut core::ffi::c_void {
    // SAFETY: reads a field of the current task.
    unsafe { bindings::kext_journal_info() }
}

/// Runs `f` with the task's journal handle pointer set to `info`, then
/// restores the previous one.
///
/// # Safety
///
/// `f` must not enter another filesystem that keeps its own handles there
/// (ext4, XFS): it would take `info` for one of its own.
pub unsafe fn with_journal_info<R>(info: *mut core::ffi::c_void, f: impl FnOnce() -> R) -> R {
    // SAFETY: reads a field of the current task.
    let prev = unsafe { bindings::kext_journal_info() };
    // SAFETY: writes a field of the current task, restored below.
    unsafe { bindings::kext_set_journal_info(info) };
    let r = f();
    // SAFETY: puts back the value read above.
    unsafe { bindings::kext_set_journal_info(prev) };
    r
}
