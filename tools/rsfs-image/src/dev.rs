// SPDX-License-Identifier: GPL-2.0

//! A regular file or block device accessed in filesystem blocks.

use crate::format::{Block, BLOCK_SIZE, BLOCK_SIZE_U64};
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `O_EXCL`, asm-generic value (x86, arm, riscv, loongarch; not mips,
/// sparc, alpha or parisc, which these tools do not target). On a block
/// device it makes `open` fail with `EBUSY` while the device (or a
/// partition of it) is mounted or otherwise claimed.
const O_EXCL: i32 = 0o200;

/// Blocks read from memory instead of the device (see
/// [`BlockDev::overlay_block`]).
#[derive(Default)]
struct Overlay(RefCell<HashMap<u64, Box<Block>>>);

impl fmt::Debug for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Overlay({} blocks)", self.0.borrow().len())
    }
}

/// An open image file or block device.
#[derive(Debug)]
pub struct BlockDev {
    file: File,
    path: PathBuf,
    bytes: u64,
    block_device: bool,
    writable: bool,
    overlay: Overlay,
}

impl BlockDev {
    /// Opens `path` read-only or read-write. Block devices opened read-write
    /// are opened exclusively (`O_EXCL`), which fails if they are mounted.
    pub fn open(path: &Path, writable: bool) -> Result<BlockDev> {
        let what = || format!("cannot open {}", path.display());
        let meta = std::fs::metadata(path).map_err(|e| Error::io(what(), e))?;
        let block_device = meta.file_type().is_block_device();
        if !block_device && !meta.file_type().is_file() {
            return Err(Error::msg(format!(
                "{}: not a regular file or block device",
                path.display()
            )));
        }
        let mut opts = OpenOptions::new();
        opts.read(true).write(writable);
        if block_device && writable {
            opts.custom_flags(O_EXCL);
        }
        let mut file = opts.open(path).map_err(|e| Error::io(what(), e))?;
        // Seeking to the end gives the size of block devices too.
        let bytes = file
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(format!("cannot get the size of {}", path.display()), e))?;
        Ok(BlockDev {
            file,
            path: path.to_path_buf(),
            bytes,
            block_device,
            writable,
            overlay: Overlay::default(),
        })
    }

    /// From now on, reads of block `block` return `data` instead of what
    /// the device holds: a view of the device with changes that are not
    /// written (fsck.rsfs -n checks a journalled filesystem as its replay
    /// would leave it). A write to the block updates the overlay too.
    pub fn overlay_block(&mut self, block: u64, data: Box<Block>) {
        self.overlay.0.get_mut().insert(block, data);
    }

    /// Blocks in the overlay.
    pub fn overlay_len(&self) -> usize {
        self.overlay.0.borrow().len()
    }

    /// Copies the overlay's blocks over `buf`, which holds the device's
    /// bytes from byte `offset`.
    fn apply_overlay(&self, offset: u64, buf: &mut [u8]) {
        let overlay = self.overlay.0.borrow();
        if overlay.is_empty() || buf.is_empty() {
            return;
        }
        let end = offset.saturating_add(buf.len() as u64);
        let (first, last) = (offset / BLOCK_SIZE_U64, (end - 1) / BLOCK_SIZE_U64);
        let patch = |block: u64, data: &Block, buf: &mut [u8]| {
            let start = block * BLOCK_SIZE_U64;
            let (lo, hi) = (start.max(offset), (start + BLOCK_SIZE_U64).min(end));
            if lo < hi {
                let dst = &mut buf[(lo - offset) as usize..(hi - offset) as usize];
                dst.copy_from_slice(&data[(lo - start) as usize..(hi - start) as usize]);
            }
        };
        if last - first < overlay.len() as u64 {
            for b in first..=last {
                if let Some(data) = overlay.get(&b) {
                    patch(b, data, buf);
                }
            }
        } else {
            for (&b, data) in overlay.iter() {
                if (first..=last).contains(&b) {
                    patch(b, data, buf);
                }
            }
        }
    }

    /// The path it was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whole blocks on the device.
    pub fn blocks(&self) -> u64 {
        self.bytes / BLOCK_SIZE_U64
    }

    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether this is a block device (not a regular file).
    pub fn is_block_device(&self) -> bool {
        self.block_device
    }

    /// Whether it was opened read-write.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Extends or truncates a regular file to `bytes`.
    pub fn set_len(&mut self, bytes: u64) -> Result<()> {
        if self.block_device {
            return Err(Error::msg("cannot resize a block device"));
        }
        self.file
            .set_len(bytes)
            .map_err(|e| Error::io(format!("cannot resize {}", self.path.display()), e))?;
        self.bytes = bytes;
        Ok(())
    }

    fn check_range(&self, block: u64, count: u64) -> Result<u64> {
        match block.checked_add(count) {
            Some(end) if end <= self.blocks() => Ok(block * BLOCK_SIZE_U64),
            _ => Err(Error::msg(format!(
                "{}: block {block} (+{count}) is beyond the end of the device ({} blocks)",
                self.path.display(),
                self.blocks()
            ))),
        }
    }

    /// Reads block `block`.
    pub fn read_block(&self, block: u64, buf: &mut Block) -> Result<()> {
        self.read_blocks(block, buf)
    }

    /// Reads block `block` into a new buffer.
    pub fn read_block_new(&self, block: u64) -> Result<Box<Block>> {
        let mut buf = crate::zero_block();
        self.read_block(block, &mut buf)?;
        Ok(buf)
    }

    /// Reads `buf.len() / 4096` blocks starting at `block`.
    pub fn read_blocks(&self, block: u64, buf: &mut [u8]) -> Result<()> {
        let off = self.check_range(block, (buf.len() / BLOCK_SIZE) as u64)?;
        self.file.read_exact_at(buf, off).map_err(|e| {
            Error::io(
                format!("{}: read error at block {block}", self.path.display()),
                e,
            )
        })?;
        self.apply_overlay(off, buf);
        Ok(())
    }

    /// Writes block `block`.
    pub fn write_block(&self, block: u64, buf: &Block) -> Result<()> {
        self.write_blocks(block, buf)
    }

    /// Writes `buf.len() / 4096` blocks starting at `block`.
    pub fn write_blocks(&self, block: u64, buf: &[u8]) -> Result<()> {
        let off = self.check_range(block, (buf.len() / BLOCK_SIZE) as u64)?;
        self.file.write_all_at(buf, off).map_err(|e| {
            Error::io(
                format!("{}: write error at block {block}", self.path.display()),
                e,
            )
        })?;
        let mut overlay = self.overlay.0.borrow_mut();
        if !overlay.is_empty() {
            for (i, data) in buf.chunks_exact(BLOCK_SIZE).enumerate() {
                if let Some(o) = overlay.get_mut(&(block + i as u64)) {
                    o.copy_from_slice(data);
                }
            }
        }
        Ok(())
    }

    /// Writes zeros to `count` blocks starting at `block`.
    pub fn write_zeroes(&self, block: u64, count: u64) -> Result<()> {
        const CHUNK: u64 = 256; // 1 MiB
        self.check_range(block, count)?;
        let zeros = vec![0u8; (CHUNK as usize) * BLOCK_SIZE];
        let mut done = 0;
        while done < count {
            let n = (count - done).min(CHUNK);
            self.write_blocks(block + done, &zeros[..(n as usize) * BLOCK_SIZE])?;
            done += n;
        }
        Ok(())
    }

    /// Reads `buf.len()` bytes at byte offset `offset` (for probing
    /// signatures; fails beyond the end).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.file.read_exact_at(buf, offset).map_err(|e| {
            Error::io(
                format!("{}: read error at byte {offset}", self.path.display()),
                e,
            )
        })?;
        self.apply_overlay(offset, buf);
        Ok(())
    }

    /// Flushes written data to stable storage.
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| Error::io(format!("{}: fsync failed", self.path.display()), e))
    }
}
