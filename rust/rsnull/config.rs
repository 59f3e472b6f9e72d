// SPDX-License-Identifier: GPL-2.0

//! What shapes a disk: its [`Settings`], their limits, and the module
//! parameters they start from.
//!
//! A device made by the module parameters (`nr_devices`) takes them as
//! they are; a configfs device starts from them and each attribute written
//! changes one setting. Both go through [`Settings::check`], which logs
//! what is wrong with the first bad value. The parameters themselves are
//! declared in `params.c` (the 6.12 `module!` macro has no parameters).

use core::ffi::{c_uint, c_ulong};
use kernel::error::{code, Result};
use kernel::pr_err;

extern "C" {
    static rsnull_nr_devices: c_uint;
    static rsnull_gb: c_uint;
    static rsnull_size_mb: c_uint;
    static rsnull_bs: c_uint;
    static rsnull_submit_queues: c_uint;
    static rsnull_hw_queue_depth: c_uint;
    static rsnull_irqmode: c_uint;
    static rsnull_completion_nsec: c_ulong;
    static rsnull_memory_backed: bool;
    static rsnull_discard: bool;
    static rsnull_write_cache: bool;
    static rsnull_cache_size: c_ulong;
    static rsnull_fua: bool;
}

/// The most devices the module parameters may create.
pub(crate) const MAX_PARAM_DEVICES: u32 = 64;
/// The largest device index (`/dev/rsnullN`).
pub(crate) const MAX_INDEX: u32 = 1023;
/// The largest device: 64 TiB, far beyond any memory this can back, but a
/// sane bound on what a typo (`gb=4000000`) may ask for.
const MAX_SIZE_MIB: u64 = 64 << 20;
/// The deepest queue we accept; blk-mq's own limit is 10240.
const MAX_QUEUE_DEPTH: u32 = 4096;
/// The longest completion delay: one second.
const MAX_COMPLETION_NSEC: u64 = 1_000_000_000;
/// The largest volatile write cache.
const MAX_CACHE_MIB: u64 = 1024;

/// How requests are completed (null_blk's `irqmode`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// In `queue_rq` itself.
    Inline,
    /// Through `blk_mq_complete_request()`, in softirq context.
    Softirq,
    /// From an hrtimer this many nanoseconds later.
    Timer(u64),
}

/// One disk's settings, with null_blk's names and units.
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    /// `size`: capacity in MiB.
    pub(crate) size_mib: u64,
    /// `blocksize`: logical block size in bytes.
    pub(crate) block_size: u32,
    /// `submit_queues`: hardware queues.
    pub(crate) submit_queues: u32,
    /// `hw_queue_depth`: requests per hardware queue.
    pub(crate) queue_depth: u32,
    /// `irqmode`: 0 inline, 1 softirq, 2 timer.
    pub(crate) irqmode: u32,
    /// `completion_nsec`: the timer's delay for `irqmode` 2.
    pub(crate) completion_nsec: u64,
    /// `memory_backed`: keep written data (else writes vanish).
    pub(crate) memory_backed: bool,
    /// `discard`: support discard and write-zeroes.
    pub(crate) discard: bool,
    /// Advertise a volatile write cache even without `cache_size` (the
    /// `write_cache` module parameter: flushes are sent, and are no-ops).
    pub(crate) write_cache: bool,
    /// `cache_size`: MiB of emulated volatile write cache; 0: none, every
    /// completed write is durable.
    pub(crate) cache_mib: u64,
    /// `fua`: with a cache, honour FUA writes (else the block layer turns
    /// them into write + flush).
    pub(crate) fua: bool,
}

/// Logs why a setting is refused and returns `EINVAL`.
macro_rules! reject {
    ($($arg:tt)*) => {{
        pr_err!($($arg)*);
        return Err(code::EINVAL);
    }};
}

impl Settings {
    /// The module parameters, as settings, and `nr_devices`. Checked.
    pub(crate) fn from_params() -> Result<(u32, Self)> {
        // SAFETY: the parameters are plain integers written by the module
        // loader before `init` runs and read-only (0444) afterwards.
        let (nr, s) = unsafe {
            let size_mib = if rsnull_size_mb != 0 {
                u64::from(rsnull_size_mb)
            } else {
                u64::from(rsnull_gb) * 1024
            };
            (
                rsnull_nr_devices,
                Settings {
                    size_mib,
                    block_size: rsnull_bs,
                    submit_queues: rsnull_submit_queues,
                    queue_depth: rsnull_hw_queue_depth,
                    irqmode: rsnull_irqmode,
                    completion_nsec: rsnull_completion_nsec,
                    memory_backed: rsnull_memory_backed,
                    discard: rsnull_discard,
                    write_cache: rsnull_write_cache,
                    cache_mib: rsnull_cache_size,
                    fua: rsnull_fua,
                },
            )
        };
        if nr > MAX_PARAM_DEVICES {
            reject!("nr_devices={nr} is out of range 0..={MAX_PARAM_DEVICES}\n");
        }
        s.check("module parameter")?;
        Ok((nr, s))
    }

    /// Checks every setting; logs the first bad one (by its attribute name).
    /// `who` names the device (or the module parameters) in the message.
    pub(crate) fn check(&self, who: &str) -> Result {
        let s = self;
        if s.size_mib == 0 {
            reject!("{who}: size is zero (MiB)\n");
        }
        if s.size_mib > MAX_SIZE_MIB {
            reject!("{who}: size {} MiB exceeds the limit of {MAX_SIZE_MIB} MiB\n", s.size_mib);
        }
        if !matches!(s.block_size, 512 | 1024 | 2048 | 4096) {
            reject!("{who}: blocksize {} is not one of 512, 1024, 2048, 4096\n", s.block_size);
        }
        // SAFETY: `nr_cpu_ids` is set during early boot and constant after.
        let nr_cpus = unsafe { crate::kext::bindings::nr_cpu_ids };
        if s.submit_queues == 0 || s.submit_queues > nr_cpus {
            reject!("{who}: submit_queues {} is out of range 1..={nr_cpus} (CPUs)\n", s.submit_queues);
        }
        if s.queue_depth == 0 || s.queue_depth > MAX_QUEUE_DEPTH {
            reject!("{who}: hw_queue_depth {} is out of range 1..={MAX_QUEUE_DEPTH}\n", s.queue_depth);
        }
        if s.irqmode > 2 {
            reject!("{who}: irqmode {} is not 0 (none), 1 (softirq) or 2 (timer)\n", s.irqmode);
        }
        if s.completion_nsec > MAX_COMPLETION_NSEC {
            reject!("{who}: completion_nsec {} exceeds {MAX_COMPLETION_NSEC}\n", s.completion_nsec);
        }
        if s.cache_mib > MAX_CACHE_MIB {
            reject!("{who}: cache_size {} MiB exceeds the limit of {MAX_CACHE_MIB} MiB\n", s.cache_mib);
        }
        Ok(())
    }

    /// Capacity in 512-byte sectors.
    pub(crate) fn capacity_sectors(&self) -> u64 {
        self.size_mib << 11
    }

    /// How requests complete.
    pub(crate) fn completion(&self) -> Completion {
        match self.irqmode {
            0 => Completion::Inline,
            1 => Completion::Softirq,
            _ => Completion::Timer(self.completion_nsec),
        }
    }

    /// Whether writes go through the emulated volatile cache.
    pub(crate) fn has_cache(&self) -> bool {
        self.cache_mib > 0 && self.memory_backed
    }
}
