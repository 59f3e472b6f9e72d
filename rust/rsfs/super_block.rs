// SPDX-License-Identifier: GPL-2.0

//! Mount options, mounting, statistics, sync and unmount.
//!
//! The on-disk superblock is read and validated once at mount
//! ([`fill_super`]), after the journal's committed transactions were
//! replayed ([`journal::recover`]); from then on its in-memory copy in
//! [`AllocState`] is the truth for the free counts. Every journal commit
//! logs it ([`log_counts`]); at mount and unmount, when the log is empty,
//! it is written home directly ([`meta::write_super`]) with the state
//! (dirty while mounted read-write, clean after). Without a journal
//! (format 1.0) it is written back at `sync_fs` and unmount.

use crate::{
    format::{self, Geometry, Superblock, STATE_CLEAN, STATE_DIRTY},
    kext::fs::{
        sb::{RawSuperBlock, SbTimer, SuperBlock},
        FsContext, ParamError, SeqFile, StatFs,
    },
    errors::{self, ErrorState},
    journal::{self, Journal},
    meta, Rsfs, WritebackMode,
};
use core::{
    fmt::Arguments,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    c_str,
    error::Error,
    fmt,
    init::PinInit,
    new_mutex,
    prelude::*,
    str::CString,
    sync::Mutex,
};

/// Mount options.
#[derive(Default)]
pub(crate) struct Options {
    /// `writeback=folio|iomap`; the module parameter if not given.
    writeback: Option<WritebackMode>,
}

/// Parses one mount option.
pub(crate) fn parse_param(opts: &mut Options, key: &[u8], value: Option<&[u8]>) -> Result<(), ParamError> {
    match key {
        b"writeback" => {
            let mode = value.and_then(WritebackMode::parse);
            if mode.is_none() {
                return Err(ParamError::Invalid(c_str!("writeback= must be folio or iomap")));
            }
            opts.writeback = mode;
            Ok(())
        }
        _ => Err(ParamError::Unknown),
    }
}

/// Allocation state: the superblock's counters and where to look next.
pub(crate) struct AllocState {
    /// The superblock as it will next be written.
    pub(crate) sb: Superblock,
    /// Where the next block search starts (just past the last allocation).
    pub(crate) block_goal: u64,
    /// Where the next inode search starts.
    pub(crate) inode_goal: u64,
}

/// Per-mount state (`s_fs_info`).
#[pin_data]
pub(crate) struct FsInfo {
    /// The journal's commit interval (first: it is disarmed, waiting for a
    /// commit in progress, before the rest of the state is dropped).
    #[pin]
    pub(crate) commit_timer: SbTimer<Rsfs>,
    /// The layout, fixed for the life of the mount.
    pub(crate) geometry: Geometry,
    /// Which `writepages` this mount uses.
    pub(crate) writeback: WritebackMode,
    /// Bitmaps and counters (and the superblock block's bytes).
    #[pin]
    pub(crate) alloc: Mutex<AllocState>,
    /// Serialises access to the bytes of inode table blocks (several inodes
    /// share a block).
    #[pin]
    pub(crate) itable: Mutex<()>,
    /// Failed writes and corruption reports ([`errors`]).
    pub(crate) errors: ErrorState,
    /// The filesystem was not cleanly unmounted and its orphans have not
    /// been freed yet ([`crate::recover`]).
    pub(crate) unclean: AtomicBool,
    /// The metadata journal ([`journal`]).
    #[pin]
    pub(crate) journal: Journal,
}

fn now() -> u64 {
    // SAFETY: reads the clock; no preconditions.
    unsafe { crate::kext::bindings::ktime_get_real_seconds() as u64 }
}

/// Logs and reports a mount failure.
fn refuse(fc: &FsContext, err: Error, args: Arguments<'_>) -> Error {
    if let Ok(msg) = CString::try_from_fmt(args) {
        fc.error(&msg);
    }
    err
}

