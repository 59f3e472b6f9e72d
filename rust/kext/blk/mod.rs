// SPDX-License-Identifier: GPL-2.0

//! Block devices.

pub mod mq;
pub mod badblocks;
