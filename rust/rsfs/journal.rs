// SPDX-License-Identifier: GPL-2.0

//! The metadata journal: a write-ahead log of whole metadata blocks, as
//! jbd2 keeps one for ext4 (the log's blocks: `format/journal.rs`).
//!
//! Every change to metadata runs in a *transaction*. [`transaction`] opens
//! a handle on the running transaction, the operation changes blocks
//! through [`crate::meta`] (which records each changed buffer here instead
//! of dirtying it: [`Journal::add`]), and the handle closes. Many
//! operations share the running transaction (group commit).
//! [`Journal::commit`] stops new handles, waits for the open ones, writes
//! a copy of every changed block to the log, then a commit block with a
//! cache flush before it and FUA: once that completes the transaction is
//! durable; a crash before leaves only the log's older transactions.
//! Blocks go home only after their transaction committed: the checkpoint
//! ([`Journal::checkpoint`]) writes them when the log is half full, at
//! unmount and at remount read-only, then marks the log empty.
//!
//! Blocks a transaction frees are not reused before it commits (their
//! bitmap bits are cleared by the commit: [`Journal::defer_free`]): until
//! then a crash brings back the file that owned them, and new data written
//! there would show in it. Freed metadata blocks also get a revoke record,
//! so that replay never writes an old copy over what the block holds next.
//!
//! Data is not journalled but ordered: blocks a write allocates stay
//! unwritten until the data is on the device (`file::convert_unwritten`),
//! and the commit's cache flush makes that data durable before the
//! metadata calling it written can be.
//!
//! Locking: `state` is a leaf (nothing is taken under it). A handle holder
//! never waits for a commit (that would wait for itself), for folio
//! writeback or for a folio lock (writeback completion opens handles), so
//! handles are opened inside the page-cache work, never around it. The
//! commit takes `FsInfo::alloc` (to apply frees) and buffer locks, which
//! handle holders only hold briefly, without waiting for anything.
//!
//! A filesystem without the journal feature (format 1.0) gets a disabled
//! journal: handles only set the NOFS scope, changed buffers are dirtied
//! for the flusher, frees apply at once and a commit is a device sync.

use crate::{
    alloc, errors,
    format::{
        self, JournalSuper, LogEvent, LogWalker, Tag, REVOKES_PER_BLOCK, TAGS_PER_DESCRIPTOR,
        Block, Superblock, BLOCK_SIZE,
    },
    kext::{
        fs::{
            buffer::{Buffer, JournalMark},
            sb::{RawSuperBlock, SuperBlock},
        },
        mm::nofs,
        task,
    },
    Rsfs,
};
use core::{
    ffi::c_void,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec},
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, Mutex},
};

/// Log blocks an operation may change, declared when its handle opens
/// (jbd2's credits). Operations that also store a block map add the
/// overflow blocks they will rewrite (`BlockMap::dirty_chain_blocks`).
pub(crate) mod credits {
    /// Link, unlink, create, rename: up to three directory blocks, four
    /// inode-table blocks, both bitmaps and two overflow blocks.
    pub(crate) const NAMESPACE: u64 = 12;
    /// Allocating blocks for a write: a bitmap block or two, and the
    /// overflow blocks reserved for the new extents.
    pub(crate) const ALLOCATE: u64 = 8;
    /// One inode, a conversion, a truncation's map change.
    pub(crate) const SMALL: u64 = 4;
}

/// Longest a change waits in the running transaction before it is
/// committed without an `fsync` (ext4's default `commit=5`).
const COMMIT_INTERVAL_MS: u32 = 5000;

/// The commit timer went off ([`crate::super_block::FsInfo::commit_timer`]).
pub(crate) fn commit_timer(sb: &SuperBlock<Rsfs>) {
    if sb.raw().is_read_only() {
        return;
    }
    // A failure was reported by the commit, and made the filesystem
    // read-only.
    let _ = sb.info().journal.commit(sb);
}

/// Free blocks below which a handle commits pending frees first.
const LOW_SPACE_BLOCKS: u64 = 256;

/// A block range freed by the running transaction, for its commit.
#[derive(Clone, Copy)]
struct Free {
    start: u64,
    len: u64,
    /// Metadata blocks: write revoke records for them.
    revoke: bool,
}

