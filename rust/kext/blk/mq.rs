// SPDX-License-Identifier: GPL-2.0

//! blk-mq block drivers: a disk, its tag set, and the requests it receives.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)
//!
//! A driver implements [`Operations`] on its per-disk state and hands that
//! state to [`GenDisk::new`]. blk-mq then calls [`Operations::queue_rq`] with
//! each [`Request`]; the driver owns the request until it ends it in one of
//! three ways, mirroring null_blk's `irqmode`:
//!
//! - [`Request::end`]: complete now, in the submitter's context;
//! - [`Request::complete`]: complete through `blk_mq_complete_request()`
//!   (softirq on the submitting CPU, as an interrupt-driven device would);
//! - [`Request::complete_after`]: complete from an hrtimer after a delay.
//!
//! A request that is dropped without being ended is failed with an I/O error
//! and a warning, so a driver bug cannot hang the submitter forever.

use crate::kext::{
    bindings,
    error::{from_err_or_null, from_ret},
    mm::PageSlice,
};
use core::{
    ffi::{c_int, c_uint, c_void},
    marker::PhantomData,
    mem::ManuallyDrop,
    ptr::{self, NonNull},
};
use kernel::{
    alloc::{flags, KBox},
    error::{code, Result},
    str::CStr,
    types::Opaque,
    ThisModule,
};

/// The outcome of a request, as `blk_status_t`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Status(bindings::blk_status_t);

impl Status {
    /// Success.
    pub const OK: Status = Status(bindings::KEXT_BLK_STS_OK);
    /// Generic I/O error (`EIO`).
    pub const IOERR: Status = Status(bindings::KEXT_BLK_STS_IOERR);
    /// Operation not supported (`EOPNOTSUPP`).
    pub const NOTSUPP: Status = Status(bindings::KEXT_BLK_STS_NOTSUPP);
    /// Out of space (`ENOSPC`).
    pub const NOSPC: Status = Status(bindings::KEXT_BLK_STS_NOSPC);
}

/// What a request asks the device to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// Read data into the request's pages.
    Read,
    /// Write the request's pages.
    Write,
    /// Make previously completed writes durable.
    Flush,
    /// Forget a range: it may read back as anything (rsnull: zeros).
    Discard,
    /// Make a range read back as zeros.
    WriteZeroes,
    /// Any other operation, with its raw `REQ_OP_*` value.
    Other(u32),
}

/// Per-request memory that blk-mq allocates for us beside each `struct
/// request` (`tag_set.cmd_size`). Initialised in `init_request`.
#[repr(C)]
struct Pdu {
    /// Status to end the request with once its completion fires.
    status: bindings::blk_status_t,
    /// Delayed completion (`Request::complete_after`).
    timer: bindings::hrtimer,
    /// How often this request was handed back with [`Request::requeue`]
    /// since it was last ended.
    requeues: u32,
}

/// A request the driver owns, from `queue_rq` until it is ended.
///
/// Not `Clone`: exactly one owner ends each request exactly once.
pub struct Request {
    rq: NonNull<bindings::request>,
}

// SAFETY: a started request may be completed from any CPU or context (the
// timer and softirq paths exist for that); ownership moves with the value.
unsafe impl Send for Request {}

/// Returned by [`Operations::queue_rq`] to give a request back to blk-mq
/// for a later retry (`BLK_STS_RESOURCE`), e.g. when memory is short.
pub struct Requeue(());

impl Request {
    fn pdu(&self) -> *mut Pdu {
        // SAFETY: every request of our tag sets has a `Pdu` (`cmd_size`).
        unsafe { bindings::kext_blk_mq_rq_to_pdu(self.rq.as_ptr()) }.cast::<Pdu>()
    }

    /// The operation.
    pub fn op(&self) -> Op {
        // SAFETY: `rq` is a live request owned by us (type invariant).
        let op = unsafe { bindings::kext_req_op(self.rq.as_ptr()) };
        match op {
            bindings::req_op_REQ_OP_READ => Op::Read,
            bindings::req_op_REQ_OP_WRITE => Op::Write,
            bindings::req_op_REQ_OP_FLUSH => Op::Flush,
            bindings::req_op_REQ_OP_DISCARD => Op::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            other => Op::Other(other),
        }
    }

