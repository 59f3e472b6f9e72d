// SPDX-License-Identifier: GPL-2.0

//! Conversions between C error conventions and [`kernel::error::Error`].

use kernel::error::{code, Error, Result};

/// The largest errno an `ERR_PTR()` can carry (`MAX_ERRNO` in `include/linux/err.h`).
const MAX_ERRNO: usize = 4095;

/// Turns a pointer that may be `NULL` or an `ERR_PTR()` into a `Result`.
///
/// `NULL` becomes `ENOMEM`, which is what every C allocator that returns
/// `NULL` means by it.
pub fn from_err_or_null<T>(ptr: *mut T) -> Result<*mut T> {
    let addr = ptr as usize;
    if addr == 0 {
        Err(code::ENOMEM)
    } else if addr > usize::MAX - MAX_ERRNO {
        // `addr` is in the last page of the address space, so it is `-errno`
        // for some errno in 1..=4095, which fits in an `i32`.
        Err(Error::from_errno(addr as isize as i32))
    } else {
        Ok(ptr)
    }
}

/// Turns a C `int` return value (zero or `-errno`) into a `Result`.
pub fn from_ret(ret: core::ffi::c_int) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}

/// Errors the 6.12 `kernel::error::code` does not name.
pub mod more {
    use crate::kext::bindings;
    use kernel::error::Error;

    /// `EUCLEAN`: the filesystem is corrupt (the kernel's `EFSCORRUPTED`).
    pub fn euclean() -> Error {
        Error::from_errno(-(bindings::EUCLEAN as i32))
    }

    /// `ENAMETOOLONG`.
    pub fn enametoolong() -> Error {
        Error::from_errno(-(bindings::ENAMETOOLONG as i32))
    }

    /// `ENOTEMPTY`.
    pub fn enotempty() -> Error {
        Error::from_errno(-(bindings::ENOTEMPTY as i32))
    }
}
