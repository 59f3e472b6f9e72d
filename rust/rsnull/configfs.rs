// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/config/rsnull/`: devices made and configured at run time,
//! with null_blk's attribute names, units and meanings.
//!
//! ```sh
//! mkdir /sys/kernel/config/rsnull/d0 && cd /sys/kernel/config/rsnull/d0
//! echo 64 > size; echo 4096 > blocksize; echo 16 > cache_size
//! echo 1 > power                # /dev/rsnullN appears (N: cat index)
//! echo 0 > power                # power cut: unflushed cached writes are lost
//! ```
//!
//! Attributes that shape the disk are refused with `EBUSY` while it has
//! power; faults (`badblocks`, error probabilities, crash points) can be
//! changed at any time.

use crate::{
    config::{Settings, MAX_INDEX},
    device::Device,
    faults::Dir,
    kext::configfs::{parse_bool, parse_u64, Attribute, ItemOps, Page, SubsystemOps},
};
use core::fmt::Write;
use kernel::{c_str, fmt, prelude::*, str::CStr, str::CString, sync::Arc};

/// The attributes of a device directory, in [`DEVICE_ATTRS`] order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attr {
    Size,
    Blocksize,
    SubmitQueues,
    HwQueueDepth,
    Irqmode,
    CompletionNsec,
    MemoryBacked,
    Discard,
    CacheSize,
    Fua,
    Index,
    Power,
    Badblocks,
    CrashAfterWrites,
    CrashRandom,
    RandomSeed,
    ReadErrorProbability,
    WriteErrorProbability,
    Features,
}

/// Every attribute, in index order.
const ALL: [Attr; 19] = [
    Attr::Size,
    Attr::Blocksize,
    Attr::SubmitQueues,
    Attr::HwQueueDepth,
    Attr::Irqmode,
    Attr::CompletionNsec,
    Attr::MemoryBacked,
    Attr::Discard,
    Attr::CacheSize,
    Attr::Fua,
    Attr::Index,
    Attr::Power,
    Attr::Badblocks,
    Attr::CrashAfterWrites,
    Attr::CrashRandom,
    Attr::RandomSeed,
    Attr::ReadErrorProbability,
    Attr::WriteErrorProbability,
    Attr::Features,
];

const DEVICE_ATTRS: [Attribute; 19] = [
    Attribute::rw(c_str!("size")),
    Attribute::rw(c_str!("blocksize")),
    Attribute::rw(c_str!("submit_queues")),
    Attribute::rw(c_str!("hw_queue_depth")),
    Attribute::rw(c_str!("irqmode")),
    Attribute::rw(c_str!("completion_nsec")),
    Attribute::rw(c_str!("memory_backed")),
    Attribute::rw(c_str!("discard")),
    Attribute::rw(c_str!("cache_size")),
    Attribute::rw(c_str!("fua")),
    Attribute::rw(c_str!("index")),
    Attribute::rw(c_str!("power")),
    Attribute::rw(c_str!("badblocks")),
    Attribute::rw(c_str!("crash_after_writes")),
    Attribute::rw(c_str!("crash_random")),
    Attribute::rw(c_str!("random_seed")),
    Attribute::rw(c_str!("read_error_probability")),
    Attribute::rw(c_str!("write_error_probability")),
    Attribute::ro(c_str!("features")),
];

/// What `features` lists: every attribute a device directory has.
const FEATURES: &str = "badblocks,blocksize,cache_size,completion_nsec,crash_after_writes,crash_random,\
discard,fua,hw_queue_depth,index,irqmode,memory_backed,power,random_seed,read_error_probability,\
size,submit_queues,write_error_probability\n";

/// The subsystem: `/sys/kernel/config/rsnull`.
pub(crate) struct Devices {
    indexes: Arc<crate::device::Indexes>,
    module: &'static ThisModule,
    /// What a new directory starts with: the module parameters.
    defaults: Settings,
}

