// SPDX-License-Identifier: GPL-2.0

//! Directories and the namespace operations.
//!
//! A directory's data is a sequence of directory blocks ("RSDR", see
//! `format::dir`) mapped by its extents, read and written through [`meta`]
//! under the directory's `i_rwsem` (which the VFS holds: shared for lookup
//! and readdir, exclusive for changes). There are no "." and ".." entries
//! on disk: `readdir` makes them up, and the parent is in the inode
//! (`dir_parent`).

use crate::{
    alloc,
    errors::{self, Loc},
    dir_index::{self, name_hash, Candidates, NameIndex},
    format::{
        self, check_name, dir_block_init, dir_block_owner, dir_block_verify, dir_entries, dir_find_space,
        dir_insert, dir_lookup_verified, dir_remove_at, dir_replace, mode_to_dt, seal_block, Extent, Timespec,
        FAST_SYMLINK_MAX, INODE_FLAG_INLINE_DATA, SYMLINK_MAX,
    },
    extents::Found,
    inode::iget,
    kext::{
        error::more::{enametoolong, enotempty},
        fs::{buffer::Buffer, inode::Inode, inode::Kind, vtable::NewChild, DirEmitter, RenameMode},
    },
    meta, Rsfs,
};
use kernel::{alloc::flags::GFP_KERNEL, prelude::*, types::ARef};

const BS: u64 = format::BLOCK_SIZE_U64;

/// Where an entry is: directory block index and offset in it.
#[derive(Clone, Copy)]
struct Slot {
    index: u64,
    offset: usize,
}

fn dir_nblocks(dir: &Inode<Rsfs>) -> u64 {
    dir.size() / BS
}

/// The disk block of file block `index` of a directory or symlink.
fn data_block(inode: &Inode<Rsfs>, index: u64) -> Result<u64> {
    match inode.data().lock().map.lookup(index) {
        Found::Mapped(e) if !e.unwritten => Ok(e.physical),
        _ => Err(errors::corrupt(inode.sb(), "directory (a block is not mapped)", Loc::Inode(inode.ino()), format::FormatError::BadExtent)),
    }
}

/// A block of directory `dir` failed its checks.
fn corrupt_dir(dir: &Inode<Rsfs>, err: format::FormatError) -> Error {
    errors::corrupt(dir.sb(), "directory block", Loc::Inode(dir.ino()), err)
}

/// Reads directory block `index` of `dir`, checking it fully the first time.
///
/// Every walk over a directory's blocks comes through here, and an image
/// decides how many there are: each block yields the CPU and stops for a
/// fatal signal, so no directory can hog a CPU or make a task unkillable.
fn read_dir_block(dir: &Inode<Rsfs>, index: u64) -> Result<Buffer> {
    crate::kext::task::yield_killable()?;
    let block = data_block(dir, index)?;
    let buf = meta::read(dir.sb(), block)?;
    let owner = dir.ino();
    if buf.verified() {
        if dir_block_owner(&*buf.data()) != owner {
            return Err(errors::corrupt(dir.sb(), "directory block owner", Loc::Block(block), format::FormatError::BadOwner));
        }
    } else {
        dir_block_verify(&*buf.data(), owner).map_err(|e| errors::corrupt(dir.sb(), "directory block", Loc::Block(block), e))?;
        buf.set_verified(true);
    }
    Ok(buf)
}

/// Looks `name` up in directory block `index`.
fn find_in_block(dir: &Inode<Rsfs>, index: u64, name: &[u8]) -> Result<Option<(u64, Slot)>> {
    let buf = read_dir_block(dir, index)?;
    // read_dir_block checked the whole block when it was first read.
    let data = buf.data();
    let found = dir_lookup_verified(&data, name).map_err(|e| corrupt_dir(dir, e))?;
    Ok(found.map(|e| (u64::from(e.ino), Slot { index, offset: e.offset })))
}

