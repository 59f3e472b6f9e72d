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
#include <linux/bio.h>
#include <linux/bvec.h>
#include <linux/hrtimer.h>
#include <linux/xarray.h>
#include <linux/buffer_head.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/iomap.h>
#include <linux/writeback.h>
#include <linux/seq_file.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

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

/* Allocation scopes */
unsigned int kext_memalloc_nofs_save(void);
void kext_memalloc_nofs_restore(unsigned int flags);

/* Locks */
void kext_init_rwsem(struct rw_semaphore *sem);
void kext_down_read(struct rw_semaphore *sem);
void kext_up_read(struct rw_semaphore *sem);
void kext_down_write(struct rw_semaphore *sem);
void kext_up_write(struct rw_semaphore *sem);
void kext_mutex_init(struct mutex *lock);

/* Inodes */
void kext_inode_lock(struct inode *inode);
void kext_inode_unlock(struct inode *inode);
void kext_inode_lock_shared(struct inode *inode);
void kext_inode_unlock_shared(struct inode *inode);
loff_t kext_i_size_read(const struct inode *inode);
void kext_i_size_write(struct inode *inode, loff_t size);
void kext_mark_inode_dirty(struct inode *inode);
struct inode *kext_file_inode(const struct file *file);
void kext_inode_set_times(struct inode *inode, int which, s64 sec, u32 nsec);
void kext_inode_get_times(const struct inode *inode, int which, s64 *sec, u32 *nsec);
void kext_filemap_invalidate_lock_shared(struct address_space *mapping);
void kext_filemap_invalidate_unlock_shared(struct address_space *mapping);
void kext_filemap_invalidate_lock(struct address_space *mapping);
void kext_filemap_invalidate_unlock(struct address_space *mapping);
void kext_sb_start_write(struct super_block *sb);
void kext_sb_end_write(struct super_block *sb);
void kext_sb_start_pagefault(struct super_block *sb);
void kext_sb_end_pagefault(struct super_block *sb);
dev_t kext_new_decode_dev(u32 dev);
u32 kext_new_encode_dev(dev_t dev);
unsigned int kext_i_uid_read(const struct inode *inode);
unsigned int kext_i_gid_read(const struct inode *inode);
void kext_i_uid_write(struct inode *inode, unsigned int uid);
void kext_i_gid_write(struct inode *inode, unsigned int gid);

/* Dentries */
const unsigned char *kext_dentry_name(const struct dentry *dentry, unsigned int *len);
struct inode *kext_d_inode(const struct dentry *dentry);
int kext_sync_ancestors(struct file *file);

/* Directories */
bool kext_dir_emit(struct dir_context *ctx, const char *name, int len,
		   u64 ino, unsigned int type);
bool kext_dir_emit_dots(struct file *file, struct dir_context *ctx);

/* Buffer heads (metadata blocks on the block device) */
struct buffer_head *kext_sb_bread(struct super_block *sb, sector_t block);
bool kext_buffer_write_io_error(struct buffer_head *bh);
bool kext_buffer_uptodate(struct buffer_head *bh);
int kext_bh_read(struct buffer_head *bh);
errseq_t kext_bdev_wb_err_sample(struct super_block *sb);
int kext_bdev_wb_err_check(struct super_block *sb, errseq_t since);
void kext_sb_force_rdonly(struct super_block *sb);
struct buffer_head *kext_sb_getblk(struct super_block *sb, sector_t block);
void kext_brelse(struct buffer_head *bh);
void kext_bforget(struct buffer_head *bh);
struct buffer_head *kext_sb_find_get_block(struct super_block *sb, sector_t block);
void kext_lock_buffer(struct buffer_head *bh);
void kext_set_buffer_uptodate(struct buffer_head *bh);
bool kext_buffer_verified(struct buffer_head *bh);
void kext_set_buffer_verified(struct buffer_head *bh, bool verified);
bool kext_buffer_test_set_mark(struct buffer_head *bh, unsigned int mark);
void kext_buffer_clear_mark(struct buffer_head *bh, unsigned int mark);
void kext_get_bh(struct buffer_head *bh);
sector_t kext_buffer_block(struct buffer_head *bh);
void kext_buffer_submit_write(struct buffer_head *bh, bool preflush_fua);
int kext_buffer_wait_write(struct buffer_head *bh);
void *kext_journal_info(void);
void kext_set_journal_info(void *info);

