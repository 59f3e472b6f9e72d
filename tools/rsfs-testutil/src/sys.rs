// SPDX-License-Identifier: GPL-2.0

//! The system calls the standard library does not wrap, through the C
//! library the binary links anyway (glibc >= 2.28 for `renameat2`), and
//! page-aligned buffers for `O_DIRECT`. Constants are Linux's, x86-64 first.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CString};
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

extern "C" {
    fn renameat2(
        olddirfd: c_int,
        oldpath: *const c_char,
        newdirfd: c_int,
        newpath: *const c_char,
        flags: c_uint,
    ) -> c_int;
    fn mount(
        source: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
    fn lseek64(fd: c_int, offset: i64, whence: c_int) -> i64;
    fn mmap64(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: i64) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn msync(addr: *mut c_void, len: usize, flags: c_int) -> c_int;
}

const AT_FDCWD: c_int = -100;
/// `renameat2` flag: fail with `EEXIST` if the target exists.
pub const RENAME_NOREPLACE: u32 = 1;
/// `renameat2` flag: swap the two names atomically (both must exist).
pub const RENAME_EXCHANGE: u32 = 2;
/// `mount` flag: read-only.
pub const MS_RDONLY: u64 = 1;
const SEEK_DATA: c_int = 3;
const SEEK_HOLE: c_int = 4;
const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const MAP_SHARED: c_int = 1;
const MS_SYNC: c_int = 4;
const ENXIO: i32 = 6;

/// `O_DIRECT` for `OpenOptionsExt::custom_flags`.
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
pub const O_DIRECT: i32 = 0o200000;
/// `O_DIRECT` for `OpenOptionsExt::custom_flags`.
#[cfg(not(any(target_arch = "aarch64", target_arch = "arm")))]
pub const O_DIRECT: i32 = 0o40000;
/// `O_SYNC` (the same value on x86 and arm64).
pub const O_SYNC: i32 = 0o4010000;

/// Page size assumed for alignment (4 KiB on every target we run).
pub const PAGE: usize = 4096;

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(22))
}

fn check(rc: c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `renameat2(AT_FDCWD, old, AT_FDCWD, new, flags)`.
pub fn rename2(old: &Path, new: &Path, flags: u32) -> io::Result<()> {
    let (o, n) = (cstr(old)?, cstr(new)?);
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    check(unsafe { renameat2(AT_FDCWD, o.as_ptr(), AT_FDCWD, n.as_ptr(), flags) })
}

/// `mount(source, target, fstype, flags, options)`.
pub fn mount_fs(source: &Path, target: &Path, fstype: &str, flags: u64, options: &str) -> io::Result<()> {
    let (s, t) = (cstr(source)?, cstr(target)?);
    let f = CString::new(fstype).map_err(|_| io::Error::from_raw_os_error(22))?;
    let o = CString::new(options).map_err(|_| io::Error::from_raw_os_error(22))?;
    // SAFETY: all strings are valid, NUL-terminated and outlive the call;
    // the options are a string, as every filesystem's mount data is here.
    check(unsafe { mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags as c_ulong, o.as_ptr().cast()) })
}

/// Whether to look for data or for a hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// `SEEK_DATA`
    Data,
    /// `SEEK_HOLE`
    Hole,
}

/// `lseek(fd, offset, SEEK_DATA or SEEK_HOLE)`; `None` for `ENXIO` (no
/// data, or no hole, at or after `offset` before the end of the file).
pub fn seek(file: &impl AsRawFd, offset: u64, whence: Seek) -> io::Result<Option<u64>> {
    let w = match whence {
        Seek::Data => SEEK_DATA,
        Seek::Hole => SEEK_HOLE,
    };
    let off = i64::try_from(offset).map_err(|_| io::Error::from_raw_os_error(22))?;
    // SAFETY: lseek on a file descriptor we hold open has no memory effects.
    let r = unsafe { lseek64(file.as_raw_fd(), off, w) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(ENXIO) {
        Ok(None)
    } else {
        Err(e)
    }
}

/// A shared, writable (or read-only) mapping of part of a file.
pub struct Mapping {
    addr: *mut c_void,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes of `file` from `offset` (a multiple of [`PAGE`]).
    pub fn new(file: &impl AsRawFd, offset: u64, len: usize, writable: bool) -> io::Result<Mapping> {
        if len == 0 || !offset.is_multiple_of(PAGE as u64) {
            return Err(io::Error::from_raw_os_error(22));
        }
        let prot = if writable { PROT_READ | PROT_WRITE } else { PROT_READ };
        let off = i64::try_from(offset).map_err(|_| io::Error::from_raw_os_error(22))?;
        // SAFETY: a new mapping chosen by the kernel (addr NULL) aliases no
        // Rust object; the fd is open for the duration of the call.
        let addr = unsafe { mmap64(std::ptr::null_mut(), len, prot, MAP_SHARED, file.as_raw_fd(), off) };
        if addr as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { addr, len })
    }

    /// `msync(MS_SYNC)` over the whole mapping.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: addr/len are exactly the mapping we own.
        check(unsafe { msync(self.addr, self.len, MS_SYNC) })
    }
}

