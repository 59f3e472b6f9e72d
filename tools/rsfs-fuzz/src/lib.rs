// SPDX-License-Identifier: GPL-2.0

//! The logic behind `rsfs-fuzz`, which makes crafted rsfs images for the
//! VM suite `tests/rsfs/images.sh` and runs the operations it checks them
//! with.
//!
//! - [`image`]: an image in memory ([`image::Img`]: which blocks and inodes
//!   were touched, their checksums recomputed) and the inventory of its
//!   metadata that mutations aim at.
//! - [`mutate`]: the table of mutations ([`mutate::KINDS`], one function
//!   per on-disk structure) and [`mutate::mutate`]: base image + seed ->
//!   crafted image + a description of what changed.
//! - [`exercise`]: mount, walk and read everything, change things, unmount,
//!   recording each operation's errno.
//! - [`rng`]: the seeded PRNG; [`sys`]: umount2, syncfs, BLKFLSBUF.

pub mod exercise;
pub mod image;
pub mod mutate;
pub mod rng;
pub mod sys;
