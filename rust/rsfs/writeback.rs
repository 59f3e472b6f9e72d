// SPDX-License-Identifier: GPL-2.0

//! `writepages`: how dirty file data leaves the page cache.
//!
//! In the default `writeback=folio` mode this is a loop over the kernel's
//! `writeback_iter()`, which hands us each dirty folio locked and cleared
//! for I/O, and [`FolioWriter::write_folio`], which writes one folio:
//!
//! 1. end of file: skip a folio wholly past `i_size` (a truncate is
//!    running), zero the part of a straddling folio past it;
//! 2. `folio_start_writeback()`;
//! 3. map its block ([`file::map_for_writeback`]), reusing the previous
//!    mapping while it covers the folio and no blocks have left the file
//!    since;
//! 4. add it to the current bio if it continues it on disk and in the
//!    file, into blocks in the same state (written or unwritten);
//!    otherwise submit that bio and start a new one.
//!
//! Each bio's completion ends writeback of its folios and records errors
//! on the file (`mapping_set_error`), in `kext::fs::writeback`. A bio into
//! unwritten blocks ends later, in `kext::fs::write_end`: once its data is
//! durable, [`file::convert_unwritten`] makes the blocks written, and only
//! then does the folios' writeback end. A failed write leaves them
//! unwritten: the file reads zeros there, never the blocks' old contents.
//!
//! `writeback=iomap` calls the kernel's `iomap_writepages()` instead, with
//! the same mapper as `map_blocks`: a comparator for ours.

use crate::{
    file,
    kext::fs::{
        inode::Inode,
        iomap::{self, IoMapping, MapKind},
        writeback::{Blocks, LockedFolio, Mapping, WriteBio, WritebackControl, WritebackIter},
    },
    Rsfs, WritebackMode,
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// `writepages` of regular files.
pub(crate) fn writepages(mapping: &Mapping<'_, Rsfs>, wbc: &mut WritebackControl) -> Result {
    // Shut down: nothing more is written (the folios stay dirty until the
    // unmount drops them), as ext4 does.
    if mapping.host().sb().info().journal.is_shut_down() {
        return Err(EIO);
    }
    match mapping.host().sb().info().writeback {
        WritebackMode::Iomap => iomap::writepages(mapping, wbc),
        WritebackMode::Folio => {
            let mut writer = FolioWriter::new(mapping.host());
            let mut iter = WritebackIter::new(mapping, wbc);
            let mut status = Ok(());
            // Every folio goes back through `next`, errors or not:
            // `writeback_iter()` decides whether the walk goes on.
            while let Some(folio) = iter.next(status) {
                status = writer.write_folio(folio, iter.wbc());
            }
            writer.submit();
            iter.status()
        }
    }
}

/// Writes folios one at a time, merging disk-contiguous ones into bios.
struct FolioWriter<'a> {
    inode: &'a Inode<Rsfs>,
    /// The bio being filled.
    bio: Option<WriteBio>,
    /// The last mapping, and the block map generation it was made in.
    cached: Option<(IoMapping, u64)>,
}

impl<'a> FolioWriter<'a> {
    fn new(inode: &'a Inode<Rsfs>) -> Self {
        Self { inode, bio: None, cached: None }
    }

    /// The device byte address for file bytes `pos .. pos + len`, and the
    /// state of the blocks there. (A cached mapping may say unwritten after
    /// a completion converted the blocks: converting again is a no-op.)
    fn map(&mut self, pos: u64, len: u64) -> Result<(u64, Blocks)> {
        let seq = self.inode.data().map_seq.load(Ordering::Acquire);
        let cached = match self.cached {
            Some((m, at)) if at == seq && pos >= m.offset && pos + len <= m.offset + m.length => m,
            _ => {
                let m = file::map_for_writeback(self.inode, pos, len)?;
                self.cached = Some((m, seq));
                m
            }
        };
        let blocks = match cached.kind {
            MapKind::Unwritten(_) => Blocks::Unwritten,
            _ => Blocks::Written,
        };
        Ok((cached.disk_addr(pos).ok_or(EIO)?, blocks))
    }

    /// The single-folio writer.
    fn write_folio(&mut self, mut folio: LockedFolio<'_, Rsfs>, wbc: &mut WritebackControl) -> Result {
        let size = self.inode.size();
        let pos = folio.pos();
        if pos >= size {
            folio.skip();
            return Ok(());
        }
        if pos + folio.size() > size {
            folio.zero_tail(size - pos);
        }
        let folio = folio.start_writeback();
        let len = folio.size();
        let (disk, blocks) = match self.map(pos, len) {
            Ok(m) => m,
            Err(e) => {
                folio.fail(e);
                return Err(e);
            }
        };
        let folio = match self.bio.as_mut() {
            Some(bio) => match bio.try_add(disk, blocks, folio) {
                Ok(()) => return Ok(()),
                Err(folio) => folio,
            },
            None => folio,
        };
        self.submit();
        self.bio = Some(WriteBio::start(self.inode.sb().raw(), disk, blocks, folio, WriteBio::MAX_FOLIOS, wbc)?);
        Ok(())
    }

    /// Sends the bio being filled, if any.
    fn submit(&mut self) {
        if let Some(bio) = self.bio.take() {
            bio.submit();
        }
    }
}
