// SPDX-License-Identifier: GPL-2.0
/*
 * refmdev_guest: a PCI driver for refmdev functions, for the kernel of a
 * virtual machine that has refmdev mdevs assigned to it (QEMU: -device
 * vfio-pci,sysfsdev=/sys/bus/mdev/devices/UUID). The interface it offers
 * to user space is refmdev_guest.h; the device's programming model is
 * include/uapi/linux/refmdev.h.
 *
 * DMA. The descriptor ring lives in coherent memory (dma_alloc_coherent).
 * Data buffers are ordinary pages, allocated per transfer in chunks of up
 * to 1 MiB and mapped with dma_map_page() in the direction the device
 * uses them; they are unmapped once the device is done with them, and
 * only then read by the CPU. A transfer becomes one descriptor per
 * stretch of contiguous bus addresses on both sides; they are posted a
 * ring-full at a time, the last of each batch with F_IRQ.
 *
 * Peer to peer. Without a vIOMMU the bus address of another function's
 * BAR2 is a guest physical address, and the VMM has mapped that BAR for
 * the devices it assigned: a descriptor may name it as an ordinary
 * address. The driver takes it from pci_bus_address() of the peer.
 *
 * Interrupts. MSI if the function offers it (module parameter force_intx
 * chooses INTx), else INTx, which may be shared. The handler reads and
 * acknowledges INT_STATUS (write 1 to clear; MSI is an edge, so every
 * source must be cleared for the next completion to interrupt again) and
 * completes the transfer whose last descriptor has its status.
 *
 * Completion and resets. A waiter sleeps at most the transfer timeout;
 * if the interrupt did not come it looks at the ring itself. A timeout,
 * a fatal signal or a halted engine leaves the engine in an unknown
 * state, so the driver then resets the function (REFMDEV_CTRL_RESET,
 * which finishes the descriptor in hand and starts nothing after it)
 * before it unmaps the buffers. A reset asked for by user space may come
 * at any time: it completes the transfer in flight, with ECANCELED unless
 * all its descriptors were already done.
 */

#include <linux/bitops.h>
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include <uapi/linux/refmdev.h>

#include "refmdev_guest.h"

/*
 * Older kernels, told apart by the names they define: 6.8 renamed
 * MAX_ORDER (one past the largest buddy order until 6.4) to
 * MAX_PAGE_ORDER (the largest), and PCI_IRQ_LEGACY to PCI_IRQ_INTX.
 */
#ifndef MAX_PAGE_ORDER
#define MAX_PAGE_ORDER		(MAX_ORDER - 1)
#endif
#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX		PCI_IRQ_LEGACY
#endif

#define RG_DRV_NAME		"refmdev_guest"

/* Descriptors in the ring, and so at most in one batch: a power of two. */
#define RG_RING_ENTRIES		64
#define RG_RING_BYTES		(RG_RING_ENTRIES * sizeof(struct refmdev_dma_desc))

/* Data buffers are allocated in chunks of up to 1 MiB. */
#define RG_CHUNK_ORDER		min_t(unsigned int, 8, MAX_PAGE_ORDER)

/* Bounce buffer for READ_BAR2/WRITE_BAR2. */
#define RG_BAR2_BOUNCE		(64u << 10)

/* Interrupt sources the driver enables. */
#define RG_INT_MASK		(REFMDEV_INT_DMA_DONE | REFMDEV_INT_DMA_ERROR)

static unsigned int timeout_ms = 20000;
module_param(timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms,
		 "Longest wait for a batch of descriptors, in ms (default 20000)");

static bool force_intx;
module_param(force_intx, bool, 0444);
MODULE_PARM_DESC(force_intx, "Use INTx even if MSI is available");

enum rg_state {
	RG_READY,	/* the engine is programmed and enabled */
	RG_BROKEN,	/* a reset failed: bus mastering off, no transfers */
};

/* One page or higher-order block of a data buffer. */
struct rg_chunk {
	struct page *page;
	dma_addr_t dma;
	u32 len;		/* bytes used, <= PAGE_SIZE << order */
	u8 order;
	bool mapped;
};

/* A data buffer: chunks in order, each DMA-mapped in direction @dir. */
struct rg_kbuf {
	struct rg_chunk *chunk;
	unsigned int nr;
	enum dma_data_direction dir;
	/* Walker: the chunk holding the position last asked for. */
	unsigned int cur;
	u64 cur_start;
};

/* One side of a transfer. */
struct rg_side {
	u32 kind;		/* REFMDEV_GUEST_KIND_* */
	u64 addr;		/* DEVMEM: BAR2 offset; PEER: bus address */
	u64 skip;		/* MEM: offset of the data in @kb */
	struct rg_kbuf kb;	/* MEM */
};

/*
 * A transfer. Owned by the ioctl that runs it; the device structure
 * points to it (@inflight) only between posting a batch and its
 * completion, and only under rg_dev.lock. @result and @done are written
 * by whoever completes the batch (interrupt handler, reset, or the
 * waiter itself) under that lock.
 */
struct rg_xfer {
	struct completion done;
	int result;		/* -EINPROGRESS while posted */
	u32 first;		/* ring index of the batch's first descriptor */
	u32 n;			/* descriptors in the batch */
	u32 flags;		/* REFMDEV_GUEST_RES_* seen so far */
	u32 dma_status;		/* DMA_STATUS of a halted engine */
	struct rg_side src;
	struct rg_side dst;
	struct refmdev_dma_desc desc[RG_RING_ENTRIES];
};

struct rg_stats {
	u64 irqs;
	u64 irqs_none;
	u64 irqs_done;
	u64 irqs_error;
	u64 xfers;
	u64 descs;
	u64 polled;
	u64 timeouts;
	u64 resets;
	u64 cancelled;
};

