// SPDX-License-Identifier: GPL-2.0
/*
 * P2P windows: the importing side of BAR export. A VFIO user attaches a
 * dma-buf to the owner device at an IOVA; descriptors whose source or
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
 * (-EIO to the engine): memcpy() is not how a CPU writes MMIO.
 *
 * A dynamic exporter (ours) may revoke: the window holds a dynamic
 * attachment, only to be told, and lets go of its kernel mapping inside
 * the notification. The exporter holds the reservation lock then, as the
 * engine does for the whole of a descriptor's copy, so a notification
 * waits for the descriptor in flight and nothing lands in the memory
 * after the exporter's revoking call returns. Whether the exporter is
 * usable now is its begin_cpu_access()'s answer (ours says -ENODEV while
 * revoked): the engine's calls then fail with -ENODEV (for refmdev a
 * descriptor status, REFMDEV_DMA_ST_PEER_REVOKED), and work again once it
 * is restored. A static exporter's memory never
 * moves; its window needs no attachment at all.
 */
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/iosys-map.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>
#include "p2p.h"
#include "p2p_compat.h"

/* @dev: the owner's device, which attaches to the windows' dma-bufs. */
void p2p_windows_init(struct p2p_windows *wins, struct device *dev)
{
	mutex_init(&wins->lock);
	wins->dev = dev;
	/* An empty slot has no dma-buf; the owner may not zero its memory. */
	memset(wins->slot, 0, sizeof(wins->slot));
}

/* The owner goes; it detached every window when it was closed. */
void p2p_windows_destroy(struct p2p_windows *wins)
{
	mutex_destroy(&wins->lock);
}

/*
 * How long the engine waits for other users' fences on a window before it
 * gives up on the descriptor (-EIO).
 */
#define P2P_WINDOW_FENCE_TIMEOUT	(5 * HZ)

/* Drop the engine's kernel mapping. */
static void p2p_window_unmap(struct p2p_window *win)
{
	dma_resv_assert_held(win->dmabuf->resv);
	if (iosys_map_is_null(&win->map))
		return;
	dma_buf_vunmap(win->dmabuf, &win->map);
	iosys_map_clear(&win->map);
}

/*
 * The exporter revokes, moves or restores: let go of what we map. The
 * dma-buf rules have the exporter hold the reservation lock here.
 */
static void p2p_window_notify(struct dma_buf_attachment *attach)
{
	struct p2p_window *win = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	win->notifications++;
	p2p_window_unmap(win);
}

static const struct dma_buf_attach_ops p2p_window_importer_ops = {
	.allow_peer2peer = true,
	.P2P_DMA_BUF_NOTIFY_OP = p2p_window_notify,
};

/*
 * An exporter's answer as one of the errnos of p2p.h: the engine tells
 * a revoked exporter and a lack of memory apart from everything else.
 */
static int p2p_window_errno(int err)
{
	return err == -ENODEV || err == -ENOMEM ? err : -EIO;
}

/* Map the whole dma-buf into the kernel. */
static int p2p_window_map(struct p2p_window *win)
{
	int ret;

	dma_resv_assert_held(win->dmabuf->resv);
	ret = dma_buf_vmap(win->dmabuf, &win->map);
	if (ret) {
		iosys_map_clear(&win->map);
		return ret == -ENOMEM ? -ENOMEM : -EIO;
	}
	if (win->map.is_iomem) {
		p2p_window_unmap(win);
		return -EIO;
	}
	return 0;
}

void p2p_windows_lock(struct p2p_windows *wins)
{
	mutex_lock(&wins->lock);
}

void p2p_windows_unlock(struct p2p_windows *wins)
{
	mutex_unlock(&wins->lock);
}

/*
 * Does [addr, addr + len) touch a window? 0 with *@win the window or
 * NULL, or -ERANGE if it crosses a window's edge. The caller has checked
 * that the range does not wrap.
 */
int p2p_window_find(struct p2p_windows *wins, u64 addr, u32 len,
		    struct p2p_window **win)
{
	u64 last = addr + len - 1;
	unsigned int i;

	lockdep_assert_held(&wins->lock);
	*win = NULL;
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		struct p2p_window *w = &wins->slot[i];
		u64 w_last = w->iova + w->size - 1;

		if (!w->dmabuf || last < w->iova || addr > w_last)
			continue;
		if (addr < w->iova || last > w_last)
			return -ERANGE;
		*win = w;
	}
	return 0;
}

