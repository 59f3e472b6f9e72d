// SPDX-License-Identifier: GPL-2.0

//! Userspace access to rsfs images and devices, for `mkfs.rsfs`,
//! `fsck.rsfs` and the tests.
//!
//! - [`dev`]: a file or block device read and written in 4 KiB blocks.
//! - [`image`]: a mounted-like view of a valid filesystem: inodes, extents,
//!   directories and bitmaps through the shared format types, plus builders
//!   (directories, files with a chosen fragmentation, symlinks, hard links,
//!   device nodes) used to make populated test images.
//! - [`journal`]: the journal superblock, replaying the log (onto the
//!   device, or into an overlay of it for a read-only check), writing an
//!   empty journal, and building transactions (tests, crafted images).
//! - [`mkfs`]: laying out and writing a new filesystem, and the safety checks
//!   before doing so (mounted? existing filesystem?).
//! - [`temp`]: scratch image files for tests.
//!
//! All on-disk structures come from the `rsfs-format` crate, which compiles
//! the kernel module's `rust/rsfs/format` sources.

pub mod dev;
pub mod image;
pub mod journal;
pub mod mkfs;
pub mod temp;

pub use dev::BlockDev;
pub use image::{FileLayout, Image, ZeroBlocks};
pub use rsfs_format as format;
pub use temp::TempFile;

use std::fmt;
use std::io;

/// A zeroed block on the heap.
pub fn zero_block() -> Box<format::Block> {
    Box::new([0u8; format::BLOCK_SIZE])
}

/// Errors of this crate.
#[derive(Debug)]
pub enum Error {
    /// An I/O error, with what was being done.
    Io(String, io::Error),
    /// On-disk data rejected by the format code, with where.
    Format(String, format::FormatError),
    /// Anything else (a refused request, a full filesystem, ...).
    Msg(String),
}

impl Error {
    /// Wraps an I/O error with context.
    pub fn io(what: impl Into<String>, err: io::Error) -> Error {
        Error::Io(what.into(), err)
    }

    /// Wraps a format error with context.
    pub fn format(what: impl Into<String>, err: format::FormatError) -> Error {
        Error::Format(what.into(), err)
    }

    /// A plain message.
    pub fn msg(what: impl Into<String>) -> Error {
        Error::Msg(what.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(what, e) => write!(f, "{what}: {e}"),
            Error::Format(what, e) => write!(f, "{what}: {}", e.as_str()),
            Error::Msg(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Seconds since the epoch, now (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The current time as an inode timestamp.
pub fn now_timespec() -> format::Timespec {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format::Timespec {
        sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nsec: d.subsec_nanos(),
    }
}

/// A file type in words ("regular file", "directory", ...): one spelling
/// for what fsck.rsfs reports and what rsfs-fuzz describes.
pub fn file_kind_name(k: format::FileKind) -> &'static str {
    use format::FileKind;
    match k {
        FileKind::Fifo => "fifo",
        FileKind::CharDev => "character device",
        FileKind::Dir => "directory",
        FileKind::BlockDev => "block device",
        FileKind::Regular => "regular file",
        FileKind::Symlink => "symlink",
        FileKind::Socket => "socket",
    }
}

/// Formats a UUID the usual way (`8-4-4-4-12` hex digits).
pub fn format_uuid(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}
