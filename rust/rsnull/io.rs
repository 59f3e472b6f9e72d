// SPDX-License-Identifier: GPL-2.0

//! How one powered-on disk executes and completes each request.
//!
//! In order: power (off: `EIO`), range, injected faults, then the medium;
//! a write that was the last before a crash point cuts the power after it
//! completes. A request that cannot get memory is retried a bounded number
//! of times, then fails: memory pressure slows I/O down or fails it, it
//! never hangs it.

use crate::{
    config::{Completion, Settings},
    faults::Dir,
    kext::blk::mq::{Op, Operations, Request, Requeue, Status},
    media::Media,
};
use kernel::{error::code, prelude::*, sync::Arc};

/// Bytes per sector, the unit of request positions.
const SECTOR_SIZE: u64 = 512;

/// How often a request short of memory goes back to blk-mq before it
/// fails. blk-mq retries after a few milliseconds, or as soon as another
/// request of the queue completes.
const MAX_REQUEUES: u32 = 64;

/// The driver state of one powered-on disk.
pub(crate) struct Queue {
    media: Arc<Media>,
    /// For messages: the N of `/dev/rsnullN`.
    index: u32,
    capacity_sectors: u64,
    memory_backed: bool,
    completion: Completion,
}

impl Queue {
    pub(crate) fn new(media: Arc<Media>, index: u32, settings: &Settings) -> Self {
        Self {
            media,
            index,
            capacity_sectors: settings.capacity_sectors(),
            memory_backed: settings.memory_backed,
            completion: settings.completion(),
        }
    }

    /// Does what `rq` asks. `Err(ENOMEM)` means "retry later".
    fn execute(&self, rq: &Request) -> Result<Status> {
        if !self.media.powered() {
            return Ok(Status::IOERR);
        }
        let op = rq.op();
        match op {
            Op::Flush => {
                return Ok(match self.media.flush() {
                    Ok(()) => Status::OK,
                    Err(_) => Status::IOERR,
                });
            }
            Op::Other(_) => return Ok(Status::NOTSUPP),
            Op::Read | Op::Write | Op::Discard | Op::WriteZeroes => {}
        }
        let sector = rq.sector();
        let bytes = u64::from(rq.bytes());
        let sectors = bytes.div_ceil(SECTOR_SIZE);
        if sector.checked_add(sectors).map_or(true, |end| end > self.capacity_sectors) {
            // The block layer already refuses I/O past the end of the disk;
            // this guards the store against anything that slips through.
            return Ok(Status::IOERR);
        }
        let dir = if op == Op::Read { Dir::Read } else { Dir::Write };
        if matches!(op, Op::Read | Op::Write) && self.media.faults.should_fail(dir, sector, sectors) {
            return Ok(Status::IOERR);
        }
        let pos = sector * SECTOR_SIZE;
        if !self.memory_backed {
            // memory_backed=0: writes vanish, reads see zeros.
            if op == Op::Read {
                rq.segments().for_each(|seg| seg.zero());
            }
            return Ok(Status::OK);
        }
        let r = match op {
            Op::Read => {
                let mut at = pos;
                for seg in rq.segments() {
                    self.media.read(at, &seg);
                    at += seg.len() as u64;
                }
                Ok(())
            }
            Op::Write => self.media.write(pos, bytes, rq.is_fua(), rq.segments()),
            _ => self.media.zero(pos, bytes),
        };
        match r {
            Ok(()) => Ok(Status::OK),
            Err(e) if e == code::ENOMEM => Err(e),
            Err(_) => Ok(Status::IOERR),
        }
    }

    /// Cuts the power if `rq` (just executed) was the crash point's.
    fn after(&self, op: Op, status: Status) {
        if status != Status::OK || !matches!(op, Op::Write | Op::Flush | Op::Discard | Op::WriteZeroes) {
            return;
        }
        if self.media.faults.count_write() {
            if let Some(lost) = self.media.power_cut() {
                pr_warn!(
                    "rsnull{}: crash point: power cut; lost {} write(s) since the last flush ({} cached page(s))\n",
                    self.index,
                    lost.writes,
                    lost.pages
                );
            }
        }
    }
}

impl Operations for Queue {
    fn queue_rq(&self, rq: Request, _is_last: bool) -> Result<(), Requeue> {
        let op = rq.op();
        let status = match self.execute(&rq) {
            Ok(status) => status,
            Err(_) if rq.requeue_count() < MAX_REQUEUES => return Err(rq.requeue()),
            Err(_) => {
                pr_warn_ratelimited(self.index);
                Status::IOERR
            }
        };
        self.after(op, status);
        match self.completion {
            Completion::Inline => rq.end(status),
            Completion::Softirq => rq.complete(status),
            Completion::Timer(nsec) => rq.complete_after(nsec, status),
        }
        Ok(())
    }
}

/// Says (at most once a second) that a request failed for want of memory.
fn pr_warn_ratelimited(index: u32) {
    use core::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    // SAFETY: reads the clock; no preconditions.
    let now = unsafe { crate::kext::bindings::ktime_get_seconds() } as u64;
    if LAST.swap(now, Ordering::Relaxed) != now {
        pr_warn!("rsnull{index}: out of memory after {MAX_REQUEUES} retries; failing the write\n");
    }
}
