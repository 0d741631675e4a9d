// SPDX-License-Identifier: GPL-2.0
/*
 * Device resets: VFIO_DEVICE_RESET and the CONTROL register's reset bit
 * bring registers back to power-on values and replace device memory with
 * zeroed pages (user mappings see the new memory), while configuration
 * space survives; a new open always starts from a clean device.
 */
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"

#define MEM	REFMDEV_DEVMEM_BAR

static void dirty_device(struct vfio_dev *d)
{
	__u8 buf[4096];

	bar0_write(d, REFMDEV_REG_SCRATCH, 4, 0x12345678);
	bar0_write(d, REFMDEV_REG_SCRATCH64, 8, 0x1122334455667788ull);
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	bar0_write(d, REFMDEV_REG_INT_RAISE, 4, REFMDEV_INT_SOFT);
	fill_random(buf, sizeof(buf), 7);
	ASSERT_EQ(region_pwrite(d, MEM, buf, sizeof(buf), 0), sizeof(buf));
}

static void assert_power_on_registers(struct vfio_dev *d)
{
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH64, 8), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_MASK, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_STATUS, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_CONTROL, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_STATUS, 4), REFMDEV_STATUS_READY);
}

static void assert_memory_zero(struct vfio_dev *d, size_t len)
{
	__u8 *buf = malloc(len);
	size_t i;

	ASSERT_TRUE(buf);
	ASSERT_EQ(region_pread(d, MEM, buf, len, 0), len);
	for (i = 0; i < len; i++)
		if (buf[i])
			FAIL("byte %zu is 0x%x after reset", i, buf[i]);
	free(buf);
}

TEST(vfio_reset_restores_power_on_state)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	cfg_write(d, PCI_BASE_ADDRESS_0, 4, 0xfebf0000);
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	dirty_device(d);
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	assert_power_on_registers(d);
	assert_memory_zero(d, 1 << 20);
	/* Config space is the user's and survives, as on vfio-pci. */
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2),
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_0, 4), 0xfebf0000);
}

TEST(control_reset_bit)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	dirty_device(d);
	bar0_write(d, REFMDEV_REG_CONTROL, 4, REFMDEV_CTRL_RESET);
	assert_power_on_registers(d);
	assert_memory_zero(d, 1 << 20);
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
}

TEST(reset_deasserts_interrupts)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, VFIO_PCI_MSI_IRQ_INDEX, efd));
	dirty_device(d);
	ASSERT_EQ(eventfd_wait(efd, 2000), 1);
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	ASSERT_EQ(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	/* The eventfd stays configured: the next edge still arrives. */
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	bar0_write(d, REFMDEV_REG_INT_RAISE, 4, REFMDEV_INT_SOFT);
	ASSERT_EQ(eventfd_wait(efd, 2000), 1);
}

TEST(reset_replaces_mapped_memory)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	const size_t size = 16 << 20;
	__u8 *map;
	size_t i;

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d->device,
		   d->offset[MEM]);
	ASSERT_TRUE(map != MAP_FAILED);
	for (i = 0; i < size; i += 4096)
		map[i] = 0xa5;
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	/* The old PTEs are gone; the mapping now shows the new pages. */
	for (i = 0; i < size; i += 4096)
		if (map[i])
			FAIL("page %zu still shows old memory", i / 4096);
	map[4096] = 0x3c;
	ASSERT_OK(munmap(map, size));
	ASSERT_EQ(region_pread(d, MEM, &i, 1, 4096), 1);
	ASSERT_EQ(i & 0xff, 0x3c);
}

TEST(reopen_starts_clean)
{
	const char *uuid = mdev_create(TYPE_1M);
	struct vfio_dev d;

	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	cfg_write(&d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	dirty_device(&d);
	vfio_close(&d);

	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	ASSERT_EQ(cfg_read(&d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	assert_power_on_registers(&d);
	assert_memory_zero(&d, 1 << 20);
	vfio_close(&d);
}

TEST(many_resets)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	__u32 val;
	int i;

	for (i = 0; i < 50; i++) {
		val = 0x100 + i;
		ASSERT_EQ(region_pwrite(d, MEM, &val, 4, (16 << 20) - 4), 4);
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
		ASSERT_EQ(region_pread(d, MEM, &val, 4, (16 << 20) - 4), 4);
		ASSERT_EQ(val, 0);
	}
}
