// SPDX-License-Identifier: GPL-2.0

//! The metadata journal's blocks (format 1.1, feature `INCOMPAT_JOURNAL`):
//! a write-ahead log of whole metadata blocks, as jbd2 keeps one.
//!
//! The journal region (`journal_start .. journal_start + journal_blocks`
//! in filesystem blocks) holds, at its index 0, the journal superblock
//! ([`JournalSuper`]), and at indexes `1 .. journal_blocks` a circular log.
//! A transaction in the log is:
//!
//! ```text
//! descriptor (tags for the blocks that follow), the tagged blocks' new
//! contents, [descriptor, blocks]..., [revoke]..., commit
//! ```
//!
//! Every log block but the copies is checksummed (the last four bytes,
//! [`seal_block`]) and carries the transaction's sequence number, so a
//! stale block from an older pass round the log never passes for part of
//! the transaction being read. Each tag carries the crc32c of its copy:
//! a commit block that reached the disk before a copy did (a cache that
//! reorders) is caught at replay, and the transaction is not applied.
//!
//! Replay (the kernel at mount, fsck.rsfs) walks the log from the
//! superblock's `start` and `sequence`, transaction by transaction, and
//! stops at the first one without a valid commit block (a torn end is
//! normal). Then, in two passes over the committed transactions:
//!
//! 1. every copy's and every revoke record's block must be one the journal
//!    may log ([`LogEvent::check_home`], [`Geometry::is_journal_home`]:
//!    block 0 or a block past the journal region), or the journal is
//!    corrupt ([`FormatError::BadJournal`]) and nothing is written; the
//!    revoke records are collected as `(block, sequence)` pairs and made a
//!    table by [`revoke_table_prepare`] (the newest revoke of each block);
//! 2. every copy is written to its home block in log order (the newest copy
//!    wins), except a copy that a revoke record of the same or a later
//!    transaction names ([`copy_is_revoked`]: the block was freed, and may
//!    hold file data now).
//!
//! Then the journal superblock is written with `start` 0 and `sequence`
//! [`LogEnd::next_sequence`]. [`LogWalker`] does the walking; allocating
//! the revoke table is the caller's (kernel and fsck).
//!
//! This module is pure: it reads blocks through a callback and never
//! writes.

use super::{
    block_checksum_ok, crc32c, le, seal_block, Block, FormatError, Geometry, BLOCK_CHECKSUM_OFFSET,
};

/// Magic of the journal superblock: "RSJS".
pub const JOURNAL_SUPER_MAGIC: u32 = u32::from_le_bytes(*b"RSJS");
/// Magic of a descriptor block: "RSJD".
pub const DESCRIPTOR_MAGIC: u32 = u32::from_le_bytes(*b"RSJD");
/// Magic of a commit block: "RSJC".
pub const COMMIT_MAGIC: u32 = u32::from_le_bytes(*b"RSJC");
/// Magic of a revoke block: "RSJR".
pub const REVOKE_MAGIC: u32 = u32::from_le_bytes(*b"RSJR");

/// Byte offsets shared by the log blocks (descriptor, commit, revoke).
mod off {
    pub(super) const MAGIC: usize = 0;
    pub(super) const COUNT: usize = 4;
    pub(super) const SEQUENCE: usize = 8;
    pub(super) const ENTRIES: usize = 16;
}

/// Bytes of one descriptor tag: `block: u64, crc: u32, flags: u32`.
pub const TAG_SIZE: usize = 16;
/// Tags one descriptor block holds.
pub const TAGS_PER_DESCRIPTOR: usize = (BLOCK_CHECKSUM_OFFSET - off::ENTRIES) / TAG_SIZE;
/// Block numbers one revoke block holds.
pub const REVOKES_PER_BLOCK: usize = (BLOCK_CHECKSUM_OFFSET - off::ENTRIES) / 8;
/// Fewest journal blocks a journalled filesystem has: the superblock and
/// room for one transaction of a descriptor, a few copies and a commit.
pub const MIN_JOURNAL_BLOCKS: u64 = 16;

/// The journal superblock, at index 0 of the journal region.
///
/// | offset | type | field |
/// |---|---|---|
/// | 0 | u32 | magic `"RSJS"` |
/// | 4 | u32 | reserved, 0 |
/// | 8 | u64 | `blocks`: the region's length, as the superblock says |
/// | 16 | u64 | `sequence`: the first transaction to replay, or the next to write when `start` is 0 |
/// | 24 | u64 | `start`: log index of that transaction's first block; 0: the log is empty |
/// | 32 .. 4092 | | zero |
/// | 4092 | u32 | crc32c of bytes 0..4092 |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalSuper {
    /// Journal blocks, the superblock included.
    pub blocks: u64,
    /// See the table.
    pub sequence: u64,
    /// See the table.
    pub start: u64,
}