/// Reads, checks and (for a read-write mount) marks the superblock dirty.
pub(crate) fn fill_super(sb: &RawSuperBlock, opts: &Options, fc: &FsContext) -> Result<impl PinInit<FsInfo, Error>> {
    if sb.set_block_size(format::BLOCK_SIZE as u32).is_err() {
        return Err(refuse(fc, EINVAL, fmt!("the device cannot use {}-byte blocks", format::BLOCK_SIZE)));
    }
    let device_blocks = sb.device_bytes() / format::BLOCK_SIZE_U64;
    let buf = meta::read_super_block(sb).map_err(|e| refuse(fc, e, fmt!("cannot read the superblock")))?;
    let mut s = match Superblock::decode_and_validate(&*buf.data(), device_blocks) {
        Ok(s) => s,
        Err(format::FormatError::BadMagic) => {
            return Err(refuse(fc, EINVAL, fmt!("not an rsfs filesystem (bad magic)")));
        }
        Err(e) => {
            let err = crate::kext::error::more::euclean();
            return Err(refuse(fc, err, fmt!("bad superblock: {}; run fsck.rsfs", e.as_str())));
        }
    };
    drop(buf);
    let mut sequence = 1;
    if s.has_journal() {
        // Replay first: every later read of metadata sees the committed
        // state. Even a read-only mount replays (as ext4 does): the log is
        // part of the filesystem.
        let rec = journal::recover(sb, &s).map_err(|e| {
            if e == EROFS {
                refuse(fc, e, fmt!("the journal needs recovery, and the device is read-only"))
            } else {
                refuse(fc, e, fmt!("cannot replay the journal"))
            }
        })?;
        sequence = rec.sequence;
        if rec.transactions > 0 {
            pr_info!(
                "{}: journal: replayed {} transactions ({} blocks)\n",
                sb.id().to_str().unwrap_or("?"),
                rec.transactions,
                rec.blocks
            );
            let buf = meta::read_super_block(sb).map_err(|e| refuse(fc, e, fmt!("cannot read the superblock")))?;
            s = Superblock::decode_and_validate(&*buf.data(), device_blocks).map_err(|e| {
                refuse(fc, crate::kext::error::more::euclean(), fmt!("bad superblock after replay: {}; run fsck.rsfs", e.as_str()))
            })?;
        }
    }
    let read_only = sb.is_read_only();
    if !s.has_journal() && !read_only {
        return Err(refuse(
            fc,
            EROFS,
            fmt!("format 1.0 without a journal: mount read-only, or add one with fsck.rsfs -O journal"),
        ));
    }
    if s.has_journal() && !read_only && !journal::usable(&s) {
        return Err(refuse(fc, EINVAL, fmt!("the journal ({} blocks) is too small; mount read-only", s.geometry.journal_blocks)));
    }
    if s.has_unknown_ro_compat() && !read_only {
        return Err(refuse(fc, EROFS, fmt!("unknown read-only features; mount read-only")));
    }
    // A dirty state only means "not unmounted": the replay made the
    // metadata consistent; orphans are freed at the first read-write use.
    let unclean = s.state != STATE_CLEAN;
    if !read_only {
        s.state = STATE_DIRTY;
        s.mount_time = now();
        s.mount_count = s.mount_count.wrapping_add(1);
        meta::write_super(sb, &s)
            .and_then(|buf| buf.sync())
            .map_err(|e| refuse(fc, e, fmt!("cannot write the superblock")))?;
    }
    // Metadata write failures count from here on.
    let device_wb_err = sb.device_wb_err();
    let writeback = opts.writeback.unwrap_or_else(crate::default_writeback);
    let geometry = s.geometry;
    let block_goal = geometry.data_start;
    let journal = Journal::new(&s, sequence);
    let commit_timer = SbTimer::new(sb);
    Ok(try_pin_init!(FsInfo {
        commit_timer <- commit_timer,
        geometry,
        writeback,
        alloc <- new_mutex!(AllocState { sb: s, block_goal, inode_goal: format::ROOT_INO + 1 }),
        itable <- new_mutex!(()),
        errors: ErrorState::new(device_wb_err),
        unclean: AtomicBool::new(unclean),
        journal <- journal,
    }? Error))
}

