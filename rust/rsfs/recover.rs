// SPDX-License-Identifier: GPL-2.0

//! Mounting a filesystem that was not cleanly unmounted.
//!
//! The journal's replay ([`crate::journal::recover`]) made the metadata
//! consistent; what remains are *orphans*: inodes unlinked while open,
//! whose last user went with the crash. They keep their blocks with no
//! name left: [`free_orphans`] frees them at the first read-write mount.

use crate::{
    alloc,
    extents::BlockMap,
    format::{bitmap_get, Inode as DiskInode, BITS_PER_BLOCK, REVOKES_PER_BLOCK},
    journal,
    kext::{fs::sb::SuperBlock, task::yield_killable},
    meta, Rsfs,
};
use kernel::prelude::*;

/// Frees every orphan: an allocated inode with no links (see the module
/// documentation), each in its own transaction. Runs at a read-write
/// mount after an unclean shutdown, before anyone else sees the
/// filesystem (so no orphan is open). An inode that cannot be read is left
/// to `iget` and fsck to report.
pub(crate) fn free_orphans(sb: &SuperBlock<Rsfs>) -> Result {
    let g = sb.info().geometry;
    let mut freed = 0u64;
    for index in 0..g.inode_bitmap_blocks {
        let used: KVec<u64> = {
            let buf = meta::read_fixed(sb, g.inode_bitmap_start + index)?;
            let data = buf.data();
            let mut used = KVec::new();
            let base = index * BITS_PER_BLOCK;
            for bit in 0..BITS_PER_BLOCK.min(g.inode_count.saturating_sub(base)) {
                if bitmap_get(&*data, bit) == Ok(true) && base + bit > crate::format::ROOT_INO {
                    used.push(base + bit, GFP_KERNEL)?;
                }
            }
            used
        };
        for ino in used {
            yield_killable()?;
            let Ok(d) = meta::read_inode(sb, ino) else { continue };
            if d.is_free() || d.nlink != 0 {
                continue;
            }
            free_orphan(sb, ino, &d)?;
            freed += 1;
        }
    }
    if freed > 0 {
        pr_info!("{}: freed {} orphan inode(s)\n", sb.raw().id().to_str().unwrap_or("?"), freed);
        sb.info().journal.commit(sb)?;
    }
    Ok(())
}

fn free_orphan(sb: &SuperBlock<Rsfs>, ino: u64, d: &DiskInode) -> Result {
    let mut map = match BlockMap::load(sb, ino, d) {
        Ok(map) => map,
        // Left for fsck: freeing blocks on a guess could free another
        // file's.
        Err(e) if e == EIO || e == ENOMEM || e == EINTR => return Err(e),
        Err(_) => return Ok(()),
    };
    let metadata = crate::inode::blocks_are_metadata(d.mode);
    let revokes = map.owned_blocks().div_ceil(REVOKES_PER_BLOCK as u64);
    journal::transaction(sb, journal::credits::SMALL + revokes, || {
        let mut first_err = Ok(());
        map.truncate(0, |start, len| {
            if let Err(e) = meta::free_blocks(sb, start, len, metadata) {
                if first_err.is_ok() {
                    first_err = Err(e);
                }
            }
        });
        first_err?;
        map.free_chain(sb);
        meta::write_inode(sb, ino, &DiskInode::new(0), false)?;
        alloc::free_inode(sb, ino)
    })
}