impl JournalSuper {
    /// An empty journal of `blocks` blocks whose next transaction is
    /// `sequence`: what mkfs writes (sequence 1) and replay leaves.
    pub const fn empty(blocks: u64, sequence: u64) -> JournalSuper {
        JournalSuper { blocks, sequence, start: 0 }
    }

    /// Encodes into a whole block (sealed).
    pub fn encode(&self, b: &mut Block) {
        b.fill(0);
        le::put_u32(b, 0, JOURNAL_SUPER_MAGIC);
        le::put_u64(b, 8, self.blocks);
        le::put_u64(b, 16, self.sequence);
        le::put_u64(b, 24, self.start);
        seal_block(b);
    }

    /// Decodes and checks against the superblock's `journal_blocks`.
    pub fn decode(b: &Block, journal_blocks: u64) -> Result<JournalSuper, FormatError> {
        if le::get_u32(b, 0) != JOURNAL_SUPER_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if !block_checksum_ok(b) {
            return Err(FormatError::BadChecksum);
        }
        let j = JournalSuper { blocks: le::get_u64(b, 8), sequence: le::get_u64(b, 16), start: le::get_u64(b, 24) };
        if j.blocks != journal_blocks || j.blocks < MIN_JOURNAL_BLOCKS || j.start >= j.blocks {
            return Err(FormatError::BadJournal);
        }
        Ok(j)
    }

    /// Whether transactions wait in the log to be replayed.
    pub const fn needs_recovery(&self) -> bool {
        self.start != 0
    }

    /// The log index after `index` (the log is `1 .. blocks`, circular).
    pub const fn next_index(&self, index: u64) -> u64 {
        if index.saturating_add(1) >= self.blocks {
            1
        } else {
            index + 1
        }
    }
}

/// One tag of a descriptor: the next copy in the log belongs at `block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The home block (a filesystem block number).
    pub block: u64,
    /// crc32c of the copy's 4096 bytes.
    pub crc: u32,
}

/// What a log block is, for the transaction with sequence `sequence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogBlock {
    /// A descriptor with this many tags.
    Descriptor(usize),
    /// A revoke block with this many block numbers.
    Revoke(usize),
    /// The commit block.
    Commit,
    /// Anything else: not part of this transaction (the end of the log).
    Other,
}

/// Starts a log block of kind `magic` for transaction `sequence`.
fn init_log_block(b: &mut Block, magic: u32, sequence: u64) {
    b.fill(0);
    le::put_u32(b, off::MAGIC, magic);
    le::put_u64(b, off::SEQUENCE, sequence);
}

/// Reserves the next entry of a descriptor or revoke block holding at most
/// `max` entries of `size` bytes: its byte offset, or `None` if full.
fn next_entry(b: &mut Block, max: usize, size: usize) -> Option<usize> {
    let n = le::get_u32(b, off::COUNT) as usize;
    if n >= max {
        return None;
    }
    le::put_u32(b, off::COUNT, (n + 1) as u32);
    Some(off::ENTRIES + n * size)
}

/// Byte offset of entry `i` of a descriptor or revoke block (`None` past
/// its count, or past `max`).
fn entry(b: &Block, i: usize, max: usize, size: usize) -> Option<usize> {
    (i < (le::get_u32(b, off::COUNT) as usize).min(max)).then(|| off::ENTRIES + i * size)
}

/// A new, empty descriptor block for transaction `sequence`.
pub fn descriptor_init(b: &mut Block, sequence: u64) {
    init_log_block(b, DESCRIPTOR_MAGIC, sequence);
}

/// Appends `tag` to a descriptor; `false` if it is full. Seal it
/// ([`seal_block`]) after the last tag.
pub fn descriptor_push(b: &mut Block, tag: Tag) -> bool {
    let Some(at) = next_entry(b, TAGS_PER_DESCRIPTOR, TAG_SIZE) else {
        return false;
    };
    le::put_u64(b, at, tag.block);
    le::put_u32(b, at + 8, tag.crc);
    true
}

/// Tag `i` of a descriptor (`None` past its count).
pub fn descriptor_tag(b: &Block, i: usize) -> Option<Tag> {
    let at = entry(b, i, TAGS_PER_DESCRIPTOR, TAG_SIZE)?;
    Some(Tag { block: le::get_u64(b, at), crc: le::get_u32(b, at + 8) })
}

