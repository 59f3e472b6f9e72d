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
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

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

/* Allocation scopes */
unsigned int kext_memalloc_nofs_save(void) { return memalloc_nofs_save(); }
void kext_memalloc_nofs_restore(unsigned int flags) { memalloc_nofs_restore(flags); }

/* Locks */
void kext_init_rwsem(struct rw_semaphore *sem) { init_rwsem(sem); }
void kext_down_read(struct rw_semaphore *sem) { down_read(sem); }
void kext_up_read(struct rw_semaphore *sem) { up_read(sem); }
void kext_down_write(struct rw_semaphore *sem) { down_write(sem); }
void kext_up_write(struct rw_semaphore *sem) { up_write(sem); }
void kext_mutex_init(struct mutex *lock) { mutex_init(lock); }

/* Inodes */
void kext_inode_lock(struct inode *inode) { inode_lock(inode); }
void kext_inode_unlock(struct inode *inode) { inode_unlock(inode); }
void kext_inode_lock_shared(struct inode *inode) { inode_lock_shared(inode); }
void kext_inode_unlock_shared(struct inode *inode) { inode_unlock_shared(inode); }
loff_t kext_i_size_read(const struct inode *inode) { return i_size_read(inode); }
void kext_i_size_write(struct inode *inode, loff_t size) { i_size_write(inode, size); }
void kext_mark_inode_dirty(struct inode *inode) { mark_inode_dirty(inode); }
struct inode *kext_file_inode(const struct file *file) { return file_inode(file); }

/* which: 0 atime, 1 mtime, 2 ctime */
void kext_inode_set_times(struct inode *inode, int which, s64 sec, u32 nsec)
{
	struct timespec64 ts = { .tv_sec = sec, .tv_nsec = nsec };

	if (which == 0)
		inode_set_atime_to_ts(inode, ts);
	else if (which == 1)
		inode_set_mtime_to_ts(inode, ts);
	else
		inode_set_ctime_to_ts(inode, ts);
}

void kext_inode_get_times(const struct inode *inode, int which, s64 *sec, u32 *nsec)
{
	struct timespec64 ts = which == 0 ? inode_get_atime(inode) :
			       which == 1 ? inode_get_mtime(inode) :
					    inode_get_ctime(inode);

	*sec = ts.tv_sec;
	*nsec = ts.tv_nsec;
}

void kext_filemap_invalidate_lock_shared(struct address_space *m) { filemap_invalidate_lock_shared(m); }
void kext_filemap_invalidate_unlock_shared(struct address_space *m) { filemap_invalidate_unlock_shared(m); }
void kext_filemap_invalidate_lock(struct address_space *m) { filemap_invalidate_lock(m); }
void kext_filemap_invalidate_unlock(struct address_space *m) { filemap_invalidate_unlock(m); }
void kext_sb_start_write(struct super_block *sb) { sb_start_write(sb); }
void kext_sb_end_write(struct super_block *sb) { sb_end_write(sb); }
void kext_sb_start_pagefault(struct super_block *sb) { sb_start_pagefault(sb); }
void kext_sb_end_pagefault(struct super_block *sb) { sb_end_pagefault(sb); }
dev_t kext_new_decode_dev(u32 dev) { return new_decode_dev(dev); }
u32 kext_new_encode_dev(dev_t dev) { return new_encode_dev(dev); }
unsigned int kext_i_uid_read(const struct inode *inode) { return i_uid_read(inode); }
unsigned int kext_i_gid_read(const struct inode *inode) { return i_gid_read(inode); }
void kext_i_uid_write(struct inode *inode, unsigned int uid) { i_uid_write(inode, uid); }
void kext_i_gid_write(struct inode *inode, unsigned int gid) { i_gid_write(inode, gid); }

/* Dentries */
const unsigned char *kext_dentry_name(const struct dentry *dentry, unsigned int *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}
struct inode *kext_d_inode(const struct dentry *dentry) { return d_inode(dentry); }

/*
 * Writes the inodes of every directory from the file's parent up to the
 * root (sync_inode_metadata), as ext4 without a journal does for new
 * files: a dentry walk needs dget_parent/dput, which Rust cannot inline.
 */
int kext_sync_ancestors(struct file *file)
{
	struct dentry *d = dget_parent(file->f_path.dentry);
	int err = 0;

	for (;;) {
		struct dentry *parent;

		err = sync_inode_metadata(d_inode(d), 1);
		if (err || IS_ROOT(d))
			break;
		parent = dget_parent(d);
		dput(d);
		d = parent;
	}
	dput(d);
	return err;
}

/* Directories */
bool kext_dir_emit(struct dir_context *ctx, const char *name, int len,
		   u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, len, ino, type);
}
bool kext_dir_emit_dots(struct file *file, struct dir_context *ctx)
{
	return dir_emit_dots(file, ctx);
}

