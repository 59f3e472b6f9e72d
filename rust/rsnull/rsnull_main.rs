// SPDX-License-Identifier: GPL-2.0

//! rsnull: a null_blk-like, memory-backed blk-mq block device in Rust, and
//! a disk that can lose power and fail on demand.
//!
//! `insmod rsnull.ko` creates `/dev/rsnull0..N` from the module parameters
//! ([`config`]); more devices are made under `/sys/kernel/config/rsnull`
//! ([`configfs`]). Each [`device`] has a [`media`] that outlives power
//! cycles: the pages written ([`storage`]), an emulated volatile write
//! cache ([`cache`]) and injected [`faults`]. Requests are executed and
//! completed by [`io`]. The blk-mq and configfs plumbing is the shared
//! [`kext`] layer.

#[path = "../kext/mod.rs"]
pub mod kext;

mod cache;
mod config;
mod configfs;
mod device;
mod faults;
mod io;
mod media;
mod storage;

use config::Settings;
use device::{Device, Indexes};
use kernel::{
    alloc::{flags, KVec},
    fmt,
    prelude::*,
    str::CString,
    sync::Arc,
};
use kext::configfs::Subsystem;

module! {
    type: Rsnull,
    name: "rsnull",
    author: "rsfs developers",
    description: "Memory-backed blk-mq block device in Rust (null_blk-like), with power cuts and faults",
    license: "GPL",
}

struct Rsnull {
    // Dropped first: no configfs device can exist at unload (each holds a
    // reference on the module), so this only unregisters the directory.
    _configfs: Subsystem<configfs::Devices>,
    param_devices: KVec<Arc<Device>>,
}

impl kernel::Module for Rsnull {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let (nr_devices, settings) = Settings::from_params()?;
        let indexes = Arc::pin_init(Indexes::new(), flags::GFP_KERNEL)?;
        let mut param_devices = KVec::with_capacity(nr_devices as usize, flags::GFP_KERNEL)?;
        for index in 0..nr_devices {
            let name = CString::try_from_fmt(fmt!("rsnull{index}"))?;
            let dev = Device::new(name, settings, Some(index), indexes.clone(), module)?;
            // On failure, the devices made so far are powered off as
            // `param_devices` drops.
            dev.power_on()?;
            param_devices.push(dev, flags::GFP_KERNEL)?;
        }
        let configfs = Subsystem::register(configfs::Devices::new(indexes, module, settings), module)?;
        pr_info!(
            "{} device(s) of {} MiB, bs {}, {} queue(s) of depth {}; more in /sys/kernel/config/rsnull\n",
            nr_devices,
            settings.size_mib,
            settings.block_size,
            settings.submit_queues,
            settings.queue_depth
        );
        Ok(Self { _configfs: configfs, param_devices })
    }
}

impl Drop for Rsnull {
    fn drop(&mut self) {
        let pages: usize = self.param_devices.iter().map(|d| d.nr_pages()).sum();
        for dev in self.param_devices.iter() {
            dev.power_off();
        }
        pr_info!("unloading; freeing {} page(s)\n", pages);
    }
}
