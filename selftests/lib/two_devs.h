/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two-refmdev setup of the P2P tests: A, whose BAR2 is the peer
 * memory (exported as a dma-buf for a P2P window, or mapped into B's
 * container on the type1 path), and B, whose DMA engine reaches it. B
 * gets a descriptor ring and guest memory for sources and destinations;
 * A's BAR2 is also mapped into this process, to check what the CPU
 * sees. Everything is undone at test end (ktap_defer()).
 */
#ifndef TWO_DEVS_H
#define TWO_DEVS_H

#include "dma_util.h"
#include "mdev_util.h"

struct two_devs {
	struct vfio_dev *a, *b;
	struct dma_ring *ring;
	struct guest_mem *src, *dst;
	__u8 *bar;		/* A's BAR2, mapped here; NULL once unmapped */
	size_t bar_size;
};

/*
 * Two 1 MiB devices; B's ring of @ring_entries, and @guest_size bytes of
 * guest memory at @src_iova and at @dst_iova in B's address space.
 */
void two_devs_setup(struct two_devs *p, __u32 ring_entries, __u64 src_iova,
		    __u64 dst_iova, size_t guest_size);
/* Unmap A's BAR2 early (the mapping holds A's device file open). */
void two_devs_unmap_bar(struct two_devs *p);

#endif /* TWO_DEVS_H */