impl Deref for Mapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for our lifetime. Another
        // process may change the file under it; we only read bytes.
        unsafe { std::slice::from_raw_parts(self.addr.cast(), self.len) }
    }
}

impl DerefMut for Mapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; writes to a read-only mapping fault (SIGSEGV),
        // they are not undefined behaviour in Rust's sense for our use.
        unsafe { std::slice::from_raw_parts_mut(self.addr.cast(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping what we mapped; no reference to it outlives self.
        unsafe { munmap(self.addr, self.len) };
    }
}

/// A zeroed, page-aligned heap buffer, as `O_DIRECT` needs.
pub struct AlignedBuf {
    ptr: *mut u8,
    layout: Layout,
}

impl AlignedBuf {
    /// A buffer of `len` (> 0) bytes aligned to [`PAGE`].
    pub fn new(len: usize) -> AlignedBuf {
        let layout = Layout::from_size_align(len.max(1), PAGE).expect("buffer size overflows");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        AlignedBuf { ptr, layout }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr points to layout.size() initialised (zeroed) bytes we own.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in new().
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsfs_image::TempFile;
    use std::fs::{self, OpenOptions};
    use std::os::unix::fs::FileExt;

    #[test]
    fn aligned_buffers_are_aligned_and_zeroed() {
        for len in [1, 512, 4096, 65536 + 100] {
            let b = AlignedBuf::new(len);
            assert_eq!(b.as_ptr() as usize % PAGE, 0);
            assert!(b.len() >= len);
            assert!(b.iter().all(|x| *x == 0));
        }
    }

    #[test]
    fn rename2_noreplace_and_exchange() {
        let a = TempFile::new("ren-a");
        let b = TempFile::new("ren-b");
        fs::write(&a.0, b"A").unwrap();
        fs::write(&b.0, b"B").unwrap();
        let e = rename2(&a.0, &b.0, RENAME_NOREPLACE).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(17));
        rename2(&a.0, &b.0, RENAME_EXCHANGE).unwrap();
        assert_eq!(fs::read(&a.0).unwrap(), b"B");
        assert_eq!(fs::read(&b.0).unwrap(), b"A");
        fs::remove_file(&b.0).unwrap();
        let e = rename2(&a.0, &b.0, RENAME_EXCHANGE).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(2));
        rename2(&a.0, &b.0, RENAME_NOREPLACE).unwrap();
        assert_eq!(fs::read(&b.0).unwrap(), b"B");
    }

    #[test]
    fn mapping_writes_reach_the_file() {
        let t = TempFile::with_size("mmap", 3 * PAGE, 0).unwrap();
        let f = OpenOptions::new().read(true).write(true).open(&t.0).unwrap();
        {
            let mut m = Mapping::new(&f, PAGE as u64, PAGE, true).unwrap();
            m[10] = 0xab;
            m.sync().unwrap();
        }
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, PAGE as u64 + 10).unwrap();
        assert_eq!(b[0], 0xab);
        assert!(Mapping::new(&f, 100, PAGE, false).is_err());
    }

    #[test]
    fn seek_data_and_hole_at_the_end() {
        // Every filesystem must at least report the virtual hole at EOF and
        // ENXIO for data at EOF.
        let t = TempFile::with_size("seek", 2 * PAGE, 1).unwrap();
        let f = fs::File::open(&t.0).unwrap();
        assert_eq!(seek(&f, 0, Seek::Data).unwrap(), Some(0));
        assert_eq!(seek(&f, 0, Seek::Hole).unwrap().map(|h| h <= 2 * PAGE as u64), Some(true));
        assert_eq!(seek(&f, 2 * PAGE as u64, Seek::Data).unwrap(), None);
    }
}
