// SPDX-License-Identifier: GPL-2.0

//! The journal (format 1.1) from userspace: its superblock, replaying the
//! log onto the device or into an overlay of it, and writing an empty one.
//!
//! Replay follows `rust/rsfs/format/journal.rs` (the kernel replays the same
//! way): [`LogWalker`] over the committed transactions; every copy and
//! revoke record must name a block the journal may log
//! ([`LogEvent::check_home`]), or the journal is corrupt and nothing is
//! written; the revoke table ([`revoke_table_prepare`]); then the newest
//! copy of each block that no revoke of the same or a later transaction
//! names ([`copy_is_revoked`]) goes home; then the journal superblock is
//! written empty with the sequence after the last committed transaction.

use crate::dev::BlockDev;
use crate::format::*;
use crate::{zero_block, Error, Result};
use std::collections::BTreeMap;

/// Reads and decodes the journal superblock of filesystem `g`: `Ok(Err(e))`
/// when it is not valid, `Err` when it cannot be read.
pub fn read_super(
    dev: &BlockDev,
    g: &Geometry,
) -> Result<std::result::Result<JournalSuper, FormatError>> {
    let b = dev.read_block_new(g.journal_start)?;
    Ok(JournalSuper::decode(&b, g.journal_blocks))
}

/// Writes the superblock of an empty journal (`start` 0) whose next
/// transaction is `sequence`.
pub fn write_empty(dev: &BlockDev, g: &Geometry, sequence: u64) -> Result<()> {
    let mut b = zero_block();
    JournalSuper::empty(g.journal_blocks, sequence).encode(&mut b);
    dev.write_block(g.journal_start, &b)
}

/// The highest sequence number of any block of the log that is a sealed
/// descriptor, revoke or commit block (of any transaction, stale or not).
pub fn highest_logged_sequence(dev: &BlockDev, g: &Geometry) -> Result<Option<u64>> {
    const CHUNK: u64 = 256;
    let mut highest: Option<u64> = None;
    let mut buf = vec![0u8; CHUNK as usize * BLOCK_SIZE];
    let mut index = 1;
    while index < g.journal_blocks {
        let n = CHUNK.min(g.journal_blocks - index);
        let bytes = n as usize * BLOCK_SIZE;
        dev.read_blocks(g.journal_start + index, &mut buf[..bytes])?;
        for chunk in buf[..bytes].chunks_exact(BLOCK_SIZE) {
            let Ok(b) = <&Block>::try_from(chunk) else {
                continue;
            };
            let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if !matches!(magic, DESCRIPTOR_MAGIC | REVOKE_MAGIC | COMMIT_MAGIC)
                || !block_checksum_ok(b)
            {
                continue;
            }
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&b[8..16]);
            let seq = u64::from_le_bytes(seq);
            highest = Some(highest.map_or(seq, |h| h.max(seq)));
        }
        index += n;
    }
    Ok(highest)
}

/// A sequence number for a journal that starts afresh: past every log
/// block left in the region, so that none of them can pass for part of a
/// new transaction. 1 for a zero-filled region. If the highest one is
/// `u64::MAX`, the log is zeroed and 1 returned.
pub fn fresh_sequence(dev: &BlockDev, g: &Geometry) -> Result<u64> {
    match highest_logged_sequence(dev, g)? {
        None => Ok(1),
        Some(h) if h < u64::MAX => Ok(h + 1),
        Some(_) => {
            dev.write_zeroes(g.journal_start + 1, g.journal_blocks.saturating_sub(1))?;
            Ok(1)
        }
    }
}

/// Why a log cannot be replayed: a committed transaction names a block the
/// journal may not log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptLog {
    /// [`FormatError::BadJournal`].
    pub error: FormatError,
    /// What and where, for a message.
    pub detail: String,
}