/* The CPU's direction of an access, as begin/end_cpu_access take it. */
static enum dma_data_direction p2p_window_cpu_dir(bool write)
{
	return write ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
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
 * p2p_window_finish() ends the access, whatever happened between.
 */
int p2p_window_prepare(struct p2p_windows *wins, struct p2p_window *win,
		       bool write)
{
	struct dma_resv *resv;
	int ret;

	lockdep_assert_held(&wins->lock);
	/* p2p_window_find() gave the engine a window in use. */
	if (WARN_ON_ONCE(!win->dmabuf))
		return -EIO;
	resv = win->dmabuf->resv;
	win->cpu_access = false;
	/* p2p_window_begin() refuses it, after the other side's pins. */
	if (write && !win->writable)
		return 0;
	if (dma_resv_wait_timeout(resv, dma_resv_usage_rw(write), false,
				  P2P_WINDOW_FENCE_TIMEOUT) <= 0)
		return -EIO;
	/*
	 * A revocation marks the buffer and notifies under the reservation
	 * lock. The count is read under it too: a revocation after this
	 * changes the count, which p2p_window_begin() sees; one before
	 * it is visible, mark and all, to begin_cpu_access() below.
	 */
	dma_resv_lock(resv, NULL);
	win->cpu_seen = win->notifications;
	dma_resv_unlock(resv);
	ret = dma_buf_begin_cpu_access(win->dmabuf, p2p_window_cpu_dir(write));
	dma_resv_lock(resv, NULL);
	win->revoked = ret == -ENODEV;
	dma_resv_unlock(resv);
	if (ret)
		return p2p_window_errno(ret);
	win->cpu_access = true;
	return 0;
}

void p2p_window_finish(struct p2p_windows *wins, struct p2p_window *win,
		       bool write)
{
	lockdep_assert_held(&wins->lock);
	/* Ours says -ENODEV if revoked since: the copy came before that. */
	if (win->cpu_access)
		dma_buf_end_cpu_access(win->dmabuf, p2p_window_cpu_dir(write));
	win->cpu_access = false;
}

/*
 * Inside the pin section, after p2p_window_prepare(): on success the
 * reservation lock is held until p2p_window_end() and *@vaddr is the
 * kernel address of @addr. A notification since prepare means its answer
 * is stale: the descriptor fails as if it had come after the revocation.
 * A fence added since prepare fails it too, rather than being waited for
 * here.
 */
int p2p_window_begin(struct p2p_window *win, u64 addr, u32 len, bool write,
		     u8 **vaddr)
{
	struct dma_resv *resv = win->dmabuf->resv;
	int ret = 0;

	if (write && !win->writable)
		return -EACCES;
	dma_resv_lock(resv, NULL);
	if (win->notifications != win->cpu_seen)
		ret = -ENODEV;
	else if (iosys_map_is_null(&win->map))
		ret = p2p_window_map(win);
	if (!ret && !dma_resv_test_signaled(resv, dma_resv_usage_rw(write)))
		ret = -EIO;
	if (ret) {
		dma_resv_unlock(resv);
		return ret;
	}
	*vaddr = (u8 *)win->map.vaddr + (addr - win->iova);
	return 0;
}

void p2p_window_end(struct p2p_window *win)
{
	dma_resv_assert_held(win->dmabuf->resv);
	dma_resv_unlock(win->dmabuf->resv);
}

static bool p2p_window_overlaps(struct p2p_windows *wins, u64 iova, u64 last)
{
	unsigned int i;

	lockdep_assert_held(&wins->lock);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		struct p2p_window *w = &wins->slot[i];

		if (w->dmabuf && iova <= w->iova + w->size - 1 &&
		    w->iova <= last)
			return true;
	}
	return false;
}

static void p2p_window_release(struct p2p_windows *wins,
			       struct p2p_window *win)
{
	struct dma_buf *dmabuf = win->dmabuf;

	lockdep_assert_held(&wins->lock);
	if (WARN_ON_ONCE(!dmabuf))	/* every caller found the slot in use */
		return;
	dma_resv_lock(dmabuf->resv, NULL);
	p2p_window_unmap(win);
	dma_resv_unlock(dmabuf->resv);
	if (win->attach)
		dma_buf_detach(dmabuf, win->attach);
	win->attach = NULL;
	win->dmabuf = NULL;
	dma_buf_put(dmabuf);
}