/// Before the filesystem is first written after an unclean shutdown: its
/// orphans are freed ([`crate::recover`]).
pub(crate) fn recover_if_unclean(sb: &SuperBlock<Rsfs>) -> Result {
    if sb.raw().is_read_only() || !sb.info().unclean.load(Ordering::Acquire) {
        return Ok(());
    }
    crate::recover::free_orphans(sb)?;
    sb.info().unclean.store(false, Ordering::Release);
    Ok(())
}

/// `mount -o remount`: switching to read-only marks the filesystem clean
/// on disk, back to read-write dirty again. The writeback mode is fixed
/// for the life of the mount.
pub(crate) fn reconfigure(sb: &SuperBlock<Rsfs>, opts: &Options, read_only: bool) -> Result {
    if let Some(mode) = opts.writeback {
        if mode != sb.info().writeback {
            pr_err!("writeback= cannot change on remount\n");
            return Err(EINVAL);
        }
    }
    let was_read_only = sb.raw().is_read_only();
    if read_only && !was_read_only {
        // kext has synced the filesystem (data, inodes, metadata buffers);
        // the log is emptied so that the disk needs no replay.
        sb.info().journal.checkpoint(sb)?;
        write_state(sb, true, true)?;
        sb.raw().flush_device()?;
    } else if !read_only && was_read_only {
        if !sb.info().journal.enabled() {
            pr_err!("format 1.0 without a journal: read-only; add one with fsck.rsfs -O journal\n");
            return Err(EROFS);
        }
        if sb.info().unclean.load(Ordering::Acquire) {
            // Still read-only while the walk runs: the VFS flips the flag
            // only after we return.
            crate::recover::free_orphans(sb)?;
            sb.info().unclean.store(false, Ordering::Release);
        }
        write_state(sb, false, true)?;
    }
    Ok(())
}

/// `/proc/mounts` options.
pub(crate) fn show_options(sb: &SuperBlock<Rsfs>, out: &mut SeqFile) -> Result {
    out.puts(match sb.info().writeback {
        WritebackMode::Folio => c_str!(",writeback=folio"),
        WritebackMode::Iomap => c_str!(",writeback=iomap"),
    });
    Ok(())
}

/// `statfs(2)`.
pub(crate) fn statfs(sb: &SuperBlock<Rsfs>) -> Result<StatFs> {
    let info = sb.info();
    let st = info.alloc.lock();
    let uuid = &st.sb.uuid;
    let mut fsid = 0u64;
    for (i, b) in uuid.iter().enumerate() {
        fsid ^= u64::from(*b) << ((i % 8) * 8);
    }
    Ok(StatFs {
        blocks: info.geometry.data_blocks(),
        free_blocks: (st.sb.free_blocks + info.journal.pending_free_blocks()).min(info.geometry.data_blocks()),
        files: info.geometry.allocatable_inodes(),
        free_files: st.sb.free_inodes,
        name_len: format::MAX_NAME_LEN as u64,
        fsid,
    })
}

/// Logs the superblock's free counts in the running transaction (its
/// commit, with no handle open: the counts match the bitmaps it logs).
pub(crate) fn log_counts(sb: &SuperBlock<Rsfs>) -> Result {
    let mut st = sb.info().alloc.lock();
    st.sb.write_time = now();
    meta::log_super(sb, &st.sb)
}

