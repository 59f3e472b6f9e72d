/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C API the kext layer binds to. bindgen reads this header during the
 * module build (see Kbuild) and keeps only what bindgen_allowlist names.
 */
#include <linux/badblocks.h>
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/buffer_head.h>
#include <linux/configfs.h>
#include <linux/cpumask.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/hrtimer.h>
#include <linux/iomap.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/statfs.h>
#include <linux/uio.h>
#include <linux/writeback.h>
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
const blk_opf_t KEXT_REQ_OP_WRITE = REQ_OP_WRITE;
const blk_opf_t KEXT_REQ_SYNC = REQ_SYNC;
const fmode_t KEXT_FMODE_NOWAIT = FMODE_NOWAIT;
const unsigned int KEXT_FS_REQUIRES_DEV = FS_REQUIRES_DEV;
const unsigned int KEXT_RENAME_NOREPLACE = RENAME_NOREPLACE;
const unsigned int KEXT_RENAME_EXCHANGE = RENAME_EXCHANGE;
const unsigned int KEXT_RENAME_WHITEOUT = RENAME_WHITEOUT;
const unsigned int KEXT_ATTR_SIZE = ATTR_SIZE;
const unsigned long KEXT_S_NEW = I_NEW;
const unsigned long KEXT_SB_RDONLY = SB_RDONLY;
const unsigned int KEXT_IOMAP_WRITE = IOMAP_WRITE;
const unsigned int KEXT_IOMAP_ZERO = IOMAP_ZERO;
const unsigned int KEXT_IOMAP_REPORT = IOMAP_REPORT;
const unsigned int KEXT_IOMAP_DIRECT = IOMAP_DIRECT;
const unsigned int KEXT_IOMAP_FAULT = IOMAP_FAULT;
const unsigned short KEXT_IOMAP_HOLE = IOMAP_HOLE;
const unsigned short KEXT_IOMAP_MAPPED = IOMAP_MAPPED;
const unsigned short KEXT_IOMAP_UNWRITTEN = IOMAP_UNWRITTEN;
const unsigned short KEXT_IOMAP_F_NEW = IOMAP_F_NEW;
const unsigned int KEXT_IOMAP_DIO_OVERWRITE_ONLY = IOMAP_DIO_OVERWRITE_ONLY;
const int KEXT_IOCB_DIRECT = IOCB_DIRECT;
const int KEXT_IOCB_NOWAIT = IOCB_NOWAIT;
const int KEXT_SEEK_DATA = SEEK_DATA;
const int KEXT_I_DIRTY_INODE = I_DIRTY_INODE;
const int KEXT_SEEK_HOLE = SEEK_HOLE;
const vm_fault_t KEXT_VM_FAULT_SIGBUS = VM_FAULT_SIGBUS;
const gfp_t KEXT_GFP_NOFS = GFP_NOFS;
const fmode_t KEXT_FMODE_CAN_ODIRECT = FMODE_CAN_ODIRECT;
const fop_flags_t KEXT_FOP_BUFFER_RASYNC = FOP_BUFFER_RASYNC;
const fop_flags_t KEXT_FOP_DIO_PARALLEL_WRITE = FOP_DIO_PARALLEL_WRITE;
const unsigned int KEXT_ATTR_MODE = ATTR_MODE;
const int KEXT_SB_I_VERSION = SB_I_VERSION;
const int KEXT_S_ISUID = S_ISUID;
const unsigned int KEXT_BIO_MAX_VECS = BIO_MAX_VECS;
const unsigned long KEXT_VM_SHARED = VM_SHARED;
const unsigned long KEXT_VM_MAYWRITE = VM_MAYWRITE;
const unsigned long KEXT_SB_SILENT = SB_SILENT;
const unsigned int KEXT_IOMAP_OVERWRITE_ONLY = IOMAP_OVERWRITE_ONLY;
const int KEXT_S_ISGID = S_ISGID;
