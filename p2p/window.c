// SPDX-License-Identifier: GPL-2.0
/*
 * P2P windows: the importing side of BAR export. A VFIO user attaches a
 * dma-buf to this device at an IOVA; descriptors whose source or
 * destination lies in [iova, iova + size) then reach the dma-buf's memory
 * through a dynamic attachment instead of through type1, without pinning.
 *
 * The engine is a device with no IOMMU in front of it: the exporter maps
 * the dma-buf for our struct device with the DMA API, which hands back
 * physical addresses (dma-direct), and the engine, which moves data with
 * the CPU, turns them back into pages. Only memory with struct pages can
 * be reached that way; anything else gets REFMDEV_DMA_ST_PEER_FAULT.
 *
 * The mapping is made when a descriptor first needs it and dropped when
 * the exporter notifies us (it holds the reservation lock then, as the
 * engine does for the whole of a descriptor's copy, so a notification
 * waits for the descriptor in flight and nothing lands in the memory
 * after the exporter's revoking call returns). While the exporter
 * refuses to map, descriptors touching the window complete with
 * REFMDEV_DMA_ST_PEER_REVOKED; once it maps again they work again.
 */
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-resv.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/swiotlb.h>
#include <linux/uaccess.h>
#include "../mdev/compat.h"
#include "../mdev/refmdev.h"

void refmdev_windows_init(struct refmdev *rd)
{
	unsigned int i;

	mutex_init(&rd->windows.lock);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		rd->windows.slot[i].rd = rd;
}

/*
 * How long the engine waits for other users' fences on a window before it
 * gives up on the descriptor (REFMDEV_DMA_ST_PEER_FAULT).
 */
#define REFMDEV_WINDOW_FENCE_TIMEOUT	(5 * HZ)

/* A read-only export is mapped for the device to read only. */
static enum dma_data_direction window_dir(struct refmdev_window *win)
{
	return win->writable ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
}

/* Drop the engine's mapping. Caller holds the reservation lock. */
static void window_unmap(struct refmdev_window *win)
{
	dma_resv_assert_held(win->dmabuf->resv);
	if (!win->sgt)
		return;
	kvfree(win->pages);
	win->pages = NULL;
	dma_buf_unmap_attachment(win->attach, win->sgt, window_dir(win));
	win->sgt = NULL;
}

/* The exporter revokes, moves or restores: let go of what we map. */
static void window_notify(struct dma_buf_attachment *attach)
{
	struct refmdev_window *win = attach->importer_priv;

	win->notifications++;
	window_unmap(win);
}

static const struct dma_buf_attach_ops window_importer_ops = {
	.allow_peer2peer = true,
	.REFMDEV_DMA_BUF_NOTIFY_OP = window_notify,
};

/*
 * The page behind a DMA address we were given, if it is ordinary memory:
 * not device memory that happens to have struct pages (P2PDMA), which
 * the CPU must not memcpy through a kernel mapping.
 */
static struct page *window_dma_to_page(struct device *dev, dma_addr_t addr)
{
	unsigned long pfn = PHYS_PFN(dma_to_phys(dev, addr));
	struct page *page;

	if (!pfn_valid(pfn))
		return NULL;
	page = pfn_to_page(pfn);
	return is_zone_device_page(page) ? NULL : page;
}

/* Map the dma-buf and resolve its pages. Caller holds the resv lock. */
static u32 window_map(struct refmdev_window *win)
{
	unsigned long npages = win->size >> PAGE_SHIFT, n = 0;
	struct device *dev = win->attach->dev;
	struct scatterlist *sg;
	struct sg_table *sgt;
	struct page **pages;
	unsigned int i;
	u64 off;

	sgt = dma_buf_map_attachment(win->attach, window_dir(win));
	if (IS_ERR(sgt)) {
		if (PTR_ERR(sgt) == -ENODEV) {
			win->revoked = true;
			return REFMDEV_DMA_ST_PEER_REVOKED;
		}
		return PTR_ERR(sgt) == -ENOMEM ? REFMDEV_DMA_ST_NO_MEM :
						 REFMDEV_DMA_ST_PEER_FAULT;
	}
	win->revoked = false;

	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		dma_buf_unmap_attachment(win->attach, sgt, window_dir(win));
		return REFMDEV_DMA_ST_NO_MEM;
	}
	for_each_sgtable_dma_sg(sgt, sg, i) {
		dma_addr_t addr = sg_dma_address(sg);
		unsigned int len = sg_dma_len(sg);

		if (!PAGE_ALIGNED(addr) || !PAGE_ALIGNED(len))
			goto fault;
		for (off = 0; off < len && n < npages; off += PAGE_SIZE) {
			pages[n] = window_dma_to_page(dev, addr + off);
			if (!pages[n++])
				goto fault;
		}
	}
	if (n != npages)
		goto fault;
	win->sgt = sgt;
	win->pages = pages;
	return REFMDEV_DMA_ST_OK;

