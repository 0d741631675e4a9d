// SPDX-License-Identifier: GPL-2.0
/*
 * P2P windows: the importing side of BAR export. A VFIO user attaches a
 * dma-buf to this device at an IOVA; descriptors whose source or
 * destination lies in [iova, iova + size) then reach the dma-buf's memory
 * instead of guest memory through type1, without pinning.
 *
 * The engine moves data with the CPU, so it reaches a window the way the
 * dma-buf rules give the CPU access to a buffer: dma_buf_vmap() under the
 * reservation lock, bracketed by dma_buf_begin/end_cpu_access(). It never
 * asks the exporter for DMA addresses, and so needs neither a DMA mask
 * nor any assumption about how the exporter maps: any exporter with
 * .vmap will do (ours, udmabuf, a dma-heap); one without is refused at
 * ATTACH with EOPNOTSUPP. A kernel mapping of I/O memory is refused too
 * (REFMDEV_DMA_ST_PEER_FAULT): memcpy() is not how a CPU writes MMIO.
 *
 * A dynamic exporter (ours) may revoke: the window holds a dynamic
 * attachment, only to be told, and lets go of its kernel mapping inside
 * the notification. The exporter holds the reservation lock then, as the
 * engine does for the whole of a descriptor's copy, so a notification
 * waits for the descriptor in flight and nothing lands in the memory
 * after the exporter's revoking call returns. Whether the exporter is
 * usable now is its begin_cpu_access()'s answer (ours says -ENODEV while
 * revoked): descriptors then complete with REFMDEV_DMA_ST_PEER_REVOKED,
 * and work again once it is restored. A static exporter's memory never
 * moves; its window needs no attachment at all.
 */
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/overflow.h>
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

