// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table, writing them back,
//! truncating, and freeing them when the last link and user are gone.

use crate::{
    errors::{self, Loc},
    alloc,
    dir_index::NameIndex,
    extents::BlockMap,
    format::{self, FileKind, Inode as DiskInode, Timespec, INODE_FLAG_INLINE_DATA},
    kext::fs::{
        inode::{Inode, InodeParams, Kind, Lookup, Time},
        iomap,
        sb::SuperBlock,
    },
    journal, meta, Rsfs,
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    error::Error,
    init::PinInit,
    new_mutex,
    prelude::*,
    sync::{lock::{mutex::MutexBackend, Guard}, Mutex},
    types::ARef,
};

/// What rsfs keeps beside each VFS inode.
#[pin_data]
pub(crate) struct InodeData {
    /// The block map and the on-disk fields the VFS inode has no room for.
    #[pin]
    pub(crate) state: Mutex<InodeState>,
    /// Copy of `state.map.seq`, readable without the lock (see
    /// `writeback`): changes whenever blocks leave the map.
    pub(crate) map_seq: AtomicU64,
    /// The journal transaction that last logged this inode: `fsync` needs
    /// no commit once that one committed.
    pub(crate) logged_in: AtomicU64,
}

/// The lock-protected part of [`InodeData`].
pub(crate) struct InodeState {
    /// Extents (regular files, directories, long symlinks).
    pub(crate) map: BlockMap,
    /// `INODE_FLAG_*`.
    pub(crate) flags: u16,
    /// Creation time.
    pub(crate) crtime: Timespec,
    /// Directories: the parent's inode number.
    pub(crate) dir_parent: u64,
    /// Directories: where `add_entry` starts looking for room; the blocks
    /// before it were full when last looked at and nothing was removed
    /// from them since (in memory only).
    pub(crate) dir_space_hint: u64,
    /// Directories: the name index, once built (see `dir_index`).
    pub(crate) names: Option<NameIndex>,
    /// The inode's inline area when it holds no extents: a fast symlink
    /// target or a device number.
    pub(crate) inline: [u8; format::INLINE_SIZE],
}

impl InodeData {
    /// Empty per-inode data, for `alloc_inode`.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(InodeData {
            state <- new_mutex!(InodeState {
                map: BlockMap::new(),
                flags: 0,
                crtime: Timespec { sec: 0, nsec: 0 },
                dir_parent: 0,
                dir_space_hint: 0,
                names: None,
                inline: [0; format::INLINE_SIZE],
            }),
            map_seq: AtomicU64::new(0),
            logged_in: AtomicU64::new(0),
        }? Error)
    }
}

/// The locked [`InodeState`]. Allocations made while it is held must be
/// `GFP_NOFS` (`kext::mm::nofs`): inode eviction, which reclaim may run,
/// takes this lock too.
pub(crate) struct StateGuard<'a> {
    guard: Guard<'a, InodeState, MutexBackend>,
}

impl core::ops::Deref for StateGuard<'_> {
    type Target = InodeState;
    fn deref(&self) -> &InodeState {
        &self.guard
    }
}

impl core::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut InodeState {
        &mut self.guard
    }
}

impl InodeData {
    /// Locks the inode's state.
    pub(crate) fn lock(&self) -> StateGuard<'_> {
        StateGuard { guard: self.state.lock() }
    }
}

impl InodeState {
    /// Whether the inline area holds something other than extents.
    pub(crate) fn has_inline_data(&self) -> bool {
        self.flags & INODE_FLAG_INLINE_DATA != 0
    }
}

/// Whether blocks of inodes of this mode are metadata (in the buffer
/// cache) rather than file data (in the page cache).
pub(crate) fn blocks_are_metadata(mode: u16) -> bool {
    !format::is_reg(mode)
}

fn kind_of(d: &DiskInode) -> Option<Kind> {
    Some(match d.kind()? {
        FileKind::Regular => Kind::Regular,
        FileKind::Dir => Kind::Directory,
        FileKind::Symlink => Kind::Symlink,
        _ => Kind::Special(d.rdev()),
    })
}

