// SPDX-License-Identifier: GPL-2.0

//! The journal's block formats and the log walker, on logs built in memory.

use rsfs_format::*;

const BLOCKS: u64 = 32;

/// A journal region in memory: index 0 the superblock, 1.. the log.
struct Log {
    blocks: Vec<Block>,
    next: u64,
}

impl Log {
    fn new() -> Self {
        Log { blocks: vec![[0u8; BLOCK_SIZE]; BLOCKS as usize], next: 1 }
    }

    fn superblock(&self) -> JournalSuper {
        JournalSuper::decode(&self.blocks[0], BLOCKS).expect("valid journal superblock")
    }

    fn set_super(&mut self, sequence: u64, start: u64) {
        let j = JournalSuper { blocks: BLOCKS, sequence, start };
        j.encode(&mut self.blocks[0]);
    }

    fn put(&mut self, b: Block) -> u64 {
        let at = self.next;
        self.blocks[at as usize] = b;
        self.next = if at + 1 >= BLOCKS { 1 } else { at + 1 };
        at
    }

    /// Appends transaction `sequence`: copies of `(home, fill byte)`, then
    /// revokes, then (if `commit`) the commit block. Returns its start.
    fn transaction(&mut self, sequence: u64, copies: &[(u64, u8)], revokes: &[u64], commit: bool) -> u64 {
        let start = self.next;
        let mut n = 0;
        if !copies.is_empty() {
            let mut d = [0u8; BLOCK_SIZE];
            descriptor_init(&mut d, sequence);
            for &(home, fill) in copies {
                assert!(descriptor_push(&mut d, Tag { block: home, crc: copy_checksum(&[fill; BLOCK_SIZE]) }));
            }
            seal_block(&mut d);
            self.put(d);
            n += 1;
            for &(_, fill) in copies {
                self.put([fill; BLOCK_SIZE]);
                n += 1;
            }
        }
        if !revokes.is_empty() {
            let mut r = [0u8; BLOCK_SIZE];
            revoke_init(&mut r, sequence);
            for &b in revokes {
                assert!(revoke_push(&mut r, b));
            }
            seal_block(&mut r);
            self.put(r);
            n += 1;
        }
        if commit {
            let mut c = [0u8; BLOCK_SIZE];
            commit_encode(&mut c, sequence, n);
            self.put(c);
        }
        start
    }

    fn walk(&self) -> (LogEnd, Vec<LogEvent>) {
        let mut events = Vec::new();
        let (mut a, mut b) = ([0u8; BLOCK_SIZE], [0u8; BLOCK_SIZE]);
        let end = LogWalker::new(self.superblock())
            .walk(
                &mut a,
                &mut b,
                |i, out: &mut Block| -> Result<(), ()> {
                    *out = self.blocks[i as usize];
                    Ok(())
                },
                |e| {
                    events.push(e);
                    Ok(())
                },
            )
            .expect("walk");
        (end, events)
    }
}

#[test]
fn superblock_round_trips_and_is_checked() {
    let mut log = Log::new();
    log.set_super(7, 3);
    let j = log.superblock();
    assert_eq!(j, JournalSuper { blocks: BLOCKS, sequence: 7, start: 3 });
    assert!(j.needs_recovery());
    assert_eq!(JournalSuper::decode(&log.blocks[0], BLOCKS + 1), Err(FormatError::BadJournal));
    log.blocks[0][20] ^= 1;
    assert_eq!(JournalSuper::decode(&log.blocks[0], BLOCKS), Err(FormatError::BadChecksum));
    assert_eq!(JournalSuper::decode(&[0u8; BLOCK_SIZE], BLOCKS), Err(FormatError::BadMagic));
    let mut b = [0u8; BLOCK_SIZE];
    JournalSuper { blocks: BLOCKS, sequence: 1, start: BLOCKS }.encode(&mut b);
    assert_eq!(JournalSuper::decode(&b, BLOCKS), Err(FormatError::BadJournal), "start past the log");
}

#[test]
fn an_empty_log_reports_nothing() {
    let mut log = Log::new();
    log.set_super(5, 0);
    let (end, events) = log.walk();
    assert!(events.is_empty());
    assert_eq!(end, LogEnd { next_sequence: 5, next_index: 1, transactions: 0 });
}

