/* SPDX-License-Identifier: GPL-2.0 */
/*
 * guest_mem: the samples' stand-in for a virtual machine's memory.
 * Anonymous, page-aligned user memory (the IOMMU maps whole pages) made
 * visible to the device at an IOVA with the container's
 * VFIO_IOMMU_MAP_DMA.
 *
 * With an mdev nothing is pinned when the memory is mapped: the parent
 * driver pins pages only while a descriptor uses them, through this
 * process's page tables. So a buffer must stay mapped at the same
 * address for as long as its IOVA mapping exists, and may go away only
 * once the device can no longer use it.
 *
 * Each function fails the step (fail.h) on an error.
 */
#ifndef REFMDEV_SAMPLES_GUEST_MEM_H
#define REFMDEV_SAMPLES_GUEST_MEM_H

#include <stddef.h>
#include <linux/types.h>

struct guest_buf {
	void *va;
	__u64 iova;
	size_t size;
};

/* @size bytes of new memory into @buf, mapped at @iova in @container. */
void guest_buf_map(int container, struct guest_buf *buf, __u64 iova,
		   size_t size, const char *step);
/* Unmap the buffer's IOVA range, then the memory itself. */
void guest_buf_unmap(int container, struct guest_buf *buf, const char *step);
/*
 * VFIO_IOMMU_UNMAP_DMA of [@iova, @iova + @size), which must unmap all
 * of it: type1 reports how much it did.
 */
void iova_unmap(int container, __u64 iova, size_t size, const char *step);

#endif /* REFMDEV_SAMPLES_GUEST_MEM_H */