    /// Whether the write must be durable when it completes (`REQ_FUA`).
    pub fn is_fua(&self) -> bool {
        // SAFETY: `rq` is a live request owned by us.
        unsafe { bindings::kext_req_flags(self.rq.as_ptr()) & bindings::KEXT_REQ_FUA != 0 }
    }

    /// First sector (512 bytes each, whatever the logical block size).
    pub fn sector(&self) -> u64 {
        // SAFETY: `rq` is a live request owned by us.
        unsafe { bindings::kext_blk_rq_pos(self.rq.as_ptr()) }
    }

    /// Length in bytes.
    pub fn bytes(&self) -> u32 {
        // SAFETY: `rq` is a live request owned by us.
        unsafe { bindings::kext_blk_rq_bytes(self.rq.as_ptr()) }
    }

    /// The request's data, one page-bounded piece at a time, in order.
    pub fn segments(&self) -> Segments<'_> {
        let mut it = bindings::kext_rq_iter::default();
        // SAFETY: `rq` is live and `it` is a valid local.
        unsafe { bindings::kext_rq_iter_init(&mut it, self.rq.as_ptr()) };
        Segments { it, _rq: PhantomData }
    }

    /// How often the driver has handed this request back with
    /// [`Request::requeue`] (0 on its first try), so that a driver can
    /// bound its retries.
    pub fn requeue_count(&self) -> u32 {
        // SAFETY: the pdu is ours while we own the request.
        unsafe { (*self.pdu()).requeues }
    }

    /// Forgets the retry count before the request is ended (the request
    /// structure is reused for later I/O).
    fn reset_requeues(&self) {
        // SAFETY: the pdu is ours while we own the request.
        unsafe { (*self.pdu()).requeues = 0 };
    }

    /// Ends the request now with `status`.
    pub fn end(self, status: Status) {
        self.reset_requeues();
        let this = ManuallyDrop::new(self);
        // SAFETY: we own the started request; ending it gives it back.
        unsafe { bindings::blk_mq_end_request(this.rq.as_ptr(), status.0) };
    }

    /// Ends the request with `status` through `blk_mq_complete_request()`,
    /// which runs our `complete` callback in softirq context.
    pub fn complete(self, status: Status) {
        self.reset_requeues();
        let this = ManuallyDrop::new(self);
        // SAFETY: the pdu is ours while we own the request.
        unsafe { (*this.pdu()).status = status.0 };
        // SAFETY: we own the started request; `complete_callback` ends it.
        unsafe { bindings::blk_mq_complete_request(this.rq.as_ptr()) };
    }

    /// Ends the request with `status` from an hrtimer, `nsec` from now.
    pub fn complete_after(self, nsec: u64, status: Status) {
        self.reset_requeues();
        let this = ManuallyDrop::new(self);
        let pdu = this.pdu();
        // SAFETY: the pdu is ours while we own the request; the timer was
        // initialised in `init_request` and is idle (the request is not in
        // flight anywhere else). `timer_callback` ends the request.
        unsafe {
            (*pdu).status = status.0;
            bindings::kext_hrtimer_start_rel_ns(&mut (*pdu).timer, nsec);
        }
    }

    /// Hands the request back to blk-mq to retry later.
    pub fn requeue(self) -> Requeue {
        // SAFETY: the pdu is ours while we own the request.
        unsafe { (*self.pdu()).requeues = (*self.pdu()).requeues.saturating_add(1) };
        // blk-mq takes the request back when `queue_rq` returns
        // `BLK_STS_RESOURCE`; we must not end it.
        core::mem::forget(self);
        Requeue(())
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        kernel::pr_warn!("kext: request dropped without completion; failing it\n");
        self.reset_requeues();
        // SAFETY: we own the started request and nobody ended it.
        unsafe { bindings::blk_mq_end_request(self.rq.as_ptr(), Status::IOERR.0) };
    }
}

/// Iterator over a request's data; see [`Request::segments`]. A clone
/// walks the same data again from the clone's position.
pub struct Segments<'a> {
    it: bindings::kext_rq_iter,
    _rq: PhantomData<&'a Request>,
}

