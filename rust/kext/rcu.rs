// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::kext::bindings;
use core::marker::PhantomData;

/// An RCU read-side critical section; it ends when the guard is dropped.
///
/// Objects that writers free with `call_rcu()` stay valid while a guard
/// exists, so lookups return references bounded by the guard's lifetime.
/// The guard cannot move to another thread: the critical section belongs to
/// the CPU context that opened it.
pub struct RcuReadGuard {
    _not_send: PhantomData<*mut ()>,
}

impl RcuReadGuard {
    /// Enters a read-side critical section.
    #[inline]
    pub fn new() -> Self {
        // SAFETY: `rcu_read_lock()` may be called from any context; the
        // matching unlock happens in `drop`.
        unsafe { bindings::kext_rcu_read_lock() };
        Self { _not_send: PhantomData }
    }
}

impl Drop for RcuReadGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `new` entered the critical section this guard represents,
        // and the guard did not leave this context (it is `!Send`).
        unsafe { bindings::kext_rcu_read_unlock() };
    }
}
