// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA engine: descriptors with random fields, and copies whose data
 * is checked.
 *
 * A checked copy must not be confused by anything else the fuzzer does,
 * or a report would mean nothing. So within one process every write to
 * a device's BAR0 holds that device's ring_lock (other processes cannot
 * open the device: a group has one container), the checked copy waits
 * for the engine to go idle before it programs the ring, and nothing
 * random is ever mapped at, attached at or aimed at the verify range.
 * Resets, decode and bus-master switches, unmaps and allocation failures
 * still hit it at any moment: they may make the copy fail or never
 * finish, but a descriptor that completes with REFMDEV_DMA_ST_OK must
 * have copied exactly its source.
 */
#include <linux/pci_regs.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "dma_util.h"
#include "fuzz.h"

#define IDLE_WAIT_MS	8000	/* a window's fence wait is bounded by 5 s */
#define DONE_WAIT_MS	8000

static bool wait_idle(struct fz_dev *d, long timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	__u64 status;

	do {
		if (fz_reg_read(d, REFMDEV_REG_DMA_STATUS, 4, &status))
			return false;
		if (!(status & REFMDEV_DMA_STATUS_BUSY))
			return true;
		usleep(1000);
	} while (now_ms() < deadline);
	return false;
}

/* Under d->ring_lock: an idle engine with a fresh ring at FZ_RING_IOVA
 * (head and tail 0), enabled, not yet started.
 */
static int ring_reset(struct fz_dev *d, bool wait)
{
	int ret;

	ret = fz_reg_write(d, REFMDEV_REG_DMA_CONTROL, 4, 0);
	if (!ret && wait && !wait_idle(d, IDLE_WAIT_MS))
		ret = -EBUSY;
	if (!ret)
		ret = fz_reg_write(d, REFMDEV_REG_DMA_RING_BASE, 8, FZ_RING_IOVA);
	if (!ret)
		ret = fz_reg_write(d, REFMDEV_REG_DMA_RING_SIZE, 4,
				   FZ_RING_ENTRIES);
	if (!ret)
		ret = fz_reg_write(d, REFMDEV_REG_DMA_CONTROL, 4,
				   REFMDEV_DMA_CTRL_ENABLE);
	return ret;
}