/// The running transaction, the log's position and what waits for the
/// checkpoint.
struct State {
    /// Handles open in the running transaction.
    open: u32,
    /// Credits the open handles declared.
    reserved: u64,
    /// A commit waits for the open handles: new ones wait for it.
    blocked: bool,
    /// The commit failed, or the filesystem was shut down
    /// (`FS_IOC_SHUTDOWN`): nothing more is written to the log.
    aborted: bool,
    /// Buffers the running transaction changed (each once: the buffer's
    /// [`JournalMark::Running`] says whether it is here).
    running: KVVec<Buffer>,
    /// Blocks the running transaction freed.
    frees: KVVec<Free>,
    /// Revoke records those frees need.
    revokes: u64,
    /// Blocks those frees free.
    freed: u64,
    /// The running transaction's sequence number.
    sequence: u64,
    /// Log index the next transaction starts at.
    head: u64,
    /// Log blocks written since the last checkpoint (0: the log is empty,
    /// and the journal superblock says so).
    used: u64,
    /// Committed buffers not yet written home ([`JournalMark::Checkpoint`]).
    checkpoint: KVVec<Buffer>,
}

/// A mounted filesystem's journal.
#[pin_data]
pub(crate) struct Journal {
    /// Whether the filesystem has one (format 1.1); see the module doc.
    enabled: bool,
    /// Block of the journal superblock; the log follows it.
    region: u64,
    /// Blocks in the region, the journal superblock included.
    blocks: u64,
    /// Most log blocks the handles of one transaction may reserve
    /// ([`txn_limit`]).
    txn_limit: u64,
    /// Most log blocks a transaction may fill ([`max_txn`]).
    max_txn: u64,
    /// Block-bitmap blocks: what applying the frees adds to a commit.
    bitmap_blocks: u64,
    /// `FS_IOC_SHUTDOWN` stopped all writes ([`Journal::shut_down`]).
    shut_down: AtomicBool,
    /// Unmounting: the commit timer is not armed any more.
    closing: AtomicBool,
    #[pin]
    state: Mutex<State>,
    /// Signalled when `open` drops to 0 and when a commit ends.
    #[pin]
    changed: CondVar,
    /// One commit (and checkpoint) at a time.
    #[pin]
    committing: Mutex<()>,
}

/// Most log blocks one transaction may fill, in a journal of `blocks`
/// blocks: half the log, so that a commit always finds room while the
/// transactions before wait for their checkpoint; all of a small log
/// (under 64 blocks), checkpointed after every commit.
fn max_txn(blocks: u64) -> u64 {
    let log = blocks.saturating_sub(1);
    if log >= 64 {
        log / 2
    } else {
        log
    }
}

/// Most log blocks the handles of one transaction may reserve: a quarter
/// below [`max_txn`], for what nested handles add beyond their parents'
/// credits (a small log has no room to spare, and holds one operation per
/// transaction).
fn txn_limit(blocks: u64) -> u64 {
    let max = max_txn(blocks);
    if blocks.saturating_sub(1) >= 64 {
        max - max / 4
    } else {
        max
    }
}

/// Whether the filesystem's journal can hold the largest operation (a
/// rename, with its superblock, descriptor and commit blocks); mkfs makes
/// it so.
pub(crate) fn usable(s: &Superblock) -> bool {
    txn_limit(s.geometry.journal_blocks) >= credits::NAMESPACE + 3
}

/// Log blocks a transaction of `copies` blocks and `revokes` revoke
/// records fills: descriptors, copies, revoke blocks, commit block.
fn log_size(copies: u64, revokes: u64) -> u64 {
    copies + copies.div_ceil(TAGS_PER_DESCRIPTOR as u64) + revokes.div_ceil(REVOKES_PER_BLOCK as u64) + 1
}

/// Moves the buffers of `list` that `keep` accepts into a new list; the
/// others are dropped after `drop_one`. Allocates first, so that no buffer
/// is lost to a failed allocation.
fn filter(list: &mut KVVec<Buffer>, mut keep: impl FnMut(&Buffer) -> bool, drop_one: impl Fn(&Buffer)) -> Result {
    let mut kept = nofs(|| KVVec::with_capacity(list.len(), GFP_KERNEL))?;
    for b in core::mem::replace(list, KVVec::new()) {
        if keep(&b) {
            // Cannot fail: the capacity is there.
            let _ = kept.push(b, GFP_KERNEL);
        } else {
            drop_one(&b);
        }
    }
    *list = kept;
    Ok(())
}

