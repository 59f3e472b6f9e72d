// SPDX-License-Identifier: GPL-2.0

//! The logic behind `rsfs-testutil`, the helper binary the rsfs test suites
//! (`tests/rsfs/*.sh`, run inside the test VM) call for what the shell and
//! coreutils cannot do or cannot check precisely.
//!
//! - [`errno`]: errno names, so a test can assert `EEXIST` rather than
//!   "some failure".
//! - [`pattern`]: a reproducible, offset-dependent byte pattern; data
//!   written with one seed at one offset only verifies at that offset with
//!   that seed, so misplaced, stale or zeroed data is caught.
//! - [`records`]: fixed-size, self-describing records for concurrent
//!   `O_APPEND` writers, and the check that none was lost, torn or doubled.
//! - [`corrupt`]: damaging an rsfs superblock in one chosen way (and checking
//!   with the shared format code that it is damaged in exactly that way).
//! - [`crashload`]: files written and fsynced one by one, with a manifest
//!   of those whose fsync succeeded, and the check after a power cut.
//! - [`crash`]: the crash-consistency workloads (fsx, concurrent writers,
//!   namespace churn, fragmented appends, enumerated sequences), their
//!   acknowledgement logs and the verifiers that accept exactly the states
//!   a power cut may leave.
//! - [`sys`]: the system calls the standard library does not wrap
//!   (`renameat2`, `mount`, `lseek` with `SEEK_DATA`/`SEEK_HOLE`, `mmap`),
//!   and aligned buffers for `O_DIRECT`.

pub mod corrupt;
pub mod crash;
pub mod crashload;
pub mod errno;
pub mod pattern;
pub mod records;
pub mod sys;
