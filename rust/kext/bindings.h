/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C API the kext layer binds to. bindgen reads this header during the
 * module build (see Kbuild) and keeps only what bindgen_allowlist names.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/xarray.h>

#include "helpers.h"

/* Macros bindgen cannot see through, as typed constants. */
const gfp_t KEXT_GFP_ATOMIC = GFP_ATOMIC;
const gfp_t KEXT_GFP_NOWAIT = GFP_NOWAIT;
const gfp_t KEXT_GFP_NOIO = GFP_NOIO;
const gfp_t KEXT_GFP_KERNEL = GFP_KERNEL;
const gfp_t KEXT_GFP_NOWARN = __GFP_NOWARN;
const blk_opf_t KEXT_REQ_FUA = REQ_FUA;
const blk_opf_t KEXT_REQ_PREFLUSH = REQ_PREFLUSH;
const blk_features_t KEXT_BLK_FEAT_WRITE_CACHE = BLK_FEAT_WRITE_CACHE;
const blk_features_t KEXT_BLK_FEAT_FUA = BLK_FEAT_FUA;
const blk_features_t KEXT_BLK_FEAT_ROTATIONAL = BLK_FEAT_ROTATIONAL;
const blk_status_t KEXT_BLK_STS_OK = BLK_STS_OK;
const blk_status_t KEXT_BLK_STS_IOERR = BLK_STS_IOERR;
const blk_status_t KEXT_BLK_STS_NOTSUPP = BLK_STS_NOTSUPP;
const blk_status_t KEXT_BLK_STS_RESOURCE = BLK_STS_RESOURCE;
const blk_status_t KEXT_BLK_STS_NOSPC = BLK_STS_NOSPC;
const xa_mark_t KEXT_XA_PRESENT = XA_PRESENT;
