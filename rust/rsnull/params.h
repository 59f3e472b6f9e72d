/* SPDX-License-Identifier: GPL-2.0 */
/* rsnull module parameters; defined in params.c, read by config.rs. */
#ifndef RSNULL_PARAMS_H
#define RSNULL_PARAMS_H

#include <linux/types.h>

extern unsigned int rsnull_nr_devices;
extern unsigned int rsnull_gb;
extern unsigned int rsnull_size_mb;
extern unsigned int rsnull_bs;
extern unsigned int rsnull_submit_queues;
extern unsigned int rsnull_hw_queue_depth;
extern unsigned int rsnull_irqmode;
extern unsigned long rsnull_completion_nsec;
extern bool rsnull_memory_backed;
extern bool rsnull_discard;
extern bool rsnull_write_cache;
extern unsigned long rsnull_cache_size;
extern bool rsnull_fua;

#endif