/// Finds `name` in `dir`: in the blocks its name index points at, or in
/// every block when there is no index.
fn find_entry(dir: &Inode<Rsfs>, name: &[u8]) -> Result<Option<(u64, Slot)>> {
    let n = dir_nblocks(dir);
    if n >= dir_index::MIN_BLOCKS {
        let candidates = index_candidates(dir, n, name_hash(name))?;
        if let Some(blocks) = candidates.blocks() {
            for &index in blocks {
                if let Some(found) = find_in_block(dir, u64::from(index), name)? {
                    return Ok(Some(found));
                }
            }
            return Ok(None);
        }
    }
    for index in 0..n {
        if let Some(found) = find_in_block(dir, index, name)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The blocks of `dir` (of `n` blocks) that may hold a name with `hash`,
/// building the directory's name index first if it has none.
fn index_candidates(dir: &Inode<Rsfs>, n: u64, hash: u32) -> Result<Candidates> {
    if let Some(index) = dir.data().lock().names.as_mut() {
        return Ok(index.candidates(hash));
    }
    // Built without the state lock (reading blocks takes it). Lookups may
    // race to build it under the shared i_rwsem; the first one keeps it.
    let Some(built) = build_index(dir, n)? else {
        return Ok(Candidates::Anywhere);
    };
    let mut st = dir.data().lock();
    Ok(st.names.get_or_insert(built).candidates(hash))
}

/// Reads all `n` blocks of `dir` into a new name index (`None` if there
/// is no memory for one).
fn build_index(dir: &Inode<Rsfs>, n: u64) -> Result<Option<NameIndex>> {
    let mut index = NameIndex::new();
    for block in 0..n {
        let buf = read_dir_block(dir, block)?;
        for e in dir_entries(&*buf.data()) {
            let e = e.map_err(|e| corrupt_dir(dir, e))?;
            if index.add(name_hash(e.name), block).is_err() {
                return Ok(None);
            }
        }
    }
    Ok(Some(index))
}

/// Keeps the name index in step with an entry added to (`added`) or
/// removed from directory block `block`; an index that cannot follow (no
/// memory, or it did not know the name) is dropped.
fn index_update(dir: &Inode<Rsfs>, name: &[u8], block: u64, added: bool) {
    let mut st = dir.data().lock();
    if let Some(index) = st.names.as_mut() {
        let hash = name_hash(name);
        let ok = if added { index.add(hash, block).is_ok() } else { index.remove(hash, block) };
        if !ok {
            st.names = None;
        }
    }
}

fn check_len(name: &[u8]) -> Result {
    if name.len() > format::MAX_NAME_LEN {
        return Err(enametoolong());
    }
    check_name(name).map_err(|_| EINVAL)
}

/// `lookup`.
pub(crate) fn lookup(dir: &Inode<Rsfs>, name: &[u8]) -> Result<Option<ARef<Inode<Rsfs>>>> {
    if name.len() > format::MAX_NAME_LEN {
        return Err(enametoolong());
    }
    match find_entry(dir, name)? {
        Some((ino, _)) => Ok(Some(iget(dir.sb(), ino)?)),
        None => Ok(None),
    }
}

/// Allocates one block for file block `index` of `inode` (a directory or
/// symlink), mapped and counted, and returns it zeroed.
fn add_block(inode: &Inode<Rsfs>, index: u64) -> Result<(u64, Buffer)> {
    let sb = inode.sb();
    let mut st = inode.data().lock();
    let goal = st.map.goal_for(index);
    st.map.reserve(sb, 1, goal)?;
    let (block, _) = alloc::alloc_blocks(sb, goal, 1)?;
    let extent = Extent { logical: index as u32, len: 1, unwritten: false, physical: block };
    if let Err(e) = st.map.insert(extent) {
        let _ = meta::free_blocks(sb, block, 1, true);
        return Err(e);
    }
    inode.set_fs_blocks(st.map.owned_blocks());
    drop(st);
    let buf = meta::new_block(sb, block)?;
    Ok((block, buf))
}

/// Adds `name` -> `ino` to `dir`, growing it by a block if all are full.
fn add_entry(dir: &Inode<Rsfs>, name: &[u8], ino: u64, dt: u8) -> Result {
    let ino32 = u32::try_from(ino).map_err(|_| EINVAL)?;
    let n = dir_nblocks(dir);
    let hint = dir.data().lock().dir_space_hint.min(n);
    for index in hint..n {
        let mut buf = read_dir_block(dir, index)?;
        if dir_find_space(&*buf.data(), name.len()).map_err(|e| corrupt_dir(dir, e))?.is_some() {
            dir.data().lock().dir_space_hint = index;
            meta::modify(dir.sb(), &mut buf, |b| -> Result {
                dir_insert(b, name, ino32, dt).map_err(|_| EINVAL)?;
                seal_block(b);
                Ok(())
            })??;
            index_update(dir, name, index, true);
            return Ok(());
        }
    }
    let (_, mut buf) = add_block(dir, n)?;
    meta::modify(dir.sb(), &mut buf, |b| -> Result {
        dir_block_init(b, dir.ino());
        dir_insert(b, name, ino32, dt).map_err(|_| EINVAL)?;
        seal_block(b);
        Ok(())
    })??;
    buf.set_verified(true);
    dir.set_size((n + 1) * BS);
    dir.data().lock().dir_space_hint = n;
    index_update(dir, name, n, true);
    Ok(())
}

fn remove_entry(dir: &Inode<Rsfs>, name: &[u8], slot: Slot) -> Result {
    let mut buf = read_dir_block(dir, slot.index)?;
    {
        let mut st = dir.data().lock();
        st.dir_space_hint = st.dir_space_hint.min(slot.index);
    }
    meta::modify(dir.sb(), &mut buf, |b| -> Result {
        dir_remove_at(b, slot.offset).map_err(|_| EINVAL)?;
        seal_block(b);
        Ok(())
    })??;
    index_update(dir, name, slot.index, false);
    Ok(())
}

fn replace_entry(dir: &Inode<Rsfs>, slot: Slot, name: &[u8], ino: u64, dt: u8) -> Result {
    let ino32 = u32::try_from(ino).map_err(|_| EINVAL)?;
    let mut buf = read_dir_block(dir, slot.index)?;
    meta::modify(dir.sb(), &mut buf, |b| -> Result {
        dir_replace(b, name, ino32, dt).map_err(|_| EINVAL)?;
        seal_block(b);
        Ok(())
    })?
}

fn is_empty(dir: &Inode<Rsfs>) -> Result<bool> {
    for index in 0..dir_nblocks(dir) {
        let buf = read_dir_block(dir, index)?;
        if dir_entries(&*buf.data()).next().is_some() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn dt_of(inode: &Inode<Rsfs>) -> u8 {
    mode_to_dt(inode.mode()).unwrap_or(format::DT_UNKNOWN)
}

fn is_dir(inode: &Inode<Rsfs>) -> bool {
    format::is_dir(inode.mode())
}

fn set_parent(inode: &Inode<Rsfs>, parent: u64) {
    inode.data().lock().dir_parent = parent;
}

fn changed(inode: &Inode<Rsfs>) {
    inode.touch_change();
    inode.mark_dirty();
}

fn ctime_changed(inode: &Inode<Rsfs>) {
    inode.touch_ctime();
    inode.mark_dirty();
}

fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { crate::kext::bindings::get_random_u32() }
}

/// `create`, `mkdir`, `mknod` and `symlink`. On failure the new inode is
/// dropped with no links, and its eviction frees what was allocated here.
pub(crate) fn create(dir: &Inode<Rsfs>, name: &[u8], child: &mut NewChild<'_, Rsfs>) -> Result {
    check_len(name)?;
    let sb = dir.sb();
    let kind = child.kind();
    if kind == Kind::Symlink {
        let len = child.symlink_target().len();
        if len == 0 || len > SYMLINK_MAX {
            return Err(enametoolong());
        }
    }
    let ino = alloc::alloc_inode(sb)?;
    // The bitmap said the number was free; the inode table and the inode
    // cache must agree, or the new file would take over a live inode. If
    // they do not, the bit stays set (the number is in use) and the
    // create fails as corruption.
    let in_use = || errors::corrupt(sb, "inode bitmap (bit clear for a live inode)", Loc::Inode(ino), format::FormatError::OutOfRange);
    if !crate::meta::inode_slot_is_free(sb, ino)? {
        return Err(in_use());
    }
    let nlink = if kind == Kind::Directory { 2 } else { 1 };
    if child.activate(ino, random_u32(), nlink).is_err() {
        // `insert_inode_locked` found the number in the inode cache.
        return Err(in_use());
    }
    let inode = child.inode();
    let (sec, nsec) = inode.time(crate::kext::fs::inode::Time::Change);
    {
        let mut st = inode.data().lock();
        st.crtime = Timespec { sec, nsec };
        if kind == Kind::Directory {
            st.dir_parent = dir.ino();
        }
        if let Kind::Special(rdev) = kind {
            st.inline[..4].copy_from_slice(&rdev.to_le_bytes());
        }
    }
    if kind == Kind::Symlink {
        let target = child.symlink_target();
        if target.len() <= FAST_SYMLINK_MAX {
            let mut st = inode.data().lock();
            st.flags |= INODE_FLAG_INLINE_DATA;
            st.inline[..target.len()].copy_from_slice(target);
        } else {
            let (_, mut buf) = add_block(inode, 0)?;
            meta::modify(sb, &mut buf, |b| b[..target.len()].copy_from_slice(target))?;
        }
        inode.set_size(target.len() as u64);
    }
    inode.mark_dirty();
    let dt = mode_to_dt(inode.mode()).ok_or(EINVAL)?;
    add_entry(dir, name, ino, dt)?;
    if kind == Kind::Directory {
        dir.inc_nlink();
    }
    changed(dir);
    Ok(())
}

/// `link`.
pub(crate) fn link(dir: &Inode<Rsfs>, name: &[u8], inode: &Inode<Rsfs>) -> Result {
    check_len(name)?;
    if inode.nlink() >= u32::MAX - 1 {
        return Err(EMLINK);
    }
    add_entry(dir, name, inode.ino(), dt_of(inode))?;
    inode.inc_nlink();
    ctime_changed(inode);
    changed(dir);
    Ok(())
}

fn slot_of(dir: &Inode<Rsfs>, name: &[u8], ino: u64) -> Result<Slot> {
    match find_entry(dir, name)? {
        Some((found, slot)) if found == ino => Ok(slot),
        _ => Err(ENOENT),
    }
}

/// `unlink`.
pub(crate) fn unlink(dir: &Inode<Rsfs>, name: &[u8], inode: &Inode<Rsfs>) -> Result {
    let slot = slot_of(dir, name, inode.ino())?;
    remove_entry(dir, name, slot)?;
    // A zero count was checked at read; `drop_nlink` refuses to go below.
    let _ = inode.drop_nlink();
    ctime_changed(inode);
    changed(dir);
    Ok(())
}

/// `rmdir`.
pub(crate) fn rmdir(dir: &Inode<Rsfs>, name: &[u8], inode: &Inode<Rsfs>) -> Result {
    if !is_empty(inode)? {
        return Err(enotempty());
    }
    let slot = slot_of(dir, name, inode.ino())?;
    remove_entry(dir, name, slot)?;
    inode.set_nlink(0);
    ctime_changed(inode);
    drop_subdir_link(dir);
    changed(dir);
    Ok(())
}

/// A subdirectory of `dir` went away (or moved out): one link fewer. A
/// directory keeps at least two ("." and its own entry) whatever its count
/// said: a corrupt count must not free a directory that is still linked.
fn drop_subdir_link(dir: &Inode<Rsfs>) {
    if dir.nlink() > 2 {
        let _ = dir.drop_nlink();
    } else {
        errors::inconsistent(dir.sb(), format_args!("directory {} had too few links for its subdirectories", dir.ino()));
    }
}

/// `rename` in its three forms.
pub(crate) fn rename(
    old_dir: &Inode<Rsfs>,
    old_name: &[u8],
    old_inode: &Inode<Rsfs>,
    new_dir: &Inode<Rsfs>,
    new_name: &[u8],
    new_inode: Option<&Inode<Rsfs>>,
    mode: RenameMode,
) -> Result {
    check_len(new_name)?;
    let same_dir = old_dir.ino() == new_dir.ino();
    let old_slot = slot_of(old_dir, old_name, old_inode.ino())?;
    if mode == RenameMode::Exchange {
        let target = new_inode.ok_or(ENOENT)?;
        let new_slot = slot_of(new_dir, new_name, target.ino())?;
        replace_entry(old_dir, old_slot, old_name, target.ino(), dt_of(target))?;
        replace_entry(new_dir, new_slot, new_name, old_inode.ino(), dt_of(old_inode))?;
        if !same_dir {
            if is_dir(old_inode) {
                set_parent(old_inode, new_dir.ino());
                new_dir.inc_nlink();
                drop_subdir_link(old_dir);
            }
            if is_dir(target) {
                set_parent(target, old_dir.ino());
                old_dir.inc_nlink();
                drop_subdir_link(new_dir);
            }
        }
        ctime_changed(old_inode);
        ctime_changed(target);
        changed(old_dir);
        changed(new_dir);
        return Ok(());
    }
    match new_inode {
        Some(target) => {
            if is_dir(target) && !is_empty(target)? {
                return Err(enotempty());
            }
            let new_slot = slot_of(new_dir, new_name, target.ino())?;
            replace_entry(new_dir, new_slot, new_name, old_inode.ino(), dt_of(old_inode))?;
            if is_dir(target) {
                target.set_nlink(0);
                drop_subdir_link(new_dir);
            } else {
                let _ = target.drop_nlink();
            }
            ctime_changed(target);
        }
        None => add_entry(new_dir, new_name, old_inode.ino(), dt_of(old_inode))?,
    }
    // The new name exists now; the old one goes. Look it up again: adding
    // to the same directory may have moved nothing, but be exact.
    let old_slot = if same_dir { slot_of(old_dir, old_name, old_inode.ino())? } else { old_slot };
    remove_entry(old_dir, old_name, old_slot)?;
    if is_dir(old_inode) && !same_dir {
        set_parent(old_inode, new_dir.ino());
        drop_subdir_link(old_dir);
        new_dir.inc_nlink();
    }
    ctime_changed(old_inode);
    changed(old_dir);
    if !same_dir {
        changed(new_dir);
    }
    Ok(())
}

/// `readdir`: positions 0 and 1 are "." and ".."; entries are at
/// `2 + block * 4096 + offset`.
pub(crate) fn readdir(dir: &Inode<Rsfs>, ctx: &mut DirEmitter<'_>) -> Result {
    if !ctx.emit_dots() {
        return Ok(());
    }
    let start = (ctx.pos() - 2) as u64;
    for index in start / BS..dir_nblocks(dir) {
        let buf = read_dir_block(dir, index)?;
        let base = 2 + (index * BS) as i64;
        for e in dir_entries(&*buf.data()) {
            let e = e.map_err(|err| corrupt_dir(dir, err))?;
            if ((index * BS) as usize + e.offset) < start as usize {
                continue;
            }
            ctx.set_pos(base + e.offset as i64);
            if !ctx.emit(e.name, u64::from(e.ino), e.file_type) {
                return Ok(());
            }
        }
        ctx.set_pos(base + BS as i64);
    }
    Ok(())
}

/// A symlink's target.
pub(crate) fn read_link(inode: &Inode<Rsfs>) -> Result<KVec<u8>> {
    let len = inode.size() as usize;
    if len == 0 || len > SYMLINK_MAX {
        return Err(crate::kext::error::more::euclean());
    }
    let mut out = KVec::with_capacity(len, GFP_KERNEL)?;
    let inline = {
        let st = inode.data().lock();
        if st.has_inline_data() {
            Some(st.inline)
        } else {
            None
        }
    };
    match inline {
        Some(inline) => out.extend_from_slice(inline.get(..len).ok_or(EINVAL)?, GFP_KERNEL)?,
        None => {
            let block = data_block(inode, 0)?;
            let buf = meta::read(inode.sb(), block)?;
            out.extend_from_slice(&buf.data()[..len], GFP_KERNEL)?;
        }
    }
    Ok(out)
}