fault:
	kvfree(pages);
	dma_buf_unmap_attachment(win->attach, sgt, window_dir(win));
	return REFMDEV_DMA_ST_PEER_FAULT;
}

void refmdev_windows_lock(struct refmdev *rd)
{
	mutex_lock(&rd->windows.lock);
}

void refmdev_windows_unlock(struct refmdev *rd)
{
	mutex_unlock(&rd->windows.lock);
}

/*
 * Does [addr, addr + len) touch a window? REFMDEV_DMA_ST_OK with *@win
 * the window or NULL, or REFMDEV_DMA_ST_PEER_RANGE if it crosses a
 * window's edge. The caller has checked that the range does not wrap.
 */
u32 refmdev_window_find(struct refmdev *rd, u64 addr, u32 len,
			struct refmdev_window **win)
{
	u64 last = addr + len - 1;
	unsigned int i;

	lockdep_assert_held(&rd->windows.lock);
	*win = NULL;
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		struct refmdev_window *w = &rd->windows.slot[i];
		u64 w_last = w->iova + w->size - 1;

		if (!w->dmabuf || last < w->iova || addr > w_last)
			continue;
		if (addr < w->iova || last > w_last)
			return REFMDEV_DMA_ST_PEER_RANGE;
		*win = w;
	}
	return REFMDEV_DMA_ST_OK;
}

/*
 * Wait, with nothing pinned or locked but the window slots, for the work
 * other devices fenced on @win's dma-buf (writes, and for a write of ours
 * reads too), as the dma-buf rules ask of an importer. Any holder of the
 * dma-buf's fd can add fences, so the wait is bounded; it delays only
 * this device's descriptor.
 */
u32 refmdev_window_wait_fences(struct refmdev_window *win, bool write)
{
	struct dma_resv *resv = win->dmabuf->resv;

	if (dma_resv_wait_timeout(resv, dma_resv_usage_rw(write), false,
				  REFMDEV_WINDOW_FENCE_TIMEOUT) <= 0)
		return REFMDEV_DMA_ST_PEER_FAULT;
	return REFMDEV_DMA_ST_OK;
}

/*
 * Start using [addr, addr + len) of @win: on success the reservation lock
 * is held until refmdev_window_end() and *@pages is the page array from
 * the one holding @addr on. A fence added since
 * refmdev_window_wait_fences() fails the descriptor rather than being
 * waited for here, inside the pin section.
 */
u32 refmdev_window_begin(struct refmdev_window *win, u64 addr, u32 len,
			 bool write, struct page ***pages)
{
	struct dma_resv *resv = win->dmabuf->resv;
	u32 st = REFMDEV_DMA_ST_OK;

	if (write && !win->writable)
		return REFMDEV_DMA_ST_READ_ONLY;
	dma_resv_lock(resv, NULL);
	if (!win->sgt)
		st = window_map(win);
	if (st == REFMDEV_DMA_ST_OK &&
	    !dma_resv_test_signaled(resv, dma_resv_usage_rw(write)))
		st = REFMDEV_DMA_ST_PEER_FAULT;
	if (st != REFMDEV_DMA_ST_OK) {
		dma_resv_unlock(resv);
		return st;
	}
	*pages = win->pages + ((addr - win->iova) >> PAGE_SHIFT);
	return REFMDEV_DMA_ST_OK;
}

void refmdev_window_end(struct refmdev_window *win)
{
	dma_resv_unlock(win->dmabuf->resv);
}

static bool window_overlaps(struct refmdev *rd, u64 iova, u64 last)
{
	unsigned int i;

	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		struct refmdev_window *w = &rd->windows.slot[i];

		if (w->dmabuf && iova <= w->iova + w->size - 1 &&
		    w->iova <= last)
			return true;
	}
	return false;
}

/* Caller holds windows.lock; the slot is in use. */
static void window_release(struct refmdev_window *win)
{
	struct dma_buf *dmabuf = win->dmabuf;

	dma_resv_lock(dmabuf->resv, NULL);
	window_unmap(win);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, win->attach);
	win->attach = NULL;
	win->dmabuf = NULL;
	dma_buf_put(dmabuf);
}

/*
 * The reply is written after windows.lock is dropped: the DMA worker
 * takes that lock, and a copy to user memory can wait on whatever the
 * user put behind it (a userfaultfd, FUSE). If the copy fails, the attach
 * is undone unless the slot has changed hands meanwhile (a DETACH by
 * another thread, who then knew about it).
 */
static int window_attach(struct refmdev *rd, struct refmdev_p2p_window *req,
			 struct refmdev_p2p_window __user *uarg)
{
	struct dma_buf_attachment *attach;
	struct refmdev_window *win;
	struct dma_buf *dmabuf;
	u64 generation;
	u64 last;
	int ret;

