// SPDX-License-Identifier: GPL-2.0
/*
 * Export of a device region backed by ordinary pages as dma-bufs, as
 * upstream's VFIO_DEVICE_FEATURE_DMA_BUF asks for it. The owner (for
 * refmdev, BAR2 in mdev/) supplies the pages and its lifetime through
 * struct p2p_exporter_ops.
 *
 * A dma-buf covers a list of page-aligned ranges of the region, concatenated.
 * While it is usable it holds its own reference on every page it covers,
 * so what importers map can never be freed under them. It becomes
 * unusable (revoked) when the device stops decoding memory or is reset,
 * and for good when the device is closed: before the call that causes
 * that returns, every importer has been told (move_notify) and has
 * unmapped, CPU mappings of the dma-buf are zapped, and the page
 * references are dropped (an importer that does not let go within a
 * bound keeps the old pages alive through its mapping's own references,
 * so memory safety never depends on an importer's good behaviour). A
 * reset makes it usable again on the new memory; decoding turned back
 * on, on the same memory.
 *
 * Importers must be able to let go on request: only dynamic attachments
 * (with a move_notify callback) that accept peer-to-peer memory may
 * attach, the policy vfio-pci has for its own BAR dma-bufs.
 *
 * State of one dma-buf (enum p2p_dmabuf_state), under its reservation lock:
 *
 *   USABLE --(decode off, reset begins)--> REVOKED
 *   REVOKED --(decode on, reset ends with decode on)--> USABLE
 *   USABLE or REVOKED --(device closed)--> DEAD
 *
 * See Documentation/p2p.rst for the diagram and the importer's view.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include "p2p.h"
#include "p2p_compat.h"

P2P_IMPORT_DMA_BUF_NS();

/* See the state diagram above. A DEAD buffer is revoked for good. */
enum p2p_dmabuf_state {
	P2P_DMABUF_USABLE,
	P2P_DMABUF_REVOKED,
	P2P_DMABUF_DEAD,
};

/*
 * Where a buffer is in one walk of the exporter's list (revoke, restore,
 * close); P2P_WALK_NONE between walks. A separate enum from the
 * buffer's state because it is protected by another lock
 * (p2p_exporter.lock, not the reservation lock) and lives only as long
 * as one walk.
 */
enum p2p_dmabuf_walk {
	P2P_WALK_NONE,		/* no file reference: skipped */
	P2P_WALK_HELD,		/* this walk holds a reference on the file */
	P2P_WALK_REVOKING,	/* held, and revoked by this walk's pass 1 */
};

/*
 * One exported dma-buf.
 *
 * Lifetime: created by the feature ioctl, freed by the dma-buf core's
 * .release when its last file reference goes. While @exp is set the
 * buffer is on exp->bufs and holds a reference on the owner
 * (p2p_exporter_ops.get_owner), so @exp stays valid; closing the device
 * clears @exp and drops that reference (under exp->lock), skipping
 * buffers already being released, whose .release does it instead.
 *
 * @ranges, @npages and the @pages array itself never change: the array is
 * allocated with the buffer and reused by every restore, so that revoking
 * and restoring allocate nothing per buffer. Its entries, and @held (the
 * entries hold page references), change only under exp->lock, in a walk
 * or the exporting call, and only while @state is not USABLE; they are
 * read under the reservation lock with @state USABLE (map, vmap, CPU
 * faults), so a reader and a writer never meet. @vmap_pages and @state
 * are protected by the reservation lock (@state is also read without
 * it, as a hint, with READ_ONCE()); @walk is a walk's bookkeeping, under
 * exp->lock; @maps
 * counts live mappings handed to importers (DMA mappings and the one
 * kernel mapping the dma-buf core shares among vmap users), and
 * @unmapped is where revocation waits for it to drop to zero.
 *
 * A buffer on the list may have no file reference left: its last fput()
 * has begun and its .release waits for export.lock. By then the dma-buf
 * core has already let go of the file's inode and mapping (the dentry
 * goes before .release is called), so nothing may look at the file of
 * such a buffer. Walks that need the file therefore take a reference of
 * their own first (p2p_export_hold_files()) and skip the buffers where that
 * fails; those have no importer and no mapping left to revoke.
 */
struct p2p_dmabuf {
	struct dma_buf *dmabuf;
	struct p2p_exporter *exp;	/* NULL once the device was closed */
	struct list_head node;		/* in exp->bufs */
	struct vfio_region_dma_range *ranges;
	u32 nr_ranges;
	unsigned long npages;