/// A new, empty revoke block for transaction `sequence`.
pub fn revoke_init(b: &mut Block, sequence: u64) {
    init_log_block(b, REVOKE_MAGIC, sequence);
}

/// Appends `block` to a revoke block; `false` if it is full.
pub fn revoke_push(b: &mut Block, block: u64) -> bool {
    let Some(at) = next_entry(b, REVOKES_PER_BLOCK, 8) else {
        return false;
    };
    le::put_u64(b, at, block);
    true
}

/// Entry `i` of a revoke block (`None` past its count).
pub fn revoke_entry(b: &Block, i: usize) -> Option<u64> {
    Some(le::get_u64(b, entry(b, i, REVOKES_PER_BLOCK, 8)?))
}

/// The commit block of transaction `sequence` (sealed); `blocks` log
/// blocks came before it in the transaction.
pub fn commit_encode(b: &mut Block, sequence: u64, blocks: u32) {
    init_log_block(b, COMMIT_MAGIC, sequence);
    le::put_u32(b, off::COUNT, blocks);
    seal_block(b);
}

/// What `b` is in transaction `sequence`: a sealed log block of that
/// sequence with a count that fits, or [`LogBlock::Other`].
pub fn classify(b: &Block, sequence: u64) -> LogBlock {
    if le::get_u64(b, off::SEQUENCE) != sequence || !block_checksum_ok(b) {
        return LogBlock::Other;
    }
    let count = le::get_u32(b, off::COUNT) as usize;
    match le::get_u32(b, off::MAGIC) {
        DESCRIPTOR_MAGIC if (1..=TAGS_PER_DESCRIPTOR).contains(&count) => LogBlock::Descriptor(count),
        REVOKE_MAGIC if count <= REVOKES_PER_BLOCK => LogBlock::Revoke(count),
        COMMIT_MAGIC => LogBlock::Commit,
        _ => LogBlock::Other,
    }
}

/// crc32c of a copy, as its tag records it.
pub fn copy_checksum(b: &Block) -> u32 {
    crc32c(b)
}

/// What [`LogWalker::walk`] reports, in log order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// Transaction `sequence` has a copy of `tag.block` at log index `index`.
    Copy {
        /// The transaction.
        sequence: u64,
        /// The home block and the copy's checksum.
        tag: Tag,
        /// Where the copy is in the log.
        index: u64,
    },
    /// Transaction `sequence` revokes `block`.
    Revoke {
        /// The transaction.
        sequence: u64,
        /// The revoked home block.
        block: u64,
    },
    /// Transaction `sequence` is complete (its commit block is valid).
    Commit {
        /// The transaction.
        sequence: u64,
    },
}

impl LogEvent {
    /// Checks the block a copy or revoke record names against the blocks
    /// the journal may log ([`Geometry::is_journal_home`]):
    /// [`FormatError::BadJournal`] if it is another one (a block of the
    /// journal region, or past the end of the filesystem).
    pub fn check_home(&self, g: &Geometry) -> Result<(), FormatError> {
        let block = match self {
            LogEvent::Copy { tag, .. } => tag.block,
            LogEvent::Revoke { block, .. } => *block,
            LogEvent::Commit { .. } => return Ok(()),
        };
        if g.is_journal_home(block) {
            Ok(())
        } else {
            Err(FormatError::BadJournal)
        }
    }
}

/// Whether transaction sequence `a` is `b` or later. Sequence numbers
/// wrap around 2^64, and the transactions of one log are fewer than 2^63
/// apart, so this compares their distance, as jbd2's `tid_geq` does.
pub const fn sequence_geq(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) >= 0
}

/// Makes the revoke records of a log, collected as `(block, sequence)`
/// pairs in any order, a table for [`copy_is_revoked`]: sorted by block,
/// one entry per block holding its newest revoking sequence. The table is
/// the first `n` entries of `revokes`, `n` returned; the rest is left in an
/// unspecified order. Does not allocate.
pub fn revoke_table_prepare(revokes: &mut [(u64, u64)]) -> usize {
    revokes.sort_unstable_by_key(|r| r.0);
    let mut n = 0usize;
    for i in 0..revokes.len() {
        let Some(&(block, sequence)) = revokes.get(i) else {
            break;
        };
        let last = match n.checked_sub(1) {
            Some(l) => revokes.get_mut(l),
            None => None,
        };
        match last {
            Some(last) if last.0 == block => {
                if sequence_geq(sequence, last.1) {
                    last.1 = sequence;
                }
            }
            _ => {
                if let Some(slot) = revokes.get_mut(n) {
                    *slot = (block, sequence);
                }
                n += 1;
            }
        }
    }
    n
}