/*
 * One bound PCI function.
 *
 * Lifetime: @ref counts the binding (dropped at the end of remove) and
 * every open file of @misc; the last put frees the structure. The
 * hardware resources (@regs, @devmem, the ring, the IRQ) exist from probe
 * to remove only: remove sets @gone, after which every ioctl fails with
 * ENODEV.
 *
 * Locks, outermost first:
 *
 * @rwsem: read-held by each ioctl for its whole duration; remove takes it
 *   for writing to set @gone, so it waits for the ioctls in progress (all
 *   bounded by the transfer timeout) and lets no new one start.
 * @xfer_mutex: one transfer at a time owns the ring's descriptors.
 * @reset_mutex: held across a reset, across posting a batch (so a batch
 *   is never posted into a half-reset function) and across CPU access to
 *   BAR2 (which must not happen while an FLR has decoding off). Not held
 *   while waiting for a batch: a reset may cut in there.
 * @lock: spinlock, also taken by the interrupt handler. Protects @tail,
 *   @inflight, @state, @resetting and @stats, and makes every sequence of
 *   BAR0 writes that programs the engine atomic with respect to the
 *   handler.
 *
 * rg_list_lock (global) protects rg_devices and @node, and is taken on
 * its own.
 */
struct rg_dev {
	struct kref ref;
	struct pci_dev *pdev;
	struct list_head node;		/* in rg_devices */
	int index;			/* N of refmdev_guestN */
	char name[32];
	struct miscdevice misc;

	void __iomem *regs;		/* BAR0 */
	void __iomem *devmem;		/* BAR2, write-combining */
	u64 bar2_len;
	u64 devmem_size;		/* REFMDEV_REG_DEVMEM_SIZE */
	u32 version;
	u32 features;
	int irq;
	bool msi;

	struct refmdev_dma_desc *ring;	/* coherent, RG_RING_ENTRIES */
	dma_addr_t ring_dma;

	/* ioctls in progress vs remove */
	struct rw_semaphore rwsem;
	bool gone;			/* under @rwsem */

	/* serializes transfers */
	struct mutex xfer_mutex;

	/* serializes resets, posting and BAR2 access */
	struct mutex reset_mutex;

	/* engine programming, ring indexes, completion, counters */
	spinlock_t lock;
	u32 tail;			/* free-running, as DMA_TAIL */
	struct rg_xfer *inflight;
	enum rg_state state;
	bool resetting;			/* the handler must not touch BAR0 */
	struct rg_stats stats;
};

/* Bound functions, for peer lookup. */
static LIST_HEAD(rg_devices);
/* protects rg_devices */
static DEFINE_MUTEX(rg_list_lock);
static DEFINE_IDA(rg_ida);

static void rg_free(struct kref *ref)
{
	kfree(container_of(ref, struct rg_dev, ref));
}

static u32 rg_read32(struct rg_dev *gd, unsigned int reg)
{
	return readl(gd->regs + reg);
}

static void rg_write32(struct rg_dev *gd, unsigned int reg, u32 val)
{
	writel(val, gd->regs + reg);
}

static u32 rg_desc_status(struct rg_dev *gd, u32 index)
{
	struct refmdev_dma_desc *desc = &gd->ring[index % RG_RING_ENTRIES];

	return le32_to_cpu(READ_ONCE(desc->status));
}

/* Does the function answer as a refmdev out of reset? */
static bool rg_alive(struct rg_dev *gd)
{
	return rg_read32(gd, REFMDEV_REG_ID) == REFMDEV_ID_MAGIC &&
	       (rg_read32(gd, REFMDEV_REG_STATUS) & REFMDEV_STATUS_READY);
}

/*
 * Program the engine from power-on values: ring, empty; interrupts
 * acknowledged and enabled; engine on. The ring registers take writes
 * only while ENABLE is clear, and writing them zeroes HEAD and TAIL.
 */
static void rg_engine_start_locked(struct rg_dev *gd)
{
	lockdep_assert_held(&gd->lock);

	rg_write32(gd, REFMDEV_REG_DMA_CONTROL, 0);
	lo_hi_writeq(gd->ring_dma, gd->regs + REFMDEV_REG_DMA_RING_BASE);
	rg_write32(gd, REFMDEV_REG_DMA_RING_SIZE, RG_RING_ENTRIES);
	gd->tail = 0;
	rg_write32(gd, REFMDEV_REG_INT_STATUS, REFMDEV_INT_ALL);
	rg_write32(gd, REFMDEV_REG_INT_MASK, RG_INT_MASK);
	rg_write32(gd, REFMDEV_REG_DMA_CONTROL, REFMDEV_DMA_CTRL_ENABLE);
}

/* Engine off, no interrupts, then a function reset to stop everything. */
static void rg_engine_stop(struct rg_dev *gd)
{
	spin_lock_irq(&gd->lock);
	rg_write32(gd, REFMDEV_REG_INT_MASK, 0);
	rg_write32(gd, REFMDEV_REG_DMA_CONTROL, 0);
	gd->resetting = true;
	spin_unlock_irq(&gd->lock);
	rg_write32(gd, REFMDEV_REG_CONTROL, REFMDEV_CTRL_RESET);
	/* A read flushes the posted write: the reset is done after it. */
	rg_read32(gd, REFMDEV_REG_STATUS);
}

/* Hand a batch's result to its waiter. */
static void rg_finish_locked(struct rg_dev *gd, struct rg_xfer *x, int result)
{
	lockdep_assert_held(&gd->lock);

	x->result = result;
	gd->inflight = NULL;
	complete(&x->done);
}

