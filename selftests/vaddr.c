// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO_DMA_UNMAP_FLAG_VADDR with refmdev in the container.
 *
 * Invalidating a mapping's vaddr (for live update of the VMM) leaves
 * anyone who then needs the pages waiting until userspace supplies a new
 * vaddr. refmdev's engine pins and reads guest memory from a kernel
 * worker, so type1 must refuse the invalidation while an mdev is attached
 * (and the attach while a vaddr is invalid): no kernel thread may end up
 * waiting on the VMM. These tests prove type1 does, with QEMU's edu
 * device bound to vfio-pci as the container member that allows vaddr
 * updates.
 *
 * The engine's pin cache keeps pins between descriptors, so the refusal
 * is checked with the cache off and on (vaddr.cache.<off|on>.<test>):
 * a cached pin must neither change the answer nor survive the unmap.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_util.h"
#include "edu_util.h"
#include "ktap.h"
#include "pin_cache_fixture.h"
#include "pin_cache_util.h"

#define IOVA	0x10000000ull
#define SIZE	0x100000	/* 1 MiB */
#define RW	(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

static void *guest_buffer(void)
{
	void *va = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	ASSERT_TRUE(va != MAP_FAILED);
	return va;
}

TEST_F(cache, refused_while_mdev_attached)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	void *va = guest_buffer();

	ASSERT_EQ(ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), 0);
	ASSERT_OK(dma_map_raw(d, va, IOVA, SIZE, RW));
	ASSERT_ERRNO(dma_unmap_raw(d, IOVA, SIZE, VFIO_DMA_UNMAP_FLAG_VADDR),
		     EBUSY);
	/* Refused entirely: the mapping is intact and usable by the engine. */
	{
		struct dma_ring *r = dma_ring_setup(d, 8);

		ASSERT_EQ(dma_run(r, 0x5555, IOVA, 4096, REFMDEV_DMA_OP_FILL),
			  REFMDEV_DMA_ST_OK);
		ASSERT_EQ(((__u8 *)va)[0], 0x55);
		/* Refused with the page pinned (cached) too, and still used. */
		ASSERT_ERRNO(dma_unmap_raw(d, IOVA, SIZE,
					   VFIO_DMA_UNMAP_FLAG_VADDR), EBUSY);
		ASSERT_EQ(dma_run(r, 0x7777777777777777ull, IOVA + 1, 4095,
				  REFMDEV_DMA_OP_FILL), REFMDEV_DMA_ST_OK);
		ASSERT_EQ(((__u8 *)va)[4095], 0x77);
		ASSERT_EQ(dev_pinned_pages(d), variant->pages ? 1 : 0);
	}
	ASSERT_OK(dma_unmap_raw(d, IOVA, SIZE, 0));
	ASSERT_EQ(dev_pinned_pages(d), 0);
	munmap(va, SIZE);
}

/* A container of our own making: edu's group, later the mdev's too. */
static struct vfio_dev c;
static int mdev_group = -1;

static void close_container(void *arg)
{
	(void)arg;
	if (mdev_group >= 0)
		close(mdev_group);
	mdev_group = -1;
	vfio_close(&c);
}

TEST(allowed_without_mdev_and_blocks_attach)
{
	int edu_group = edu_to_vfio_pci(NULL);
	const char *uuid = mdev_create(TYPE_1M);
	void *va = guest_buffer();
	struct dma_ring *r;

	c.device = -1;
	c.iommufd = -1;
	c.container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	c.group = vfio_group_open(edu_group);
	ktap_defer(close_container, NULL);
	mdev_group = vfio_group_open(mdev_group_number(uuid));
	ASSERT_OK(ioctl(c.group, VFIO_GROUP_SET_CONTAINER, &c.container));
	ASSERT_OK(ioctl(c.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(ioctl(c.container, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), 1);

	/* Only a real device: the vaddr can be invalidated... */
	ASSERT_OK(dma_map_raw(&c, va, IOVA, SIZE, RW));
	ASSERT_OK(dma_unmap_raw(&c, IOVA, SIZE, VFIO_DMA_UNMAP_FLAG_VADDR));
	/* ...and while it is, an mdev cannot join. */
	ASSERT_ERRNO(ioctl(mdev_group, VFIO_GROUP_SET_CONTAINER, &c.container),
		     EBUSY);
	/* Once the vaddr is back, it can; then vaddr updates are off. */
	ASSERT_OK(dma_map_raw(&c, va, IOVA, SIZE, VFIO_DMA_MAP_FLAG_VADDR));
	ASSERT_OK(ioctl(mdev_group, VFIO_GROUP_SET_CONTAINER, &c.container));
	ASSERT_EQ(ioctl(c.container, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), 0);
	ASSERT_ERRNO(dma_unmap_raw(&c, IOVA, SIZE, VFIO_DMA_UNMAP_FLAG_VADDR),
		     EBUSY);

	/* The engine reaches the mapping shared with the real device. */
	c.device = ioctl(mdev_group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	ASSERT_TRUE(c.device >= 0);
	c.offset[REFMDEV_REGS_BAR] = (__u64)REFMDEV_REGS_BAR << 40;
	c.offset[VFIO_PCI_CONFIG_REGION_INDEX] =
		(__u64)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	r = dma_ring_setup(&c, 8);
	ASSERT_EQ(dma_run(r, 0x6666, IOVA + 100, 10, REFMDEV_DMA_OP_FILL),
		  REFMDEV_DMA_ST_OK);
	ASSERT_EQ(((__u8 *)va)[109], 0x66);
	ASSERT_OK(dma_unmap_raw(&c, IOVA, SIZE, 0));
}
