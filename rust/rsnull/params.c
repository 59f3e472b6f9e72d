// SPDX-License-Identifier: GPL-2.0
/*
 * rsnull module parameters.
 *
 * The 6.12 Rust `module!` macro cannot declare parameters, so they are
 * declared here with the C macros and read (and validated) once at load by
 * config.rs. Names and defaults follow C null_blk where it has the
 * parameter. All are read-only after load (0444).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "params.h"

unsigned int rsnull_nr_devices = 1;
module_param_named(nr_devices, rsnull_nr_devices, uint, 0444);
MODULE_PARM_DESC(nr_devices, "Number of devices to create at load, 0..64 (default: 1); more through configfs");

unsigned int rsnull_gb = 250;
module_param_named(gb, rsnull_gb, uint, 0444);
MODULE_PARM_DESC(gb, "Size of each device in GiB (default: 250); ignored if size_mb is set");

unsigned int rsnull_size_mb;
module_param_named(size_mb, rsnull_size_mb, uint, 0444);
MODULE_PARM_DESC(size_mb, "Size of each device in MiB, for small test devices (default: 0, use gb)");

unsigned int rsnull_bs = 512;
module_param_named(bs, rsnull_bs, uint, 0444);
MODULE_PARM_DESC(bs, "Logical block size in bytes: 512, 1024, 2048 or 4096 (default: 512)");

unsigned int rsnull_submit_queues = 1;
module_param_named(submit_queues, rsnull_submit_queues, uint, 0444);
MODULE_PARM_DESC(submit_queues, "Number of hardware submission queues, 1..nr_cpu_ids (default: 1)");

unsigned int rsnull_hw_queue_depth = 64;
module_param_named(hw_queue_depth, rsnull_hw_queue_depth, uint, 0444);
MODULE_PARM_DESC(hw_queue_depth, "Queue depth of each hardware queue, 1..4096 (default: 64)");

unsigned int rsnull_irqmode = 1;
module_param_named(irqmode, rsnull_irqmode, uint, 0444);
MODULE_PARM_DESC(irqmode, "Completion: 0-none (inline), 1-softirq, 2-timer (default: 1)");

unsigned long rsnull_completion_nsec = 10000;
module_param_named(completion_nsec, rsnull_completion_nsec, ulong, 0444);
MODULE_PARM_DESC(completion_nsec, "Completion delay for irqmode=2, in ns, up to 1 s (default: 10000)");

bool rsnull_memory_backed = true;
module_param_named(memory_backed, rsnull_memory_backed, bool, 0444);
MODULE_PARM_DESC(memory_backed, "Keep written data in memory (default: 1); 0 discards writes and reads zeros");

bool rsnull_discard = true;
module_param_named(discard, rsnull_discard, bool, 0444);
MODULE_PARM_DESC(discard, "Support discard and write-zeroes; freed ranges read back as zeros (default: 1)");

bool rsnull_write_cache;
module_param_named(write_cache, rsnull_write_cache, bool, 0444);
MODULE_PARM_DESC(write_cache, "Report a volatile write cache with FUA, so that filesystems send flushes (default: 0)");

unsigned long rsnull_cache_size;
module_param_named(cache_size, rsnull_cache_size, ulong, 0444);
MODULE_PARM_DESC(cache_size, "MiB of emulated volatile write cache, lost at a power cut unless flushed (default: 0, none)");

bool rsnull_fua = true;
module_param_named(fua, rsnull_fua, bool, 0444);
MODULE_PARM_DESC(fua, "With cache_size, honour FUA writes (default: 1)");
