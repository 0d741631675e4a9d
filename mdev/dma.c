// SPDX-License-Identifier: GPL-2.0
/*
 * The refmdev DMA engine: its registers, the worker that consumes the
 * descriptor ring, and quiescing for reset and close. The data movement
 * of one descriptor is in dma_xfer.c, the .dma_unmap barrier and the pin
 * sections it waits for in unmap_gate.c.
 *
 * The worker runs on system_unbound_wq: vfio_dma_rw() and
 * vfio_pin_pages() must be called from a kernel thread (or the owner),
 * and never with mmap_lock or a lock our fault handler takes.
 */
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/sched.h>
#include "compat.h"
#include "refmdev.h"

static void refmdev_dma_work(struct work_struct *work);

void refmdev_dma_init(struct refmdev *rd)
{
	static struct lock_class_key section_key;
	struct refmdev_dma *dma = &rd->dma;

	INIT_WORK(&dma->work, refmdev_dma_work);
	spin_lock_init(&dma->pin_lock);
	INIT_LIST_HEAD(&dma->unmap_links);
	init_waitqueue_head(&dma->pin_wq);
	lockdep_init_map(&dma->section_map, "refmdev_pin_section",
			 &section_key, 0);
	atomic_set(&dma->unmap_calls, 0);
	refmdev_pin_cache_init(rd);
	/* Registers start at zero: vfio_alloc_device() zeroes @rd. */
}

/* Power-on register values, while the engine is stopped (a reset). */
void refmdev_dma_reset_regs(struct refmdev *rd)
{
	struct refmdev_dma *dma = &rd->dma;

	lockdep_assert_held(&rd->lock);
	WARN_ON_ONCE(!dma->stopping);

	dma->ring_base = 0;
	dma->ring_size = 0;
	dma->head = 0;
	dma->tail = 0;
	dma->control = 0;
	dma->status = 0;
	dma->completed = 0;
}

bool refmdev_dma_is_reg(unsigned int offset, unsigned int *width)
{
	switch (offset) {
	case REFMDEV_REG_DMA_RING_BASE:
		*width = 8;
		return true;
	case REFMDEV_REG_DMA_RING_SIZE:
	case REFMDEV_REG_DMA_HEAD:
	case REFMDEV_REG_DMA_TAIL:
	case REFMDEV_REG_DMA_CONTROL:
	case REFMDEV_REG_DMA_STATUS:
	case REFMDEV_REG_DMA_COMPLETED:
		*width = 4;
		return true;
	}
	return false;
}

u64 refmdev_dma_reg_read(struct refmdev *rd, unsigned int offset)
{
	struct refmdev_dma *dma = &rd->dma;

	switch (offset) {
	case REFMDEV_REG_DMA_RING_BASE:
		return dma->ring_base;
	case REFMDEV_REG_DMA_RING_SIZE:
		return dma->ring_size;
	case REFMDEV_REG_DMA_HEAD:
		return dma->head;
	case REFMDEV_REG_DMA_TAIL:
		return dma->tail;
	case REFMDEV_REG_DMA_CONTROL:
		return dma->control;
	case REFMDEV_REG_DMA_STATUS:
		return dma->status;
	case REFMDEV_REG_DMA_COMPLETED:
		return dma->completed;
	}
	return 0;
}

/* Queue the worker if there is anything for it to do. */
static void refmdev_dma_kick(struct refmdev *rd)
{
	struct refmdev_dma *dma = &rd->dma;

	lockdep_assert_held(&rd->lock);
	if (dma->stopping || !(dma->control & REFMDEV_DMA_CTRL_ENABLE) ||
	    (dma->status & REFMDEV_DMA_STATUS_HALTED) || dma->head == dma->tail)
		return;
	dma->status |= REFMDEV_DMA_STATUS_BUSY;
	queue_work(system_unbound_wq, &dma->work);
}

void refmdev_dma_reg_write(struct refmdev *rd, unsigned int offset, u64 val,
			   u64 mask)
{
	struct refmdev_dma *dma = &rd->dma;
	bool enabled = dma->control & REFMDEV_DMA_CTRL_ENABLE;

	lockdep_assert_held(&rd->lock);
	switch (offset) {
	case REFMDEV_REG_DMA_RING_BASE:
		/* The ring moves only while the engine is off and idle. */
		if (enabled || (dma->status & REFMDEV_DMA_STATUS_BUSY))
			return;
		dma->ring_base = ((dma->ring_base & ~mask) | val) &
				 ~(u64)(sizeof(struct refmdev_dma_desc) - 1);
		dma->head = 0;
		dma->tail = 0;
		break;
	case REFMDEV_REG_DMA_RING_SIZE:
		if (enabled || (dma->status & REFMDEV_DMA_STATUS_BUSY))
			return;
		dma->ring_size = (dma->ring_size & ~mask) | val;
		dma->head = 0;
		dma->tail = 0;
		break;
	case REFMDEV_REG_DMA_TAIL:
		dma->tail = (dma->tail & ~mask) | val;
		refmdev_dma_kick(rd);
		break;
	case REFMDEV_REG_DMA_CONTROL:
		dma->control = ((dma->control & ~mask) | val) &
			       REFMDEV_DMA_CTRL_ENABLE;
		/* Enabling again is how a halted engine is restarted. */
		if (!enabled && (dma->control & REFMDEV_DMA_CTRL_ENABLE))
			dma->status &= ~(REFMDEV_DMA_STATUS_HALTED |
					 0xff << REFMDEV_DMA_STATUS_REASON_SHIFT);
		refmdev_dma_kick(rd);
		break;
	default:	/* HEAD, STATUS, COMPLETED are read-only */
		break;
	}
}