impl Journal {
    /// The journal of a filesystem whose superblock is `s`, after
    /// [`recover`] returned `sequence` as the next transaction's.
    pub(crate) fn new(s: &Superblock, sequence: u64) -> impl PinInit<Self, Error> {
        let g = s.geometry;
        let enabled = s.has_journal();
        try_pin_init!(Journal {
            enabled,
            region: g.journal_start,
            blocks: g.journal_blocks,
            txn_limit: txn_limit(g.journal_blocks),
            max_txn: max_txn(g.journal_blocks),
            bitmap_blocks: g.block_bitmap_blocks,
            shut_down: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            state <- new_mutex!(State {
                open: 0,
                reserved: 0,
                blocked: false,
                aborted: false,
                running: KVVec::new(),
                frees: KVVec::new(),
                revokes: 0,
                freed: 0,
                sequence,
                head: 1,
                used: 0,
                checkpoint: KVVec::new(),
            }),
            changed <- new_condvar!(),
            committing <- new_mutex!(()),
        }? Error)
    }

    /// Whether the filesystem is journalled.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Stops every further write, as a power cut would (`FS_IOC_SHUTDOWN`):
    /// the running transaction is dropped, handles fail with `EIO`, and
    /// nothing more reaches the log or the disk. What the log holds is what
    /// the next mount finds.
    pub(crate) fn shut_down(&self) {
        // A commit in progress finishes first (as if the power went just
        // after it): none is written after this returns.
        let _one = self.committing.lock();
        self.shut_down.store(true, Ordering::Release);
        let mut st = self.state.lock();
        st.aborted = true;
        drop(st);
        self.changed.notify_all();
    }

    /// Unmount: disarms the commit timer for good (waiting for a commit it
    /// runs); the unmount's own checkpoint follows.
    pub(crate) fn close(&self, sb: &SuperBlock<Rsfs>) {
        self.closing.store(true, Ordering::Release);
        sb.info().commit_timer.cancel();
    }

    /// Whether [`Journal::shut_down`] was called.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Most extents a file may have: its overflow chain must fit a
    /// quarter of a transaction, since storing a block map may rewrite all
    /// of it.
    pub(crate) fn max_extents(&self) -> usize {
        let chain = (self.txn_limit / 4).max(1) as usize;
        let limit = format::INLINE_EXTENTS + chain * format::EXTENTS_PER_BLOCK;
        if self.enabled {
            limit.min(crate::extents::MAX_EXTENTS)
        } else {
            crate::extents::MAX_EXTENTS
        }
    }

    /// The handle pointer of this journal, for `current->journal_info`.
    fn handle_tag(&self) -> *mut c_void {
        (self as *const Journal).cast_mut().cast()
    }

    /// Whether the running task has a handle open on this journal.
    fn in_handle(&self) -> bool {
        task::journal_info() == self.handle_tag()
    }

    /// Log blocks the running transaction would fill, counting what its
    /// open handles reserved, the superblock and the bitmap blocks the
    /// frees will change.
    fn estimate(&self, st: &State) -> u64 {
        let frees = self.bitmap_blocks.min(st.frees.len() as u64);
        log_size(st.running.len() as u64 + st.reserved + frees + 1, st.revokes)
    }

    /// Opens a handle of `credits` log blocks; commits first if the running
    /// transaction has no room left.
    fn open_handle(&self, sb: &SuperBlock<Rsfs>, credits: u64) -> Result {
        if credits > self.txn_limit {
            return Err(EFBIG);
        }
        // Nearly full, with blocks waiting for a commit to be free: commit
        // first, so that the operation does not fail with ENOSPC for blocks
        // the user already freed.
        if self.frees_pending() && sb.info().alloc.lock().sb.free_blocks < LOW_SPACE_BLOCKS {
            self.commit(sb)?;
        }
        loop {
            let mut st = self.state.lock();
            while st.blocked && !st.aborted {
                self.changed.wait(&mut st);
            }
            if st.aborted {
                return Err(if self.is_shut_down() { EIO } else { EROFS });
            }
            if self.estimate(&st) + credits <= self.txn_limit {
                st.open += 1;
                st.reserved += credits;
                return Ok(());
            }
            drop(st);
            self.commit(sb)?;
        }
    }

