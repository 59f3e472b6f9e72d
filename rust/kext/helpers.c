// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers for the `static inline` functions and macros the
 * kext layer uses. Prototypes and the reason for this file: helpers.h.
 *
 * Each module that uses kext compiles this file into itself (see Kbuild).
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>

#include "helpers.h"

void kext_rcu_read_lock(void)
{
	rcu_read_lock();
}

void kext_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

struct page *kext_alloc_zeroed_page(gfp_t gfp)
{
	return alloc_page(gfp | __GFP_ZERO);
}

static void kext_free_page_rcu_cb(struct rcu_head *head)
{
	__free_page(container_of(head, struct page, rcu_head));
}

/*
 * Free a page that lock-free readers may still be copying from: it goes back
 * to the allocator only after every current RCU reader has finished.
 */
void kext_free_page_rcu(struct page *page)
{
	call_rcu(&page->rcu_head, kext_free_page_rcu_cb);
}

void *kext_kmap_local_page(struct page *page)
{
	return kmap_local_page(page);
}

void kext_kunmap_local(void *addr)
{
	kunmap_local(addr);
}

void kext_xa_init(struct xarray *xa)
{
	xa_init(xa);
}

void *kext_xa_cmpxchg(struct xarray *xa, unsigned long index, void *old,
		      void *entry, gfp_t gfp)
{
	return xa_cmpxchg(xa, index, old, entry, gfp);
}

bool kext_xa_is_err(const void *entry)
{
	return xa_is_err(entry);
}

int kext_xa_err(void *entry)
{
	return xa_err(entry);
}

void *kext_blk_mq_rq_to_pdu(struct request *rq)
{
	return blk_mq_rq_to_pdu(rq);
}

struct request *kext_blk_mq_rq_from_pdu(void *pdu)
{
	return blk_mq_rq_from_pdu(pdu);
}

enum req_op kext_req_op(const struct request *rq)
{
	return req_op(rq);
}

blk_opf_t kext_req_flags(const struct request *rq)
{
	return rq->cmd_flags & ~REQ_OP_MASK;
}

sector_t kext_blk_rq_pos(const struct request *rq)
{
	return blk_rq_pos(rq);
}

unsigned int kext_blk_rq_bytes(const struct request *rq)
{
	return blk_rq_bytes(rq);
}

void kext_rq_iter_init(struct kext_rq_iter *it, struct request *rq)
{
	it->bio = rq->bio;
	if (it->bio)
		it->iter = it->bio->bi_iter;
}

bool kext_rq_iter_next(struct kext_rq_iter *it, struct bio_vec *bv)
{
	while (it->bio) {
		if (it->iter.bi_size) {
			*bv = bio_iter_iovec(it->bio, it->iter);
			bio_advance_iter_single(it->bio, &it->iter, bv->bv_len);
			return true;
		}
		it->bio = it->bio->bi_next;
		if (it->bio)
			it->iter = it->bio->bi_iter;
	}
	return false;
}

struct gendisk *kext_blk_mq_alloc_disk(struct blk_mq_tag_set *set,
				       struct queue_limits *lim,
				       void *queuedata)
{
	return blk_mq_alloc_disk(set, lim, queuedata);
}

int kext_add_disk(struct gendisk *disk)
{
	return add_disk(disk);
}

void kext_set_capacity(struct gendisk *disk, sector_t sectors)
{
	set_capacity(disk, sectors);
}

void kext_hrtimer_init_rel(struct hrtimer *timer,
			   enum hrtimer_restart (*fn)(struct hrtimer *))
{
	hrtimer_init(timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	timer->function = fn;
}

void kext_hrtimer_start_rel_ns(struct hrtimer *timer, u64 nsec)
{
	hrtimer_start(timer, ns_to_ktime(nsec), HRTIMER_MODE_REL);
}