impl Clone for Segments<'_> {
    fn clone(&self) -> Self {
        // The cursor is a plain position (bio pointer, bvec_iter): a copy
        // walks the same request independently.
        Segments { it: self.it, _rq: PhantomData }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = PageSlice<'a>;

    fn next(&mut self) -> Option<PageSlice<'a>> {
        let mut bv = bindings::bio_vec::default();
        // SAFETY: `it` was initialised from a request we own for `'a`.
        if !unsafe { bindings::kext_rq_iter_next(&mut self.it, &mut bv) } {
            return None;
        }
        // SAFETY: a single-page bvec of an in-flight request: the page stays
        // allocated, and the driver may access it, until the request ends,
        // which cannot happen while `'a` borrows the request.
        unsafe { PageSlice::new(bv.bv_page, bv.bv_offset as usize, bv.bv_len as usize) }
    }
}

/// A blk-mq driver: the per-disk state implements this.
pub trait Operations: Sized + Send + Sync + 'static {
    /// Handles one request. The request has been started; the driver must
    /// end it (see [`Request`]) or return it with [`Request::requeue`].
    fn queue_rq(&self, rq: Request, is_last: bool) -> core::result::Result<(), Requeue>;
}

/// The C vtable for `T`, built from trampolines into `T`'s methods.
struct OperationsVTable<T: Operations>(PhantomData<T>);

impl<T: Operations> OperationsVTable<T> {
    /// # Safety
    ///
    /// Called by blk-mq with a live hardware context of one of our queues
    /// and `bd.rq` a request of that queue now owned by the driver.
    unsafe extern "C" fn queue_rq(
        hctx: *mut bindings::blk_mq_hw_ctx,
        bd: *const bindings::blk_mq_queue_data,
    ) -> bindings::blk_status_t {
        // SAFETY: `hctx` and its queue are live; `queuedata` is the `T` that
        // `GenDisk::new` set up and that outlives the queue.
        let data = unsafe { &*(*(*hctx).queue).queuedata.cast::<T>() };
        // SAFETY: `bd` is valid for this call.
        let (rq, last) = unsafe { ((*bd).rq, (*bd).last) };
        let Some(rq) = NonNull::new(rq) else {
            return Status::IOERR.0;
        };
        // SAFETY: blk-mq passed us this request to start and own.
        unsafe { bindings::blk_mq_start_request(rq.as_ptr()) };
        match data.queue_rq(Request { rq }, last) {
            Ok(()) => Status::OK.0,
            Err(Requeue(())) => bindings::KEXT_BLK_STS_RESOURCE,
        }
    }

    /// # Safety
    ///
    /// Called by blk-mq for a request that `Request::complete` completed.
    unsafe extern "C" fn complete(rq: *mut bindings::request) {
        // SAFETY: our requests carry a `Pdu`; `Request::complete` stored
        // the status before completing.
        let status = unsafe { (*bindings::kext_blk_mq_rq_to_pdu(rq).cast::<Pdu>()).status };
        // SAFETY: the request is still owned by the driver until this ends it.
        unsafe { bindings::blk_mq_end_request(rq, status) };
    }

    /// # Safety
    ///
    /// Called by the hrtimer core for the timer of a request's `Pdu`, which
    /// `Request::complete_after` armed.
    unsafe extern "C" fn timer_expired(timer: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
        // SAFETY: `timer` is the `timer` field of a `Pdu` (container_of).
        let pdu = unsafe { timer.byte_sub(core::mem::offset_of!(Pdu, timer)) }.cast::<Pdu>();
        // SAFETY: the pdu belongs to a request the driver still owns.
        unsafe {
            let rq = bindings::kext_blk_mq_rq_from_pdu(pdu.cast());
            bindings::blk_mq_end_request(rq, (*pdu).status);
        }
        bindings::hrtimer_restart_HRTIMER_NORESTART
    }

    /// # Safety
    ///
    /// Called by blk-mq once per request of our tag set at allocation.
    unsafe extern "C" fn init_request(
        _set: *mut bindings::blk_mq_tag_set,
        rq: *mut bindings::request,
        _hctx_idx: c_uint,
        _numa_node: c_uint,
    ) -> c_int {
        // SAFETY: `cmd_size` reserves a `Pdu` beside every request.
        let pdu = unsafe { bindings::kext_blk_mq_rq_to_pdu(rq) }.cast::<Pdu>();
        // SAFETY: the pdu is allocated, ours to initialise, and never moves.
        unsafe {
            (*pdu).status = Status::OK.0;
            (*pdu).requeues = 0;
            bindings::kext_hrtimer_init_rel(&mut (*pdu).timer, Some(Self::timer_expired));
        }
        0
    }

