// SPDX-License-Identifier: GPL-2.0

//! Raw bindings to the C API named in `bindings.h` and `bindgen_allowlist`.
//!
//! `bindings_generated.rs` is written by bindgen during the module build
//! with the kernel's own bindgen flags, so these types match the kernel
//! being built against. It is a build output and is never committed.

#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unknown_lints,
    unnecessary_transmutes
)]

// The kernel maps these to `usize`/`isize` by hand; bindgen is told to skip them.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("bindings_generated.rs");
