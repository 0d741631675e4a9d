// SPDX-License-Identifier: GPL-2.0
/*
 * dma_ring: the refmdev DMA engine's descriptor ring; see dma_ring.h.
 */
#include <endian.h>

#include "dma_ring.h"

void dma_ring_map(int container, struct dma_ring *ring, __u64 iova,
		  size_t size, __u32 entries, const char *step)
{
	guest_buf_map(container, &ring->mem, iova, size, step);
	ring->desc = ring->mem.va;
	ring->entries = entries;
	ring->tail = 0;
}

void dma_ring_unmap(int container, struct dma_ring *ring, const char *step)
{
	guest_buf_unmap(container, &ring->mem, step);
	ring->desc = NULL;
}

void dma_ring_start(const struct sample_dev *d, struct dma_ring *ring,
		    const char *step)
{
	reg_write32(d, REFMDEV_REG_DMA_CONTROL, 0, step);
	reg_write64(d, REFMDEV_REG_DMA_RING_BASE, ring->mem.iova, step);
	reg_write32(d, REFMDEV_REG_DMA_RING_SIZE, ring->entries, step);
	reg_write32(d, REFMDEV_REG_DMA_CONTROL, REFMDEV_DMA_CTRL_ENABLE, step);
	/* Writing the ring registers reset HEAD and TAIL to 0. */
	ring->tail = 0;
}

struct refmdev_dma_desc *dma_ring_post(struct dma_ring *ring, __u64 src,
				       __u64 dst, __u32 len, __u32 flags)
{
	struct refmdev_dma_desc *desc = &ring->desc[ring->tail % ring->entries];

	desc->src = htole64(src);
	desc->dst = htole64(dst);
	desc->len = htole32(len);
	desc->flags = htole32(flags);
	desc->reserved = 0;
	desc->status = 0;
	ring->tail++;
	return desc;
}

/*
 * Moving TAIL hands the descriptors before it to the device. They must
 * be in memory first: the fence is the wmb() a kernel driver would have
 * before its MMIO doorbell. (pwrite() is a system call, which orders
 * anyway, but the fence states the requirement.)
 */
void dma_ring_doorbell(const struct sample_dev *d,
		       const struct dma_ring *ring, const char *step)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	reg_write32(d, REFMDEV_REG_DMA_TAIL, ring->tail, step);
}

const char *dma_status_name(__u32 status)
{
	switch (status) {
	case 0:
		return "none (not done)";
	case REFMDEV_DMA_ST_OK:
		return "REFMDEV_DMA_ST_OK";
	case REFMDEV_DMA_ST_BAD_DESC:
		return "REFMDEV_DMA_ST_BAD_DESC";
	case REFMDEV_DMA_ST_BAD_LEN:
		return "REFMDEV_DMA_ST_BAD_LEN";
	case REFMDEV_DMA_ST_OVERFLOW:
		return "REFMDEV_DMA_ST_OVERFLOW";
	case REFMDEV_DMA_ST_OVERLAP:
		return "REFMDEV_DMA_ST_OVERLAP";
	case REFMDEV_DMA_ST_DEVMEM_RANGE:
		return "REFMDEV_DMA_ST_DEVMEM_RANGE";
	case REFMDEV_DMA_ST_UNMAPPED:
		return "REFMDEV_DMA_ST_UNMAPPED";
	case REFMDEV_DMA_ST_READ_ONLY:
		return "REFMDEV_DMA_ST_READ_ONLY";
	case REFMDEV_DMA_ST_NO_MEMLOCK:
		return "REFMDEV_DMA_ST_NO_MEMLOCK";
	case REFMDEV_DMA_ST_FAULT:
		return "REFMDEV_DMA_ST_FAULT";
	case REFMDEV_DMA_ST_NO_OWNER:
		return "REFMDEV_DMA_ST_NO_OWNER";
	case REFMDEV_DMA_ST_NO_MEM:
		return "REFMDEV_DMA_ST_NO_MEM";
	case REFMDEV_DMA_ST_PEER_REVOKED:
		return "REFMDEV_DMA_ST_PEER_REVOKED";
	case REFMDEV_DMA_ST_PEER_RANGE:
		return "REFMDEV_DMA_ST_PEER_RANGE";
	case REFMDEV_DMA_ST_PEER_FAULT:
		return "REFMDEV_DMA_ST_PEER_FAULT";
	default:
		return "unknown";
	}
}