impl Devices {
    pub(crate) fn new(indexes: Arc<crate::device::Indexes>, module: &'static ThisModule, defaults: Settings) -> Self {
        Self { indexes, module, defaults }
    }
}

impl ItemOps for Devices {
    const ATTRS: &'static [Attribute] = &[Attribute::ro(c_str!("features"))];

    fn show(&self, _attr: usize, out: &mut Page) -> Result {
        out.write_bytes(FEATURES.as_bytes());
        Ok(())
    }
}

impl SubsystemOps for Devices {
    type Child = ConfigDevice;
    const NAME: &'static CStr = c_str!("rsnull");

    fn make_child(&self, name: &CStr) -> Result<ConfigDevice> {
        let name = CString::try_from_fmt(fmt!("{}", name.to_str().unwrap_or("?")))?;
        Ok(ConfigDevice(Device::new(name, self.defaults, None, self.indexes.clone(), self.module)?))
    }

    fn drop_child(&self, child: &ConfigDevice) {
        // rmdir: the disk goes at once; the medium when the last reference
        // to the directory does.
        child.0.power_off();
    }
}

/// One device directory.
pub(crate) struct ConfigDevice(Arc<Device>);

/// Logs a refused value and returns `EINVAL`.
fn bad_value(dev: &Device, attr: &CStr, why: &str) -> Error {
    pr_err!("{}: {}: {}\n", dev.name.to_str().unwrap_or("?"), attr.to_str().unwrap_or("?"), why);
    EINVAL
}

impl ItemOps for ConfigDevice {
    const ATTRS: &'static [Attribute] = &DEVICE_ATTRS;

    fn show(&self, attr: usize, out: &mut Page) -> Result {
        let dev = &self.0;
        let Some(&a) = ALL.get(attr) else { return Err(EINVAL) };
        if a == Attr::Badblocks {
            dev.media.faults.badblocks.show(out);
            return Ok(());
        }
        if a == Attr::Features {
            out.write_bytes(FEATURES.as_bytes());
            return Ok(());
        }
        let st = dev.lock();
        let s = &st.settings;
        let faults = &dev.media.faults;
        let v: u64 = match a {
            Attr::Size => s.size_mib,
            Attr::Blocksize => s.block_size.into(),
            Attr::SubmitQueues => s.submit_queues.into(),
            Attr::HwQueueDepth => s.queue_depth.into(),
            Attr::Irqmode => s.irqmode.into(),
            Attr::CompletionNsec => s.completion_nsec,
            Attr::MemoryBacked => s.memory_backed.into(),
            Attr::Discard => s.discard.into(),
            Attr::CacheSize => s.cache_mib,
            Attr::Fua => s.fua.into(),
            Attr::Index => st.index.or(st.wanted_index).unwrap_or(0).into(),
            Attr::Power => dev.powered().into(),
            Attr::CrashAfterWrites | Attr::CrashRandom => faults.crash_after(),
            Attr::RandomSeed => faults.seed(),
            Attr::ReadErrorProbability => faults.error_percent(Dir::Read).into(),
            Attr::WriteErrorProbability => faults.error_percent(Dir::Write).into(),
            Attr::Badblocks | Attr::Features => 0,
        };
        writeln!(out, "{v}").map_err(|_| EINVAL)
    }