/// Returns inode `ino`, from the inode cache or read from disk.
pub(crate) fn iget(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<ARef<Inode<Rsfs>>> {
    if !sb.info().geometry.is_valid_ino(ino) {
        errors::inconsistent(sb, format_args!("inode number {} out of range", ino));
        return Err(crate::kext::error::more::euclean());
    }
    let new = match Inode::iget(sb, ino)? {
        Lookup::Cached(inode) => return Ok(inode),
        Lookup::New(new) => new,
    };
    let d = meta::read_inode(sb, ino)?;
    if d.is_free() || d.nlink == 0 {
        errors::inconsistent(sb, format_args!("a directory entry points to free inode {}", ino));
        return Err(crate::kext::error::more::euclean());
    }
    d.check(&sb.info().geometry).map_err(|e| errors::corrupt(sb, "inode", Loc::Inode(ino), e))?;
    // Link counts the VFS relies on: a directory has at least "." and its
    // entry in the parent (a lower count would reach zero while linked,
    // and the directory be freed while still in use).
    let min_links = if d.kind() == Some(FileKind::Dir) { 2 } else { 1 };
    if d.nlink < min_links || d.nlink > format::MAX_LINKS {
        errors::inconsistent(sb, format_args!("inode {} has a bad link count {}", ino, d.nlink));
        return Err(crate::kext::error::more::euclean());
    }
    let kind = kind_of(&d).ok_or_else(|| errors::corrupt(sb, "inode mode", Loc::Inode(ino), format::FormatError::BadMode))?;
    let map = BlockMap::load(sb, ino, &d)?;
    if blocks_are_metadata(d.mode) {
        map.check_no_shared_blocks()?.map_err(|e| errors::corrupt(sb, "extents", Loc::Inode(ino), e))?;
    }
    {
        let mut st = new.inode().data().lock();
        st.map = map;
        st.flags = d.flags;
        st.crtime = d.crtime;
        st.dir_parent = d.dir_parent;
        st.inline = d.inline;
    }
    new.set_params(&InodeParams {
        mode: d.mode,
        nlink: d.nlink,
        uid: d.uid,
        gid: d.gid,
        size: d.size,
        blocks: d.blocks,
        atime: (d.atime.sec, d.atime.nsec),
        mtime: (d.mtime.sec, d.mtime.nsec),
        ctime: (d.ctime.sec, d.ctime.nsec),
        generation: d.generation,
        kind,
    });
    Ok(new.finish())
}

fn ts(t: (i64, u32)) -> Timespec {
    Timespec { sec: t.0, nsec: t.1 }
}

/// Writes the inode (and the overflow blocks its map changed) to the inode
/// table: into the running transaction, or dirty for the flusher on a
/// filesystem without a journal (`sync`: and waits for it there).
pub(crate) fn write_inode(inode: &Inode<Rsfs>, sync: bool) -> Result {
    let sb = inode.sb();
    if sb.raw().is_read_only() {
        return Ok(());
    }
    // Credits: the inode's table block, the overflow blocks the store
    // rewrites, and what freeing surplus overflow blocks touches.
    let credits = journal::credits::SMALL + inode.data().lock().map.dirty_chain_blocks() as u64;
    journal::transaction(sb, credits, || store_inode(inode, sync))
}

/// `dirty_inode`: the VFS changed the inode (size, times, mode, links);
/// with a journal it goes into the running transaction now, so that it
/// commits with the operation that changed it (and an `fsync` commit
/// carries it). Without one, `write_inode` writes it later.
pub(crate) fn dirty_inode(inode: &Inode<Rsfs>) {
    let sb = inode.sb();
    let journal = &sb.info().journal;
    if !journal.enabled() || journal.is_shut_down() || sb.raw().is_read_only() || inode.ino() == 0 {
        return;
    }
    // The inode stays dirty in the VFS: `write_inode` retries a failure.
    if let Err(e) = write_inode(inode, false) {
        errors::inconsistent(sb, format_args!("cannot log inode {}: {:?}", inode.ino(), e));
    }
}

fn store_inode(inode: &Inode<Rsfs>, sync: bool) -> Result {
    let sb = inode.sb();
    let ino = inode.ino();
    let mut d = DiskInode::new(inode.mode());
    {
        let mut st = inode.data().lock();
        d.flags = st.flags;
        d.crtime = st.crtime;
        d.dir_parent = st.dir_parent;
        if st.has_inline_data() || matches!(FileKind::from_mode(d.mode), Some(k) if k.dt() != format::DT_REG && k.dt() != format::DT_DIR && k.dt() != format::DT_LNK)
        {
            d.inline = st.inline;
        } else {
            st.map.store(sb, ino, &mut d)?;
        }
    }
    let (uid, gid) = inode.owner();
    d.uid = uid;
    d.gid = gid;
    d.nlink = inode.nlink();
    d.size = inode.size();
    d.atime = ts(inode.time(Time::Access));
    d.mtime = ts(inode.time(Time::Modify));
    d.ctime = ts(inode.time(Time::Change));
    d.generation = inode.generation();
    // The VFS marked the inode clean before calling, and background
    // writeback drops the error: a failure here must not pass silently.
    meta::write_inode(sb, ino, &d, sync).map_err(|e| errors::write_failed(sb, "writing an inode", e))?;
    inode.data().logged_in.store(sb.info().journal.running_sequence(), Ordering::Release);
    Ok(())
}

/// Frees the blocks of `inode` from file block `from` on, and logs the
/// inode (its size, set by the caller, and its map) in the same
/// transaction. The caller has removed any page cache over them and holds
/// `i_rwsem`.
pub(crate) fn free_blocks_from(inode: &Inode<Rsfs>, from: u64) -> Result {
    let sb = inode.sb();
    let metadata = blocks_are_metadata(inode.mode());
    let credits = journal::credits::SMALL
        + revoke_blocks(if metadata { inode.data().lock().map.data_blocks() } else { 0 });
    journal::transaction(sb, credits, || {
        let mut first_err = Ok(());
        let mut st = inode.data().lock();
        st.map.truncate(from, |start, len| {
            if let Err(e) = meta::free_blocks(sb, start, len, metadata) {
                if first_err.is_ok() {
                    first_err = Err(e);
                }
            }
        });
        inode.data().map_seq.store(st.map.seq, Ordering::Release);
        inode.set_fs_blocks(st.map.owned_blocks());
        drop(st);
        // Joins this transaction: the map change and the size commit
        // together.
        write_inode(inode, false)?;
        first_err
    })
}

/// Log blocks the revoke records of `blocks` freed metadata blocks fill.
fn revoke_blocks(blocks: u64) -> u64 {
    blocks.div_ceil(format::REVOKES_PER_BLOCK as u64)
}

/// The inode leaves memory. If it has no links left, its blocks, overflow
/// chain and inode slot are freed, in one transaction.
pub(crate) fn evict_inode(inode: &Inode<Rsfs>) {
    let ino = inode.ino();
    let sb = inode.sb();
    if ino == 0 || inode.nlink() != 0 || sb.raw().is_read_only() || sb.info().journal.is_shut_down() {
        return;
    }
    let (chain, metadata_blocks) = {
        let st = inode.data().lock();
        let chain = st.map.owned_blocks() - st.map.data_blocks();
        (chain, if blocks_are_metadata(inode.mode()) { st.map.data_blocks() } else { 0 })
    };
    let credits = journal::credits::SMALL + revoke_blocks(chain + metadata_blocks);
    let r = journal::transaction(sb, credits, || {
        free_blocks_from(inode, 0)?;
        inode.data().lock().map.free_chain(sb);
        // A free slot: mode 0, valid checksum.
        meta::write_inode(sb, ino, &DiskInode::new(0), false)?;
        alloc::free_inode(sb, ino)
    });
    if let Err(e) = r {
        errors::inconsistent(sb, format_args!("cannot free inode {}: {:?}", ino, e));
    }
}

/// `truncate(2)` to `size` of a regular file. `i_rwsem` and the
/// invalidate lock are held.
pub(crate) fn set_size(inode: &Inode<Rsfs>, size: u64) -> Result {
    let old = inode.size();
    if size > old {
        // The block straddling the old end may hold bytes past it (written
        // through mmap); zero them before they become part of the file.
        let tail = old.next_multiple_of(format::BLOCK_SIZE_U64).min(size) - old;
        if tail > 0 {
            iomap::zero_range(inode, old, tail)?;
        }
        inode.truncate_setsize(size);
        return Ok(());
    }
    iomap::truncate_page(inode, size)?;
    inode.dio_wait();
    inode.truncate_setsize(size);
    free_blocks_from(inode, size.div_ceil(format::BLOCK_SIZE_U64))
}