/// Whether the copy of `block` in transaction `sequence` must not be
/// replayed: a revoke record of the same or a later transaction names the
/// block. `table` is made by [`revoke_table_prepare`] (sorted by block,
/// one entry per block).
pub fn copy_is_revoked(table: &[(u64, u64)], block: u64, sequence: u64) -> bool {
    match table.binary_search_by_key(&block, |r| r.0) {
        Ok(i) => table.get(i).is_some_and(|r| sequence_geq(r.1, sequence)),
        Err(_) => false,
    }
}

/// Where the committed part of the log ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogEnd {
    /// Sequence number of the first transaction not committed: the next
    /// one to write.
    pub next_sequence: u64,
    /// Log index just past the last committed transaction.
    pub next_index: u64,
    /// Committed transactions found.
    pub transactions: u64,
}

/// Walks a journal's log from its superblock's `start`.
pub struct LogWalker {
    journal: JournalSuper,
}

impl LogWalker {
    /// A walker over the log `journal` describes.
    pub const fn new(journal: JournalSuper) -> Self {
        LogWalker { journal }
    }

    /// Reads the log through `read` (log index → block) and reports the
    /// blocks of committed transactions to `on`, in order. Each
    /// transaction is read twice: first to check that it is complete (a
    /// valid commit block, every copy matching its tag's checksum), then to
    /// report it; so a torn last transaction reports nothing. `block` and
    /// `copy` are scratch space (two blocks: too big for a kernel stack).
    pub fn walk<E>(
        &self,
        block: &mut Block,
        copy: &mut Block,
        mut read: impl FnMut(u64, &mut Block) -> Result<(), E>,
        mut on: impl FnMut(LogEvent) -> Result<(), E>,
    ) -> Result<LogEnd, E> {
        let j = &self.journal;
        let mut end = LogEnd { next_sequence: j.sequence, next_index: 1, transactions: 0 };
        if !j.needs_recovery() {
            return Ok(end);
        }
        end.next_index = j.start;
        // A transaction can never be longer than the log.
        let log_len = j.blocks.saturating_sub(1);
        loop {
            let sequence = end.next_sequence;
            // Pass 1: is the transaction at `end.next_index` complete?
            let Some(after) = self.transaction_end(&mut read, end.next_index, sequence, log_len, block, copy)? else {
                return Ok(end);
            };
            // Pass 2: report it.
            let mut index = end.next_index;
            loop {
                read(index, block)?;
                match classify(block, sequence) {
                    LogBlock::Descriptor(n) => {
                        for i in 0..n {
                            index = j.next_index(index);
                            if let Some(tag) = descriptor_tag(block, i) {
                                on(LogEvent::Copy { sequence, tag, index })?;
                            }
                        }
                    }
                    LogBlock::Revoke(n) => {
                        for i in 0..n {
                            if let Some(b) = revoke_entry(block, i) {
                                on(LogEvent::Revoke { sequence, block: b })?;
                            }
                        }
                    }
                    LogBlock::Commit | LogBlock::Other => break,
                }
                index = j.next_index(index);
            }
            on(LogEvent::Commit { sequence })?;
            end = LogEnd { next_sequence: sequence.wrapping_add(1), next_index: after, transactions: end.transactions + 1 };
        }
    }

    /// If a complete transaction `sequence` starts at `index`: the index
    /// after its commit block. `None`: torn, absent, or corrupt.
    fn transaction_end<E>(
        &self,
        read: &mut impl FnMut(u64, &mut Block) -> Result<(), E>,
        mut index: u64,
        sequence: u64,
        log_len: u64,
        block: &mut Block,
        copy: &mut Block,
    ) -> Result<Option<u64>, E> {
        let j = &self.journal;
        let mut used = 0u64;
        let mut first = true;
        loop {
            read(index, block)?;
            used += 1;
            if used > log_len {
                return Ok(None);
            }
            match classify(block, sequence) {
                LogBlock::Descriptor(n) => {
                    // The descriptor stays in `block` while its copies
                    // are read into `copy`.
                    for i in 0..n {
                        index = j.next_index(index);
                        used += 1;
                        if used > log_len {
                            return Ok(None);
                        }
                        read(index, copy)?;
                        match descriptor_tag(block, i) {
                            Some(t) if copy_checksum(copy) == t.crc => {}
                            _ => return Ok(None),
                        }
                    }
                }
                LogBlock::Revoke(_) => {}
                LogBlock::Commit if !first => return Ok(Some(j.next_index(index))),
                LogBlock::Commit | LogBlock::Other => return Ok(None),
            }
            first = false;
            index = j.next_index(index);
        }
    }
}