    fn store(&self, attr: usize, input: &[u8]) -> Result {
        let dev = &self.0;
        let Some(&a) = ALL.get(attr) else { return Err(EINVAL) };
        let name = DEVICE_ATTRS[attr].name;
        let faults = &dev.media.faults;
        match a {
            Attr::Power => {
                let on = parse_bool(input).map_err(|e| {
                    bad_value(dev, name, "expected 0 or 1");
                    e
                })?;
                return if on { dev.power_on() } else { Ok(dev.power_off()) };
            }
            Attr::Badblocks => return store_badblocks(dev, input),
            Attr::Features => return Err(EACCES),
            _ => {}
        }
        let v = parse_u64(input).map_err(|e| {
            bad_value(dev, name, "expected a number");
            e
        })?;
        match a {
            Attr::CrashAfterWrites => {
                faults.set_crash_after(v);
                return Ok(());
            }
            Attr::CrashRandom => {
                let n = faults.set_crash_random(v);
                pr_info!("{}: crash point armed after {} write(s)\n", dev.name.to_str().unwrap_or("?"), n);
                return Ok(());
            }
            Attr::RandomSeed => {
                faults.set_seed(v);
                return Ok(());
            }
            Attr::ReadErrorProbability | Attr::WriteErrorProbability => {
                let dir = if a == Attr::ReadErrorProbability { Dir::Read } else { Dir::Write };
                let pct = u32::try_from(v).unwrap_or(u32::MAX);
                return faults.set_error_percent(dir, pct).map_err(|_| bad_value(dev, name, "must be 0..100 (percent)"));
            }
            _ => {}
        }
        // The rest shape the disk: only while it has no power.
        let mut st = dev.lock();
        if dev.powered() {
            pr_err!("{}: {}: cannot change while powered on\n", dev.name.to_str().unwrap_or("?"), name.to_str().unwrap_or("?"));
            return Err(EBUSY);
        }
        let u32v = || u32::try_from(v).map_err(|_| bad_value(dev, name, "too large"));
        let boolv = || match v {
            0 | 1 => Ok(v == 1),
            _ => Err(bad_value(dev, name, "expected 0 or 1")),
        };
        let mut s = st.settings;
        match a {
            Attr::Size => s.size_mib = v,
            Attr::Blocksize => s.block_size = u32v()?,
            Attr::SubmitQueues => s.submit_queues = u32v()?,
            Attr::HwQueueDepth => s.queue_depth = u32v()?,
            Attr::Irqmode => s.irqmode = u32v()?,
            Attr::CompletionNsec => s.completion_nsec = v,
            Attr::MemoryBacked => s.memory_backed = boolv()?,
            Attr::Discard => s.discard = boolv()?,
            Attr::CacheSize => s.cache_mib = v,
            Attr::Fua => s.fua = boolv()?,
            Attr::Index => {
                if st.index.is_some() {
                    pr_err!("{}: index: fixed at the first power-on\n", dev.name.to_str().unwrap_or("?"));
                    return Err(EBUSY);
                }
                if v > u64::from(MAX_INDEX) {
                    return Err(bad_value(dev, name, "too large"));
                }
                st.wanted_index = Some(v as u32);
                return Ok(());
            }
            _ => return Err(EINVAL),
        }
        // `check` logs what is wrong.
        s.check(dev.name.to_str().unwrap_or("?"))?;
        st.settings = s;
        Ok(())
    }
}

/// `badblocks`: `+START-END` marks sectors START..=END bad, `-START-END`
/// good again (512-byte sectors, as null_blk).
fn store_badblocks(dev: &Device, input: &[u8]) -> Result {
    let name = c_str!("badblocks");
    let s = input.trim_ascii();
    let (add, rest) = match s.split_first() {
        Some((b'+', rest)) => (true, rest),
        Some((b'-', rest)) => (false, rest),
        _ => return Err(bad_value(dev, name, "expected +START-END or -START-END")),
    };
    let dash = rest.iter().position(|&c| c == b'-').ok_or_else(|| bad_value(dev, name, "expected START-END"))?;
    let start = parse_u64(&rest[..dash]).map_err(|_| bad_value(dev, name, "bad START"))?;
    let end = parse_u64(&rest[dash + 1..]).map_err(|_| bad_value(dev, name, "bad END"))?;
    if start > end {
        return Err(bad_value(dev, name, "START is past END"));
    }
    let sectors = end - start + 1;
    let bb = &dev.media.faults.badblocks;
    if add {
        bb.set(start, sectors)
    } else {
        bb.clear(start, sectors)
    }
}
