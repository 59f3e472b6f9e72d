// SPDX-License-Identifier: GPL-2.0

//! The system calls `rsfs-fuzz` needs beyond the standard library and
//! `rsfs_testutil::sys` (mount, lseek): umount2, syncfs, and the
//! `BLKFLSBUF` ioctl, through the C library the binary links anyway.

use std::ffi::{c_char, c_int, c_ulong, CString};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

extern "C" {
    fn umount2(target: *const c_char, flags: c_int) -> c_int;
    fn syncfs(fd: c_int) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
}

/// `BLKFLSBUF`, `_IO(0x12, 97)`: write back and drop a block device's
/// cached blocks.
const BLKFLSBUF: c_ulong = 0x1261;

fn check(rc: c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `umount2(target, 0)`.
pub fn umount(target: &Path) -> io::Result<()> {
    let t = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(22))?;
    // SAFETY: a valid NUL-terminated string that outlives the call.
    check(unsafe { umount2(t.as_ptr(), 0) })
}

/// `syncfs(fd)`: everything of the filesystem `file` is on.
pub fn sync_fs(file: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: syncfs on a descriptor we hold open has no memory effects.
    check(unsafe { syncfs(file.as_raw_fd()) })
}

/// `ioctl(fd, BLKFLSBUF)`: the block device's cache is written and
/// dropped, so a later mount reads what was written from the device and
/// nothing the filesystem cached (or marked checked) about the old
/// contents survives.
pub fn flush_block_device(file: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: BLKFLSBUF takes no argument and has no memory effects here.
    check(unsafe { ioctl(file.as_raw_fd(), BLKFLSBUF) })
}
