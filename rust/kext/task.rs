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
