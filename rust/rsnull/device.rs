// SPDX-License-Identifier: GPL-2.0

//! One rsnull device: its settings, its medium and, while it has power,
//! the disk `/dev/rsnullN` that the block layer sees.
//!
//! A device made by the module parameters is powered on at load and off
//! at unload. A configfs device (`mkdir /sys/kernel/config/rsnull/NAME`)
//! starts powered off; `power` switches it. Powering off is a power cut:
//! the medium loses what was not durable and the disk is removed (I/O in
//! flight, and any later I/O through a still-open handle, fails with EIO).
//! Powering on makes a new disk with the same index over the same medium.
//! A crash point cuts the power from the I/O path, where the disk cannot
//! be removed: it stays, failing every request, until `power` is written.

use crate::{
    config::{Settings, MAX_INDEX},
    io::Queue,
    kext::blk::mq::{DiskConfig, GenDisk},
    media::Media,
};
use kernel::{
    alloc::flags,
    error::Error,
    fmt,
    init::PinInit,
    new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex},
};

/// Largest request: 1 MiB.
const MAX_HW_SECTORS: u32 = 2048;
/// Largest discard or write-zeroes request: 1 GiB.
const MAX_DISCARD_SECTORS: u32 = 1 << 21;
/// Pages per MiB of cache.
const PAGES_PER_MIB: u64 = (1 << 20) / crate::kext::mm::PAGE_SIZE as u64;

/// The device indexes in use (`/dev/rsnullN`), shared by all devices.
#[pin_data]
pub(crate) struct Indexes {
    /// One bit per index `0..=MAX_INDEX`.
    #[pin]
    used: Mutex<[u64; INDEX_WORDS]>,
}

const INDEX_WORDS: usize = (MAX_INDEX as usize + 1).div_ceil(64);

impl Indexes {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self { used <- new_mutex!([0; INDEX_WORDS], "rsnull_indexes") }? Error)
    }

    /// Takes `want`, or the lowest free index. `EEXIST` if `want` is taken.
    fn take(&self, want: Option<u32>) -> Result<u32> {
        let mut used = self.used.lock();
        let is_used = |used: &[u64; INDEX_WORDS], i: u32| used[i as usize / 64] & (1 << (i % 64)) != 0;
        let index = match want {
            Some(i) if i > MAX_INDEX => return Err(EINVAL),
            Some(i) if is_used(&used, i) => return Err(EEXIST),
            Some(i) => i,
            None => (0..=MAX_INDEX).find(|&i| !is_used(&used, i)).ok_or(ENOSPC)?,
        };
        used[index as usize / 64] |= 1 << (index % 64);
        Ok(index)
    }

    fn give_back(&self, index: u32) {
        if index <= MAX_INDEX {
            self.used.lock()[index as usize / 64] &= !(1 << (index % 64));
        }
    }
}

/// What a device's lock protects.
pub(crate) struct State {
    pub(crate) settings: Settings,
    /// The index asked for (`index` attribute), if any.
    pub(crate) wanted_index: Option<u32>,
    /// The index held since the first power-on, kept across power cycles.
    pub(crate) index: Option<u32>,
    /// The disk, while powered on (or dead after a crash point).
    disk: Option<GenDisk<Queue>>,
}

/// One device.
#[pin_data(PinnedDrop)]
pub(crate) struct Device {
    /// For messages: the configfs directory (or `rsnullN`).
    pub(crate) name: CString,
    indexes: Arc<Indexes>,
    module: &'static ThisModule,
    pub(crate) media: Arc<Media>,
    #[pin]
    state: Mutex<State>,
}

impl Device {
    pub(crate) fn new(
        name: CString,
        settings: Settings,
        wanted_index: Option<u32>,
        indexes: Arc<Indexes>,
        module: &'static ThisModule,
    ) -> Result<Arc<Self>> {
        let media = Arc::pin_init(Media::new(), flags::GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                name,
                indexes,
                module,
                media,
                state <- new_mutex!(State { settings, wanted_index, index: None, disk: None }, "rsnull_device"),
            }? Error),
            flags::GFP_KERNEL,
        )
    }

    /// The settings and power state, locked (configfs reads and writes).
    pub(crate) fn lock(&self) -> kernel::sync::lock::Guard<'_, State, kernel::sync::lock::mutex::MutexBackend> {
        self.state.lock()
    }

    /// Whether the device has power.
    pub(crate) fn powered(&self) -> bool {
        self.media.powered()
    }

    /// Powers on: a new disk over the medium. Nothing if already on.
    pub(crate) fn power_on(&self) -> Result {
        let mut st = self.state.lock();
        if self.media.powered() {
            return Ok(());
        }
        // A disk still there was killed by a crash point: remove it first.
        drop(st.disk.take());
        st.settings.check(self.name.to_str().unwrap_or("?"))?;
        let index = match st.index {
            Some(i) => i,
            None => {
                let i = self.indexes.take(st.wanted_index).inspect_err(|e| {
                    pr_err!("{}: cannot take index {:?}: {:?}\n", self.name.to_str().unwrap_or("?"), st.wanted_index, e);
                })?;
                st.index = Some(i);
                i
            }
        };
        let s = st.settings;
        let cache_pages = if s.has_cache() { (s.cache_mib * PAGES_PER_MIB) as usize } else { 0 };
        self.media.power_on(cache_pages)?;
        let disk_name = CString::try_from_fmt(fmt!("rsnull{index}"))?;
        let config = DiskConfig {
            name: &disk_name,
            capacity_sectors: s.capacity_sectors(),
            logical_block_size: s.block_size,
            max_hw_sectors: MAX_HW_SECTORS,
            nr_hw_queues: s.submit_queues,
            queue_depth: s.queue_depth,
            max_discard_sectors: if s.discard { MAX_DISCARD_SECTORS } else { 0 },
            write_cache: s.write_cache || s.has_cache(),
            fua: s.write_cache || (s.has_cache() && s.fua),
        };
        match GenDisk::new(&config, Queue::new(self.media.clone(), index, &s), self.module) {
            Ok(disk) => {
                st.disk = Some(disk);
                Ok(())
            }
            Err(e) => {
                pr_err!("{}: cannot create disk: {:?}\n", disk_name.to_str().unwrap_or("rsnull"), e);
                self.media.power_cut();
                Err(e)
            }
        }
    }

    /// Cuts the power and removes the disk.
    pub(crate) fn power_off(&self) {
        let mut st = self.state.lock();
        self.cut_locked(&st);
        // `del_gendisk` waits for requests in flight; they fail now.
        drop(st.disk.take());
    }

    fn cut_locked(&self, st: &State) {
        if let Some(lost) = self.media.power_cut() {
            pr_info!(
                "rsnull{}: power off; lost {} write(s) since the last flush ({} cached page(s))\n",
                st.index.unwrap_or(0),
                lost.writes,
                lost.pages
            );
        }
    }

    /// Pages of memory the device holds.
    pub(crate) fn nr_pages(&self) -> usize {
        self.media.nr_pages()
    }
}

#[pinned_drop]
impl PinnedDrop for Device {
    fn drop(self: Pin<&mut Self>) {
        let mut st = self.state.lock();
        // The disk goes before its name is free for another device.
        drop(st.disk.take());
        if let Some(index) = st.index.take() {
            self.indexes.give_back(index);
        }
    }
}