/* Folios and writeback */
void kext_folio_start_writeback(struct folio *folio);
void kext_cond_resched(void);
bool kext_fatal_signal_pending(void);
void kext_folio_get(struct folio *folio);
void kext_folio_put(struct folio *folio);
void kext_wbc_release_batch(struct writeback_control *wbc);
void kext_folio_zero_segment(struct folio *folio, size_t start, size_t end);
loff_t kext_folio_pos(struct folio *folio);
size_t kext_folio_size(struct folio *folio);
void kext_mapping_set_error(struct address_space *mapping, int error);
blk_opf_t kext_wbc_to_write_flags(struct writeback_control *wbc);
void kext_wbc_init_bio(struct writeback_control *wbc, struct bio *bio);
/*
 * Walks the folios of a completed bio (bio_for_each_folio_all): the block
 * layer merges physically contiguous folios into one bio_vec, so vectors
 * and folios do not correspond one to one.
 */
struct folio *kext_bio_first_folio(struct bio *bio, struct folio_iter *fi);
struct folio *kext_bio_next_folio(struct bio *bio, struct folio_iter *fi);

/*
 * Writes to unwritten blocks complete in two steps: the bio's end_io (in
 * interrupt context) queues the bio here, and a work item, in process
 * context, makes the blocks written and only then ends the folios'
 * writeback (as xfs_end_ioend and ext4_end_io_rsv_work do). Both our own
 * writer's bios and iomap's ioend bios are queued, each on its own list
 * (chained through bi_next, which is free once a bio completed).
 */
struct kext_write_end_queue {
	struct workqueue_struct *wq;
	struct work_struct work;
	spinlock_t lock;
	struct bio_list folio_bios;
	struct bio_list ioend_bios;
};
int kext_write_end_queue_init(struct kext_write_end_queue *q, const char *name,
			      work_func_t fn);
void kext_write_end_queue_destroy(struct kext_write_end_queue *q);
void kext_write_end_queue_add(struct kext_write_end_queue *q, struct bio *bio,
			      bool ioend);
void kext_write_end_queue_take(struct kext_write_end_queue *q,
			       struct bio **folio_bios, struct bio **ioend_bios);
struct kext_write_end_queue *kext_write_end_queue_of(struct work_struct *work);
struct iomap_ioend *kext_iomap_ioend_from_bio(struct bio *bio);

/*
 * A delayed call of fn(data) on the unbound system workqueue (a
 * filesystem's periodic work, such as a journal's commit timer).
 */
struct kext_delayed_call {
	struct delayed_work dwork;
	void (*fn)(void *data);
	void *data;
};
void kext_delayed_call_init(struct kext_delayed_call *c, void (*fn)(void *), void *data);
void kext_delayed_call_arm(struct kext_delayed_call *c, unsigned int msecs);
void kext_delayed_call_cancel(struct kext_delayed_call *c);

/* ioctls */
bool kext_capable_sys_admin(void);
int kext_get_user_u32(unsigned long uaddr, u32 *out);
int kext_bdev_freeze(struct super_block *sb);
void kext_bdev_thaw(struct super_block *sb);

/* Odds and ends */
bool kext_printk_ratelimit(void);
void kext_seq_puts(struct seq_file *m, const char *s);
size_t kext_iov_iter_count(const struct iov_iter *i);
ssize_t kext_generic_write_sync(struct kiocb *iocb, ssize_t count);
u64 kext_bdev_nr_bytes(struct block_device *bdev);
bool kext_bdev_read_only(struct block_device *bdev);

void kext_fs_type_keys(struct file_system_type *t, bool add);

/* Filesystem contexts */
void kext_fc_error(struct fs_context *fc, const char *msg);
void kext_set_delayed_call_kfree(struct delayed_call *done, void *buf);


#endif /* KEXT_HELPERS_H */
