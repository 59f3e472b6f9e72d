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
        let sector = rq.sector();
        let bytes = u64::from(rq.bytes());
        let end = sector.checked_add(bytes.div_ceil(SECTOR_SIZE));
        if end.map_or(true, |end| end > self.capacity_sectors) {
            // The block layer already refuses I/O past the end of the disk;
            // this guards the store against anything that slips through.
            return Ok(Status::IOERR);
        }
        let pos = sector * SECTOR_SIZE;
        match (rq.op(), &self.store) {
            // Flushes have nothing to do: every completed write is already
            // in memory. FUA writes are likewise durable when they complete.
            (Op::Flush, _) => Ok(Status::OK),
            (Op::Read, Some(store)) => {
                let mut pos = pos;
                for seg in rq.segments() {
                    store.read(pos, &seg);
                    pos += seg.len() as u64;
                }
                Ok(Status::OK)
            }
            (Op::Write, Some(store)) => {
                let mut pos = pos;
                for seg in rq.segments() {
                    store.write(pos, &seg)?;
                    pos += seg.len() as u64;
                }
                Ok(Status::OK)
            }
            (Op::Discard | Op::WriteZeroes, Some(store)) => {
                store.zero_range(pos, bytes);
                Ok(Status::OK)
            }
            (Op::Read, None) => {
                for seg in rq.segments() {
                    seg.zero();
                }
                Ok(Status::OK)
            }
            (Op::Write | Op::Discard | Op::WriteZeroes, None) => Ok(Status::OK),
            (Op::Other(_), _) => Ok(Status::NOTSUPP),
        }
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
