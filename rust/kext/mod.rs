// SPDX-License-Identifier: GPL-2.0

//! kext: the kernel abstractions rsnull and rsfs are built on.
//!
//! The 6.12 `kernel` crate has no access to request data, no bio, folio, VFS,
//! iomap or writeback types. This layer adds what the two modules need, in
//! the style of the upstream `kernel` crate: a C vtable becomes a Rust trait
//! plus private `extern "C"` trampolines, kernel objects become owned Rust
//! types with `Drop`, and every `unsafe` block says why it is sound.
//!
//! - [`bindings`]: raw bindgen output for our own header (`bindings.h`),
//!   generated at build time, plus the C helpers in `helpers.c`.
//! - [`rcu`], [`mm`]: RCU read-side guards and a lazily populated page array.
//! - [`task`]: yielding in long loops, fatal signals.
//! - [`blk`]: blk-mq drivers: tag set, disk, requests and their data; bad
//!   sector lists.
//! - [`configfs`]: a driver's settings as directories under
//!   `/sys/kernel/config`.
//! - [`fs`]: disk filesystems: VFS tables, inodes, iomap, writeback, bios.
//!
//! Driver and filesystem code uses only the safe API here and never touches
//! [`bindings`] directly.
//!
//! Each module crate mounts this directory with `#[path]`; see `Kbuild`.

pub mod bindings;
pub mod blk;
pub mod configfs;
pub mod error;
pub mod fs;
pub mod mm;
pub mod rcu;
pub mod task;