	struct page **pages;		/* @npages entries, referenced if @held */
	struct page **vmap_pages;	/* referenced by the kernel mapping */
	bool held;
	enum p2p_dmabuf_state state;
	enum p2p_dmabuf_walk walk;
	atomic_t maps;
	wait_queue_head_t unmapped;
};

/*
 * @state_lock is the owner's lock under which it calls revoke, restore
 * and close; @dev names the buffers and the log messages.
 */
void p2p_export_init(struct p2p_exporter *exp,
		     const struct p2p_exporter_ops *ops, struct device *dev,
		     struct mutex *state_lock, u32 region_index, u64 size)
{
	mutex_init(&exp->lock);
	INIT_LIST_HEAD(&exp->bufs);
	exp->usable = false;
	exp->ops = ops;
	exp->dev = dev;
	exp->state_lock = state_lock;
	exp->region_index = region_index;
	exp->size = size;
}

/* The owner goes: every buffer has let go of it (each held a reference). */
void p2p_export_destroy(struct p2p_exporter *exp)
{
	WARN_ON_ONCE(!list_empty(&exp->bufs));
	mutex_destroy(&exp->lock);
}

static void p2p_export_put_pages(struct page **pages, unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++)
		put_page(pages[i]);
}

/* Drop @buf's own page references, if it holds them; see the struct. */
static void p2p_export_release_pages(struct p2p_dmabuf *buf)
{
	if (!buf->held)
		return;
	p2p_export_put_pages(buf->pages, buf->npages);
	buf->held = false;
}

static void p2p_export_free_buf(struct p2p_dmabuf *buf)
{
	kvfree(buf->pages);
	kfree(buf->ranges);
	kfree(buf);
}

static void p2p_export_sgt_get_pages(struct sg_table *sgt)
{
	struct sg_page_iter iter;

	for_each_sgtable_page(sgt, &iter, 0)
		get_page(sg_page_iter_page(&iter));
}

static void p2p_export_sgt_put_pages(struct sg_table *sgt)
{
	struct sg_page_iter iter;

	for_each_sgtable_page(sgt, &iter, 0)
		put_page(sg_page_iter_page(&iter));
}

/*
 * A mapping handed to an importer is gone. Revocation notifies every
 * importer in turn, each unmapping inside its notification, and nobody
 * waits yet: skip the wakeup's irq-disabling lock when the queue is
 * empty. The atomic that drops @maps to zero is a full barrier, and
 * wq_has_sleeper() pairs with the one wait_event_timeout() sets before
 * it tests @maps, so a waiter either sees zero or is woken.
 */
static void p2p_export_put_map(struct p2p_dmabuf *buf)
{
	if (atomic_dec_and_test(&buf->maps) && wq_has_sleeper(&buf->unmapped))
		wake_up_all(&buf->unmapped);
}

static int p2p_export_attach(struct dma_buf *dmabuf,
			     struct dma_buf_attachment *attach)
{
	struct p2p_dmabuf *buf = dmabuf->priv;

	if (!p2p_attach_is_revocable(attach) || !attach->peer2peer)
		return -EOPNOTSUPP;
	/* A hint only: mapping checks again under the reservation lock. */
	if (READ_ONCE(buf->state) != P2P_DMABUF_USABLE)
		return -ENODEV;
	return 0;
}

/*
 * Dynamic exporters must offer pin. Our memory never moves, so pinning
 * only means "keep it where it is", which holds anyway; a pinned
 * importer is still notified and must still unmap on revocation.
 */
static int p2p_export_pin(struct dma_buf_attachment *attach)
{
	return 0;
}

static void p2p_export_unpin(struct dma_buf_attachment *attach)
{
}

/*
 * Before a usable buffer's pages are mapped for anyone: the owner may have
 * work left on them. The buffer's owner is set while it is usable.
 */
static void p2p_export_prepare_access(struct p2p_dmabuf *buf)
{
	struct p2p_exporter *exp = buf->exp;

	dma_resv_assert_held(buf->dmabuf->resv);
	if (exp->ops->prepare_access)
		exp->ops->prepare_access(exp, buf->ranges, buf->nr_ranges);
}

