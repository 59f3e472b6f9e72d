// SPDX-License-Identifier: GPL-2.0

//! The rsfs on-disk format for userspace.
//!
//! This crate is only a shim: it compiles `rust/rsfs/format` (the very files
//! the kernel module compiles as `pub mod format`) in a `no_std` crate, with
//! lints close to the kernel's, so the tools and the kernel share one source.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub, rust_2018_idioms)]
#![deny(
    clippy::float_arithmetic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[path = "../../../rust/rsfs/format/mod.rs"]
mod format;

pub use format::*;