#[test]
fn committed_transactions_are_reported_in_order_and_a_torn_one_is_not() {
    let mut log = Log::new();
    let start = log.transaction(10, &[(100, 1), (101, 2)], &[], true);
    log.transaction(11, &[(100, 3)], &[55], true);
    let torn_at = log.transaction(12, &[(102, 4)], &[], false);
    log.set_super(10, start);
    let (end, events) = log.walk();
    assert_eq!(end, LogEnd { next_sequence: 12, next_index: torn_at, transactions: 2 });
    let copies: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LogEvent::Copy { sequence, tag, .. } => Some((*sequence, tag.block)),
            _ => None,
        })
        .collect();
    assert_eq!(copies, [(10, 100), (10, 101), (11, 100)]);
    assert!(events.contains(&LogEvent::Revoke { sequence: 11, block: 55 }));
    assert_eq!(events.last(), Some(&LogEvent::Commit { sequence: 11 }));
    // Each copy's index holds that copy.
    for e in &events {
        if let LogEvent::Copy { tag, index, .. } = e {
            assert_eq!(copy_checksum(&log.blocks[*index as usize]), tag.crc);
        }
    }
}

#[test]
fn a_copy_that_did_not_reach_the_disk_voids_its_transaction() {
    let mut log = Log::new();
    let start = log.transaction(1, &[(100, 1)], &[], true);
    let second = log.transaction(2, &[(200, 2), (201, 3)], &[], true);
    // The commit made it, the second copy did not (a cache that reorders).
    log.blocks[(second + 2) as usize] = [0xee; BLOCK_SIZE];
    log.set_super(1, start);
    let (end, events) = log.walk();
    assert_eq!(end.transactions, 1);
    assert_eq!(end.next_index, second);
    assert!(!events.iter().any(|e| matches!(e, LogEvent::Copy { sequence: 2, .. })));
}

#[test]
fn stale_blocks_of_an_older_pass_end_the_log() {
    let mut log = Log::new();
    // A first pass round the log: transactions 1..=8 fill most of it.
    for s in 1..=8 {
        log.transaction(s, &[(100 + s, s as u8)], &[], true);
    }
    // Checkpointed: the next transaction starts at block 1 again.
    log.next = 1;
    let start = log.transaction(9, &[(300, 9)], &[], true);
    log.set_super(9, start);
    let (end, events) = log.walk();
    assert_eq!(end.transactions, 1, "transaction 2's old blocks follow 9's commit: not 10");
    assert_eq!(end.next_sequence, 10);
    assert_eq!(events.iter().filter(|e| matches!(e, LogEvent::Copy { .. })).count(), 1);
}

#[test]
fn transactions_wrap_around_the_end_of_the_log() {
    let mut log = Log::new();
    log.next = BLOCKS - 2;
    let start = log.transaction(40, &[(100, 1), (101, 2), (102, 3)], &[], true);
    log.set_super(40, start);
    let (end, events) = log.walk();
    assert_eq!(end.transactions, 1);
    // Descriptor at 30, copies at 31, 1, 2 (index 0 is the superblock),
    // commit at 3.
    assert_eq!(end.next_index, 4);
    let indexes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            LogEvent::Copy { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(indexes, [31, 1, 2]);
}

#[test]
fn descriptors_and_revokes_hold_what_fits_and_no_more() {
    let mut d = [0u8; BLOCK_SIZE];
    descriptor_init(&mut d, 1);
    for i in 0..TAGS_PER_DESCRIPTOR {
        assert!(descriptor_push(&mut d, Tag { block: i as u64, crc: 0 }));
    }
    assert!(!descriptor_push(&mut d, Tag { block: 0, crc: 0 }));
    assert_eq!(descriptor_tag(&d, TAGS_PER_DESCRIPTOR - 1).map(|t| t.block), Some(TAGS_PER_DESCRIPTOR as u64 - 1));
    assert_eq!(descriptor_tag(&d, TAGS_PER_DESCRIPTOR), None);
    let mut r = [0u8; BLOCK_SIZE];
    revoke_init(&mut r, 1);
    for i in 0..REVOKES_PER_BLOCK {
        assert!(revoke_push(&mut r, i as u64));
    }
    assert!(!revoke_push(&mut r, 0));
    assert_eq!(revoke_entry(&r, REVOKES_PER_BLOCK), None);
    // The entries never reach the checksum.
    assert!(off_end_ok(TAGS_PER_DESCRIPTOR * TAG_SIZE) && off_end_ok(REVOKES_PER_BLOCK * 8));
}

fn off_end_ok(bytes: usize) -> bool {
    16 + bytes <= BLOCK_CHECKSUM_OFFSET
}

#[test]
fn garbage_logs_end_the_walk_without_panicking() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..200u64 {
        let mut log = Log::new();
        // A real transaction, then random damage to random blocks, some
        // of them re-sealed so that only the meaning is wrong.
        let start = log.transaction(round, &[(1, 1), (2, 2)], &[3], true);
        log.transaction(round + 1, &[(4, 4)], &[], true);
        for _ in 0..8 {
            let b = (rnd() % BLOCKS) as usize;
            let at = (rnd() % BLOCK_SIZE as u64) as usize;
            log.blocks[b][at] = rnd() as u8;
            if rnd() % 2 == 0 && b != 0 {
                seal_block(&mut log.blocks[b]);
            }
        }
        let start = if rnd() % 4 == 0 { rnd() % BLOCKS } else { start };
        let mut sb = [0u8; BLOCK_SIZE];
        JournalSuper { blocks: BLOCKS, sequence: round, start }.encode(&mut sb);
        log.blocks[0] = sb;
        let Ok(j) = JournalSuper::decode(&log.blocks[0], BLOCKS) else { continue };
        let (mut a, mut b) = ([0u8; BLOCK_SIZE], [0u8; BLOCK_SIZE]);
        let mut n = 0u64;
        let end = LogWalker::new(j)
            .walk(
                &mut a,
                &mut b,
                |i, out: &mut Block| -> Result<(), ()> {
                    *out = log.blocks[i as usize];
                    Ok(())
                },
                |_| {
                    n += 1;
                    Ok(())
                },
            )
            .expect("walk");
        assert!(end.transactions <= 2 + BLOCKS, "round {round}: {end:?}");
    }
}

