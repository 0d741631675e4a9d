// SPDX-License-Identifier: GPL-2.0
/* The two-device setup of the P2P tests; see two_devs.h. */
#include <sys/mman.h>

#include "ktap.h"
#include "two_devs.h"

void two_devs_unmap_bar(struct two_devs *p)
{
	if (p->bar)
		munmap(p->bar, p->bar_size);
	p->bar = NULL;
}

static void unmap_bar(void *arg)
{
	two_devs_unmap_bar(arg);
}

void two_devs_setup(struct two_devs *p, __u32 ring_entries, __u64 src_iova,
		    __u64 dst_iova, size_t guest_size)
{
	const __u32 rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;

	p->a = vfio_open(mdev_create(TYPE_1M));
	p->b = vfio_open(mdev_create(TYPE_1M));
	p->ring = dma_ring_setup(p->b, ring_entries);
	p->src = guest_mem_map(p->b, src_iova, guest_size, rw);
	p->dst = guest_mem_map(p->b, dst_iova, guest_size, rw);
	p->bar_size = p->a->size[REFMDEV_DEVMEM_BAR];
	p->bar = mmap(NULL, p->bar_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->a->device, p->a->offset[REFMDEV_DEVMEM_BAR]);
	ASSERT_TRUE(p->bar != MAP_FAILED);
	ktap_defer(unmap_bar, p);
}