static irqreturn_t rg_irq(int irq, void *data)
{
	struct rg_dev *gd = data;
	struct rg_xfer *x;
	u32 pending;

	spin_lock(&gd->lock);
	if (gd->resetting) {
		/*
		 * Registers may not decode now (FLR); whatever this was,
		 * the reset completes the transfer in flight.
		 */
		gd->stats.irqs_none++;
		spin_unlock(&gd->lock);
		return IRQ_NONE;
	}

	pending = rg_read32(gd, REFMDEV_REG_INT_STATUS);
	/* All ones: the function does not answer (gone, or not decoding). */
	if (pending == U32_MAX || !(pending & RG_INT_MASK)) {
		gd->stats.irqs_none++;
		spin_unlock(&gd->lock);
		return IRQ_NONE;
	}
	/* RW1C. With MSI, the next completion interrupts only after this. */
	rg_write32(gd, REFMDEV_REG_INT_STATUS, pending);

	gd->stats.irqs++;
	if (pending & REFMDEV_INT_DMA_DONE)
		gd->stats.irqs_done++;
	if (pending & REFMDEV_INT_DMA_ERROR)
		gd->stats.irqs_error++;

	x = gd->inflight;
	if (x) {
		/*
		 * The device writes a descriptor's status before it raises
		 * the interrupt, and consumes descriptors in order: the last
		 * one's status means the whole batch is done.
		 */
		if (rg_desc_status(gd, x->first + x->n - 1)) {
			rg_finish_locked(gd, x, 0);
		} else if (pending & REFMDEV_INT_DMA_ERROR) {
			u32 st = rg_read32(gd, REFMDEV_REG_DMA_STATUS);

			if (st & REFMDEV_DMA_STATUS_HALTED) {
				x->dma_status = st;
				x->flags |= REFMDEV_GUEST_RES_HALTED;
				rg_finish_locked(gd, x, -EIO);
			}
		}
	}
	spin_unlock(&gd->lock);
	return IRQ_HANDLED;
}

/*
 * After an FLR, pci_restore_state() writes a config register only if
 * what it reads differs from the saved value. A VMM may answer reads of
 * the command register from its own copy, which an FLR passed through to
 * the function does not change; then decoding and bus mastering would
 * stay off in the function. Write the command register unconditionally.
 */
static void rg_sync_command(struct pci_dev *pdev)
{
	u16 cmd;

	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	pci_write_config_word(pdev, PCI_COMMAND, cmd);
}

/*
 * Reset the function and program the engine again. A batch in flight is
 * completed: with 0 if its last descriptor has a status (the device
 * finishes the descriptor in hand before the reset returns, and starts
 * nothing after it), else with -ECANCELED. When this returns, the engine
 * uses none of the memory it was given before. If the function does not
 * come back it is marked broken and bus mastering is turned off.
 */
static int rg_reset(struct rg_dev *gd, u32 method, bool *cancelled)
{
	struct pci_dev *pdev = gd->pdev;
	struct rg_xfer *x;
	int ret = 0;
	bool ok;

	if (cancelled)
		*cancelled = false;

	mutex_lock(&gd->reset_mutex);
	spin_lock_irq(&gd->lock);
	gd->resetting = true;
	rg_write32(gd, REFMDEV_REG_INT_MASK, 0);
	spin_unlock_irq(&gd->lock);

	if (method == REFMDEV_GUEST_RESET_FLR) {
		pci_save_state(pdev);
		/*
		 * As pci_reset_function() does: no INTx from the function
		 * while its registers, and so our handler, are out of reach.
		 * pci_restore_state() puts the saved command register back.
		 */
		if (!gd->msi)
			pci_intx(pdev, 0);
		ret = pcie_flr(pdev);
		pci_restore_state(pdev);
		rg_sync_command(pdev);
	} else {
		rg_write32(gd, REFMDEV_REG_CONTROL, REFMDEV_CTRL_RESET);
		/* Flush the posted write: the reset is done when it returns. */
		rg_read32(gd, REFMDEV_REG_STATUS);
	}
	ok = !ret && rg_alive(gd);

	spin_lock_irq(&gd->lock);
	gd->resetting = false;
	gd->stats.resets++;
	if (ok) {
		rg_engine_start_locked(gd);
		gd->state = RG_READY;
	} else {
		gd->state = RG_BROKEN;
	}
	x = gd->inflight;
	if (x) {
		x->flags |= REFMDEV_GUEST_RES_RESET;
		if (rg_desc_status(gd, x->first + x->n - 1)) {
			rg_finish_locked(gd, x, 0);
		} else {
			gd->stats.cancelled++;
			rg_finish_locked(gd, x, -ECANCELED);
			if (cancelled)
				*cancelled = true;
		}
	}
	spin_unlock_irq(&gd->lock);

	if (!ok) {
		/*
		 * The device's last word on DMA: clearing bus mastering waits
		 * for the descriptor in hand, and nothing reaches memory after.
		 */
		pci_clear_master(pdev);
		pci_err(pdev, "%s reset failed (%d): device disabled\n",
			method == REFMDEV_GUEST_RESET_FLR ? "FLR" : "CONTROL",
			ret);
		ret = ret ?: -EIO;
	}
	mutex_unlock(&gd->reset_mutex);
	return ret;
}

/* Data buffers */

static void rg_kbuf_free(struct rg_kbuf *kb)
{
	unsigned int i;

	for (i = 0; i < kb->nr; i++)
		__free_pages(kb->chunk[i].page, kb->chunk[i].order);
	kvfree(kb->chunk);
	kb->chunk = NULL;
	kb->nr = 0;
}

/*
 * @size bytes of zeroed pages, in blocks as large as can be had up to
 * RG_CHUNK_ORDER: fewer blocks make fewer descriptors. On failure the
 * caller frees what was allocated.
 */
static int rg_kbuf_alloc(struct rg_kbuf *kb, u64 size,
			 enum dma_data_direction dir)
{
	u64 left = size;

	kb->dir = dir;
	kb->cur = 0;
	kb->cur_start = 0;
	kb->chunk = kvcalloc(DIV_ROUND_UP(size, PAGE_SIZE), sizeof(*kb->chunk),
			     GFP_KERNEL);
	if (!kb->chunk)
		return -ENOMEM;