    /// # Safety
    ///
    /// Called by blk-mq once per request of our tag set when it is freed.
    unsafe extern "C" fn exit_request(
        _set: *mut bindings::blk_mq_tag_set,
        rq: *mut bindings::request,
        _hctx_idx: c_uint,
    ) {
        // SAFETY: `init_request` initialised this pdu's timer. Cancelling
        // waits for a callback still running on another CPU, so none can be
        // left executing module code after the tag set is gone.
        unsafe {
            let pdu = bindings::kext_blk_mq_rq_to_pdu(rq).cast::<Pdu>();
            bindings::hrtimer_cancel(&mut (*pdu).timer);
        }
    }

    const VTABLE: bindings::blk_mq_ops = bindings::blk_mq_ops {
        queue_rq: Some(Self::queue_rq),
        complete: Some(Self::complete),
        init_request: Some(Self::init_request),
        exit_request: Some(Self::exit_request),
        // SAFETY: all-zeroes is "no callback" for every other member.
        ..unsafe { core::mem::zeroed() }
    };
}

/// What a disk looks like to the block layer.
pub struct DiskConfig<'a> {
    /// Name in `/dev` and `/sys/block`.
    pub name: &'a CStr,
    /// Capacity in 512-byte sectors.
    pub capacity_sectors: u64,
    /// Logical block size in bytes (512..=4096, a power of two).
    pub logical_block_size: u32,
    /// Largest request, in sectors.
    pub max_hw_sectors: u32,
    /// Hardware queues.
    pub nr_hw_queues: u32,
    /// Requests per hardware queue.
    pub queue_depth: u32,
    /// Largest discard and write-zeroes request in sectors; 0: unsupported.
    pub max_discard_sectors: u32,
    /// Whether the device has a volatile write cache, so that the block
    /// layer sends flushes.
    pub write_cache: bool,
    /// Whether the device honours FUA writes (with `write_cache`; without
    /// it the block layer turns FUA into a write and a flush).
    pub fua: bool,
}

/// State that must not move while the disk exists.
struct DiskInner<T: Operations> {
    tag_set: Opaque<bindings::blk_mq_tag_set>,
    data: T,
}

/// The `block_device_operations` of every disk of this module.
///
/// Static, not per disk: a block device that is still open (a mounted
/// filesystem) when its disk is deleted keeps using its disk's `fops` until
/// the last close (`bdev_release` reads `owner`), long after the disk's
/// driver state is gone. kext is compiled into each module, so this is
/// one table per module; `owner` is set once, by the first disk, and never
/// changes (it is this module), which is what [`block_ops`] ensures.
struct BlockOps(Opaque<bindings::block_device_operations>);

// SAFETY: written once, before any disk uses it, under `BLOCK_OPS_STATE`;
// read-only afterwards.
unsafe impl Sync for BlockOps {}

static BLOCK_OPS: BlockOps = BlockOps(Opaque::uninit());
/// 0: not set up, 1: being set up, 2: ready.
static BLOCK_OPS_STATE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// This module's `block_device_operations`, set up on first use.
fn block_ops(module: &'static ThisModule) -> *mut bindings::block_device_operations {
    use core::sync::atomic::Ordering;
    let ops = BLOCK_OPS.0.get();
    loop {
        match BLOCK_OPS_STATE.compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                // SAFETY: state 1 excludes every other writer and reader;
                // all-zeroes is "no callback" for every member.
                unsafe {
                    ptr::write_bytes(ops, 0, 1);
                    (*ops).owner = module.as_ptr().cast();
                }
                BLOCK_OPS_STATE.store(2, Ordering::Release);
                return ops;
            }
            Err(2) => return ops,
            Err(_) => core::hint::spin_loop(),
        }
    }
}

/// A registered blk-mq disk that owns its driver state `T`.
///
/// Dropping it deletes the disk (waiting for in-flight I/O), then frees the
/// queue, the tag set and `T`, in that order.
pub struct GenDisk<T: Operations> {
    inner: KBox<DiskInner<T>>,
    disk: NonNull<bindings::gendisk>,
}

// SAFETY: the gendisk pointer is only used by `drop`; `T` is `Send`.
unsafe impl<T: Operations> Send for GenDisk<T> {}
// SAFETY: `&GenDisk` exposes only `&T`, and `T` is `Sync`.
unsafe impl<T: Operations> Sync for GenDisk<T> {}

