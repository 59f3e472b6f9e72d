// SPDX-License-Identifier: GPL-2.0

//! Faults on demand: bad sectors, random I/O errors and crash points.
//!
//! - `badblocks`: reads and writes that touch a listed sector fail with
//!   `EIO` (as null_blk).
//! - `read_error_probability`, `write_error_probability`: each read or
//!   write fails with `EIO` with this probability, in percent, drawn from
//!   a generator seeded by `random_seed` (so a run can be repeated).
//! - `crash_after_writes=N`: the power is cut right after the Nth write,
//!   discard or flush from now (that one still completes). `crash_random=MAX`
//!   arms the same with an N drawn from the seeded generator in 1..=MAX;
//!   `crash_after_writes` then reads back the N still to go.
//!
//! Everything here is lock-free: it is consulted from `queue_rq`.

use crate::kext::blk::badblocks::BadBlocks;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{error::Error, init::PinInit, prelude::*};

/// The seed a device starts with.
const DEFAULT_SEED: u64 = 0x5eed_0f_a11_c0de;

/// The faults configured on one device.
#[pin_data]
pub(crate) struct Faults {
    #[pin]
    pub(crate) badblocks: BadBlocks,
    /// Percent of reads that fail.
    read_error_pct: AtomicU32,
    /// Percent of writes that fail.
    write_error_pct: AtomicU32,
    /// The last seed written, and the generator's state.
    seed: AtomicU64,
    rng: AtomicU64,
    /// Writes and flushes until the power is cut; 0: no crash point.
    crash_countdown: AtomicU64,
}

/// Which kind of I/O may fail.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

impl Faults {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            badblocks <- BadBlocks::new(),
            read_error_pct: AtomicU32::new(0),
            write_error_pct: AtomicU32::new(0),
            seed: AtomicU64::new(DEFAULT_SEED),
            rng: AtomicU64::new(DEFAULT_SEED),
            crash_countdown: AtomicU64::new(0),
        }? Error)
    }

    /// A pseudo-random number (xorshift64*), from the seeded state.
    fn next_random(&self) -> u64 {
        let step = |mut x: u64| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x
        };
        // `fetch_update` with an infallible closure always returns `Ok`.
        let old = match self.rng.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x))) {
            Ok(x) | Err(x) => x,
        };
        step(old).wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Restarts the generator from `seed` (0 is replaced: xorshift would
    /// stay at 0 for ever).
    pub(crate) fn set_seed(&self, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
        self.rng.store(if seed == 0 { DEFAULT_SEED } else { seed }, Ordering::Relaxed);
    }

    /// The seed last written.
    pub(crate) fn seed(&self) -> u64 {
        self.seed.load(Ordering::Relaxed)
    }

    /// The error probability (percent) for `dir`.
    pub(crate) fn error_percent(&self, dir: Dir) -> u32 {
        self.error_pct(dir).load(Ordering::Relaxed)
    }

    /// Sets the error probability for `dir`, in percent (0..=100).
    pub(crate) fn set_error_percent(&self, dir: Dir, pct: u32) -> Result {
        if pct > 100 {
            return Err(EINVAL);
        }
        self.error_pct(dir).store(pct, Ordering::Relaxed);
        Ok(())
    }

    fn error_pct(&self, dir: Dir) -> &AtomicU32 {
        match dir {
            Dir::Read => &self.read_error_pct,
            Dir::Write => &self.write_error_pct,
        }
    }

    /// Whether a `dir` request on sectors `start .. start + sectors` fails.
    pub(crate) fn should_fail(&self, dir: Dir, start: u64, sectors: u64) -> bool {
        if self.badblocks.any_bad(start, sectors) {
            return true;
        }
        let pct = self.error_percent(dir);
        pct != 0 && self.next_random() % 100 < u64::from(pct)
    }

    /// Arms a crash point `n` writes from now (0 disarms).
    pub(crate) fn set_crash_after(&self, n: u64) {
        self.crash_countdown.store(n, Ordering::Relaxed);
    }

    /// Arms a crash point at a random count in `1..=max`; returns it.
    pub(crate) fn set_crash_random(&self, max: u64) -> u64 {
        let n = if max == 0 { 0 } else { 1 + self.next_random() % max };
        self.set_crash_after(n);
        n
    }

    /// Writes still to go before the crash point; 0 when none is armed.
    pub(crate) fn crash_after(&self) -> u64 {
        self.crash_countdown.load(Ordering::Relaxed)
    }

    /// Counts one completed write, discard or flush. Returns `true` if it
    /// was the last before the crash point: the caller cuts the power.
    pub(crate) fn count_write(&self) -> bool {
        self.crash_countdown
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok_and(|before| before == 1)
    }
}
