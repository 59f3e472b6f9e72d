// SPDX-License-Identifier: GPL-2.0

//! errno values by name (Linux, asm-generic numbering as on x86 and arm64).
//!
//! Failures are printed as `NAME: text (os error N)`, so the suites can
//! match either the name (`EEXIST`) or the C library's text ("File exists").

use std::io;

/// The errno values the suites care about.
const NAMES: &[(i32, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (9, "EBADF"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (15, "ENOTBLK"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (26, "ETXTBSY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (34, "ERANGE"),
    (36, "ENAMETOOLONG"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (40, "ELOOP"),
    (61, "ENODATA"),
    (74, "EBADMSG"),
    (75, "EOVERFLOW"),
    (95, "EOPNOTSUPP"),
    (116, "ESTALE"),
    (117, "EUCLEAN"),
    (122, "EDQUOT"),
];

/// The symbolic name of errno `n` (`"E?123"` for one not in the table).
pub fn name(n: i32) -> String {
    NAMES
        .iter()
        .find(|(v, _)| *v == n)
        .map(|(_, s)| (*s).to_string())
        .unwrap_or_else(|| format!("E?{n}"))
}

/// The errno value of a symbolic name.
pub fn value(name: &str) -> Option<i32> {
    NAMES.iter().find(|(_, s)| *s == name).map(|(v, _)| *v)
}

/// The name of an I/O error's errno (`"E?"` if it has none).
pub fn of(e: &io::Error) -> String {
    e.raw_os_error().map(name).unwrap_or_else(|| "E?".to_string())
}

/// `NAME: text (os error N)`, the way failures are reported.
pub fn describe(e: &io::Error) -> String {
    format!("{}: {e}", of(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (v, s) in NAMES {
            assert_eq!(name(*v), *s);
            assert_eq!(value(s), Some(*v));
            assert_eq!(NAMES.iter().filter(|(_, t)| t == s).count(), 1, "{s}");
            assert_eq!(NAMES.iter().filter(|(w, _)| w == v).count(), 1, "{v}");
        }
        assert_eq!(name(4095), "E?4095");
        assert_eq!(value("EWHATEVER"), None);
    }

    #[test]
    fn numbers_match_the_c_library() {
        // The C library's message for each number is the one for the name.
        let text = |n| io::Error::from_raw_os_error(n).to_string();
        assert!(text(value("EEXIST").unwrap()).contains("File exists"));
        assert!(text(value("ENOTEMPTY").unwrap()).contains("Directory not empty"));
        assert!(text(value("ENAMETOOLONG").unwrap()).contains("File name too long"));
        assert!(text(value("ENOSPC").unwrap()).contains("No space left on device"));
        assert!(text(value("EISDIR").unwrap()).contains("Is a directory"));
        assert!(text(value("ENOTDIR").unwrap()).contains("Not a directory"));
        assert!(text(value("ENXIO").unwrap()).contains("No such device or address"));
        assert!(text(value("EUCLEAN").unwrap()).contains("Structure needs cleaning"));
    }

    #[test]
    fn describes_errors_with_name_and_text() {
        let e = io::Error::from_raw_os_error(17);
        assert!(describe(&e).starts_with("EEXIST: File exists"));
        assert_eq!(of(&io::Error::other("x")), "E?");
    }
}