/// Writes the superblock copy home, outside the journal (at mount, unmount
/// and remount, when the log is empty); `clean`: with the clean state.
fn write_state(sb: &SuperBlock<Rsfs>, clean: bool, sync: bool) -> Result {
    let buf = {
        let mut st = sb.info().alloc.lock();
        st.sb.write_time = now();
        st.sb.state = if clean { STATE_CLEAN } else { STATE_DIRTY };
        // Encoded under the lock: two `sync_fs` at once must not write
        // block 0's buffer at the same time.
        meta::write_super(sb.raw(), &st.sb)?
    };
    if sync {
        buf.sync().map_err(|e| errors::write_failed(sb, "writing the superblock", e))?;
    }
    Ok(())
}

/// `sync_fs`: the superblock, then (if waiting) every dirty metadata
/// buffer and a device cache flush. Data was written before this is called
/// (with `s_umount` held).
pub(crate) fn sync_fs(sb: &SuperBlock<Rsfs>, wait: bool) -> Result {
    if sb.raw().is_read_only() {
        return Ok(());
    }
    errors::check_device_writes(sb)?;
    if wait {
        // Inodes whose unwritten blocks became written while the VFS
        // waited for their data (`file::convert_unwritten`).
        sb.raw().write_dirty_inodes();
    }
    if sb.info().journal.enabled() {
        // Everything changed so far is in the running transaction.
        return if wait { sb.info().journal.commit(sb) } else { Ok(()) };
    }
    write_state(sb, false, false)?;
    if wait {
        meta::sync_all(sb)?;
        sb.raw().flush_device()?;
    }
    Ok(())
}

/// Unmount: all inodes are gone; mark the filesystem clean on disk.
pub(crate) fn put_super(sb: &SuperBlock<Rsfs>) {
    sb.info().journal.close(sb);
    // Shut down: nothing more is written (the next mount replays the log).
    if sb.raw().is_read_only() || sb.info().journal.is_shut_down() {
        return;
    }
    // After a failed metadata write the filesystem is read-only (and was
    // left alone above); the clean state must not be written either way.
    let r = sb
        .info()
        .journal
        .checkpoint(sb)
        .and_then(|()| meta::sync_all(sb))
        .and_then(|()| write_state(sb, true, true))
        .and_then(|()| sb.raw().flush_device());
    if let Err(e) = r {
        pr_err!("{}: unmount: cannot write the superblock ({:?}); run fsck.rsfs\n", sb.raw().id().to_str().unwrap_or("?"), e);
    }
}

/// `FS_IOC_SHUTDOWN` (`_IOR('X', 125, __u32)`, XFS's `XFS_IOC_GOINGDOWN`,
/// also ext4's and f2fs's), and its flags.
pub(crate) const FS_IOC_SHUTDOWN: u32 = 0x8004_587d;
/// Sync everything first (the device is frozen around the shutdown).
const SHUTDOWN_DEFAULT: u32 = 0;
/// Commit the journal first, not the data.
const SHUTDOWN_LOGFLUSH: u32 = 1;
/// At once, as a power cut.
const SHUTDOWN_NOLOGFLUSH: u32 = 2;

/// `FS_IOC_SHUTDOWN`: stops every further write to the device, as a power
/// cut would (what is on the disk stays, and the next mount replays the
/// log); reads and writes fail with `EIO`, until the unmount. For tests
/// (fstests' `godown`, our crash suite) without a failing device.
pub(crate) fn shutdown(sb: &SuperBlock<Rsfs>, flags: u32) -> Result {
    let journal = &sb.info().journal;
    if sb.raw().is_read_only() || journal.is_shut_down() {
        return Ok(());
    }
    match flags {
        SHUTDOWN_DEFAULT => sb.raw().with_device_frozen(|| journal.shut_down())?,
        SHUTDOWN_LOGFLUSH => {
            // A failed commit is the same as a shutdown without it.
            let _ = journal.commit(sb);
            journal.shut_down();
        }
        SHUTDOWN_NOLOGFLUSH => journal.shut_down(),
        _ => return Err(EINVAL),
    }
    pr_info!("{}: shut down (flags {}); unmount it\n", sb.raw().id().to_str().unwrap_or("?"), flags);
    Ok(())
}