    fn close_handle(&self, credits: u64) {
        let mut st = self.state.lock();
        st.open -= 1;
        st.reserved -= credits;
        if st.open == 0 {
            self.changed.notify_all();
        }
    }

    /// Records that the running transaction changes `buf` (before the
    /// change is made). A disabled journal dirties it instead, in
    /// [`crate::meta::modify`].
    pub(crate) fn add(&self, sb: &SuperBlock<Rsfs>, buf: &Buffer) -> Result {
        if !self.in_handle() {
            errors::inconsistent(sb, format_args!("block {} changed outside a transaction", buf.block()));
        }
        if buf.test_set_mark(JournalMark::Running) {
            return Ok(());
        }
        let mut st = self.state.lock();
        if st.running.is_empty() && !self.closing.load(Ordering::Acquire) {
            // The first change of a transaction: it commits within the
            // interval, fsync or not (as ext4's `commit=5`).
            sb.info().commit_timer.arm(COMMIT_INTERVAL_MS);
        }
        let r = if st.aborted {
            Err(EROFS)
        } else {
            nofs(|| st.running.push(buf.clone_ref(), GFP_KERNEL)).map_err(Error::from)
        };
        if r.is_err() {
            buf.clear_mark(JournalMark::Running);
        }
        r
    }

    /// Frees blocks `start .. start + len` when the running transaction
    /// commits; `metadata`: they held metadata, and get revoke records.
    pub(crate) fn defer_free(&self, sb: &SuperBlock<Rsfs>, start: u64, len: u64, metadata: bool) -> Result {
        if !self.enabled {
            return alloc::release_blocks(sb, start, len);
        }
        let mut st = self.state.lock();
        nofs(|| st.frees.push(Free { start, len, revoke: metadata }, GFP_KERNEL))?;
        if metadata {
            st.revokes += len;
        }
        st.freed += len;
        Ok(())
    }

    /// Whether blocks wait for the running transaction's commit to be
    /// free: an allocation that found none may find some after it.
    pub(crate) fn frees_pending(&self) -> bool {
        self.pending_free_blocks() > 0
    }

    /// Blocks freed by the running transaction, free once it commits
    /// (`statfs` counts them free already, as ext4 does).
    pub(crate) fn pending_free_blocks(&self) -> u64 {
        if self.enabled {
            self.state.lock().freed
        } else {
            0
        }
    }

    /// The running transaction's sequence number (the one a change made
    /// now belongs to).
    pub(crate) fn running_sequence(&self) -> u64 {
        self.state.lock().sequence
    }

    /// Makes transaction `sequence` durable: commits it if it is still
    /// running (or waits for its commit in progress); if it committed
    /// already, only flushes the device's cache (data written since, into
    /// blocks the metadata already calls written, is in it).
    pub(crate) fn commit_through(&self, sb: &SuperBlock<Rsfs>, sequence: u64) -> Result {
        if !self.enabled || sequence >= self.running_sequence() {
            return self.commit(sb);
        }
        sb.raw().flush_device()
    }

    /// Commits the running transaction and waits until it is durable.
    /// Must not be called with a handle open. Checkpoints if the log is
    /// half full.
    pub(crate) fn commit(&self, sb: &SuperBlock<Rsfs>) -> Result {
        self.commit_and(sb, false)
    }

    /// Commits, then writes every committed block home and empties the log:
    /// for unmount and remount read-only, after which the filesystem on
    /// disk needs no replay.
    pub(crate) fn checkpoint(&self, sb: &SuperBlock<Rsfs>) -> Result {
        self.commit_and(sb, true)
    }