/*
 * Put @dmabuf into the empty slot @win at [@iova, @last], attached as an
 * importer if the exporter can revoke. On success the slot owns the
 * caller's reference to @dmabuf; on failure the slot stays empty.
 */
static int p2p_window_fill(struct p2p_windows *wins, struct p2p_window *win,
			   struct dma_buf *dmabuf, u64 iova, u64 last)
{
	struct dma_buf_attachment *attach = NULL;

	lockdep_assert_held(&wins->lock);

	if (win->dmabuf)
		return -EBUSY;
	if (p2p_window_overlaps(wins, iova, last))
		return -EEXIST;

	/*
	 * Ready before attaching: a notification may come as soon as the
	 * attachment is on the dma-buf's list, before the call returns.
	 * The engine and QUERY do not look at the slot meanwhile: they take
	 * windows.lock.
	 */
	win->dmabuf = dmabuf;
	win->iova = iova;
	win->size = dmabuf->size;
	win->writable = dmabuf->file->f_mode & FMODE_WRITE;
	iosys_map_clear(&win->map);
	win->revoked = false;
	win->notifications = 0;
	/* Only an exporter that can revoke has anything to tell us. */
	if (dma_buf_is_dynamic(dmabuf)) {
		attach = dma_buf_dynamic_attach(dmabuf, wins->dev,
						&p2p_window_importer_ops, win);
		if (IS_ERR(attach)) {
			win->dmabuf = NULL;
			return PTR_ERR(attach);
		}
	}
	win->attach = attach;
	return 0;
}

static int p2p_window_attach(struct p2p_windows *wins,
			     struct refmdev_p2p_window *req,
			     struct refmdev_p2p_window __user *uarg)
{
	struct dma_buf *dmabuf;
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

	/*
	 * Write the result back before the window exists, as fd_install()
	 * comes after the copy of an fd number: an ATTACH that fails with
	 * EFAULT must not have published a window the engine could already
	 * have used. The copy may fault on user memory, so it cannot be
	 * made under windows.lock either (the engine takes that lock).
	 */
	req->size = dmabuf->size;
	req->state = REFMDEV_P2P_WINDOW_UNMAPPED;
	req->notifications = 0;
	ret = -EFAULT;
	if (copy_to_user(uarg, req, sizeof(*req)))
		goto err_put;

	mutex_lock(&wins->lock);
	ret = p2p_window_fill(wins, &wins->slot[req->index], dmabuf,
			      req->iova, last);
	mutex_unlock(&wins->lock);
	if (ret)
		goto err_put;
	return 0;	/* the slot now owns the dma-buf reference */

err_put:
	dma_buf_put(dmabuf);
	return ret;
}

static int p2p_window_detach(struct p2p_windows *wins,
			     struct refmdev_p2p_window *req)
{
	struct p2p_window *win = &wins->slot[req->index];
	int ret = -ENOENT;

	mutex_lock(&wins->lock);
	if (win->dmabuf) {
		p2p_window_release(wins, win);
		ret = 0;
	}
	mutex_unlock(&wins->lock);
	return ret;
}

static void p2p_window_query(struct p2p_windows *wins,
			     struct refmdev_p2p_window *req)
{
	struct p2p_window *win = &wins->slot[req->index];

	req->dmabuf_fd = -1;
	req->iova = 0;
	req->size = 0;
	req->state = REFMDEV_P2P_WINDOW_EMPTY;
	req->notifications = 0;

	mutex_lock(&wins->lock);
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
	mutex_unlock(&wins->lock);
}

long p2p_window_ioctl(struct p2p_windows *wins, unsigned int cmd,
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
	/* The index picks a slot: no speculation past the check. */
	req.index = array_index_nospec(req.index, REFMDEV_P2P_WINDOWS);

	switch (cmd) {
	case REFMDEV_P2P_WINDOW_ATTACH:
		return p2p_window_attach(wins, &req, uarg);
	case REFMDEV_P2P_WINDOW_DETACH:
		return p2p_window_detach(wins, &req);
	case REFMDEV_P2P_WINDOW_QUERY:
		p2p_window_query(wins, &req);
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
void p2p_windows_detach_all(struct p2p_windows *wins)
{
	unsigned int i;

	mutex_lock(&wins->lock);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		if (wins->slot[i].dmabuf)
			p2p_window_release(wins, &wins->slot[i]);
	mutex_unlock(&wins->lock);
}
