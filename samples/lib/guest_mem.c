// SPDX-License-Identifier: GPL-2.0
/*
 * guest_mem: user memory mapped for a device through the type1 IOMMU;
 * see guest_mem.h.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vfio.h>

#include "fail.h"
#include "guest_mem.h"

void guest_buf_map(int container, struct guest_buf *buf, __u64 iova,
		   size_t size, const char *step)
{
	struct vfio_iommu_type1_dma_map map;

	buf->va = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf->va == MAP_FAILED)
		fail_errno(step, errno);
	buf->iova = iova;
	buf->size = size;

	memset(&map, 0, sizeof(map));
	map.argsz = sizeof(map);
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (__u64)(unsigned long)buf->va;
	map.iova = iova;
	map.size = size;
	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map))
		fail(step, "VFIO_IOMMU_MAP_DMA at 0x%llx: %s",
		     (unsigned long long)iova, strerror(errno));
}

void iova_unmap(int container, __u64 iova, size_t size, const char *step)
{
	struct vfio_iommu_type1_dma_unmap unmap;

	memset(&unmap, 0, sizeof(unmap));
	unmap.argsz = sizeof(unmap);
	unmap.iova = iova;
	unmap.size = size;
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		fail(step, "VFIO_IOMMU_UNMAP_DMA at 0x%llx: %s",
		     (unsigned long long)iova, strerror(errno));
	/* All of it, or we are wrong about what is mapped. */
	if (unmap.size != size)
		fail(step, "VFIO_IOMMU_UNMAP_DMA at 0x%llx unmapped %llu of %zu bytes",
		     (unsigned long long)iova,
		     (unsigned long long)unmap.size, size);
}

void guest_buf_unmap(int container, struct guest_buf *buf, const char *step)
{
	iova_unmap(container, buf->iova, buf->size, step);
	if (munmap(buf->va, buf->size))
		fail_errno(step, errno);
	buf->va = NULL;
}
