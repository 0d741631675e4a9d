/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dma_ring: the refmdev DMA engine's descriptor ring, as a driver keeps
 * it: ring memory in guest memory (guest_mem.h), the ring registers,
 * and posting descriptors.
 *
 * What a driver must get right, and where this code does it:
 *   - the ring registers take writes only while the engine is off, and
 *     writing them resets HEAD and TAIL to 0: dma_ring_start();
 *   - descriptors are little-endian, and are complete in memory before
 *     TAIL moves: dma_ring_post(), dma_ring_doorbell();
 *   - a descriptor's status is set to 0 when posted, so that the
 *     device's answer (never 0) can be told from the slot's last use.
 *
 * How completion is seen (an interrupt, or polling the status) is the
 * caller's: the device writes the status after the data, so the status
 * is read first, with an acquire load, and the data only after it.
 */
#ifndef REFMDEV_SAMPLES_DMA_RING_H
#define REFMDEV_SAMPLES_DMA_RING_H

#include <stddef.h>
#include <linux/refmdev.h>
#include <linux/types.h>

#include "device_io.h"
#include "guest_mem.h"

struct dma_ring {
	struct guest_buf mem;
	struct refmdev_dma_desc *desc;	/* mem.va */
	__u32 entries;			/* a power of two */
	__u32 tail;			/* free-running, like the device's */
};

/* Ring memory of @size bytes for @entries descriptors, at @iova. */
void dma_ring_map(int container, struct dma_ring *ring, __u64 iova,
		  size_t size, __u32 entries, const char *step);
void dma_ring_unmap(int container, struct dma_ring *ring, const char *step);

/*
 * Point @d's engine at the ring and enable it. The memory must be
 * mapped and bus mastering on first.
 */
void dma_ring_start(const struct sample_dev *d, struct dma_ring *ring,
		    const char *step);

/*
 * Write a descriptor into the next slot and return it. The ring is never
 * full in the samples: each descriptor is waited for.
 */
struct refmdev_dma_desc *dma_ring_post(struct dma_ring *ring, __u64 src,
				       __u64 dst, __u32 len, __u32 flags);

/* Hand the descriptors posted so far to the device: TAIL. */
void dma_ring_doorbell(const struct sample_dev *d,
		       const struct dma_ring *ring, const char *step);

/* "REFMDEV_DMA_ST_OK" and so on; "none (not done)" for 0. */
const char *dma_status_name(__u32 status);

#endif /* REFMDEV_SAMPLES_DMA_RING_H */