	if (!PAGE_ALIGNED(req->iova))
		return -EINVAL;
	/* Bounce buffers would give the engine copies, not the memory. */
	if (is_swiotlb_force_bounce(refmdev_dev(rd)))
		return -EOPNOTSUPP;
	dmabuf = dma_buf_get(req->dmabuf_fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	ret = -EINVAL;
	if (!dmabuf->size || !PAGE_ALIGNED(dmabuf->size))
		goto err_put;
	ret = -EOVERFLOW;
	if (check_add_overflow(req->iova, (u64)dmabuf->size - 1, &last))
		goto err_put;

	mutex_lock(&rd->windows.lock);
	win = &rd->windows.slot[req->index];
	ret = -EBUSY;
	if (win->dmabuf)
		goto err_unlock;
	ret = -EEXIST;
	if (window_overlaps(rd, req->iova, last))
		goto err_unlock;

	/*
	 * Ready before attaching: a notification may come as soon as the
	 * attachment is on the dma-buf's list, before the call returns.
	 * The engine and QUERY do not look at the slot meanwhile: they take
	 * windows.lock.
	 */
	win->dmabuf = dmabuf;
	win->iova = req->iova;
	win->size = dmabuf->size;
	win->writable = dmabuf->file->f_mode & FMODE_WRITE;
	win->sgt = NULL;
	win->pages = NULL;
	win->revoked = false;
	win->notifications = 0;
	attach = dma_buf_dynamic_attach(dmabuf, refmdev_dev(rd),
					&window_importer_ops, win);
	if (IS_ERR(attach)) {
		win->dmabuf = NULL;
		ret = PTR_ERR(attach);
		goto err_unlock;
	}
	win->attach = attach;	/* the slot now owns the dma-buf reference */
	generation = ++win->generation;
	req->size = win->size;
	mutex_unlock(&rd->windows.lock);

	if (!copy_to_user(uarg, req, sizeof(*req)))
		return 0;
	mutex_lock(&rd->windows.lock);
	if (win->dmabuf && win->generation == generation)
		window_release(win);
	mutex_unlock(&rd->windows.lock);
	return -EFAULT;

err_unlock:
	mutex_unlock(&rd->windows.lock);
err_put:
	dma_buf_put(dmabuf);
	return ret;
}

static int window_detach(struct refmdev *rd, struct refmdev_p2p_window *req)
{
	struct refmdev_window *win = &rd->windows.slot[req->index];
	int ret = -ENOENT;

	mutex_lock(&rd->windows.lock);
	if (win->dmabuf) {
		window_release(win);
		ret = 0;
	}
	mutex_unlock(&rd->windows.lock);
	return ret;
}

static void window_query(struct refmdev *rd, struct refmdev_p2p_window *req)
{
	struct refmdev_window *win = &rd->windows.slot[req->index];

	req->dmabuf_fd = -1;
	req->iova = 0;
	req->size = 0;
	req->state = REFMDEV_P2P_WINDOW_EMPTY;
	req->notifications = 0;

	mutex_lock(&rd->windows.lock);
	if (win->dmabuf) {
		req->iova = win->iova;
		req->size = win->size;
		dma_resv_lock(win->dmabuf->resv, NULL);
		if (win->sgt)
			req->state = REFMDEV_P2P_WINDOW_MAPPED;
		else if (win->revoked)
			req->state = REFMDEV_P2P_WINDOW_REVOKED;
		else
			req->state = REFMDEV_P2P_WINDOW_UNMAPPED;
		req->notifications = win->notifications;
		dma_resv_unlock(win->dmabuf->resv);
	}
	mutex_unlock(&rd->windows.lock);
}

long refmdev_window_ioctl(struct refmdev *rd, unsigned int cmd,
			  unsigned long arg)
{
	struct refmdev_p2p_window __user *uarg = (void __user *)arg;
	struct refmdev_p2p_window req;
	long ret;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.argsz < sizeof(req) || req.flags ||
	    req.index >= REFMDEV_P2P_WINDOWS)
		return -EINVAL;

	switch (cmd) {
	case REFMDEV_P2P_WINDOW_ATTACH:
		return window_attach(rd, &req, uarg);
	case REFMDEV_P2P_WINDOW_DETACH:
		return window_detach(rd, &req);
	case REFMDEV_P2P_WINDOW_QUERY:
		window_query(rd, &req);
		ret = 0;
		break;
	default:
		return -ENOTTY;
	}
	if (!ret && copy_to_user(uarg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

/* The device is closing; its engine is stopped. */
void refmdev_windows_detach_all(struct refmdev *rd)
{
	unsigned int i;

	mutex_lock(&rd->windows.lock);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		if (rd->windows.slot[i].dmabuf)
			window_release(&rd->windows.slot[i]);
	mutex_unlock(&rd->windows.lock);
}