impl<T: Operations> GenDisk<T> {
    /// Creates and registers a disk backed by `data`.
    ///
    /// `module` becomes the owner of the disk's `block_device_operations`,
    /// so the module cannot be unloaded while the disk is open or mounted.
    pub fn new(config: &DiskConfig<'_>, data: T, module: &'static ThisModule) -> Result<Self> {
        let inner = KBox::new(DiskInner { tag_set: Opaque::uninit(), data }, flags::GFP_KERNEL)?;
        let fops = block_ops(module);
        let set = inner.tag_set.get();
        // SAFETY: `set` points into our box and is not yet shared.
        unsafe {
            ptr::write_bytes(set, 0, 1);
            (*set).ops = &OperationsVTable::<T>::VTABLE;
            (*set).nr_hw_queues = config.nr_hw_queues;
            (*set).queue_depth = config.queue_depth;
            (*set).numa_node = bindings::NUMA_NO_NODE;
            (*set).cmd_size = core::mem::size_of::<Pdu>() as c_uint;
            (*set).flags = bindings::BLK_MQ_F_SHOULD_MERGE;
        }
        // SAFETY: the tag set is filled in and will not move (boxed).
        from_ret(unsafe { bindings::blk_mq_alloc_tag_set(set) })?;

        let mut lim: bindings::queue_limits = Default::default();
        lim.logical_block_size = config.logical_block_size;
        lim.physical_block_size = config.logical_block_size;
        lim.max_hw_sectors = config.max_hw_sectors;
        lim.max_hw_discard_sectors = config.max_discard_sectors;
        lim.max_write_zeroes_sectors = config.max_discard_sectors;
        if config.max_discard_sectors != 0 {
            lim.discard_granularity = config.logical_block_size;
        }
        if config.write_cache {
            lim.features |= bindings::KEXT_BLK_FEAT_WRITE_CACHE;
            if config.fua {
                lim.features |= bindings::KEXT_BLK_FEAT_FUA;
            }
        }
        let queuedata = ptr::from_ref(&inner.data).cast_mut().cast::<c_void>();
        // SAFETY: the tag set is allocated; `lim` is a valid local that the
        // call copies; `queuedata` outlives the queue (freed after it).
        let disk = from_err_or_null(unsafe { bindings::kext_blk_mq_alloc_disk(set, &mut lim, queuedata) })
            .and_then(|disk| NonNull::new(disk).ok_or(code::ENOMEM));
        let disk = match disk {
            Ok(disk) => disk,
            Err(e) => {
                // SAFETY: allocated above, not used by any queue.
                unsafe { bindings::blk_mq_free_tag_set(set) };
                return Err(e);
            }
        };
        let d = disk.as_ptr();
        // SAFETY: `d` is a fresh, unregistered gendisk that we own.
        unsafe {
            (*d).fops = fops;
            let name = config.name.as_bytes_with_nul();
            let len = name.len().min((*d).disk_name.len() - 1);
            ptr::copy_nonoverlapping(name.as_ptr(), (*d).disk_name.as_mut_ptr().cast::<u8>(), len);
            (*d).disk_name[len] = 0;
            bindings::kext_set_capacity(d, config.capacity_sectors);
        }
        // SAFETY: the disk is fully set up; on failure it was not added.
        if let Err(e) = from_ret(unsafe { bindings::kext_add_disk(d) }) {
            // SAFETY: the disk never went live; drop our reference, then
            // the tag set it used.
            unsafe {
                bindings::put_disk(d);
                bindings::blk_mq_free_tag_set(set);
            }
            return Err(e);
        }
        Ok(Self { inner, disk })
    }

    /// The driver state.
    pub fn data(&self) -> &T {
        &self.inner.data
    }
}

impl<T: Operations> Drop for GenDisk<T> {
    fn drop(&mut self) {
        // SAFETY: the disk was added in `new`; `del_gendisk` waits for all
        // I/O to finish, after which no callback can reach `inner`.
        unsafe {
            bindings::del_gendisk(self.disk.as_ptr());
            bindings::put_disk(self.disk.as_ptr());
            bindings::blk_mq_free_tag_set(self.inner.tag_set.get());
        }
    }
}