static void enable_engine(struct fz_dev *d)
{
	__u64 cmd;

	if (!fz_cfg_read(d, PCI_COMMAND, 2, &cmd))
		fz_cfg_write(d, PCI_COMMAND, 2,
			     cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* An address for a random descriptor: anywhere but the verify range. */
static __u64 random_address(struct fz_rng *r, __u32 *flags, bool dst)
{
	__u64 a;

	switch (fz_below(r, 7)) {
	case 0:
		*flags |= dst ? REFMDEV_DMA_F_DST_DEVMEM : REFMDEV_DMA_F_SRC_DEVMEM;
		return fz_chance(r, 80) ? fz_below(r, 1u << 20) :
					  fz_size(r, 1u << 20);
	case 1:
		return FZ_WINDOW_IOVA + fz_below(r, REFMDEV_P2P_WINDOWS) *
		       FZ_WINDOW_SPAN + fz_size(r, 1u << 20);
	case 2:
		return FZ_RING_IOVA + fz_below(r, FZ_PAGE);
	case 3:
		a = fz_next(r);
		if (a >= FZ_VERIFY_IOVA - (64u << 20) &&
		    a < FZ_VERIFY_IOVA + FZ_VERIFY_SIZE)
			a = 0;
		return a;
	default:
		return FZ_SCRATCH_IOVA + fz_size(r, FZ_SCRATCH_SIZE);
	}
}

int fz_op_desc_random(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned int n = fz_below(r, 4) + 1, i;
	struct fz_dev *d;
	int ret = FZ_DONE;

	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	if (!d) {
		pthread_rwlock_unlock(&t->p->lock);
		return FZ_SKIPPED;
	}
	pthread_mutex_lock(&d->ring_lock);
	if (fz_chance(r, 50))
		enable_engine(d);
	if (fz_chance(r, 70))
		ret = ring_reset(d, false);
	for (i = 0; i < n && !ret; i++) {
		struct refmdev_dma_desc *desc = &d->ring[i];
		__u32 flags = fz_chance(r, 50) ? REFMDEV_DMA_OP_COPY :
			      fz_chance(r, 70) ? REFMDEV_DMA_OP_FILL :
						 fz_below(r, 16);
		__u32 len;

		if (fz_chance(r, 20))
			flags |= REFMDEV_DMA_F_IRQ;
		if (fz_chance(r, 3))
			flags = fz_next(r);
		desc->src = random_address(r, &flags, false);
		desc->dst = fz_chance(r, 10) ? desc->src + fz_below(r, 64) :
					       random_address(r, &flags, true);
		len = fz_chance(r, 90) ? fz_size(r, 64u << 10) :
					 fz_size(r, REFMDEV_DMA_MAX_LEN);
		desc->len = len;
		desc->flags = flags;
		desc->status = 0;
		desc->reserved = fz_chance(r, 95) ? 0 : fz_next(r);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!ret)
		ret = fz_reg_write(d, REFMDEV_REG_DMA_TAIL, 4,
				   fz_chance(r, 95) ? n : fz_next(r));
	pthread_mutex_unlock(&d->ring_lock);
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

static void check_copy(struct fz_thread *t, const __u8 *src, const __u8 *dst,
		       __u32 len)
{
	__u32 i;

	for (i = 0; i < len; i++)
		if (dst[i] != src[i]) {
			fz_violation(t->p->sh,
				     "worker %d thread %d: a copy of %u bytes completed OK but byte 0x%x is 0x%02x, its source 0x%02x",
				     t->p->id, t->idx, len, i, dst[i], src[i]);
			return;
		}
	atomic_fetch_add(&t->p->sh->verified, 1);
}

int fz_op_desc_verified(struct fz_thread *t)
{
	struct fz_proc *p = t->p;
	__u64 piece, iova, half = FZ_VERIFY_PIECE / 2;
	__u32 len = fz_below(&t->rng, half) + 1, status = 0;
	struct refmdev_dma_desc *desc;
	__u8 *src, *dst;
	struct fz_dev *d;
	long deadline;
	int ret;

	pthread_rwlock_rdlock(&p->lock);
	d = fz_pick_dev(t);
	if (!d) {
		pthread_rwlock_unlock(&p->lock);
		return FZ_SKIPPED;
	}
	piece = ((d - p->dev) * FZ_THREADS + t->idx) * FZ_VERIFY_PIECE;
	src = p->verify + piece;
	dst = src + half;
	iova = FZ_VERIFY_IOVA + piece;
	desc = d->ring;

	/* Re-mapped every time: whatever happened to the IOVA before, the
	 * copy reaches these pages; and the unmap drops the pins of an
	 * earlier copy that may still be running.
	 */
	dma_unmap_raw(&d->v, iova, FZ_VERIFY_PIECE, 0);
	ret = dma_map_raw(&d->v, src, iova, FZ_VERIFY_PIECE,
			  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	if (ret) {
		ret = -errno;
		goto out;
	}
	dma_map_raw(&d->v, d->ring, FZ_RING_IOVA, FZ_PAGE,
		    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);

	pthread_mutex_lock(&d->ring_lock);
	enable_engine(d);
	ret = ring_reset(d, true);
	if (ret) {
		pthread_mutex_unlock(&d->ring_lock);
		goto out;
	}
	fill_random(src, len, fz_next(&t->rng));
	memset(dst, 0xee, len);
	desc->src = iova;
	desc->dst = iova + half;
	desc->len = len;
	desc->flags = REFMDEV_DMA_OP_COPY |
		      (fz_chance(&t->rng, 20) ? REFMDEV_DMA_F_IRQ : 0);
	desc->reserved = 0;
	desc->status = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ret = fz_reg_write(d, REFMDEV_REG_DMA_TAIL, 4, 1);
	deadline = now_ms() + DONE_WAIT_MS;
	while (!ret && !(status = __atomic_load_n(&desc->status, __ATOMIC_ACQUIRE)) &&
	       now_ms() < deadline)
		usleep(1000);
	pthread_mutex_unlock(&d->ring_lock);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (status == REFMDEV_DMA_ST_OK)
		check_copy(t, src, dst, len);
	else if (!ret)
		ret = status ? -EIO : -ETIMEDOUT;
out:
	pthread_rwlock_unlock(&p->lock);
	return ret;
}