/// A replay, planned: what the committed part of the log writes.
#[derive(Clone, Debug)]
pub struct Recovery {
    /// The journal superblock it starts from.
    pub journal: JournalSuper,
    /// Where the committed transactions end.
    pub end: LogEnd,
    /// Each home block to write, with the log index of its copy (the
    /// newest one not revoked).
    pub writes: BTreeMap<u64, u64>,
    /// Copies in the committed transactions.
    pub copies: u64,
    /// Copies not replayed because a revoke record names their block.
    pub revoked: u64,
}

/// Reads the log of journal `j` (on filesystem `g`) and plans its replay.
/// `Ok(Err(_))` when the log is corrupt; `Err` on a read error.
pub fn plan_recovery(
    dev: &BlockDev,
    g: &Geometry,
    j: JournalSuper,
) -> Result<std::result::Result<Recovery, CorruptLog>> {
    let walker = LogWalker::new(j);
    let (mut a, mut b) = (zero_block(), zero_block());
    let read = |index: u64, out: &mut Block| -> std::result::Result<(), WalkError> {
        dev.read_block(g.journal_start + index, out)
            .map_err(WalkError::Io)
    };
    // Pass 1: every block named may be logged; collect the revokes.
    let mut revokes = Vec::new();
    let walked = walker.walk(&mut a, &mut b, read, |e| {
        if e.check_home(g).is_err() {
            let detail = match e {
                LogEvent::Copy { sequence, tag, index } => format!(
                    "transaction {sequence} logs block {} (at log index {index}), which the journal may not log",
                    tag.block
                ),
                LogEvent::Revoke { sequence, block } => {
                    format!("transaction {sequence} revokes block {block}, which the journal may not log")
                }
                LogEvent::Commit { .. } => String::new(),
            };
            return Err(WalkError::Corrupt(detail));
        }
        if let LogEvent::Revoke { sequence, block } = e {
            revokes.push((block, sequence));
        }
        Ok(())
    });
    match walked {
        Ok(_) => {}
        Err(WalkError::Io(e)) => return Err(e),
        Err(WalkError::Corrupt(detail)) => {
            return Ok(Err(CorruptLog {
                error: FormatError::BadJournal,
                detail,
            }))
        }
    }
    let n = revoke_table_prepare(&mut revokes);
    let table = &revokes[..n];
    // Pass 2: the copies, in log order; the newest wins.
    let mut writes = BTreeMap::new();
    let (mut copies, mut revoked) = (0, 0);
    let end = walker
        .walk(&mut a, &mut b, read, |e| {
            if let LogEvent::Copy {
                sequence,
                tag,
                index,
            } = e
            {
                copies += 1;
                if copy_is_revoked(table, tag.block, sequence) {
                    revoked += 1;
                } else {
                    writes.insert(tag.block, index);
                }
            }
            Ok(())
        })
        .map_err(|e| match e {
            WalkError::Io(e) => e,
            WalkError::Corrupt(d) => Error::msg(d),
        })?;
    Ok(Ok(Recovery {
        journal: j,
        end,
        writes,
        copies,
        revoked,
    }))
}

enum WalkError {
    Io(Error),
    Corrupt(String),
}

impl Recovery {
    /// Committed transactions found.
    pub fn transactions(&self) -> u64 {
        self.end.transactions
    }

    /// Home blocks the replay writes.
    pub fn blocks(&self) -> usize {
        self.writes.len()
    }

    /// Writes the copies home, syncs, then writes the journal superblock
    /// empty with the next sequence and syncs again: what a mount does.
    pub fn replay(&self, dev: &BlockDev, g: &Geometry) -> Result<()> {
        let mut buf = zero_block();
        for (&home, &index) in &self.writes {
            dev.read_block(g.journal_start + index, &mut buf)?;
            dev.write_block(home, &buf)?;
        }
        dev.sync()?;
        write_empty(dev, g, self.end.next_sequence)?;
        dev.sync()
    }

