// SPDX-License-Identifier: GPL-2.0

//! Module parameters, read once at load and validated into a [`Config`].
//!
//! The parameters themselves are declared in `params.c` (see there why).

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
}

/// The most devices one load may create.
const MAX_DEVICES: u32 = 64;
/// The largest device: 64 TiB, far beyond any memory this can back, but a
/// sane bound on what a typo (`gb=4000000`) may ask for.
const MAX_SIZE_MIB: u64 = 64 << 20;
/// The deepest queue we accept; blk-mq's own limit is 10240.
const MAX_QUEUE_DEPTH: u32 = 4096;
/// The longest completion delay: one second.
const MAX_COMPLETION_NSEC: u64 = 1_000_000_000;

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

/// The validated module parameters.
pub(crate) struct Config {
    pub(crate) nr_devices: u32,
    pub(crate) capacity_sectors: u64,
    pub(crate) block_size: u32,
    pub(crate) submit_queues: u32,
    pub(crate) queue_depth: u32,
    pub(crate) completion: Completion,
    pub(crate) memory_backed: bool,
    pub(crate) discard: bool,
    pub(crate) write_cache: bool,
}

/// Logs why a parameter is refused and returns `EINVAL` for `insmod`.
macro_rules! reject {
    ($($arg:tt)*) => {{
        pr_err!($($arg)*);
        return Err(code::EINVAL);
    }};
}

impl Config {
    /// Reads and checks the parameters. Any bad value fails the load with a
    /// message naming it; nothing has been registered at that point.
    pub(crate) fn from_params() -> Result<Self> {
        // SAFETY: the parameters are plain integers written by the module
        // loader before `init` runs and read-only (0444) afterwards.
        let (nr_devices, gb, size_mb, bs, queues, depth, irqmode, nsec, memory_backed, discard, wc) = unsafe {
            (
                rsnull_nr_devices,
                rsnull_gb,
                rsnull_size_mb,
                rsnull_bs,
                rsnull_submit_queues,
                rsnull_hw_queue_depth,
                rsnull_irqmode,
                rsnull_completion_nsec,
                rsnull_memory_backed,
                rsnull_discard,
                rsnull_write_cache,
            )
        };

        if nr_devices == 0 || nr_devices > MAX_DEVICES {
            reject!("nr_devices={nr_devices} is out of range 1..={MAX_DEVICES}\n");
        }
        let size_mib = if size_mb != 0 { u64::from(size_mb) } else { u64::from(gb) * 1024 };
        if size_mib == 0 {
            reject!("device size is zero (gb=0 and size_mb=0)\n");
        }
        if size_mib > MAX_SIZE_MIB {
            reject!("device size {size_mib} MiB exceeds the limit of {MAX_SIZE_MIB} MiB\n");
        }
        if !matches!(bs, 512 | 1024 | 2048 | 4096) {
            reject!("bs={bs} is not one of 512, 1024, 2048, 4096\n");
        }
        // SAFETY: `nr_cpu_ids` is set during early boot and constant after.
        let nr_cpus = unsafe { crate::kext::bindings::nr_cpu_ids };
        if queues == 0 || queues > nr_cpus {
            reject!("submit_queues={queues} is out of range 1..={nr_cpus} (CPUs)\n");
        }
        if depth == 0 || depth > MAX_QUEUE_DEPTH {
            reject!("hw_queue_depth={depth} is out of range 1..={MAX_QUEUE_DEPTH}\n");
        }
        let nsec = u64::from(nsec);
        let completion = match irqmode {
            0 => Completion::Inline,
            1 => Completion::Softirq,
            2 if nsec <= MAX_COMPLETION_NSEC => Completion::Timer(nsec),
            2 => reject!("completion_nsec={nsec} exceeds {MAX_COMPLETION_NSEC}\n"),
            _ => reject!("irqmode={irqmode} is not 0 (none), 1 (softirq) or 2 (timer)\n"),
        };

        Ok(Self {
            nr_devices,
            capacity_sectors: size_mib << 11,
            block_size: bs,
            submit_queues: queues,
            queue_depth: depth,
            completion,
            memory_backed,
            discard,
            write_cache: wc,
        })
    }
}