/* Buffer heads */
struct buffer_head *kext_sb_bread(struct super_block *sb, sector_t block) { return sb_bread(sb, block); }
bool kext_buffer_write_io_error(struct buffer_head *bh) { return buffer_write_io_error(bh); }
bool kext_buffer_uptodate(struct buffer_head *bh) { return buffer_uptodate(bh); }
int kext_bh_read(struct buffer_head *bh) { return bh_read(bh, 0); }
errseq_t kext_bdev_wb_err_sample(struct super_block *sb) { return filemap_sample_wb_err(sb->s_bdev->bd_mapping); }
int kext_bdev_wb_err_check(struct super_block *sb, errseq_t since) { return errseq_check(&sb->s_bdev->bd_mapping->wb_err, since); }
void kext_sb_force_rdonly(struct super_block *sb) { WRITE_ONCE(sb->s_flags, sb->s_flags | SB_RDONLY); }
struct buffer_head *kext_sb_getblk(struct super_block *sb, sector_t block) { return sb_getblk(sb, block); }
void kext_brelse(struct buffer_head *bh) { brelse(bh); }
void kext_bforget(struct buffer_head *bh) { bforget(bh); }
struct buffer_head *kext_sb_find_get_block(struct super_block *sb, sector_t block)
{
	return sb_find_get_block(sb, block);
}
void kext_lock_buffer(struct buffer_head *bh) { lock_buffer(bh); }
void kext_set_buffer_uptodate(struct buffer_head *bh) { set_buffer_uptodate(bh); }

/* The filesystem's own "contents checked" bit (like ext4's BH_Verified). */
#define KEXT_BH_VERIFIED BH_PrivateStart
bool kext_buffer_verified(struct buffer_head *bh)
{
	return test_bit(KEXT_BH_VERIFIED, &bh->b_state);
}
void kext_set_buffer_verified(struct buffer_head *bh, bool verified)
{
	if (verified)
		set_bit(KEXT_BH_VERIFIED, &bh->b_state);
	else
		clear_bit(KEXT_BH_VERIFIED, &bh->b_state);
}

/*
 * Marks a journal keeps on its buffers (jbd2 keeps its own in b_state the
 * same way): which transaction list holds the buffer.
 */
#define KEXT_BH_MARK0 (BH_PrivateStart + 1)
bool kext_buffer_test_set_mark(struct buffer_head *bh, unsigned int mark)
{
	return test_and_set_bit(KEXT_BH_MARK0 + mark, &bh->b_state);
}
void kext_buffer_clear_mark(struct buffer_head *bh, unsigned int mark)
{
	clear_bit(KEXT_BH_MARK0 + mark, &bh->b_state);
}
void kext_get_bh(struct buffer_head *bh) { get_bh(bh); }
sector_t kext_buffer_block(struct buffer_head *bh) { return bh->b_blocknr; }

/*
 * Starts writing an up-to-date buffer now, whether or not it is dirty
 * (a journal writes its blocks itself: they are never left dirty for the
 * flusher). With preflush_fua, the device's cache is flushed before the
 * write and the write itself reaches stable media (a commit block).
 */
void kext_buffer_submit_write(struct buffer_head *bh, bool preflush_fua)
{
	blk_opf_t opf = REQ_OP_WRITE | REQ_SYNC;

	if (preflush_fua)
		opf |= REQ_PREFLUSH | REQ_FUA;
	lock_buffer(bh);
	clear_buffer_dirty(bh);
	set_buffer_uptodate(bh);
	bh->b_end_io = end_buffer_write_sync;
	get_bh(bh);
	submit_bh(opf, bh);
}

/* Waits for kext_buffer_submit_write; -EIO if the write failed. */
int kext_buffer_wait_write(struct buffer_head *bh)
{
	wait_on_buffer(bh);
	return buffer_uptodate(bh) ? 0 : -EIO;
}

/* The running task's journal handle (jbd2's current->journal_info). */
void *kext_journal_info(void) { return current->journal_info; }
void kext_set_journal_info(void *info) { current->journal_info = info; }

/* Folios and writeback */
void kext_folio_start_writeback(struct folio *folio) { folio_start_writeback(folio); }
void kext_folio_get(struct folio *folio) { folio_get(folio); }
void kext_cond_resched(void) { cond_resched(); }
bool kext_fatal_signal_pending(void) { return fatal_signal_pending(current); }
void kext_folio_put(struct folio *folio) { folio_put(folio); }
void kext_wbc_release_batch(struct writeback_control *wbc) { folio_batch_release(&wbc->fbatch); }
void kext_folio_zero_segment(struct folio *folio, size_t start, size_t end)
{
	folio_zero_segment(folio, start, end);
}
loff_t kext_folio_pos(struct folio *folio) { return folio_pos(folio); }
size_t kext_folio_size(struct folio *folio) { return folio_size(folio); }
void kext_mapping_set_error(struct address_space *mapping, int error)
{
	mapping_set_error(mapping, error);
}
blk_opf_t kext_wbc_to_write_flags(struct writeback_control *wbc) { return wbc_to_write_flags(wbc); }
void kext_wbc_init_bio(struct writeback_control *wbc, struct bio *bio) { wbc_init_bio(wbc, bio); }
struct folio *kext_bio_first_folio(struct bio *bio, struct folio_iter *fi)
{
	bio_first_folio(fi, bio, 0);
	return fi->folio;
}
struct folio *kext_bio_next_folio(struct bio *bio, struct folio_iter *fi)
{
	bio_next_folio(fi, bio);
	return fi->folio;
}

