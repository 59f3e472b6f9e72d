/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for the kext abstraction layer.
 *
 * Rust cannot call `static inline` functions or expand macros, so each one
 * we need gets a tiny out-of-line wrapper here. Keep them one-liners: any
 * logic belongs in Rust where it can be documented and checked.
 */
#ifndef KEXT_HELPERS_H
#define KEXT_HELPERS_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/bvec.h>
#include <linux/hrtimer.h>
#include <linux/xarray.h>

/* RCU */
void kext_rcu_read_lock(void);
void kext_rcu_read_unlock(void);

/* Pages */
struct page *kext_alloc_zeroed_page(gfp_t gfp);
void kext_free_page_rcu(struct page *page);
void *kext_kmap_local_page(struct page *page);
void kext_kunmap_local(void *addr);

/* XArray */
void kext_xa_init(struct xarray *xa);
void *kext_xa_cmpxchg(struct xarray *xa, unsigned long index, void *old,
		      void *entry, gfp_t gfp);
bool kext_xa_is_err(const void *entry);
int kext_xa_err(void *entry);

/* blk-mq requests */
void *kext_blk_mq_rq_to_pdu(struct request *rq);
struct request *kext_blk_mq_rq_from_pdu(void *pdu);
enum req_op kext_req_op(const struct request *rq);
blk_opf_t kext_req_flags(const struct request *rq);
sector_t kext_blk_rq_pos(const struct request *rq);
unsigned int kext_blk_rq_bytes(const struct request *rq);

/*
 * A cursor over a request's data, one single-page bio_vec at a time: the
 * out-of-line form of rq_for_each_segment().
 */
struct kext_rq_iter {
	struct bio *bio;
	struct bvec_iter iter;
};
void kext_rq_iter_init(struct kext_rq_iter *it, struct request *rq);
bool kext_rq_iter_next(struct kext_rq_iter *it, struct bio_vec *bv);

/* Disks */
struct gendisk *kext_blk_mq_alloc_disk(struct blk_mq_tag_set *set,
				       struct queue_limits *lim,
				       void *queuedata);
int kext_add_disk(struct gendisk *disk);
void kext_set_capacity(struct gendisk *disk, sector_t sectors);

/* Timers */
void kext_hrtimer_init_rel(struct hrtimer *timer,
			   enum hrtimer_restart (*fn)(struct hrtimer *));
void kext_hrtimer_start_rel_ns(struct hrtimer *timer, u64 nsec);

#endif /* KEXT_HELPERS_H */