#[test]
fn empty_journal_superblock() {
    let j = JournalSuper::empty(BLOCKS, 9);
    assert_eq!(j, JournalSuper { blocks: BLOCKS, sequence: 9, start: 0 });
    assert!(!j.needs_recovery());
    let mut b = [0u8; BLOCK_SIZE];
    j.encode(&mut b);
    assert_eq!(JournalSuper::decode(&b, BLOCKS), Ok(j));
    assert_eq!(&b[..4], b"RSJS");
    assert_eq!(JournalSuper::decode(&b, MIN_JOURNAL_BLOCKS - 1), Err(FormatError::BadJournal));
    let mut small = [0u8; BLOCK_SIZE];
    JournalSuper::empty(MIN_JOURNAL_BLOCKS - 1, 1).encode(&mut small);
    assert_eq!(JournalSuper::decode(&small, MIN_JOURNAL_BLOCKS - 1), Err(FormatError::BadJournal));
}

#[test]
fn sequences_compare_across_the_wrap() {
    assert!(sequence_geq(5, 5) && sequence_geq(6, 5) && !sequence_geq(4, 5));
    assert!(sequence_geq(0, u64::MAX) && sequence_geq(3, u64::MAX - 3));
    assert!(!sequence_geq(u64::MAX, 0));
}

#[test]
fn revoke_table_keeps_the_newest_revoke_of_each_block() {
    let mut r = [(9, 3), (5, 1), (9, 7), (2, 4), (5, 2), (9, 5)];
    let n = revoke_table_prepare(&mut r);
    assert_eq!(&r[..n], &[(2, 4), (5, 2), (9, 7)]);
    let t = &r[..n];
    assert!(copy_is_revoked(t, 9, 7), "a revoke in the copy's own transaction");
    assert!(copy_is_revoked(t, 9, 1));
    assert!(!copy_is_revoked(t, 9, 8), "a copy after the revoke is replayed");
    assert!(!copy_is_revoked(t, 3, 1), "a block never revoked");
    assert!(copy_is_revoked(t, 2, 4) && !copy_is_revoked(t, 2, 5));
    let mut none: [(u64, u64); 0] = [];
    assert_eq!(revoke_table_prepare(&mut none), 0);
    assert!(!copy_is_revoked(&[], 1, 1));
    // Sequences that wrapped: u64::MAX, then 0, 1.
    let mut w = [(4, 1), (4, u64::MAX), (4, 0)];
    let n = revoke_table_prepare(&mut w);
    assert_eq!(&w[..n], &[(4, 1)]);
    assert!(copy_is_revoked(&w[..n], 4, u64::MAX));
    assert!(!copy_is_revoked(&w[..n], 4, 2));
}