bool kext_printk_ratelimit(void) { return printk_ratelimit(); }

int kext_write_end_queue_init(struct kext_write_end_queue *q, const char *name,
			      work_func_t fn)
{
	/* Writeback completion must progress under memory pressure. */
	q->wq = alloc_workqueue("%s-write-end", WQ_MEM_RECLAIM, 0, name);
	if (!q->wq)
		return -ENOMEM;
	INIT_WORK(&q->work, fn);
	spin_lock_init(&q->lock);
	bio_list_init(&q->folio_bios);
	bio_list_init(&q->ioend_bios);
	return 0;
}
void kext_write_end_queue_destroy(struct kext_write_end_queue *q)
{
	destroy_workqueue(q->wq); /* runs what is queued, then frees */
}
void kext_write_end_queue_add(struct kext_write_end_queue *q, struct bio *bio,
			      bool ioend)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	bio_list_add(ioend ? &q->ioend_bios : &q->folio_bios, bio);
	spin_unlock_irqrestore(&q->lock, flags);
	queue_work(q->wq, &q->work);
}
void kext_write_end_queue_take(struct kext_write_end_queue *q,
			       struct bio **folio_bios, struct bio **ioend_bios)
{
	spin_lock_irq(&q->lock);
	*folio_bios = bio_list_get(&q->folio_bios);
	*ioend_bios = bio_list_get(&q->ioend_bios);
	spin_unlock_irq(&q->lock);
}
struct kext_write_end_queue *kext_write_end_queue_of(struct work_struct *work)
{
	return container_of(work, struct kext_write_end_queue, work);
}
struct iomap_ioend *kext_iomap_ioend_from_bio(struct bio *bio)
{
	return iomap_ioend_from_bio(bio);
}

static void kext_delayed_call_fn(struct work_struct *work)
{
	struct kext_delayed_call *c =
		container_of(to_delayed_work(work), struct kext_delayed_call, dwork);

	c->fn(c->data);
}
void kext_delayed_call_init(struct kext_delayed_call *c, void (*fn)(void *), void *data)
{
	INIT_DELAYED_WORK(&c->dwork, kext_delayed_call_fn);
	c->fn = fn;
	c->data = data;
}
/* Does nothing if already armed: the earlier deadline stands. */
void kext_delayed_call_arm(struct kext_delayed_call *c, unsigned int msecs)
{
	queue_delayed_work(system_unbound_wq, &c->dwork, msecs_to_jiffies(msecs));
}
/* Disarms, and waits for a call in progress. */
void kext_delayed_call_cancel(struct kext_delayed_call *c)
{
	cancel_delayed_work_sync(&c->dwork);
}

bool kext_capable_sys_admin(void) { return capable(CAP_SYS_ADMIN); }
int kext_get_user_u32(unsigned long uaddr, u32 *out)
{
	return get_user(*out, (u32 __user *)uaddr) ? -EFAULT : 0;
}
/* Freezes the filesystem on sb's device (syncing it first), as ext4's
 * shutdown ioctl does; undone by kext_bdev_thaw. */
int kext_bdev_freeze(struct super_block *sb) { return bdev_freeze(sb->s_bdev); }
void kext_bdev_thaw(struct super_block *sb) { bdev_thaw(sb->s_bdev); }

/*
 * A file_system_type allocated at run time holds lock class keys, which
 * lockdep must know about before the first super block uses them.
 */
void kext_fs_type_keys(struct file_system_type *t, bool add)
{
	struct lock_class_key *keys[] = {
		&t->s_lock_key, &t->s_umount_key, &t->s_vfs_rename_key,
		&t->s_writers_key[0], &t->s_writers_key[1], &t->s_writers_key[2],
		&t->i_lock_key, &t->i_mutex_key, &t->invalidate_lock_key,
		&t->i_mutex_dir_key,
	};
	int i;

	BUILD_BUG_ON(SB_FREEZE_LEVELS != 3);
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (add)
			lockdep_register_key(keys[i]);
		else
			lockdep_unregister_key(keys[i]);
	}
}

/* Odds and ends */
void kext_seq_puts(struct seq_file *m, const char *s) { seq_puts(m, s); }
size_t kext_iov_iter_count(const struct iov_iter *i) { return iov_iter_count(i); }
ssize_t kext_generic_write_sync(struct kiocb *iocb, ssize_t count) { return generic_write_sync(iocb, count); }
u64 kext_bdev_nr_bytes(struct block_device *bdev) { return bdev_nr_bytes(bdev); }
bool kext_bdev_read_only(struct block_device *bdev) { return bdev_read_only(bdev); }

/* Filesystem contexts */
void kext_fc_error(struct fs_context *fc, const char *msg) { errorfc(fc, "%s", msg); }
void kext_set_delayed_call_kfree(struct delayed_call *done, void *buf)
{
	set_delayed_call(done, kfree_link, buf);
}