static void refmdev_dma_raise(struct refmdev *rd, u32 source)
{
	rd->regs.int_status |= source;
	refmdev_irq_update(rd);
}

static void refmdev_dma_halt(struct refmdev *rd, u32 reason)
{
	struct refmdev_dma *dma = &rd->dma;

	lockdep_assert_held(&rd->lock);
	dma->status &= ~REFMDEV_DMA_STATUS_BUSY;
	dma->status |= REFMDEV_DMA_STATUS_HALTED |
		       reason << REFMDEV_DMA_STATUS_REASON_SHIFT;
	refmdev_dma_raise(rd, REFMDEV_INT_DMA_ERROR);
}

/*
 * Decide, under rd->lock, whether the worker may go on, and if so which
 * ring slot to read. False when there is nothing (more) to do.
 */
static bool refmdev_dma_next_slot(struct refmdev *rd, u64 *slot)
{
	struct refmdev_dma *dma = &rd->dma;

	lockdep_assert_held(&rd->lock);
	if (dma->stopping || !(dma->control & REFMDEV_DMA_CTRL_ENABLE) ||
	    (dma->status & REFMDEV_DMA_STATUS_HALTED) ||
	    dma->head == dma->tail) {
		dma->status &= ~REFMDEV_DMA_STATUS_BUSY;
		return false;
	}
	/* Bus mastering off: not a single access to guest memory. */
	if (!(refmdev_config_command(rd) & PCI_COMMAND_MASTER)) {
		refmdev_dma_halt(rd, REFMDEV_DMA_HALT_BUS_MASTER);
		return false;
	}
	if (!is_power_of_2(dma->ring_size) ||
	    dma->ring_size > REFMDEV_DMA_RING_MAX ||
	    dma->tail - dma->head > dma->ring_size) {
		refmdev_dma_halt(rd, REFMDEV_DMA_HALT_RING);
		return false;
	}
	*slot = dma->ring_base + (u64)(dma->head & (dma->ring_size - 1)) *
		sizeof(struct refmdev_dma_desc);
	return true;
}

/*
 * One descriptor: read it, run it, write its status back. Returns false
 * if the ring itself could not be accessed (the caller halts). The status
 * is written after the transfer's pin section has closed, so an unmap
 * never waits for it: the write goes through vfio_dma_rw(), which type1
 * serialises with the unmap, and fails cleanly (a ring fault) once the
 * ring is gone.
 */
static bool refmdev_dma_run_slot(struct refmdev *rd, u64 slot, u32 *status,
				 u32 *flags)
{
	struct refmdev_dma_desc desc;
	__le32 st;

	if (vfio_dma_rw(&rd->vdev, slot, &desc, sizeof(desc), false))
		return false;
	*flags = le32_to_cpu(desc.flags);
	*status = refmdev_dma_transfer(rd, &desc);
	st = cpu_to_le32(*status);
	return !vfio_dma_rw(&rd->vdev,
			    slot + offsetof(struct refmdev_dma_desc, status),
			    &st, sizeof(st), true);
}

static void refmdev_dma_work(struct work_struct *work)
{
	struct refmdev *rd = container_of(work, struct refmdev, dma.work);
	struct refmdev_dma *dma = &rd->dma;
	u32 status, flags;
	u64 slot;

	for (;;) {
		mutex_lock(&rd->lock);
		if (!refmdev_dma_next_slot(rd, &slot)) {
			mutex_unlock(&rd->lock);
			return;
		}
		mutex_unlock(&rd->lock);

		if (!refmdev_dma_run_slot(rd, slot, &status, &flags)) {
			mutex_lock(&rd->lock);
			refmdev_dma_halt(rd, REFMDEV_DMA_HALT_RING_FAULT);
			mutex_unlock(&rd->lock);
			return;
		}

		mutex_lock(&rd->lock);
		dma->head++;
		dma->completed++;
		if (flags & REFMDEV_DMA_F_IRQ)
			refmdev_dma_raise(rd, status == REFMDEV_DMA_ST_OK ?
					  REFMDEV_INT_DMA_DONE :
					  REFMDEV_INT_DMA_ERROR);
		mutex_unlock(&rd->lock);
		cond_resched();
	}
}

/*
 * Stop the engine for a reset, a bus-master fence or close: no new work
 * is queued, a running worker finishes its current descriptor, and the
 * pins it kept are dropped before this returns. A guest that resets its
 * device, or a new user, starts with nothing of the old mappings pinned.
 */
void refmdev_dma_quiesce(struct refmdev *rd)
{
	mutex_lock(&rd->lock);
	rd->dma.stopping = true;
	mutex_unlock(&rd->lock);
	cancel_work_sync(&rd->dma.work);
	refmdev_pin_cache_drop(rd);
}

/*
 * After a stop: let the engine go on with whatever its registers say
 * (nothing, after a successful reset; the same work, after a failed one
 * or a bus-master fence, where the worker then halts at once).
 */
void refmdev_dma_resume(struct refmdev *rd)
{
	lockdep_assert_held(&rd->lock);
	rd->dma.stopping = false;
	rd->dma.status &= ~REFMDEV_DMA_STATUS_BUSY;
	refmdev_dma_kick(rd);
}
