// SPDX-License-Identifier: GPL-2.0

//! An in-memory index of a directory's names.
//!
//! On disk a directory is a plain sequence of blocks (`format::dir`), so
//! finding a name, or proving it absent before a create, reads every block
//! of the directory. The index maps the hash of each name to the blocks that
//! hold a name with that hash, so a lookup reads only those blocks: usually
//! one, and none for a name that is not there. With 10,000 entries that is
//! the difference between a create costing one block and forty.
//!
//! The index is a cache, never the truth:
//! - it lives in the directory's `InodeState`, under its lock, and goes
//!   away with the inode;
//! - `dir::find_entry` builds it by reading the directory once, the first
//!   time it looks a name up in a directory of [`MIN_BLOCKS`] or more;
//! - every change to the directory's entries (`add_entry`, `remove_entry`;
//!   all under the directory's exclusive `i_rwsem`, so never concurrent with
//!   a build, which runs under at least the shared one) updates it;
//! - if memory for an update cannot be had, the index is dropped, and
//!   lookups scan every block until it is built again.

use kernel::{alloc::flags::GFP_KERNEL, prelude::*, rbtree::RBTree};

/// Directories smaller than this are scanned, not indexed: reading one
/// block costs less than keeping an index.
pub(crate) const MIN_BLOCKS: u64 = 2;

/// How many blocks a lookup is willing to get back from the index. More
/// than this many blocks holding names with the same 32-bit hash means
/// something pathological; the lookup then scans the whole directory.
const MAX_CANDIDATES: usize = 4;

/// The hash of a name (32-bit FNV-1a: short, and good enough to keep
/// unrelated names apart; collisions only cost reading another block).
pub(crate) fn name_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The tree key of (name hash, directory block): sorted by hash first, so
/// that all the blocks of one hash are neighbours.
fn key(hash: u32, block: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(block)
}

/// Where a name may be, according to the index.
pub(crate) enum Candidates {
    /// In one of these directory blocks, or nowhere.
    Blocks([u32; MAX_CANDIDATES], usize),
    /// Anywhere: scan every block.
    Anywhere,
}

impl Candidates {
    /// The directory blocks to look in (`None`: all of them).
    pub(crate) fn blocks(&self) -> Option<&[u32]> {
        match self {
            Candidates::Blocks(list, n) => list.get(..*n),
            Candidates::Anywhere => None,
        }
    }
}

/// The index of one directory: (name hash, block) -> how many names with
/// that hash the block holds.
pub(crate) struct NameIndex {
    tree: RBTree<u64, u32>,
}

impl NameIndex {
    /// An empty index (of an empty directory, until names are added).
    pub(crate) fn new() -> Self {
        NameIndex { tree: RBTree::new() }
    }

    /// Records a name with hash `hash` in directory block `block`.
    pub(crate) fn add(&mut self, hash: u32, block: u64) -> Result {
        let block = u32::try_from(block).map_err(|_| EFBIG)?;
        let k = key(hash, block);
        if let Some(count) = self.tree.get_mut(&k) {
            *count = count.saturating_add(1);
            return Ok(());
        }
        // Under the directory's state lock: NOFS (see `inode::StateGuard`).
        crate::kext::mm::nofs(|| self.tree.try_create_and_insert(k, 1, GFP_KERNEL))?;
        Ok(())
    }

    /// Forgets a name with hash `hash` in directory block `block`. Returns
    /// false if the index did not have it (it is then wrong: drop it).
    pub(crate) fn remove(&mut self, hash: u32, block: u64) -> bool {
        let Ok(block) = u32::try_from(block) else {
            return false;
        };
        let k = key(hash, block);
        match self.tree.get_mut(&k) {
            Some(count) if *count > 1 => {
                *count -= 1;
                true
            }
            Some(_) => self.tree.remove(&k).is_some(),
            None => false,
        }
    }

    /// The blocks that may hold a name with hash `hash`.
    pub(crate) fn candidates(&mut self, hash: u32) -> Candidates {
        let mut list = [0u32; MAX_CANDIDATES];
        let mut n = 0;
        let mut cursor = self.tree.cursor_lower_bound(&key(hash, 0));
        while let Some(c) = cursor {
            let (&k, _) = c.current();
            if (k >> 32) as u32 != hash {
                break;
            }
            let Some(slot) = list.get_mut(n) else {
                return Candidates::Anywhere;
            };
            *slot = k as u32;
            n += 1;
            cursor = c.move_next();
        }
        Candidates::Blocks(list, n)
    }
}