    fn commit_and(&self, sb: &SuperBlock<Rsfs>, checkpoint: bool) -> Result {
        if !self.enabled {
            return crate::meta::sync_all(sb).and_then(|()| sb.raw().flush_device());
        }
        if self.in_handle() {
            errors::inconsistent(sb, format_args!("journal commit from inside a transaction"));
            return Err(EINVAL);
        }
        let _one = self.committing.lock();
        let mut st = self.state.lock();
        if st.aborted {
            return Err(EIO);
        }
        st.blocked = true;
        while st.open > 0 {
            self.changed.wait(&mut st);
        }
        let nothing = st.running.is_empty() && st.frees.is_empty();
        drop(st);
        // No handle is open and none can open: every buffer holds what the
        // transaction made of it. The commit's own changes (frees, the
        // superblock) count as made in a handle.
        // SAFETY: only rsfs's own metadata code runs inside.
        let r = unsafe {
            task::with_journal_info(self.handle_tag(), || {
                nofs(|| {
                    if !nothing {
                        self.write_transaction(sb)?;
                    }
                    // The next transaction must find room.
                    let used = self.state.lock().used;
                    if used > 0 && (checkpoint || self.blocks - 1 - used < self.max_txn) {
                        self.write_home(sb)?;
                    }
                    Ok(())
                })
            })
        };
        let mut st = self.state.lock();
        if let Err(e) = r {
            st.aborted = true;
            drop(st);
            self.changed.notify_all();
            if self.is_shut_down() {
                return Err(EIO);
            }
            return Err(errors::write_failed(sb, "committing the journal", e));
        }
        st.blocked = false;
        drop(st);
        self.changed.notify_all();
        Ok(())
    }

    /// Writes the running transaction to the log (no handle open).
    fn write_transaction(&self, sb: &SuperBlock<Rsfs>) -> Result {
        let raw = sb.raw();
        // The frees become free now, in this transaction.
        let (frees, revokes) = {
            let mut st = self.state.lock();
            let revokes = core::mem::replace(&mut st.revokes, 0);
            st.freed = 0;
            (core::mem::replace(&mut st.frees, KVVec::new()), revokes)
        };
        let mut revoked: KVVec<u64> = KVVec::with_capacity(revokes as usize, GFP_KERNEL)?;
        for f in frees.iter() {
            alloc::release_blocks(sb, f.start, f.len)?;
            if f.revoke {
                for b in f.start..f.start + f.len {
                    // Cannot fail: the capacity is there.
                    let _ = revoked.push(b, GFP_KERNEL);
                }
            }
        }
        revoked.sort_unstable();
        let is_revoked = |b: &Buffer| revoked.binary_search(&b.block()).is_ok();
        // The superblock's free counts, in every transaction.
        crate::super_block::log_counts(sb)?;
        let (mut blocks, sequence, mut index, was_empty, room) = {
            let mut st = self.state.lock();
            let blocks = core::mem::replace(&mut st.running, KVVec::new());
            // A revoked block was freed: never logged, never written home.
            filter(&mut st.checkpoint, |b| !is_revoked(b), |b| b.clear_mark(JournalMark::Checkpoint))?;
            (blocks, st.sequence, st.head, st.used == 0, self.blocks - 1 - st.used)
        };
        for b in blocks.iter() {
            b.clear_mark(JournalMark::Running);
        }
        filter(&mut blocks, |b| !is_revoked(b), |_| ())?;
        let size = log_size(blocks.len() as u64, revoked.len() as u64);
        if size > room {
            pr_err!("journal: a transaction of {} blocks does not fit the {} free in the log\n", size, room);
            return Err(ENOSPC);
        }
        let first = index;
        let next = |i: u64| if i + 1 >= self.blocks { 1 } else { i + 1 };
        let mut inflight: KVVec<Buffer> = KVVec::with_capacity(size as usize + 1, GFP_KERNEL)?;
        let submit = |b: Buffer, inflight: &mut KVVec<Buffer>| {
            b.submit_write(false);
            // Cannot fail: the capacity is there.
            let _ = inflight.push(b, GFP_KERNEL);
        };
        if was_empty {
            // The journal superblock says "empty": make it point here first
            // (made durable by the commit block's flush).
            let mut jsb = Buffer::new_zeroed(raw, self.region)?;
            jsb.update(|b| JournalSuper { blocks: self.blocks, sequence, start: first }.encode(b));
            submit(jsb, &mut inflight);
        }
        for chunk in blocks.chunks(TAGS_PER_DESCRIPTOR) {
            let mut desc = Buffer::new_zeroed(raw, self.region + index)?;
            desc.update(|b| format::descriptor_init(b, sequence));
            index = next(index);
            for home in chunk {
                let mut copy = Buffer::new_zeroed(raw, self.region + index)?;
                let crc = {
                    let src = home.data();
                    copy.update(|b| {
                        b.copy_from_slice(&*src);
                        format::copy_checksum(b)
                    })
                };
                desc.update(|b| format::descriptor_push(b, Tag { block: home.block(), crc }));
                submit(copy, &mut inflight);
                index = next(index);
            }
            desc.update(format::seal_block);
            submit(desc, &mut inflight);
        }
        for chunk in revoked.chunks(REVOKES_PER_BLOCK) {
            let mut rb = Buffer::new_zeroed(raw, self.region + index)?;
            rb.update(|b| {
                format::revoke_init(b, sequence);
                for &block in chunk {
                    format::revoke_push(b, block);
                }
                format::seal_block(b);
            });
            submit(rb, &mut inflight);
            index = next(index);
        }
        let mut result = Ok(());
        for b in inflight.iter() {
            if let Err(e) = b.wait_write() {
                result = Err(e);
            }
        }
        result?;
        // Everything before is complete: the commit block, after a flush
        // and with FUA, makes the transaction durable in one write.
        let mut commit = Buffer::new_zeroed(raw, self.region + index)?;
        commit.update(|b| format::commit_encode(b, sequence, (size - 1) as u32));
        commit.submit_write(true);
        commit.wait_write()?;
        index = next(index);
        // Committed: the blocks may go home from now on.
        let mut st = self.state.lock();
        st.sequence = sequence.wrapping_add(1);
        st.head = index;
        st.used += size;
        nofs(|| st.checkpoint.reserve(blocks.len(), GFP_KERNEL))?;
        for b in blocks {
            if !b.test_set_mark(JournalMark::Checkpoint) {
                // Cannot fail: the capacity is there.
                let _ = st.checkpoint.push(b, GFP_KERNEL);
            }
        }
        Ok(())
    }

