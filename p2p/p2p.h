/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BAR export (export.c) and P2P windows (window.c): the state a refmdev
 * keeps for each, and the calls the rest of the device makes into them.
 */
#ifndef REFMDEV_P2P_H
#define REFMDEV_P2P_H

#include <linux/iosys-map.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <uapi/linux/refmdev.h>

struct dma_buf;
struct dma_buf_attachment;
struct refmdev;
struct vfio_device;

/*
 * The dma-bufs exported from one device's BAR2.
 *
 * @lock protects @bufs and @usable. Lock order: refmdev.reset_lock, then
 * @lock, then a dma-buf's reservation lock; never under refmdev.lock, as
 * a revocation waits (bounded) for importers and fences. Nothing that holds a reservation
 * lock takes @lock (map, unmap and CPU faults work on the dma-buf's own
 * state, which the reservation lock protects), so revoking under @lock
 * cannot deadlock with an importer.
 *
 * @usable: the device is open and decodes memory. While it is false every
 * dma-buf on @bufs is revoked.
 */
struct refmdev_export {
	struct mutex lock;	/* see above */
	struct list_head bufs;
	bool usable;
};

/*
 * One P2P window: a dma-buf attached to this device at @iova.
 *
 * The slot fields (@dmabuf .. @generation) change only under
 * refmdev_windows.lock. The kernel mapping @map and @revoked,
 * @notifications are the importer's view of the exporter and are
 * protected by the dma-buf's reservation lock, which the exporter holds
 * when it notifies us.
 */
struct refmdev_window {
	struct refmdev *rd;
	struct dma_buf *dmabuf;		/* NULL: slot empty; a reference */
	struct dma_buf_attachment *attach;	/* dynamic exporters only */
	u64 iova;
	u64 size;
	bool writable;			/* the dma-buf's file was opened for writing */
	u64 generation;			/* counts attaches; never wraps */

	struct iosys_map map;		/* dma_buf_vmap()'s, or null */
	bool revoked;			/* begin_cpu_access said -ENODEV last */
	u32 notifications;

	/* One descriptor's CPU access; under refmdev_windows.lock. */
	bool cpu_access;		/* begun, to be ended */
	u32 cpu_seen;			/* @notifications when it began */
};

/*
 * @lock covers the slots. The DMA worker holds it for a whole descriptor
 * that touches a window, so detaching waits for that descriptor. Lock
 * order: @lock, then a dma-buf's reservation lock. Guest memory is pinned
 * before the reservation lock is taken and unpinned after it is dropped:
 * GUP and type1 take mmap_lock and iommu->lock, and both come before the
 * reservation lock elsewhere (CPU faults on a dma-buf mapping take it
 * under mmap_lock; vfio_dma_rw() faults under iommu->lock).
 */
struct refmdev_windows {
	struct mutex lock;	/* see above */
	struct refmdev_window slot[REFMDEV_P2P_WINDOWS];
};

/* export.c */
void refmdev_export_init(struct refmdev *rd);
int refmdev_device_feature(struct vfio_device *vdev, u32 flags,
			   void __user *arg, size_t argsz);
void refmdev_export_revoke(struct refmdev *rd);
void refmdev_export_restore(struct refmdev *rd);
void refmdev_export_close(struct refmdev *rd);

/* window.c */
void refmdev_windows_init(struct refmdev *rd);
long refmdev_window_ioctl(struct refmdev *rd, unsigned int cmd,
			  unsigned long arg);
void refmdev_windows_detach_all(struct refmdev *rd);

/*
 * For the DMA engine. refmdev_windows_lock() is held across a
 * descriptor; refmdev_window_find() says whether a range touches a
 * window. Before anything is pinned, refmdev_window_prepare() waits for
 * other devices' work on the window and asks the exporter for CPU access,
 * which refmdev_window_finish() ends after the pin section. Inside it,
 * refmdev_window_begin() maps the window into the kernel if needed and
 * holds its reservation lock until refmdev_window_end(). See window.c.
 */
void refmdev_windows_lock(struct refmdev *rd);
void refmdev_windows_unlock(struct refmdev *rd);
u32 refmdev_window_find(struct refmdev *rd, u64 addr, u32 len,
			struct refmdev_window **win);
u32 refmdev_window_prepare(struct refmdev_window *win, bool write);
void refmdev_window_finish(struct refmdev_window *win, bool write);
u32 refmdev_window_begin(struct refmdev_window *win, u64 addr, u32 len,
			 bool write, u8 **vaddr);
void refmdev_window_end(struct refmdev_window *win);

#endif /* REFMDEV_P2P_H */