    /// Lays the copies over the device ([`BlockDev::overlay_block`]), and
    /// an empty journal superblock over the journal's: reads then see the
    /// filesystem as the replay would leave it, and nothing is written.
    pub fn overlay(&self, dev: &mut BlockDev, g: &Geometry) -> Result<()> {
        for (&home, &index) in &self.writes {
            let copy = dev.read_block_new(g.journal_start + index)?;
            dev.overlay_block(home, copy);
        }
        let mut b = zero_block();
        JournalSuper::empty(g.journal_blocks, self.end.next_sequence).encode(&mut b);
        dev.overlay_block(g.journal_start, b);
        Ok(())
    }
}

/// What [`check`] found in a journal.
#[derive(Clone, Debug)]
pub enum JournalState {
    /// The journal superblock is not valid.
    BadSuper(FormatError),
    /// Nothing to replay.
    Empty(JournalSuper),
    /// Committed transactions (maybe none) wait in the log.
    NeedsRecovery(Recovery),
    /// The log names a block the journal may not log.
    Corrupt(JournalSuper, CorruptLog),
}

/// Reads the journal superblock and, if the log needs recovery, plans it.
pub fn check(dev: &BlockDev, g: &Geometry) -> Result<JournalState> {
    let j = match read_super(dev, g)? {
        Ok(j) => j,
        Err(e) => return Ok(JournalState::BadSuper(e)),
    };
    if !j.needs_recovery() {
        return Ok(JournalState::Empty(j));
    }
    Ok(match plan_recovery(dev, g, j)? {
        Ok(r) => JournalState::NeedsRecovery(r),
        Err(c) => JournalState::Corrupt(j, c),
    })
}

/// Builds and appends whole transactions to a journal's log: for tests
/// and crafted images (the kernel writes the real ones).
pub struct LogWriter {
    /// The journal region's length.
    pub blocks: u64,
    /// The log index the next block goes to.
    pub next: u64,
    /// Blocks written so far: (log index, contents).
    pub out: Vec<(u64, Box<Block>)>,
}

impl LogWriter {
    /// A writer for a journal of `blocks` blocks, starting at log index
    /// `start` (1 ..).
    pub fn new(blocks: u64, start: u64) -> LogWriter {
        LogWriter {
            blocks,
            next: start,
            out: Vec::new(),
        }
    }

    fn put(&mut self, b: Box<Block>) {
        let at = self.next;
        self.out.push((at, b));
        self.next = if at + 1 >= self.blocks { 1 } else { at + 1 };
    }

    /// Appends transaction `sequence`: descriptors and the copies
    /// (home block, contents), then revoke blocks, then (if `commit`) the
    /// commit block. Returns the log index it starts at.
    pub fn transaction(
        &mut self,
        sequence: u64,
        copies: &[(u64, &Block)],
        revokes: &[u64],
        commit: bool,
    ) -> u64 {
        let start = self.next;
        let mut n = 0u32;
        for group in copies.chunks(TAGS_PER_DESCRIPTOR) {
            let mut d = zero_block();
            descriptor_init(&mut d, sequence);
            for (home, data) in group {
                descriptor_push(
                    &mut d,
                    Tag {
                        block: *home,
                        crc: copy_checksum(data),
                    },
                );
            }
            seal_block(&mut d);
            self.put(d);
            n += 1;
            for (_, data) in group {
                self.put(Box::new(**data));
                n += 1;
            }
        }
        for group in revokes.chunks(REVOKES_PER_BLOCK) {
            let mut r = zero_block();
            revoke_init(&mut r, sequence);
            for b in group {
                revoke_push(&mut r, *b);
            }
            seal_block(&mut r);
            self.put(r);
            n += 1;
        }
        if commit {
            let mut c = zero_block();
            commit_encode(&mut c, sequence, n);
            self.put(c);
        }
        start
    }

    /// Writes the blocks to the journal region of `g` on `dev`.
    pub fn write(&self, dev: &BlockDev, g: &Geometry) -> Result<()> {
        for (index, b) in &self.out {
            dev.write_block(g.journal_start + index, b)?;
        }
        Ok(())
    }
}