#[test]
fn log_events_name_only_blocks_the_journal_may_log() {
    // Journal at 1..33.
    let g = Geometry::compute(4096, 256, BLOCKS).unwrap();
    let copy = |block| LogEvent::Copy { sequence: 1, tag: Tag { block, crc: 0 }, index: 1 };
    let revoke = |block| LogEvent::Revoke { sequence: 1, block };
    for ok in [0, g.block_bitmap_start, g.inode_table_start, g.data_start, g.total_blocks - 1] {
        assert_eq!(copy(ok).check_home(&g), Ok(()), "copy of {ok}");
        assert_eq!(revoke(ok).check_home(&g), Ok(()), "revoke of {ok}");
    }
    for bad in [1, g.journal_start + BLOCKS - 1, g.total_blocks, u64::MAX] {
        assert_eq!(copy(bad).check_home(&g), Err(FormatError::BadJournal), "copy of {bad}");
        assert_eq!(revoke(bad).check_home(&g), Err(FormatError::BadJournal), "revoke of {bad}");
    }
    assert_eq!(LogEvent::Commit { sequence: 3 }.check_home(&g), Ok(()));
}

/// Replays `log` onto `disk` as the kernel and fsck do; `Err` when the log
/// is corrupt.
fn replay(log: &Log, g: &Geometry, disk: &mut [Block]) -> Result<LogEnd, FormatError> {
    let (mut a, mut b) = ([0u8; BLOCK_SIZE], [0u8; BLOCK_SIZE]);
    let walker = LogWalker::new(log.superblock());
    let read = |i: u64, out: &mut Block| -> Result<(), FormatError> {
        *out = log.blocks[i as usize];
        Ok(())
    };
    let mut revokes = Vec::new();
    walker.walk(&mut a, &mut b, read, |e| {
        e.check_home(g)?;
        if let LogEvent::Revoke { sequence, block } = e {
            revokes.push((block, sequence));
        }
        Ok(())
    })?;
    let n = revoke_table_prepare(&mut revokes);
    let table = &revokes[..n];
    walker.walk(&mut a, &mut b, read, |e| {
        if let LogEvent::Copy { sequence, tag, index } = e {
            if !copy_is_revoked(table, tag.block, sequence) {
                disk[tag.block as usize] = log.blocks[index as usize];
            }
        }
        Ok(())
    })
}

#[test]
fn replay_writes_the_newest_unrevoked_copies() {
    let g = Geometry::compute(256, 64, BLOCKS).unwrap();
    let home = g.data_start;
    let mut log = Log::new();
    let start = log.transaction(20, &[(home, 1), (home + 1, 2), (0, 3)], &[], true);
    log.transaction(21, &[(home, 4)], &[home + 1], true);
    log.transaction(22, &[(home + 2, 5)], &[], true);
    log.transaction(23, &[(home + 3, 6)], &[], false);
    log.set_super(20, start);
    let mut disk = vec![[0u8; BLOCK_SIZE]; 256];
    let end = replay(&log, &g, &mut disk).unwrap();
    assert_eq!((end.transactions, end.next_sequence), (3, 23));
    assert_eq!(disk[home as usize], [4; BLOCK_SIZE], "the newest copy wins");
    assert_eq!(disk[home as usize + 1], [0; BLOCK_SIZE], "revoked by a later transaction");
    assert_eq!(disk[home as usize + 2], [5; BLOCK_SIZE]);
    assert_eq!(disk[home as usize + 3], [0; BLOCK_SIZE], "the torn transaction is not replayed");
    assert_eq!(disk[0], [3; BLOCK_SIZE]);

    // A copy after the revoke of its block is replayed.
    let mut log = Log::new();
    let start = log.transaction(5, &[], &[home], true);
    log.transaction(6, &[(home, 9)], &[], true);
    log.set_super(5, start);
    let mut disk = vec![[0u8; BLOCK_SIZE]; 256];
    replay(&log, &g, &mut disk).unwrap();
    assert_eq!(disk[home as usize], [9; BLOCK_SIZE]);
}

#[test]
fn replay_refuses_a_log_naming_a_journal_block() {
    let g = Geometry::compute(256, 64, BLOCKS).unwrap();
    for bad in [2, BLOCKS, 256, u64::MAX] {
        let mut log = Log::new();
        let start = log.transaction(1, &[(g.data_start, 1)], &[], true);
        log.transaction(2, &[(bad, 2)], &[], true);
        log.set_super(1, start);
        let mut disk = vec![[0u8; BLOCK_SIZE]; 256];
        assert_eq!(replay(&log, &g, &mut disk), Err(FormatError::BadJournal), "tag {bad}");
        assert!(disk.iter().all(|b| *b == [0; BLOCK_SIZE]), "nothing written before the check");
        let mut log = Log::new();
        let start = log.transaction(1, &[(g.data_start, 1)], &[bad], true);
        log.set_super(1, start);
        assert_eq!(replay(&log, &g, &mut disk), Err(FormatError::BadJournal), "revoke {bad}");
    }
}