    /// Writes every committed block home, then marks the log empty (no
    /// handle open, nothing uncommitted in the buffers).
    fn write_home(&self, sb: &SuperBlock<Rsfs>) -> Result {
        let (list, sequence) = {
            let mut st = self.state.lock();
            (core::mem::replace(&mut st.checkpoint, KVVec::new()), st.sequence)
        };
        for b in list.iter() {
            b.submit_write(false);
        }
        let mut result = Ok(());
        for b in list.iter() {
            if let Err(e) = b.wait_write() {
                result = Err(e);
            }
            b.clear_mark(JournalMark::Checkpoint);
        }
        result?;
        // The journal superblock's flush makes the home writes durable
        // before it says the log is empty.
        let mut jsb = Buffer::new_zeroed(sb.raw(), self.region)?;
        jsb.update(|b| JournalSuper::empty(self.blocks, sequence).encode(b));
        jsb.submit_write(true);
        jsb.wait_write()?;
        self.state.lock().used = 0;
        Ok(())
    }
}

/// Runs `f` as (part of) one atomic metadata change of at most `credits`
/// log blocks. Inside an open handle of the same journal (a nested call,
/// such as `dirty_inode` from an operation), `f` joins it. `f` runs in a
/// NOFS scope: reclaim must not re-enter the filesystem and open a handle
/// that waits for a commit that waits for this one.
pub(crate) fn transaction<R>(sb: &SuperBlock<Rsfs>, credits: u64, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let j = &sb.info().journal;
    if !j.enabled {
        return nofs(f);
    }
    if j.in_handle() {
        j.state.lock().reserved += credits;
        let r = f();
        j.state.lock().reserved -= credits;
        return r;
    }
    j.open_handle(sb, credits)?;
    // SAFETY: `f` is rsfs's own metadata code, which enters no other
    // filesystem (and the NOFS scope keeps reclaim out).
    let r = unsafe { task::with_journal_info(j.handle_tag(), || nofs(f)) };
    j.close_handle(credits);
    r
}

/// [`transaction`], retried once after a commit if it failed with `ENOSPC`
/// while blocks waited for the commit to be free.
pub(crate) fn transaction_or_retry<R>(sb: &SuperBlock<Rsfs>, credits: u64, mut f: impl FnMut() -> Result<R>) -> Result<R> {
    match transaction(sb, credits, &mut f) {
        Err(e) if e == ENOSPC && sb.info().journal.frees_pending() && !sb.info().journal.in_handle() => {
            sb.info().journal.commit(sb)?;
            transaction(sb, credits, f)
        }
        r => r,
    }
}

