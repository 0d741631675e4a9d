// SPDX-License-Identifier: GPL-2.0
/*
 * The VFIO device ioctls of a refmdev: what they report, and the errno
 * for each malformed call (short argsz, bad indexes, unknown ioctls).
 */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"
#include "vfio_backend.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

TEST(device_info)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_EQ(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	ASSERT_EQ(info.num_regions, VFIO_PCI_NUM_REGIONS);
	ASSERT_EQ(info.num_irqs, VFIO_PCI_NUM_IRQS);
}

TEST(device_info_argsz)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct {
		struct vfio_device_info info;
		__u8 canary[64];
	} big;
	struct vfio_device_info info;
	unsigned int i;

	info.argsz = offsetof(struct vfio_device_info, num_irqs);
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_INFO, &info), EINVAL);

	/* A larger buffer is fine, and nothing past the struct is written. */
	memset(&big, 0xa5, sizeof(big));
	big.info.argsz = 1u << 30;
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_GET_INFO, &big));
	ASSERT_EQ(big.info.num_regions, VFIO_PCI_NUM_REGIONS);
	for (i = 0; i < sizeof(big.canary); i++)
		ASSERT_EQ(big.canary[i], 0xa5);
}

TEST(region_info)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	struct vfio_region_info info;
	unsigned int i;

	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		__u32 flags = 0;
		__u64 size = 0;

		memset(&info, 0, sizeof(info));
		info.argsz = sizeof(info);
		info.index = i;
		if (i == VFIO_PCI_VGA_REGION_INDEX) {
			ASSERT_ERRNO(ioctl(d->device,
					   VFIO_DEVICE_GET_REGION_INFO, &info),
				     EINVAL);
			continue;
		}
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &info));
		if (i == REFMDEV_REGS_BAR) {
			size = REFMDEV_REGS_SIZE;
			flags = VFIO_REGION_INFO_FLAG_READ |
				VFIO_REGION_INFO_FLAG_WRITE;
		} else if (i == REFMDEV_DEVMEM_BAR) {
			size = 16 << 20;
			flags = VFIO_REGION_INFO_FLAG_READ |
				VFIO_REGION_INFO_FLAG_WRITE |
				VFIO_REGION_INFO_FLAG_MMAP;
		} else if (i == VFIO_PCI_CONFIG_REGION_INDEX) {
			size = REFMDEV_CFG_SIZE;
			flags = VFIO_REGION_INFO_FLAG_READ |
				VFIO_REGION_INFO_FLAG_WRITE;
		}
		ASSERT_EQ(info.size, size);
		ASSERT_EQ(info.flags, flags);
		ASSERT_EQ(info.offset, (__u64)i << 40);
	}
}

TEST(region_info_bad_calls)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct vfio_region_info info = { .argsz = sizeof(info) };

	info.index = VFIO_PCI_NUM_REGIONS;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &info),
		     EINVAL);
	info.index = ~0u;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &info),
		     EINVAL);
	info.index = REFMDEV_DEVMEM_BAR;
	info.argsz = offsetof(struct vfio_region_info, offset);
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &info),
		     EINVAL);
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, NULL),
		     EFAULT);
}

TEST(irq_info)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	static const struct {
		__u32 count, flags;
	} want[VFIO_PCI_NUM_IRQS] = {
		[VFIO_PCI_INTX_IRQ_INDEX] = { 1, VFIO_IRQ_INFO_EVENTFD |
			VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED },
		[VFIO_PCI_MSI_IRQ_INDEX] = { 1, VFIO_IRQ_INFO_EVENTFD |
			VFIO_IRQ_INFO_NORESIZE },
		[VFIO_PCI_MSIX_IRQ_INDEX] = { 0, 0 },
		[VFIO_PCI_ERR_IRQ_INDEX] = { 1, VFIO_IRQ_INFO_EVENTFD |
			VFIO_IRQ_INFO_NORESIZE },
		[VFIO_PCI_REQ_IRQ_INDEX] = { 1, VFIO_IRQ_INFO_EVENTFD |
			VFIO_IRQ_INFO_NORESIZE },
	};
	unsigned int i;

	for (i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
		struct vfio_irq_info info = { .argsz = sizeof(info), .index = i };

		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_GET_IRQ_INFO, &info));
		ASSERT_EQ(info.count, want[i].count);
		ASSERT_EQ(info.flags, want[i].flags);
	}
}

TEST(irq_info_bad_calls)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct vfio_irq_info info = { .argsz = sizeof(info) };

	info.index = VFIO_PCI_NUM_IRQS;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_IRQ_INFO, &info), EINVAL);
	info.index = VFIO_PCI_INTX_IRQ_INDEX;
	info.argsz = offsetof(struct vfio_irq_info, count);
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_IRQ_INFO, &info), EINVAL);
}

TEST(unknown_ioctls)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct vfio_pci_hot_reset_info hot = { .argsz = sizeof(hot) };

	ASSERT_ERRNO(ioctl(d->device, _IO(VFIO_TYPE, VFIO_BASE + 99)), ENOTTY);
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hot),
		     ENOTTY);
	ASSERT_ERRNO(ioctl(d->device, _IO('x', 1)), ENOTTY);
}

TEST(one_open_at_a_time_per_container)
{
	const char *uuid = mdev_create(TYPE_1M);
	struct vfio_dev *d = vfio_open(uuid);
	struct vfio_dev second;

	/*
	 * type1: the group is taken by the first container (EBUSY).
	 * iommufd: the device is bound to the first iommufd, and the VFIO
	 * core refuses to bind it to a second (EINVAL).
	 */
	ASSERT_EQ(vfio_open_raw(uuid, &second),
		  backend_is_iommufd() ? -EINVAL : -EBUSY);
	ASSERT_TRUE(d->device >= 0);
}