	while (left) {
		unsigned int order = min_t(unsigned int, get_order(left),
					   RG_CHUNK_ORDER);
		struct rg_chunk *c = &kb->chunk[kb->nr];
		struct page *page;

		for (;;) {
			gfp_t gfp = GFP_KERNEL | __GFP_ZERO;

			if (order)
				gfp |= __GFP_NORETRY | __GFP_NOWARN;
			page = alloc_pages(gfp, order);
			if (page || !order)
				break;
			order--;
		}
		if (!page)
			return -ENOMEM;
		c->page = page;
		c->order = order;
		c->len = min_t(u64, left, PAGE_SIZE << order);
		left -= c->len;
		kb->nr++;
	}
	return 0;
}

static void rg_kbuf_unmap(struct device *dev, struct rg_kbuf *kb)
{
	unsigned int i;

	for (i = 0; i < kb->nr; i++) {
		struct rg_chunk *c = &kb->chunk[i];

		if (c->mapped)
			dma_unmap_page(dev, c->dma, c->len, kb->dir);
		c->mapped = false;
	}
}

static int rg_kbuf_map(struct device *dev, struct rg_kbuf *kb)
{
	unsigned int i;

	for (i = 0; i < kb->nr; i++) {
		struct rg_chunk *c = &kb->chunk[i];

		c->dma = dma_map_page(dev, c->page, 0, c->len, kb->dir);
		if (dma_mapping_error(dev, c->dma)) {
			rg_kbuf_unmap(dev, kb);
			return -ENOMEM;
		}
		c->mapped = true;
	}
	return 0;
}

/* Copy @len bytes between @kb, from offset @skip, and user memory. */
static int rg_kbuf_copy(struct rg_kbuf *kb, u64 skip, void __user *ubuf,
			u64 len, bool to_user)
{
	unsigned int i;

	for (i = 0; i < kb->nr && len; i++) {
		struct rg_chunk *c = &kb->chunk[i];
		void *va;
		u64 n;

		if (skip >= c->len) {
			skip -= c->len;
			continue;
		}
		n = min_t(u64, c->len - skip, len);
		va = page_address(c->page) + skip;
		if (to_user ? copy_to_user(ubuf, va, n) :
			      copy_from_user(va, ubuf, n))
			return -EFAULT;
		ubuf += n;
		len -= n;
		skip = 0;
	}
	return 0;
}

/* Bus address of byte @pos of @kb, and how many bytes follow it there. */
static dma_addr_t rg_kbuf_addr(struct rg_kbuf *kb, u64 pos, u64 *run)
{
	/* Positions only grow within a transfer: walk forward. */
	while (pos >= kb->cur_start + kb->chunk[kb->cur].len) {
		kb->cur_start += kb->chunk[kb->cur].len;
		kb->cur++;
	}
	*run = kb->cur_start + kb->chunk[kb->cur].len - pos;
	return kb->chunk[kb->cur].dma + (pos - kb->cur_start);
}

/* Descriptor address of byte @pos of side @s, and the bytes contiguous. */
static u64 rg_side_addr(struct rg_side *s, u64 pos, u64 *run)
{
	if (s->kind == REFMDEV_GUEST_KIND_MEM)
		return rg_kbuf_addr(&s->kb, s->skip + pos, run);
	*run = U64_MAX;
	return s->addr + pos;
}

static u32 rg_side_flag(const struct rg_side *s, u32 devmem_flag)
{
	return s->kind == REFMDEV_GUEST_KIND_DEVMEM ? devmem_flag : 0;
}

/* Bus address and size of the BAR2 of a function bound to us. */
static int rg_peer_lookup(u32 id, bool by_bdf, u64 *bus, u64 *size)
{
	struct rg_dev *p;
	int ret = -EINVAL;

	mutex_lock(&rg_list_lock);
	list_for_each_entry(p, &rg_devices, node) {
		struct pci_dev *pdev = p->pdev;
		u32 key = by_bdf ? REFMDEV_GUEST_BDF(pci_domain_nr(pdev->bus),
						     pdev->bus->number,
						     pdev->devfn) : p->index;

		if (key != id)
			continue;
		*bus = pci_bus_address(pdev, REFMDEV_DEVMEM_BAR);
		*size = pci_resource_len(pdev, REFMDEV_DEVMEM_BAR);
		ret = 0;
		break;
	}
	mutex_unlock(&rg_list_lock);
	return ret;
}

/*
 * Validate one side of a transfer and get it ready: for MEM, the buffer
 * allocated, filled from user space if it is a source, and mapped.
 */