static struct sg_table *p2p_export_map(struct dma_buf_attachment *attach,
				       enum dma_data_direction dir)
{
	struct p2p_dmabuf *buf = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (buf->state != P2P_DMABUF_USABLE)
		return ERR_PTR(-ENODEV);
	/* An export without write access lets devices only read. */
	if (dir != DMA_TO_DEVICE && !(attach->dmabuf->file->f_mode & FMODE_WRITE))
		return ERR_PTR(-EACCES);

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	p2p_export_prepare_access(buf);
	/* Contiguous pages merge, up to the importer's limit (a page at least). */
	ret = sg_alloc_table_from_pages_segment(sgt, buf->pages, buf->npages, 0,
						(u64)buf->npages << PAGE_SHIFT,
						max_t(unsigned int, PAGE_SIZE,
						      ALIGN_DOWN(dma_get_max_seg_size(attach->dev),
								 PAGE_SIZE)),
						GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto err_table;
	/*
	 * The mapping holds its own page references, so that an importer
	 * that does not give it back in time still maps live memory (old
	 * memory, once revoked: see P2P_REVOKE_TIMEOUT).
	 */
	p2p_export_sgt_get_pages(sgt);
	atomic_inc(&buf->maps);
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void p2p_export_unmap(struct dma_buf_attachment *attach,
			     struct sg_table *sgt,
			     enum dma_data_direction dir)
{
	struct p2p_dmabuf *buf = attach->dmabuf->priv;

	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	p2p_export_sgt_put_pages(sgt);
	sg_free_table(sgt);
	kfree(sgt);
	p2p_export_put_map(buf);
}

/* Our memory is ordinary cacheable RAM: CPU access needs no syncing. */
static int p2p_export_begin_cpu_access(struct dma_buf *dmabuf,
				       enum dma_data_direction dir)
{
	struct p2p_dmabuf *buf = dmabuf->priv;

	return READ_ONCE(buf->state) != P2P_DMABUF_USABLE ? -ENODEV : 0;
}

/* Ending an access to memory that was revoked meanwhile says so too. */
static int p2p_export_end_cpu_access(struct dma_buf *dmabuf,
				     enum dma_data_direction dir)
{
	struct p2p_dmabuf *buf = dmabuf->priv;

	return READ_ONCE(buf->state) != P2P_DMABUF_USABLE ? -ENODEV : 0;
}

/*
 * A kernel mapping, for importers that reach the memory with the CPU (our
 * own P2P windows). Like a DMA mapping it holds its own page references
 * and counts in @maps, so a revocation waits (bounded) for it to go and
 * the memory outlives it in any case. The dma-buf core calls this under
 * the reservation lock, for the first of its vmap users only, and warns
 * if it fails: an importer asks begin_cpu_access() first, which says
 * -ENODEV while revoked.
 */
static int p2p_export_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct p2p_dmabuf *buf = dmabuf->priv;
	struct page **pages;
	unsigned long i;
	void *vaddr;

	dma_resv_assert_held(dmabuf->resv);
	if (buf->state != P2P_DMABUF_USABLE)
		return -ENODEV;
	pages = kvmalloc_array(buf->npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	p2p_export_prepare_access(buf);
	memcpy(pages, buf->pages, array_size(buf->npages, sizeof(*pages)));
	vaddr = vmap(pages, buf->npages, VM_MAP, PAGE_KERNEL);
	if (!vaddr) {
		kvfree(pages);
		return -ENOMEM;
	}
	for (i = 0; i < buf->npages; i++)
		get_page(pages[i]);
	buf->vmap_pages = pages;
	atomic_inc(&buf->maps);
	iosys_map_set_vaddr(map, vaddr);
	return 0;
}

static void p2p_export_vunmap(struct dma_buf *dmabuf,
			      struct iosys_map *map)
{
	struct p2p_dmabuf *buf = dmabuf->priv;

	dma_resv_assert_held(dmabuf->resv);
	vunmap(map->vaddr);
	p2p_export_put_pages(buf->vmap_pages, buf->npages);
	kvfree(buf->vmap_pages);
	buf->vmap_pages = NULL;
	p2p_export_put_map(buf);
}

/*
 * CPU faults insert the page under the reservation lock: a revocation
 * that takes the lock after us zaps what we inserted, one that took it
 * before is seen and the access gets SIGBUS.
 */
static vm_fault_t p2p_export_fault(struct vm_fault *vmf)
{
	struct p2p_dmabuf *buf = vmf->vma->vm_private_data;
	struct dma_resv *resv = buf->dmabuf->resv;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	int err;

	dma_resv_lock(resv, NULL);
	if (buf->state == P2P_DMABUF_USABLE && vmf->pgoff < buf->npages) {
		p2p_export_prepare_access(buf);
		err = vm_insert_page(vmf->vma, vmf->address & PAGE_MASK,
				     buf->pages[vmf->pgoff]);
		ret = (!err || err == -EBUSY) ? VM_FAULT_NOPAGE : vmf_error(err);
	}
	dma_resv_unlock(resv);
	return ret;
}

static const struct vm_operations_struct p2p_export_dmabuf_vm_ops = {
	.fault = p2p_export_fault,
};

static int p2p_export_mmap(struct dma_buf *dmabuf,
			   struct vm_area_struct *vma)
{
	/*
	 * Device memory is shared by nature; vfio-pci refuses private too.
	 * VM_MAYSHARE, not VM_SHARED: the core clears VM_SHARED on a shared
	 * mapping of a read-only file, which a O_RDONLY export is.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	p2p_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &p2p_export_dmabuf_vm_ops;
	vma->vm_private_data = dmabuf->priv;
	return 0;
}

static void p2p_export_release(struct dma_buf *dmabuf)
{
	struct p2p_dmabuf *buf = dmabuf->priv;
	struct p2p_exporter *exp = buf->exp;

	/* Set only while the device holds us on its list; see the struct. */
	if (exp) {
		mutex_lock(&exp->lock);
		list_del(&buf->node);
		mutex_unlock(&exp->lock);
		exp->ops->put_owner(exp);	/* may free @exp */
	}
	/* No importer and no mapping is left: nothing else sees @pages. */
	p2p_export_release_pages(buf);
	p2p_export_free_buf(buf);
}

static const struct dma_buf_ops p2p_export_dmabuf_ops = {
	.attach = p2p_export_attach,
	.pin = p2p_export_pin,
	.unpin = p2p_export_unpin,
	.map_dma_buf = p2p_export_map,
	.unmap_dma_buf = p2p_export_unmap,
	.begin_cpu_access = p2p_export_begin_cpu_access,
	.end_cpu_access = p2p_export_end_cpu_access,
	.mmap = p2p_export_mmap,
	.vmap = p2p_export_vmap,
	.vunmap = p2p_export_vunmap,
	.release = p2p_export_release,
};

/*
 * How long a revocation waits for importers to finish with the memory,
 * for all of a device's buffers together. Importers that honour
 * notifications unmap at once (ours do, inside the notification); the
 * bound is for those that cannot, such as a pinned RDMA registration,
 * which userspace controls: the revoking thread never waits on that for
 * ever.
 */
#define P2P_REVOKE_TIMEOUT	(5 * HZ)

/*
 * Revocation runs in three passes over the buffers, so that the bound
 * above holds for the whole call: mark and notify every buffer, wait
 * for all importers against one deadline, then zap CPU mappings and let
 * go of the pages. An importer still mapping after the deadline keeps
 * the old pages alive through its mapping's own references, and is
 * named in the log.
 */

/*
 * Take a reference on the file of every buffer that still has one, for
 * the length of a walk under exp->lock; see struct p2p_dmabuf.
 */
static void p2p_export_hold_files(struct p2p_exporter *exp)
{
	struct p2p_dmabuf *buf;

	lockdep_assert_held(&exp->lock);
	list_for_each_entry(buf, &exp->bufs, node) {
		WARN_ON_ONCE(buf->walk != P2P_WALK_NONE);
		buf->walk = p2p_get_file_active(&buf->dmabuf->file) ?
			    P2P_WALK_HELD : P2P_WALK_NONE;
	}
}

/*
 * Drop what p2p_export_hold_files() took. A reference dropped here may be
 * the last one: fput() then defers the release to task work or a worker,
 * so .release (which takes exp->lock) never runs inside this call.
 */
static void p2p_export_put_files(struct p2p_exporter *exp)
{
	struct p2p_dmabuf *buf;

	lockdep_assert_held(&exp->lock);
	list_for_each_entry(buf, &exp->bufs, node) {
		if (buf->walk == P2P_WALK_NONE)
			continue;
		buf->walk = P2P_WALK_NONE;
		fput(buf->dmabuf->file);
	}
}

/*
 * Pass 1, for a buffer this walk holds: revoke it (for good if @dead) and
 * notify its importers. Moves @buf to P2P_WALK_REVOKING if this call
 * revoked it, so passes 2 and 3 follow.
 */
static void p2p_export_mark_revoked(struct p2p_exporter *exp,
				    struct p2p_dmabuf *buf, bool dead)
{
	struct dma_resv *resv = buf->dmabuf->resv;
	enum p2p_dmabuf_state was;

	lockdep_assert_held(&exp->lock);
	if (buf->walk != P2P_WALK_HELD)
		return;
	dma_resv_lock(resv, NULL);
	was = buf->state;
	if (dead)
		WRITE_ONCE(buf->state, P2P_DMABUF_DEAD);
	else if (was == P2P_DMABUF_USABLE)
		WRITE_ONCE(buf->state, P2P_DMABUF_REVOKED);
	if (was == P2P_DMABUF_USABLE) {
		p2p_dma_buf_notify(buf->dmabuf);
		buf->walk = P2P_WALK_REVOKING;
	}
	dma_resv_unlock(resv);
}

/*
 * Pass 2: importers' fences (they fence asynchronous work), then their
 * unmaps. Both are kernel code bound to finish, but see above.
 */
static void p2p_export_wait_importers(struct p2p_exporter *exp,
				      struct p2p_dmabuf *buf,
				      unsigned long deadline)
{
	struct dma_buf *dmabuf = buf->dmabuf;
	long left = time_before(jiffies, deadline) ? deadline - jiffies : 0;

	left = dma_resv_wait_timeout(dmabuf->resv, DMA_RESV_USAGE_BOOKKEEP,
				     false, left);
	if (left > 0)
		left = wait_event_timeout(buf->unmapped,
					  !atomic_read(&buf->maps), left);
	else if (!left && !atomic_read(&buf->maps))
		left = 1;	/* no time left, but nothing to wait for */
	if (left <= 0)
		dev_warn_ratelimited(exp->dev,
				     "dma-buf %llu: an importer still uses it %u ms after revocation; its memory stays allocated until it lets go\n",
				     (u64)file_inode(dmabuf->file)->i_ino,
				     jiffies_to_msecs(P2P_REVOKE_TIMEOUT));
}

/*
 * Pass 3. Pass 1 made the buffer unusable under its reservation lock, and
 * map, vmap and faults look at @pages only under that lock and only while
 * it is usable, so the references go without taking the lock again; no
 * restore can run meanwhile (exp->lock).
 */
static void p2p_export_drop_pages(struct p2p_dmabuf *buf)
{
	unmap_mapping_range(buf->dmabuf->file->f_mapping, 0, 0, true);
	p2p_export_release_pages(buf);
}

/*
 * Passes 2 and 3 for the buffers pass 1 revoked, which go back to being
 * merely held by the walk.
 */
static void p2p_export_finish_revoke(struct p2p_exporter *exp)
{
	unsigned long deadline = jiffies + P2P_REVOKE_TIMEOUT;
	struct p2p_dmabuf *buf;

	lockdep_assert_held(&exp->lock);
	list_for_each_entry(buf, &exp->bufs, node)
		if (buf->walk == P2P_WALK_REVOKING)
			p2p_export_wait_importers(exp, buf, deadline);
	list_for_each_entry(buf, &exp->bufs, node) {
		if (buf->walk != P2P_WALK_REVOKING)
			continue;
		p2p_export_drop_pages(buf);
		buf->walk = P2P_WALK_HELD;
	}
}

/*
 * Make one buffer usable on the device's current memory. If the owner
 * cannot supply the pages it stays revoked, which is safe. The entries of
 * @pages are filled before the reservation lock is taken: while the
 * buffer is revoked nothing else reads them (see the struct).
 */
static int p2p_export_restore_buf(struct p2p_exporter *exp,
				  struct p2p_dmabuf *buf)
{
	struct dma_buf *dmabuf = buf->dmabuf;
	int ret;

	lockdep_assert_held(&exp->lock);
	/* Only a walk or the exporting call (before the fd exists) get here. */
	if (buf->state != P2P_DMABUF_REVOKED)
		return 0;
	if (WARN_ON_ONCE(buf->held))
		return -EINVAL;
	ret = exp->ops->get_pages(exp, buf->ranges, buf->nr_ranges, buf->pages);
	if (ret)
		return ret;
	buf->held = true;
	dma_resv_lock(dmabuf->resv, NULL);
	WRITE_ONCE(buf->state, P2P_DMABUF_USABLE);
	p2p_dma_buf_notify(dmabuf);
	dma_resv_unlock(dmabuf->resv);
	return 0;
}

/*
 * The device stops decoding memory, or is about to replace it (reset).
 * This waits for importers (bounded); when it returns no importer maps
 * the old memory and no CPU mapping of a dma-buf reaches it.
 */
void p2p_export_revoke(struct p2p_exporter *exp)
{
	struct p2p_dmabuf *buf;

	lockdep_assert_held(exp->state_lock);
	mutex_lock(&exp->lock);
	exp->usable = false;
	p2p_export_hold_files(exp);
	list_for_each_entry(buf, &exp->bufs, node)
		p2p_export_mark_revoked(exp, buf, false);
	p2p_export_finish_revoke(exp);
	p2p_export_put_files(exp);
	mutex_unlock(&exp->lock);
}

/* Decoding is on and the memory settled: buffers may be used again. */
void p2p_export_restore(struct p2p_exporter *exp)
{
	struct p2p_dmabuf *buf;

	lockdep_assert_held(exp->state_lock);
	mutex_lock(&exp->lock);
	exp->usable = true;
	p2p_export_hold_files(exp);
	list_for_each_entry(buf, &exp->bufs, node)
		if (buf->walk == P2P_WALK_HELD &&
		    p2p_export_restore_buf(exp, buf))
			dev_warn_ratelimited(exp->dev,
					     "dma-buf %llu stays revoked: the device could not supply its pages\n",
					     (u64)file_inode(buf->dmabuf->file)->i_ino);
	p2p_export_put_files(exp);
	mutex_unlock(&exp->lock);
}

/*
 * The last device fd is closing: every buffer is revoked for good and
 * forgets the device. Buffers whose file is already on its way out stay
 * on the list for their .release, which still needs the device
 * reference; no importer or mapping can hold one of those, and no later
 * open can reach them (every walk skips them).
 */
void p2p_export_close(struct p2p_exporter *exp)
{
	struct p2p_dmabuf *buf, *tmp;

	lockdep_assert_held(exp->state_lock);
	mutex_lock(&exp->lock);
	exp->usable = false;
	p2p_export_hold_files(exp);
	list_for_each_entry(buf, &exp->bufs, node)
		p2p_export_mark_revoked(exp, buf, true);
	p2p_export_finish_revoke(exp);
	list_for_each_entry_safe(buf, tmp, &exp->bufs, node) {
		if (buf->walk == P2P_WALK_NONE)
			continue;
		buf->walk = P2P_WALK_NONE;
		list_del_init(&buf->node);
		buf->exp = NULL;
		/* Not the last owner reference: the closing device holds one. */
		exp->ops->put_owner(exp);
		fput(buf->dmabuf->file);
	}
	mutex_unlock(&exp->lock);
}

/*
 * Read and check the ranges of a request: non-empty, page aligned,
 * inside the region, and in total no larger than the region (the buffer
 * holds a page array of that size). Returns the total length through
 * @total.
 */
static struct vfio_region_dma_range *
p2p_export_copy_ranges(struct p2p_exporter *exp,
		       struct vfio_device_feature_dma_buf __user *arg,
		       const struct vfio_device_feature_dma_buf *req,
		       size_t argsz, u64 *total)
{
	u64 bar = exp->size, sum = 0, end;
	struct vfio_region_dma_range *ranges;
	size_t need;
	u32 i;
	int ret;

	if (req->nr_ranges > bar >> PAGE_SHIFT)
		return ERR_PTR(-EINVAL);
	need = struct_size(req, dma_ranges, req->nr_ranges);
	if (argsz < need)
		return ERR_PTR(-EINVAL);
	ranges = memdup_array_user(arg->dma_ranges, req->nr_ranges,
				   sizeof(*ranges));
	if (IS_ERR(ranges))
		return ranges;

	for (i = 0; i < req->nr_ranges; i++) {
		u64 off = ranges[i].offset, len = ranges[i].length;

		ret = -EINVAL;
		if (!len || !PAGE_ALIGNED(off) || !PAGE_ALIGNED(len))
			goto err;
		ret = -EOVERFLOW;
		if (check_add_overflow(off, len, &end))
			goto err;
		ret = -EINVAL;
		if (end > bar)
			goto err;
		sum += len;	/* each len <= bar, nr_ranges <= bar pages */
		if (sum > bar)
			goto err;
	}
	*total = sum;
	return ranges;

err:
	kfree(ranges);
	return ERR_PTR(ret);
}

/* The request's own fields, in the order upstream checks them. */
static int p2p_export_check_request(const struct p2p_exporter *exp,
				    const struct vfio_device_feature_dma_buf *req)
{
	if (!req->nr_ranges || req->flags)
		return -EINVAL;
	/* Upstream's answer for what is not a BAR at all ... */
	if (req->region_index >= VFIO_PCI_ROM_REGION_INDEX)
		return -ENODEV;
	/* ... and for a BAR it cannot export. */
	if (req->region_index != exp->region_index)
		return -EINVAL;
	if ((req->open_flags & ~(O_ACCMODE | O_CLOEXEC)) ||
	    (req->open_flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	return 0;
}

/* A buffer for the checked ranges, on no list and revoked until it joins one. */
static struct p2p_dmabuf *
p2p_export_alloc_buf(struct p2p_exporter *exp,
		     struct vfio_device_feature_dma_buf __user *arg,
		     const struct vfio_device_feature_dma_buf *req,
		     size_t argsz)
{
	struct p2p_dmabuf *buf;
	u64 total;
	int ret;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	buf->ranges = p2p_export_copy_ranges(exp, arg, req, argsz, &total);
	if (IS_ERR(buf->ranges)) {
		ret = PTR_ERR(buf->ranges);
		kfree(buf);
		return ERR_PTR(ret);
	}
	buf->nr_ranges = req->nr_ranges;
	buf->npages = total >> PAGE_SHIFT;
	buf->pages = kvcalloc(buf->npages, sizeof(*buf->pages),
			      GFP_KERNEL_ACCOUNT);
	if (!buf->pages) {
		p2p_export_free_buf(buf);
		return ERR_PTR(-ENOMEM);
	}
	buf->state = P2P_DMABUF_REVOKED;
	buf->walk = P2P_WALK_NONE;
	atomic_set(&buf->maps, 0);
	init_waitqueue_head(&buf->unmapped);
	INIT_LIST_HEAD(&buf->node);
	return buf;
}

/*
 * VFIO_DEVICE_FEATURE_DMA_BUF with VFIO_DEVICE_FEATURE_GET, which the
 * owner's .device_feature has checked: a new dma-buf over the ranges the
 * request names, usable at once if the owner is. Returns its fd.
 */
int p2p_export_dmabuf(struct p2p_exporter *exp,
		      struct vfio_device_feature_dma_buf __user *arg,
		      size_t argsz)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct vfio_device_feature_dma_buf req;
	struct p2p_dmabuf *buf;
	struct dma_buf *dmabuf;
	char *name;
	int ret, fd;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	ret = p2p_export_check_request(exp, &req);
	if (ret)
		return ret;
	buf = p2p_export_alloc_buf(exp, arg, &req, argsz);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	name = kasprintf(GFP_KERNEL, "%s:bar%u", dev_name(exp->dev),
			 exp->region_index);
	if (!name) {
		ret = -ENOMEM;
		goto err_free_buf;
	}

	exp_info.ops = &p2p_export_dmabuf_ops;
	exp_info.exp_name = exp->ops->name;
	exp_info.size = (size_t)buf->npages << PAGE_SHIFT;
	exp_info.flags = req.open_flags;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		kfree(name);
		goto err_free_buf;
	}
	buf->dmabuf = dmabuf;
	spin_lock(&dmabuf->name_lock);
	dmabuf->name = name;		/* freed by the dma-buf core */
	spin_unlock(&dmabuf->name_lock);

	/* From here on dma_buf_put() frees @buf through .release. */
	mutex_lock(&exp->lock);
	exp->ops->get_owner(exp);	/* dropped by close or .release */
	buf->exp = exp;
	list_add_tail(&buf->node, &exp->bufs);
	/* Under exp->lock no revoke or restore runs meanwhile. */
	ret = exp->usable ? p2p_export_restore_buf(exp, buf) : 0;
	mutex_unlock(&exp->lock);
	if (ret)
		goto err_put;

	fd = dma_buf_fd(dmabuf, req.open_flags);
	if (fd < 0) {
		ret = fd;
		goto err_put;
	}
	return fd;

err_put:
	dma_buf_put(dmabuf);
	return ret;

err_free_buf:
	p2p_export_free_buf(buf);
	return ret;
}