/// What [`recover`] found.
pub(crate) struct Recovery {
    /// The next transaction's sequence number.
    pub(crate) sequence: u64,
    /// Transactions replayed.
    pub(crate) transactions: u64,
    /// Blocks written home.
    pub(crate) blocks: u64,
}

/// Block-sized scratch space, off the stack.
fn scratch() -> Result<KVVec<u8>> {
    Ok(KVVec::from_elem(0u8, 2 * BLOCK_SIZE, GFP_KERNEL)?)
}

fn as_blocks(v: &mut [u8]) -> Result<(&mut Block, &mut Block)> {
    let (a, b) = v.split_at_mut(BLOCK_SIZE);
    Ok((a.try_into().map_err(|_| EINVAL)?, b.try_into().map_err(|_| EINVAL)?))
}

/// At mount, before anything else reads metadata: replays the committed
/// transactions of the log onto their home blocks (newest copy wins, a
/// revoked copy is skipped), makes them durable and marks the log empty.
pub(crate) fn recover(raw: &RawSuperBlock, s: &Superblock) -> Result<Recovery> {
    let g = &s.geometry;
    let region = g.journal_start;
    let js = {
        let buf = Buffer::read(raw, region)?;
        let data = buf.data();
        JournalSuper::decode(&data, g.journal_blocks).map_err(|e| {
            pr_err!("{}: journal superblock: {}; run fsck.rsfs\n", raw.id().to_str().unwrap_or("?"), e.as_str());
            crate::kext::error::more::euclean()
        })?
    };
    let mut done = Recovery { sequence: js.sequence, transactions: 0, blocks: 0 };
    if !js.needs_recovery() {
        return Ok(done);
    }
    if raw.device_is_read_only() {
        // As ext4 and XFS: a write-protected disk is not written, and
        // without the replay the metadata is not consistent.
        pr_err!(
            "{}: the journal needs recovery but the device is read-only; make it writable to mount\n",
            raw.id().to_str().unwrap_or("?")
        );
        return Err(EROFS);
    }
    let walker = LogWalker::new(js);
    let mut space = scratch()?;
    let read = |index: u64, out: &mut Block| -> Result {
        let buf = Buffer::read(raw, region + index)?;
        out.copy_from_slice(&*buf.data());
        Ok(())
    };
    // Pass 1: every block the log names must be a metadata home; the
    // revoke records, as (block, newest sequence), sorted.
    let bad_home = |e: format::FormatError| {
        pr_err!("{}: journal: {}; run fsck.rsfs\n", raw.id().to_str().unwrap_or("?"), e.as_str());
        crate::kext::error::more::euclean()
    };
    let mut revokes: KVVec<(u64, u64)> = KVVec::new();
    {
        let (a, b) = as_blocks(&mut space)?;
        walker.walk(a, b, &read, |ev| {
            ev.check_home(g).map_err(bad_home)?;
            if let LogEvent::Revoke { sequence, block } = ev {
                revokes.push((block, sequence), GFP_KERNEL)?;
            }
            Ok(())
        })?;
    }
    let n = format::revoke_table_prepare(&mut revokes);
    let revokes = revokes.get(..n).unwrap_or(&[]);
    // Pass 2: the copies, home, unless revoked by a record of the same or
    // a later transaction.
    let end = {
        let (a, b) = as_blocks(&mut space)?;
        walker.walk(a, b, &read, |ev| {
            match ev {
                LogEvent::Copy { sequence, tag, index } if !format::copy_is_revoked(revokes, tag.block, sequence) => {
                    let log_buf = Buffer::read(raw, region + index)?;
                    let mut home = Buffer::new_zeroed(raw, tag.block)?;
                    let src = log_buf.data();
                    home.modify(|b| b.copy_from_slice(&*src));
                    done.blocks += 1;
                }
                LogEvent::Commit { .. } => done.transactions += 1,
                _ => {}
            }
            Ok(())
        })?
    };
    raw.sync_device()?;
    let mut jsb = Buffer::new_zeroed(raw, region)?;
    jsb.update(|b| JournalSuper::empty(g.journal_blocks, end.next_sequence).encode(b));
    jsb.submit_write(true);
    jsb.wait_write()?;
    done.sequence = end.next_sequence;
    Ok(done)
}
