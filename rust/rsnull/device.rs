// SPDX-License-Identifier: GPL-2.0

//! One rsnull disk: how it executes and completes each request.

use crate::config::Completion;
use crate::kext::blk::mq::{Op, Operations, Request, Requeue, Status};
use crate::storage::MemoryStore;
use kernel::error::code;

/// Bytes per sector, the unit of request positions.
const SECTOR_SIZE: u64 = 512;

/// The state behind one `/dev/rsnullN`.
pub(crate) struct Device {
    /// `None` when `memory_backed=0`: writes vanish and reads return zeros.
    store: Option<MemoryStore>,
    capacity_sectors: u64,
    completion: Completion,
}

impl Device {
    pub(crate) fn new(store: Option<MemoryStore>, capacity_sectors: u64, completion: Completion) -> Self {
        Self {
            store,
            capacity_sectors,
            completion,
        }
    }

    /// Does what `rq` asks. `Err(ENOMEM)` means "retry later".
    fn execute(&self, rq: &Request) -> Result<Status, kernel::error::Error> {
        let op = rq.op();
        match op {
            // Nothing to do: every completed write is already in memory, so
            // it is durable, and FUA writes are too when they complete. A
            // flush has no sector range (its position is not meaningful).
            Op::Flush => return Ok(Status::OK),
            Op::Other(_) => return Ok(Status::NOTSUPP),
            Op::Read | Op::Write | Op::Discard | Op::WriteZeroes => {}
        }
        let sector = rq.sector();
        let bytes = u64::from(rq.bytes());
        let end = sector.checked_add(bytes.div_ceil(SECTOR_SIZE));
        if end.map_or(true, |end| end > self.capacity_sectors) {
            // The block layer already refuses I/O past the end of the disk;
            // this guards the store against anything that slips through.
            return Ok(Status::IOERR);
        }
        let mut pos = sector * SECTOR_SIZE;
        let Some(store) = &self.store else {
            // memory_backed=0: writes vanish, reads see zeros.
            if op == Op::Read {
                rq.segments().for_each(|seg| seg.zero());
            }
            return Ok(Status::OK);
        };
        match op {
            Op::Read => {
                for seg in rq.segments() {
                    store.read(pos, &seg);
                    pos += seg.len() as u64;
                }
            }
            Op::Write => {
                for seg in rq.segments() {
                    store.write(pos, &seg)?;
                    pos += seg.len() as u64;
                }
            }
            Op::Discard | Op::WriteZeroes => store.zero_range(pos, bytes),
            Op::Flush | Op::Other(_) => {}
        }
        Ok(Status::OK)
    }

    /// Pages of memory this device holds.
    pub(crate) fn nr_pages(&self) -> usize {
        self.store.as_ref().map_or(0, MemoryStore::nr_pages)
    }
}

impl Operations for Device {
    fn queue_rq(&self, rq: Request, _is_last: bool) -> Result<(), Requeue> {
        let status = match self.execute(&rq) {
            Ok(status) => status,
            Err(e) if e == code::ENOMEM => return Err(rq.requeue()),
            Err(_) => Status::IOERR,
        };
        match self.completion {
            Completion::Inline => rq.end(status),
            Completion::Softirq => rq.complete(status),
            Completion::Timer(nsec) => rq.complete_after(nsec, status),
        }
        Ok(())
    }
}
