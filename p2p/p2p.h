/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The P2P core: a revocable dma-buf exporter for page-backed device
 * memory (export.c), and the P2P windows through which a device's
 * CPU-driven DMA engine reaches other exporters' memory (window.c).
 *
 * The core knows nothing of the device model. The owner (mdev/ for
 * refmdev) embeds a struct p2p_exporter and a struct p2p_windows in its
 * device state, implements struct p2p_exporter_ops, and calls in on
 * state changes (revoke, restore, close); p2p/ never includes mdev/.
 *
 * Lock order of the core's own locks (the owner's complete order, which
 * these fit into, is beside its device structure: mdev/refmdev.h):
 *
 *   p2p_exporter.state_lock (the owner's)
 *     p2p_exporter.lock
 *       whatever p2p_exporter_ops.get_pages takes (the owner's page lock)
 *       a dma-buf's reservation lock
 *
 *   p2p_windows.lock
 *     (pinning guest memory: type1's iommu->lock, mmap_lock)
 *       a dma-buf's reservation lock
 *
 *   mmap_lock (CPU faults on an exported dma-buf's mapping)
 *     a dma-buf's reservation lock
 *       whatever p2p_exporter_ops.prepare_access takes (the owner's
 *       page lock, which the owner never holds while taking a
 *       reservation lock)
 *
 * Of the core's locks the reservation lock is innermost (only the owner's
 * page lock, through prepare_access, nests in it): nothing that holds one
 * takes p2p_exporter.lock (map, unmap and CPU faults work on the buffer's own
 * state, which the reservation lock protects), so revoking under
 * p2p_exporter.lock cannot deadlock with an importer. Guest memory is
 * pinned before a window's reservation lock is taken and unpinned after
 * it is dropped: GUP and type1 take mmap_lock and iommu->lock, and both
 * come before the reservation lock elsewhere (the CPU fault above;
 * vfio_dma_rw() faults under iommu->lock).
 */
#ifndef P2P_H
#define P2P_H

#include <linux/iosys-map.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <uapi/linux/refmdev.h>

struct device;
struct dma_buf;
struct dma_buf_attachment;
struct p2p_exporter;
struct page;

/*
 * What the exporter needs from its owner.
 *
 * @get_pages: take a reference on each page behind @ranges (already
 *	checked: page aligned, inside the exported region) and store them
 *	in @pages, in order; the core drops them with put_page(). The pages
 *	of one call are one snapshot of the owner's memory. Called under
 *	p2p_exporter.lock. Returns 0 or -errno; all or nothing: on failure
 *	it holds no page references.
 * @get_owner: keep the owner (and so the embedded exporter) alive; one
 *	reference for each buffer on the exporter's list. Called under
 *	p2p_exporter.lock.
 * @put_owner: drop it. From a buffer's release it is called without
 *	p2p_exporter.lock and may free the owner: the core touches the
 *	exporter no more after it. From p2p_export_close() it is called
 *	under p2p_exporter.lock, so there it must not be the last
 *	reference: the closing owner holds its own until close returns.
 *	It must never take p2p_exporter.lock.
 * @name: the exporter name dma-buf shows (/sys/kernel/debug/dma_buf).
 */
struct p2p_exporter_ops {
	int (*get_pages)(struct p2p_exporter *exp,
			 const struct vfio_region_dma_range *ranges,
			 u32 nr_ranges, struct page **pages);
	/*
	 * Optional: make the pages behind @ranges fit to be reached, before
	 * the core maps them for an importer (map, vmap) or a CPU (fault).
	 * get_pages may hand out pages the owner has work left on (refmdev
	 * zeroes what a reset kept on first use). Called under the buffer's
	 * reservation lock, with the buffer usable.
	 */
	void (*prepare_access)(struct p2p_exporter *exp,
			       const struct vfio_region_dma_range *ranges,
			       u32 nr_ranges);
	void (*get_owner)(struct p2p_exporter *exp);
	void (*put_owner)(struct p2p_exporter *exp);
	const char *name;
};

/*
 * The dma-bufs exported from one region of an owner device.
 *
 * @lock protects @bufs and @usable, and the per-walk state of each buffer
 * (export.c). Every change of the buffers' state (revoke, restore,
 * close) runs under the owner's @state_lock, which the core asserts;
 * those calls also wait (bounded) for importers and fences, so the owner
 * must not hold a lock its register access or interrupts need.
 *
 * @usable: the owner is open and decodes memory. While it is false every
 * dma-buf on @bufs is revoked.
 *
 * @ops, @dev, @state_lock, @region_index and @size are set by
 * p2p_export_init() and never change.
 */
struct p2p_exporter {
	struct mutex lock;	/* see above */
	struct list_head bufs;
	bool usable;

	const struct p2p_exporter_ops *ops;
	struct device *dev;		/* the owner's: names and logs */
	struct mutex *state_lock;	/* the owner's; see above */
	u32 region_index;		/* the VFIO region exported */
	u64 size;			/* its size: a multiple of PAGE_SIZE */
};

void p2p_export_init(struct p2p_exporter *exp,
		     const struct p2p_exporter_ops *ops, struct device *dev,
		     struct mutex *state_lock, u32 region_index, u64 size);
void p2p_export_destroy(struct p2p_exporter *exp);
int p2p_export_dmabuf(struct p2p_exporter *exp,
		      struct vfio_device_feature_dma_buf __user *arg,
		      size_t argsz);
void p2p_export_revoke(struct p2p_exporter *exp);
void p2p_export_restore(struct p2p_exporter *exp);
void p2p_export_close(struct p2p_exporter *exp);

/*
 * One P2P window: a dma-buf attached to the owner at @iova.
 *
 * The slot fields (@dmabuf .. @writable) change only under
 * p2p_windows.lock. The kernel mapping @map and @revoked,
 * @notifications are the importer's view of the exporter and are
 * protected by the dma-buf's reservation lock, which the exporter holds
 * when it notifies us.
 */
struct p2p_window {
	struct dma_buf *dmabuf;		/* NULL: slot empty; a reference */
	struct dma_buf_attachment *attach;	/* dynamic exporters only */
	u64 iova;
	u64 size;
	bool writable;			/* the dma-buf's file was opened for writing */

	struct iosys_map map;		/* dma_buf_vmap()'s, or null */
	bool revoked;			/* begin_cpu_access said -ENODEV last */
	u32 notifications;

	/* One descriptor's CPU access; under p2p_windows.lock. */
	bool cpu_access;		/* begun, to be ended */
	u32 cpu_seen;			/* @notifications when it began */
};

/*
 * @lock covers the slots. The owner's DMA worker holds it for a whole
 * descriptor that touches a window, so detaching waits for that
 * descriptor. @dev is the owner's device, the importer the exporters see.
 */
struct p2p_windows {
	struct mutex lock;	/* see above */
	struct device *dev;
	struct p2p_window slot[REFMDEV_P2P_WINDOWS];
};

void p2p_windows_init(struct p2p_windows *wins, struct device *dev);
void p2p_windows_destroy(struct p2p_windows *wins);
long p2p_window_ioctl(struct p2p_windows *wins, unsigned int cmd,
		      unsigned long arg);
void p2p_windows_detach_all(struct p2p_windows *wins);

/*
 * For the owner's DMA engine. p2p_windows_lock() is held across a
 * descriptor; p2p_window_find() says whether a range touches a window.
 * Before anything is pinned, p2p_window_prepare() waits for other
 * devices' work on the window and asks the exporter for CPU access,
 * which p2p_window_finish() ends after the pin section. Inside it,
 * p2p_window_begin() maps the window into the kernel if needed and holds
 * its reservation lock until p2p_window_end(). See window.c.
 *
 * They return 0 or one of these errnos, which the engine turns into its
 * descriptor statuses (an exporter's own errors are folded into them):
 *   -ERANGE	the range crosses a window's edge
 *   -ENODEV	the exporter has revoked the memory (now, or since prepare)
 *   -ENOMEM	no memory for the kernel mapping or the CPU access
 *   -EACCES	a write to a window whose dma-buf is read-only
 *   -EIO	anything else: a fence that does not signal in time, I/O
 *		memory, an exporter that refuses
 */
void p2p_windows_lock(struct p2p_windows *wins);
void p2p_windows_unlock(struct p2p_windows *wins);
int p2p_window_find(struct p2p_windows *wins, u64 addr, u32 len,
		    struct p2p_window **win);
int p2p_window_prepare(struct p2p_windows *wins, struct p2p_window *win,
		       bool write);
void p2p_window_finish(struct p2p_windows *wins, struct p2p_window *win,
		       bool write);
int p2p_window_begin(struct p2p_window *win, u64 addr, u32 len, bool write,
		     u8 **vaddr);
void p2p_window_end(struct p2p_window *win);

#endif /* P2P_H */