/* Drop the engine's kernel mapping. Caller holds the reservation lock. */
static void window_unmap(struct refmdev_window *win)
{
	dma_resv_assert_held(win->dmabuf->resv);
	if (iosys_map_is_null(&win->map))
		return;
	dma_buf_vunmap(win->dmabuf, &win->map);
	iosys_map_clear(&win->map);
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

/* Map the whole dma-buf into the kernel. Caller holds the resv lock. */
static u32 window_map(struct refmdev_window *win)
{
	int ret = dma_buf_vmap(win->dmabuf, &win->map);

	if (ret) {
		iosys_map_clear(&win->map);
		return ret == -ENOMEM ? REFMDEV_DMA_ST_NO_MEM :
					REFMDEV_DMA_ST_PEER_FAULT;
	}
	if (win->map.is_iomem) {
		window_unmap(win);
		return REFMDEV_DMA_ST_PEER_FAULT;
	}
	return REFMDEV_DMA_ST_OK;
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

/* The CPU's direction of an access, as begin/end_cpu_access take it. */
static enum dma_data_direction window_cpu_dir(bool write)
{
	return write ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
}

static u32 window_cpu_status(int err)
{
	switch (err) {
	case -ENODEV:
		return REFMDEV_DMA_ST_PEER_REVOKED;
	case -ENOMEM:
		return REFMDEV_DMA_ST_NO_MEM;
	default:
		return REFMDEV_DMA_ST_PEER_FAULT;
	}
}

/*
 * Before anything is pinned, with no lock held but the window slots:
 * wait for the work other devices fenced on @win's dma-buf (writes, and
 * for a write of ours reads too), as the dma-buf rules ask of an
 * importer, then ask the exporter for CPU access. Any holder of the
 * dma-buf's fd can add fences, so our wait is bounded, and it delays
 * only this device's descriptor. dma_buf_begin_cpu_access() waits once
 * more, without a bound of its own, for fences added since: dma-fences
 * must signal in finite time, which is the only bound the core offers;
 * it is kept out of the pin section, where an unmap would wait for it.
 * refmdev_window_finish() ends the access, whatever happened between.
 */
u32 refmdev_window_prepare(struct refmdev_window *win, bool write)
{
	struct dma_resv *resv = win->dmabuf->resv;
	int ret;

	lockdep_assert_held(&win->rd->windows.lock);
	win->cpu_access = false;
	/* refmdev_window_begin() refuses it, after the other side's pins. */
	if (write && !win->writable)
		return REFMDEV_DMA_ST_OK;
	if (dma_resv_wait_timeout(resv, dma_resv_usage_rw(write), false,
				  REFMDEV_WINDOW_FENCE_TIMEOUT) <= 0)
		return REFMDEV_DMA_ST_PEER_FAULT;
	/*
	 * A revocation marks the buffer and notifies under the reservation
	 * lock. The count is read under it too: a revocation after this
	 * changes the count, which refmdev_window_begin() sees; one before
	 * it is visible, mark and all, to begin_cpu_access() below.
	 */
	dma_resv_lock(resv, NULL);
	win->cpu_seen = win->notifications;
	dma_resv_unlock(resv);
	ret = dma_buf_begin_cpu_access(win->dmabuf, window_cpu_dir(write));
	dma_resv_lock(resv, NULL);
	win->revoked = ret == -ENODEV;
	dma_resv_unlock(resv);
	if (ret)
		return window_cpu_status(ret);
	win->cpu_access = true;
	return REFMDEV_DMA_ST_OK;
}

void refmdev_window_finish(struct refmdev_window *win, bool write)
{
	lockdep_assert_held(&win->rd->windows.lock);
	/* Ours says -ENODEV if revoked since: the copy came before that. */
	if (win->cpu_access)
		dma_buf_end_cpu_access(win->dmabuf, window_cpu_dir(write));
	win->cpu_access = false;
}

/*
 * Inside the pin section, after refmdev_window_prepare(): on success the
 * reservation lock is held until refmdev_window_end() and *@vaddr is the
 * kernel address of @addr. A notification since prepare means its answer
 * is stale: the descriptor fails as if it had come after the revocation.
 * A fence added since prepare fails it too, rather than being waited for
 * here.
 */
u32 refmdev_window_begin(struct refmdev_window *win, u64 addr, u32 len,
			 bool write, u8 **vaddr)
{
	struct dma_resv *resv = win->dmabuf->resv;
	u32 st = REFMDEV_DMA_ST_OK;

	if (write && !win->writable)
		return REFMDEV_DMA_ST_READ_ONLY;
	dma_resv_lock(resv, NULL);
	if (win->notifications != win->cpu_seen)
		st = REFMDEV_DMA_ST_PEER_REVOKED;
	else if (iosys_map_is_null(&win->map))
		st = window_map(win);
	if (st == REFMDEV_DMA_ST_OK &&
	    !dma_resv_test_signaled(resv, dma_resv_usage_rw(write)))
		st = REFMDEV_DMA_ST_PEER_FAULT;
	if (st != REFMDEV_DMA_ST_OK) {
		dma_resv_unlock(resv);
		return st;
	}
	*vaddr = (u8 *)win->map.vaddr + (addr - win->iova);
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
	if (win->attach)
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
	dmabuf = dma_buf_get(req->dmabuf_fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	/* The engine reaches the memory only through a kernel mapping. */
	ret = -EOPNOTSUPP;
	if (!dmabuf->ops->vmap)
		goto err_put;
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
	iosys_map_clear(&win->map);
	win->revoked = false;
	win->notifications = 0;
	/* Only an exporter that can revoke has anything to tell us. */
	attach = NULL;
	if (dma_buf_is_dynamic(dmabuf)) {
		attach = dma_buf_dynamic_attach(dmabuf, refmdev_dev(rd),
						&window_importer_ops, win);
		if (IS_ERR(attach)) {
			win->dmabuf = NULL;
			ret = PTR_ERR(attach);
			goto err_unlock;
		}
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
		if (!iosys_map_is_null(&win->map))
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
