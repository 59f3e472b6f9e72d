// SPDX-License-Identifier: GPL-2.0
/*
 * rsfs module parameters.
 *
 * The 6.12 Rust `module!` macro cannot declare parameters, so they are
 * declared here with the C macros and read by rsfs_main.rs at load, where
 * a bad value fails the load with a message.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

char *rsfs_writeback = "folio";
module_param_named(writeback, rsfs_writeback, charp, 0444);
MODULE_PARM_DESC(writeback,
		 "Writeback implementation: folio (rsfs's writeback_iter() loop, default) or iomap (the kernel's iomap_writepages)");
