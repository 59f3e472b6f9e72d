// SPDX-License-Identifier: GPL-2.0

//! rsnull: a null_blk-like, memory-backed blk-mq block device in Rust.
//!
//! `insmod rsnull.ko` creates `/dev/rsnull0..N`. Data lives in pages
//! allocated on first write ([`storage`]); requests are executed and
//! completed by [`device`]; parameters are checked by [`config`]. The
//! blk-mq plumbing is the shared [`kext`] layer.

#[path = "../kext/mod.rs"]
pub mod kext;

mod config;
mod device;
mod storage;

use config::Config;
use device::Device;
use kernel::{alloc::flags, alloc::KVec, fmt, prelude::*, str::CString};
use kext::blk::mq::{DiskConfig, GenDisk};
use storage::MemoryStore;

module! {
    type: Rsnull,
    name: "rsnull",
    author: "rsfs developers",
    description: "Memory-backed blk-mq block device in Rust (null_blk-like)",
    license: "GPL",
}

/// Largest request: 1 MiB.
const MAX_HW_SECTORS: u32 = 2048;
/// Largest discard or write-zeroes request: 1 GiB.
const MAX_DISCARD_SECTORS: u32 = 1 << 21;

struct Rsnull {
    disks: KVec<GenDisk<Device>>,
}

impl kernel::Module for Rsnull {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let cfg = Config::from_params()?;
        let mut disks = KVec::with_capacity(cfg.nr_devices as usize, flags::GFP_KERNEL)?;
        for index in 0..cfg.nr_devices {
            let name = CString::try_from_fmt(fmt!("rsnull{index}"))?;
            let store = if cfg.memory_backed { Some(MemoryStore::new()?) } else { None };
            let device = Device::new(store, cfg.capacity_sectors, cfg.completion);
            let disk_config = DiskConfig {
                name: &name,
                capacity_sectors: cfg.capacity_sectors,
                logical_block_size: cfg.block_size,
                max_hw_sectors: MAX_HW_SECTORS,
                nr_hw_queues: cfg.submit_queues,
                queue_depth: cfg.queue_depth,
                max_discard_sectors: if cfg.discard { MAX_DISCARD_SECTORS } else { 0 },
                write_cache: cfg.write_cache,
            };
            // On failure, the disks made so far are removed as `disks` drops.
            let disk = GenDisk::new(&disk_config, device, module).inspect_err(|e| {
                pr_err!("{}: cannot create disk: {:?}\n", name.to_str().unwrap_or("rsnull"), e);
            })?;
            disks.push(disk, flags::GFP_KERNEL)?;
        }
        pr_info!(
            "{} device(s) of {} MiB, bs {}, {} queue(s) of depth {}\n",
            cfg.nr_devices,
            cfg.capacity_sectors >> 11,
            cfg.block_size,
            cfg.submit_queues,
            cfg.queue_depth
        );
        Ok(Self { disks })
    }
}

impl Drop for Rsnull {
    fn drop(&mut self) {
        let pages: usize = self.disks.iter().map(|d| d.data().nr_pages()).sum();
        pr_info!("unloading; freeing {} page(s)\n", pages);
    }
}