static int rg_side_prepare(struct rg_dev *gd, struct rg_side *s, u32 kind,
			   u64 uaddr, u64 offset, u32 peer, bool peer_bdf,
			   u64 len, u32 flags, enum dma_data_direction dir)
{
	struct device *dev = &gd->pdev->dev;
	u64 end, bus, size;
	int ret;

	s->kind = kind;
	switch (kind) {
	case REFMDEV_GUEST_KIND_MEM:
		if (offset >= REFMDEV_GUEST_MAX_MEM_OFFSET || !uaddr)
			return -EINVAL;
		s->skip = offset;
		ret = rg_kbuf_alloc(&s->kb, offset + len, dir);
		if (ret)
			return ret;
		if (dir == DMA_TO_DEVICE) {
			ret = rg_kbuf_copy(&s->kb, offset,
					   u64_to_user_ptr(uaddr), len, false);
			if (ret)
				return ret;
		}
		return rg_kbuf_map(dev, &s->kb);
	case REFMDEV_GUEST_KIND_DEVMEM:
		if (!(flags & REFMDEV_GUEST_XFER_NO_RANGE_CHECK) &&
		    (check_add_overflow(offset, len, &end) ||
		     end > gd->devmem_size))
			return -EINVAL;
		s->addr = offset;
		return 0;
	case REFMDEV_GUEST_KIND_PEER:
		ret = rg_peer_lookup(peer, peer_bdf, &bus, &size);
		if (ret)
			return ret;
		/* Someone else's memory: the range is always checked. */
		if (!bus || check_add_overflow(offset, len, &end) ||
		    end > size || bus > dma_get_mask(dev) ||
		    end - 1 > dma_get_mask(dev) - bus)
			return -EINVAL;
		s->addr = bus + offset;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Give a MEM side's buffer back to the CPU; then its data may be read. */
static void rg_side_unmap(struct rg_dev *gd, struct rg_side *s)
{
	if (s->kind == REFMDEV_GUEST_KIND_MEM)
		rg_kbuf_unmap(&gd->pdev->dev, &s->kb);
}

static void rg_side_release(struct rg_dev *gd, struct rg_side *s)
{
	if (s->kind != REFMDEV_GUEST_KIND_MEM)
		return;
	rg_kbuf_unmap(&gd->pdev->dev, &s->kb);
	rg_kbuf_free(&s->kb);
}

/*
 * Describe bytes [@pos, ...) of the transfer in at most a ring-full of
 * descriptors; returns how many bytes they cover.
 */
static u64 rg_build_batch(struct rg_xfer *x, const struct refmdev_guest_xfer *req,
			  bool fill, u64 pos)
{
	u32 op = fill ? REFMDEV_DMA_OP_FILL : REFMDEV_DMA_OP_COPY;
	u64 start = pos;

	x->n = 0;
	while (pos < req->len && x->n < RG_RING_ENTRIES) {
		struct refmdev_dma_desc *d = &x->desc[x->n];
		u64 src, dst, srun, drun, seg;
		u32 flags = op;

		dst = rg_side_addr(&x->dst, pos, &drun);
		flags |= rg_side_flag(&x->dst, REFMDEV_DMA_F_DST_DEVMEM);
		if (fill) {
			/* Byte k of a descriptor is byte k % 8 of its pattern. */
			src = ror64(req->pattern, 8 * (pos % 8));
			srun = U64_MAX;
		} else {
			src = rg_side_addr(&x->src, pos, &srun);
			flags |= rg_side_flag(&x->src, REFMDEV_DMA_F_SRC_DEVMEM);
		}
		seg = min3(req->len - pos, srun, drun);
		seg = min_t(u64, seg, REFMDEV_DMA_MAX_LEN);

		d->src = cpu_to_le64(src);
		d->dst = cpu_to_le64(dst);
		d->len = cpu_to_le32((u32)seg);
		d->flags = cpu_to_le32(flags);
		d->status = 0;
		d->reserved = 0;
		pos += seg;
		x->n++;
	}
	x->desc[x->n - 1].flags |= cpu_to_le32(REFMDEV_DMA_F_IRQ);
	return pos - start;
}

/* Write the batch into the ring and ring the doorbell. */
static int rg_post(struct rg_dev *gd, struct rg_xfer *x)
{
	int ret = 0;
	u32 i;

	mutex_lock(&gd->reset_mutex);
	spin_lock_irq(&gd->lock);
	if (gd->state != RG_READY) {
		ret = -EIO;
		goto out;
	}
	x->first = gd->tail;
	for (i = 0; i < x->n; i++)
		gd->ring[(gd->tail + i) % RG_RING_ENTRIES] = x->desc[i];
	gd->tail += x->n;
	x->result = -EINPROGRESS;
	reinit_completion(&x->done);
	gd->inflight = x;
	gd->stats.descs += x->n;
	/* writel() orders the descriptor stores before the doorbell. */
	rg_write32(gd, REFMDEV_REG_DMA_TAIL, gd->tail);
out:
	spin_unlock_irq(&gd->lock);
	mutex_unlock(&gd->reset_mutex);
	return ret;
}

/*
 * Wait for the posted batch. Returns its result; after a timeout, a fatal
 * signal or a halt the function has been reset, so the engine no longer
 * uses the batch's memory.
 */
static int rg_wait(struct rg_dev *gd, struct rg_xfer *x, unsigned int ms)
{
	long left;
	int ret;

	left = wait_for_completion_killable_timeout(&x->done,
						    msecs_to_jiffies(ms));

	spin_lock_irq(&gd->lock);
	gd->stats.xfers++;
	if (x->result == -EINPROGRESS) {
		/* Nobody completed it: look at the ring ourselves. */
		WARN_ON_ONCE(gd->inflight != x);
		if (rg_desc_status(gd, x->first + x->n - 1)) {
			x->flags |= REFMDEV_GUEST_RES_POLLED;
			gd->stats.polled++;
			rg_finish_locked(gd, x, 0);
		} else if (left < 0) {
			x->flags |= REFMDEV_GUEST_RES_SIGNAL;
			rg_finish_locked(gd, x, -EINTR);
		} else {
			x->flags |= REFMDEV_GUEST_RES_TIMEOUT;
			gd->stats.timeouts++;
			rg_finish_locked(gd, x, -ETIMEDOUT);
		}
	}
	ret = x->result;
	spin_unlock_irq(&gd->lock);

	if (ret == -ETIMEDOUT || ret == -EINTR ||
	    (x->flags & REFMDEV_GUEST_RES_HALTED)) {
		pci_warn(gd->pdev,
			 "batch of %u at %u: %d, DMA_STATUS 0x%x; resetting\n",
			 x->n, x->first, ret, x->dma_status);
		rg_reset(gd, REFMDEV_GUEST_RESET_CTRL, NULL);
	}
	return ret;
}

/* Account for a finished batch; 0 if all its descriptors are OK. */
static int rg_collect(struct rg_dev *gd, struct rg_xfer *x,
		      struct refmdev_guest_xfer *req, int result)
{
	int ret = 0;
	u32 i;

	/* Statuses first, then (after unmapping) the data. */
	dma_rmb();
	for (i = 0; i < x->n; i++) {
		u32 st = rg_desc_status(gd, x->first + i);

		if (st == REFMDEV_DMA_ST_OK) {
			req->ndone++;
			req->done_bytes += le32_to_cpu(x->desc[i].len);
			continue;
		}
		if (ret)
			continue;
		/* The first failure decides. */
		req->status = st;
		ret = st ? -EIO : (result ?: -EIO);
	}
	if (!ret && !req->status)
		req->status = REFMDEV_DMA_ST_OK;
	return ret;
}

static int rg_xfer(struct rg_dev *gd, struct refmdev_guest_xfer *req,
		   bool fill)
{
	unsigned int ms = req->timeout_ms ?: READ_ONCE(timeout_ms) ?: 1;
	struct rg_xfer *x;
	u64 pos = 0, t0;
	int ret;

	if (req->flags & ~REFMDEV_GUEST_XFER_FLAGS || !req->len ||
	    req->len > REFMDEV_GUEST_MAX_LEN)
		return -EINVAL;
	req->status = 0;
	req->result = 0;
	req->ndesc = 0;
	req->ndone = 0;
	req->done_bytes = 0;
	req->elapsed_ns = 0;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	init_completion(&x->done);

	ret = rg_side_prepare(gd, &x->dst, req->dst_kind, req->dst_addr,
			      req->dst_offset, req->dst_peer,
			      req->flags & REFMDEV_GUEST_XFER_DST_PEER_BDF,
			      req->len, req->flags, DMA_FROM_DEVICE);
	if (ret)
		goto out_release;
	if (!fill) {
		ret = rg_side_prepare(gd, &x->src, req->src_kind,
				      req->src_addr, req->src_offset,
				      req->src_peer,
				      req->flags & REFMDEV_GUEST_XFER_SRC_PEER_BDF,
				      req->len, req->flags, DMA_TO_DEVICE);
		if (ret)
			goto out_release;
	}

	mutex_lock(&gd->xfer_mutex);
	t0 = ktime_get_ns();
	while (pos < req->len) {
		u64 bytes = rg_build_batch(x, req, fill, pos);

		ret = rg_post(gd, x);
		if (ret)
			break;
		req->ndesc += x->n;
		ret = rg_wait(gd, x, ms);
		req->result |= x->flags;
		ret = rg_collect(gd, x, req, ret);
		if (ret)
			break;
		pos += bytes;
	}
	req->elapsed_ns = ktime_get_ns() - t0;
	mutex_unlock(&gd->xfer_mutex);

	/* The engine is done with the buffers: unmap, then read. */
	rg_side_unmap(gd, &x->src);
	rg_side_unmap(gd, &x->dst);
	if (!ret && x->dst.kind == REFMDEV_GUEST_KIND_MEM)
		ret = rg_kbuf_copy(&x->dst.kb, x->dst.skip,
				   u64_to_user_ptr(req->dst_addr), req->len,
				   true);
out_release:
	rg_side_release(gd, &x->dst);
	rg_side_release(gd, &x->src);
	kfree(x);
	return ret;
}

/* CPU access to BAR2, through a bounce buffer. */
static int rg_bar2_io(struct rg_dev *gd, void __user *arg, bool write)
{
	struct refmdev_guest_bar2_io io;
	u64 end, done = 0;
	void __user *ubuf;
	void *bounce;
	int ret = 0;

	if (copy_from_user(&io, arg, sizeof(io)))
		return -EFAULT;
	if (check_add_overflow(io.offset, io.len, &end) || end > gd->bar2_len)
		return -EINVAL;
	if (!io.len)
		return 0;
	ubuf = u64_to_user_ptr(io.buf);

	bounce = kvmalloc(min_t(u64, io.len, RG_BAR2_BOUNCE), GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;
	while (done < io.len) {
		u64 n = min_t(u64, io.len - done, RG_BAR2_BOUNCE);
		void __iomem *p = gd->devmem + io.offset + done;

		if (write && copy_from_user(bounce, ubuf + done, n)) {
			ret = -EFAULT;
			break;
		}
		mutex_lock(&gd->reset_mutex);
		if (write)
			memcpy_toio(p, bounce, n);
		else
			memcpy_fromio(bounce, p, n);
		mutex_unlock(&gd->reset_mutex);
		if (!write && copy_to_user(ubuf + done, bounce, n)) {
			ret = -EFAULT;
			break;
		}
		done += n;
	}
	kvfree(bounce);
	return ret;
}

static int rg_info(struct rg_dev *gd, void __user *arg)
{
	struct pci_dev *pdev = gd->pdev;
	struct refmdev_guest_info info;
	struct rg_stats stats;

	spin_lock_irq(&gd->lock);
	stats = gd->stats;
	spin_unlock_irq(&gd->lock);

	memset(&info, 0, sizeof(info));
	info.index = gd->index;
	info.domain = pci_domain_nr(pdev->bus);
	info.bus = pdev->bus->number;
	info.slot = PCI_SLOT(pdev->devfn);
	info.func = PCI_FUNC(pdev->devfn);
	info.irq_mode = gd->msi ? REFMDEV_GUEST_IRQ_MSI : REFMDEV_GUEST_IRQ_INTX;
	info.irq = gd->irq;
	info.version = gd->version;
	info.features = gd->features;
	info.ring_entries = RG_RING_ENTRIES;
	info.bar0_bus = pci_bus_address(pdev, REFMDEV_REGS_BAR);
	info.bar0_size = pci_resource_len(pdev, REFMDEV_REGS_BAR);
	info.bar2_bus = pci_bus_address(pdev, REFMDEV_DEVMEM_BAR);
	info.bar2_size = gd->bar2_len;
	info.devmem_size = gd->devmem_size;
	info.irqs = stats.irqs;
	info.irqs_none = stats.irqs_none;
	info.irqs_done = stats.irqs_done;
	info.irqs_error = stats.irqs_error;
	info.xfers = stats.xfers;
	info.descs = stats.descs;
	info.polled = stats.polled;
	info.timeouts = stats.timeouts;
	info.resets = stats.resets;
	info.cancelled = stats.cancelled;
	strscpy(info.bdf, pci_name(pdev), sizeof(info.bdf));

	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static int rg_ioctl_xfer(struct rg_dev *gd, void __user *arg, bool fill)
{
	struct refmdev_guest_xfer req;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	ret = rg_xfer(gd, &req, fill);
	/* The results, for failed transfers too. */
	if (copy_to_user(arg, &req, sizeof(req)))
		return -EFAULT;
	return ret;
}

static int rg_ioctl_reset(struct rg_dev *gd, void __user *arg)
{
	struct refmdev_guest_reset r;
	bool cancelled;
	u64 t0;
	int ret;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (r.flags || r.reserved)
		return -EINVAL;
	if (r.method == REFMDEV_GUEST_RESET_FLR) {
		if (pcie_reset_flr(gd->pdev, PCI_RESET_PROBE))
			return -EOPNOTSUPP;
	} else if (r.method != REFMDEV_GUEST_RESET_CTRL) {
		return -EINVAL;
	}

	t0 = ktime_get_ns();
	ret = rg_reset(gd, r.method, &cancelled);
	r.elapsed_ns = ktime_get_ns() - t0;
	r.cancelled = cancelled;
	if (copy_to_user(arg, &r, sizeof(r)))
		return -EFAULT;
	return ret;
}

static long rg_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct rg_dev *gd = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	down_read(&gd->rwsem);
	if (gd->gone) {
		ret = -ENODEV;
		goto out;
	}
	switch (cmd) {
	case REFMDEV_GUEST_IOC_INFO:
		ret = rg_info(gd, uarg);
		break;
	case REFMDEV_GUEST_IOC_COPY:
		ret = rg_ioctl_xfer(gd, uarg, false);
		break;
	case REFMDEV_GUEST_IOC_FILL:
		ret = rg_ioctl_xfer(gd, uarg, true);
		break;
	case REFMDEV_GUEST_IOC_RESET:
		ret = rg_ioctl_reset(gd, uarg);
		break;
	case REFMDEV_GUEST_IOC_READ_BAR2:
		ret = rg_bar2_io(gd, uarg, false);
		break;
	case REFMDEV_GUEST_IOC_WRITE_BAR2:
		ret = rg_bar2_io(gd, uarg, true);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
out:
	up_read(&gd->rwsem);
	return ret;
}

static int rg_open(struct inode *inode, struct file *file)
{
	/*
	 * misc_open() set private_data to our miscdevice, and holds the
	 * misc lock that misc_deregister() takes: the device cannot go
	 * before the reference is taken.
	 */
	struct rg_dev *gd = container_of(file->private_data, struct rg_dev,
					 misc);

	kref_get(&gd->ref);
	file->private_data = gd;
	return 0;
}

static int rg_release(struct inode *inode, struct file *file)
{
	struct rg_dev *gd = file->private_data;

	kref_put(&gd->ref, rg_free);
	return 0;
}

static const struct file_operations rg_fops = {
	.owner = THIS_MODULE,
	.open = rg_open,
	.release = rg_release,
	.unlocked_ioctl = rg_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Check the BARs and the identity registers. */
static int rg_check_device(struct rg_dev *gd)
{
	struct pci_dev *pdev = gd->pdev;
	u32 id;

	id = rg_read32(gd, REFMDEV_REG_ID);
	if (id != REFMDEV_ID_MAGIC) {
		pci_err(pdev, "ID register 0x%08x, not a refmdev\n", id);
		return -ENODEV;
	}
	gd->version = rg_read32(gd, REFMDEV_REG_VERSION);
	gd->features = rg_read32(gd, REFMDEV_REG_FEATURES);
	if (gd->version >> 16 != REFMDEV_VERSION_MAJOR ||
	    !(gd->features & REFMDEV_FEATURE_DMA)) {
		pci_err(pdev, "version 0x%08x, features 0x%x: unsupported\n",
			gd->version, gd->features);
		return -ENODEV;
	}
	gd->devmem_size = lo_hi_readq(gd->regs + REFMDEV_REG_DEVMEM_SIZE);
	if (gd->devmem_size != gd->bar2_len) {
		pci_warn(pdev, "DEVMEM_SIZE %llu, BAR2 %llu bytes: using the smaller\n",
			 gd->devmem_size, gd->bar2_len);
		gd->devmem_size = min(gd->devmem_size, gd->bar2_len);
	}
	return 0;
}

static int rg_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	unsigned int irq_flags = force_intx ? PCI_IRQ_INTX :
					      PCI_IRQ_MSI | PCI_IRQ_INTX;
	struct rg_dev *gd;
	int ret;

	if (!(pci_resource_flags(pdev, REFMDEV_REGS_BAR) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, REFMDEV_REGS_BAR) < REFMDEV_REGS_SIZE ||
	    !(pci_resource_flags(pdev, REFMDEV_DEVMEM_BAR) & IORESOURCE_MEM) ||
	    !pci_resource_len(pdev, REFMDEV_DEVMEM_BAR)) {
		pci_err(pdev, "BAR0 or BAR2 missing\n");
		return -ENODEV;
	}

	gd = kzalloc(sizeof(*gd), GFP_KERNEL);
	if (!gd)
		return -ENOMEM;
	kref_init(&gd->ref);
	gd->pdev = pdev;
	INIT_LIST_HEAD(&gd->node);
	init_rwsem(&gd->rwsem);
	mutex_init(&gd->xfer_mutex);
	mutex_init(&gd->reset_mutex);
	spin_lock_init(&gd->lock);
	gd->bar2_len = pci_resource_len(pdev, REFMDEV_DEVMEM_BAR);

	ret = pci_enable_device_mem(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_mem_regions(pdev, RG_DRV_NAME);
	if (ret)
		goto err_disable;
	gd->regs = pci_iomap(pdev, REFMDEV_REGS_BAR, REFMDEV_REGS_SIZE);
	if (!gd->regs) {
		ret = -ENOMEM;
		goto err_release;
	}
	gd->devmem = pci_iomap_wc(pdev, REFMDEV_DEVMEM_BAR, 0);
	if (!gd->devmem) {
		ret = -ENOMEM;
		goto err_unmap_regs;
	}
	ret = rg_check_device(gd);
	if (ret)
		goto err_unmap_devmem;

	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
	if (ret) {
		pci_err(pdev, "no usable DMA mask\n");
		goto err_unmap_devmem;
	}
	gd->ring = dma_alloc_coherent(&pdev->dev, RG_RING_BYTES, &gd->ring_dma,
				      GFP_KERNEL);
	if (!gd->ring) {
		ret = -ENOMEM;
		goto err_unmap_devmem;
	}

	/* Nothing an earlier driver left running may survive. */
	gd->resetting = true;
	rg_write32(gd, REFMDEV_REG_CONTROL, REFMDEV_CTRL_RESET);
	if (!rg_alive(gd)) {
		pci_err(pdev, "no answer after CONTROL.RESET\n");
		ret = -EIO;
		goto err_free_ring;
	}
	gd->stats.resets++;

	ret = pci_alloc_irq_vectors(pdev, 1, 1, irq_flags);
	if (ret < 0) {
		pci_err(pdev, "no interrupt: %d\n", ret);
		goto err_free_ring;
	}
	gd->msi = pdev->msi_enabled;
	gd->irq = pci_irq_vector(pdev, 0);

	ret = ida_alloc(&rg_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_free_vectors;
	gd->index = ret;
	snprintf(gd->name, sizeof(gd->name), "%s%d", RG_DRV_NAME, gd->index);

	ret = request_irq(gd->irq, rg_irq, gd->msi ? 0 : IRQF_SHARED,
			  gd->name, gd);
	if (ret)
		goto err_free_index;

	pci_set_master(pdev);
	spin_lock_irq(&gd->lock);
	gd->resetting = false;
	rg_engine_start_locked(gd);
	gd->state = RG_READY;
	spin_unlock_irq(&gd->lock);

	gd->misc.minor = MISC_DYNAMIC_MINOR;
	gd->misc.name = gd->name;
	gd->misc.fops = &rg_fops;
	gd->misc.parent = &pdev->dev;
	gd->misc.mode = 0600;
	ret = misc_register(&gd->misc);
	if (ret)
		goto err_stop;

	pci_set_drvdata(pdev, gd);
	mutex_lock(&rg_list_lock);
	list_add_tail(&gd->node, &rg_devices);
	mutex_unlock(&rg_list_lock);

	pci_info(pdev, "%s: refmdev %u.%u, BAR2 at bus address %#llx, %llu KiB, %s IRQ %d\n",
		 gd->name, gd->version >> 16, gd->version & 0xffff,
		 (u64)pci_bus_address(pdev, REFMDEV_DEVMEM_BAR),
		 gd->bar2_len >> 10, gd->msi ? "MSI" : "INTx", gd->irq);
	return 0;

err_stop:
	rg_engine_stop(gd);
	pci_clear_master(pdev);
	free_irq(gd->irq, gd);
err_free_index:
	ida_free(&rg_ida, gd->index);
err_free_vectors:
	pci_free_irq_vectors(pdev);
err_free_ring:
	dma_free_coherent(&pdev->dev, RG_RING_BYTES, gd->ring, gd->ring_dma);
err_unmap_devmem:
	pci_iounmap(pdev, gd->devmem);
err_unmap_regs:
	pci_iounmap(pdev, gd->regs);
err_release:
	pci_release_mem_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_free:
	kref_put(&gd->ref, rg_free);
	return ret;
}

static void rg_remove(struct pci_dev *pdev)
{
	struct rg_dev *gd = pci_get_drvdata(pdev);

	/* No new peer lookups, no new opens. */
	mutex_lock(&rg_list_lock);
	list_del(&gd->node);
	mutex_unlock(&rg_list_lock);
	misc_deregister(&gd->misc);

	/* Wait for the ioctls in progress; later ones see @gone. */
	down_write(&gd->rwsem);
	gd->gone = true;
	up_write(&gd->rwsem);

	/* Same order as the probe error path. */
	rg_engine_stop(gd);
	pci_clear_master(pdev);
	free_irq(gd->irq, gd);
	ida_free(&rg_ida, gd->index);
	pci_free_irq_vectors(pdev);
	dma_free_coherent(&pdev->dev, RG_RING_BYTES, gd->ring, gd->ring_dma);
	pci_iounmap(pdev, gd->devmem);
	pci_iounmap(pdev, gd->regs);
	pci_release_mem_regions(pdev);
	pci_disable_device(pdev);
	kref_put(&gd->ref, rg_free);
}

static const struct pci_device_id rg_ids[] = {
	{ PCI_DEVICE(REFMDEV_PCI_VENDOR_ID, REFMDEV_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, rg_ids);

static struct pci_driver rg_driver = {
	.name = RG_DRV_NAME,
	.id_table = rg_ids,
	.probe = rg_probe,
	.remove = rg_remove,
};
module_pci_driver(rg_driver);

MODULE_DESCRIPTION("Guest driver for refmdev PCI functions (DMA engine, P2P, resets)");
MODULE_LICENSE("GPL");
