// SPDX-License-Identifier: GPL-2.0

//! Every metadata read and write of rsfs goes through this module.
//!
//! Metadata lives in the block device's buffer cache ([`Buffer`]): the
//! superblock, both bitmaps, the inode table, directory blocks, extent
//! overflow blocks and long symlink targets. File data never does; it goes
//! through each file's page cache. Every change goes through [`modify`],
//! which records the buffer in the journal's running transaction
//! ([`crate::journal`]): the caller must be inside
//! [`crate::journal::transaction`]. Blocks are freed through
//! [`free_blocks`], which the journal applies when the transaction
//! commits.
//!
//! Who may touch which bytes (the buffer cache does not serialise them):
//!
//! | blocks                     | lock                                   |
//! |----------------------------|----------------------------------------|
//! | superblock, bitmaps        | `FsInfo::alloc`                        |
//! | inode table                | `FsInfo::itable`                       |
//! | directory, symlink blocks  | the owning directory's `i_rwsem`       |
//! | extent overflow blocks     | the owning inode's block-map lock      |

use crate::{
    errors::{self, Loc},
    format::{self, Block, Inode as DiskInode, Superblock},
    kext::fs::{buffer::Buffer, sb::RawSuperBlock, sb::SuperBlock},
    Rsfs,
};
use kernel::prelude::*;

/// Reads block 0 (at mount, before anything else exists).
pub(crate) fn read_super_block(sb: &RawSuperBlock) -> Result<Buffer> {
    Buffer::read(sb, format::SUPERBLOCK_BLOCK)
}

/// Puts `s` into block 0's buffer (dirty, for a write home outside the
/// journal: at mount and unmount, when the log is empty) and returns the
/// buffer, for the caller to `sync` if it must wait. Callers serialise
/// (`FsInfo::alloc`, or mount, before anyone else can see the filesystem).
pub(crate) fn write_super(sb: &RawSuperBlock, s: &Superblock) -> Result<Buffer> {
    let mut buf = Buffer::read(sb, format::SUPERBLOCK_BLOCK)?;
    buf.modify(|b| s.encode(b));
    Ok(buf)
}

/// Changes `buf` with `f` as part of the running transaction (on a
/// filesystem without a journal: dirties it for the flusher).
pub(crate) fn modify<R>(sb: &SuperBlock<Rsfs>, buf: &mut Buffer, f: impl FnOnce(&mut Block) -> R) -> Result<R> {
    let journal = &sb.info().journal;
    if !journal.enabled() {
        return Ok(buf.modify(f));
    }
    journal.add(sb, buf)?;
    Ok(buf.update(f))
}

/// Frees blocks `start .. start + len` when the running transaction
/// commits. `metadata`: they held metadata (directory, symlink or overflow
/// blocks): their cached copies are dropped, and the journal writes revoke
/// records so that replay never puts old metadata where new data may be.
pub(crate) fn free_blocks(sb: &SuperBlock<Rsfs>, start: u64, len: u64, metadata: bool) -> Result {
    if metadata {
        forget(sb, start, len);
    }
    sb.info().journal.defer_free(sb, start, len, metadata)
}

/// Reads a metadata block for reading and changing.
pub(crate) fn read(sb: &SuperBlock<Rsfs>, block: u64) -> Result<Buffer> {
    check_data_block(sb, block)?;
    read_fixed(sb, block)
}

/// Reads a block of a fixed metadata region (bitmaps, inode table).
///
/// Every metadata read first looks for metadata writes that failed since
/// the mount (the flusher's too): the first to find one fails with `EIO`
/// and the filesystem goes read-only ([`errors`]).
pub(crate) fn read_fixed(sb: &SuperBlock<Rsfs>, block: u64) -> Result<Buffer> {
    errors::check_device_writes(sb)?;
    Buffer::read(sb.raw(), block).map_err(|e| errors::read_failed(sb, Loc::Block(block), e))
}

/// A just-allocated metadata block, zeroed, not read from disk.
pub(crate) fn new_block(sb: &SuperBlock<Rsfs>, block: u64) -> Result<Buffer> {
    check_data_block(sb, block)?;
    errors::check_device_writes(sb)?;
    Buffer::new_zeroed(sb.raw(), block)
}

/// Logs `s` into block 0 in the running transaction (the commit does, for
/// the free counts). The caller holds `FsInfo::alloc`.
pub(crate) fn log_super(sb: &SuperBlock<Rsfs>, s: &Superblock) -> Result {
    let mut buf = Buffer::read(sb.raw(), format::SUPERBLOCK_BLOCK)?;
    modify(sb, &mut buf, |b| s.encode(b))
}

/// Writes every dirty metadata buffer and waits; a failure makes the
/// filesystem read-only ([`errors::write_failed`]).
pub(crate) fn sync_all(sb: &SuperBlock<Rsfs>) -> Result {
    sb.raw().sync_device().map_err(|e| errors::write_failed(sb, "syncing metadata", e))?;
    errors::check_device_writes(sb)
}

/// Forgets cached copies of freed metadata blocks so that no stale dirty
/// buffer overwrites their next owner.
fn forget(sb: &SuperBlock<Rsfs>, start: u64, len: u64) {
    for b in start..start.saturating_add(len) {
        Buffer::forget(sb.raw(), b);
    }
}

/// Refuses block numbers outside the data region (a corrupt pointer must
/// never make us write over the superblock or the bitmaps).
fn check_data_block(sb: &SuperBlock<Rsfs>, block: u64) -> Result {
    if sb.info().geometry.is_data_range(block, 1) {
        Ok(())
    } else {
        Err(errors::corrupt(sb, "block pointer", Loc::Block(block), format::FormatError::OutOfRange))
    }
}

/// Reads inode `ino` from the inode table.
pub(crate) fn read_inode(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<DiskInode> {
    with_inode_slot(sb, ino, |slot| {
        DiskInode::decode(ino, slot).map_err(|e| errors::corrupt(sb, "inode", Loc::Inode(ino), e))
    })?
}

/// Calls `f` with inode `ino`'s bytes in the inode table.
fn with_inode_slot<R>(sb: &SuperBlock<Rsfs>, ino: u64, f: impl FnOnce(&[u8; format::INODE_SIZE]) -> R) -> Result<R> {
    let info = sb.info();
    let (block, offset) = info.geometry.inode_location(ino).map_err(|_| EINVAL)?;
    let _guard = info.itable.lock();
    let buf = read_fixed(sb, block)?;
    let data = buf.data();
    Ok(f(inode_slot(&data, offset)?))
}

/// Writes inode `ino` into the inode table; `sync` (no journal only): and
/// waits for it.
pub(crate) fn write_inode(sb: &SuperBlock<Rsfs>, ino: u64, inode: &DiskInode, sync: bool) -> Result {
    let info = sb.info();
    let (block, offset) = info.geometry.inode_location(ino).map_err(|_| EINVAL)?;
    let buf = {
        let _guard = info.itable.lock();
        let mut buf = read_fixed(sb, block)?;
        modify(sb, &mut buf, |b| -> Result {
            let slot = b.get_mut(offset..offset + format::INODE_SIZE).ok_or(EINVAL)?;
            let slot: &mut [u8; format::INODE_SIZE] = slot.try_into().map_err(|_| EINVAL)?;
            inode.encode(ino, slot);
            Ok(())
        })??;
        buf
    };
    if sync && !info.journal.enabled() {
        buf.sync().map_err(|e| errors::write_failed(sb, "writing an inode", e))?;
    }
    Ok(())
}

/// Whether inode `ino`'s slot in the inode table is free (mode 0),
/// whatever else it holds: the inode bitmap is not trusted to say so.
pub(crate) fn inode_slot_is_free(sb: &SuperBlock<Rsfs>, ino: u64) -> Result<bool> {
    with_inode_slot(sb, ino, |slot| slot[format::ino_off::MODE] == 0 && slot[format::ino_off::MODE + 1] == 0)
}

fn inode_slot(block: &Block, offset: usize) -> Result<&[u8; format::INODE_SIZE]> {
    block
        .get(offset..offset + format::INODE_SIZE)
        .and_then(|s| s.try_into().ok())
        .ok_or(EINVAL)
}
