// SPDX-License-Identifier: GPL-2.0
/*
 * PCI configuration space of a refmdev: identity, read-only fields, BAR
 * sizing, the command register's gates, the capability list and access
 * widths, plus function-level reset through the PCIe capability.
 */
#include <linux/pci_regs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"
#include "p2p_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define CFG	VFIO_PCI_CONFIG_REGION_INDEX

TEST(identity)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));

	ASSERT_EQ(cfg_read(d, PCI_VENDOR_ID, 2), REFMDEV_PCI_VENDOR_ID);
	ASSERT_EQ(cfg_read(d, PCI_DEVICE_ID, 2), REFMDEV_PCI_DEVICE_ID);
	ASSERT_EQ(cfg_read(d, PCI_REVISION_ID, 1), REFMDEV_PCI_REVISION);
	ASSERT_EQ(cfg_read(d, PCI_CLASS_REVISION, 4) >> 8, REFMDEV_PCI_CLASS);
	ASSERT_EQ(cfg_read(d, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	ASSERT_EQ(cfg_read(d, PCI_SUBSYSTEM_VENDOR_ID, 2),
		  REFMDEV_PCI_SUBSYS_VENDOR_ID);
	ASSERT_EQ(cfg_read(d, PCI_SUBSYSTEM_ID, 2),
		  REFMDEV_PCI_SUBSYS_ID_BASE + 1);
	ASSERT_EQ(cfg_read(d, PCI_INTERRUPT_PIN, 1), 1);
	ASSERT_EQ(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST,
		  PCI_STATUS_CAP_LIST);
}

TEST(subsystem_id_names_the_type)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	ASSERT_EQ(cfg_read(d, PCI_SUBSYSTEM_ID, 2), REFMDEV_PCI_SUBSYS_ID_BASE);
}

TEST(read_only_fields_ignore_writes)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	static const unsigned int ro[] = {
		PCI_VENDOR_ID, PCI_CLASS_REVISION, PCI_SUBSYSTEM_VENDOR_ID,
		PCI_CAPABILITY_LIST, PCI_BASE_ADDRESS_1, PCI_BASE_ADDRESS_4,
		PCI_BASE_ADDRESS_5, PCI_ROM_ADDRESS, PCI_CARDBUS_CIS,
		REFMDEV_CFG_EXP_CAP,
		REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCAP, 0x100, 0xffc,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ro); i++) {
		__u32 before = cfg_read(d, ro[i], 4);

		cfg_write(d, ro[i], 4, ~before);
		if (cfg_read(d, ro[i], 4) != before)
			FAIL("config 0x%x changed on write", ro[i]);
	}
	/* The interrupt pin is read-only, the line beside it is not. */
	cfg_write(d, PCI_INTERRUPT_LINE, 2, 0x030b);
	ASSERT_EQ(cfg_read(d, PCI_INTERRUPT_LINE, 2), 0x010b);
}

TEST(bar_sizing)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));

	cfg_write(d, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_0, 4),
		  ~(__u32)(REFMDEV_REGS_SIZE - 1));
	cfg_write(d, PCI_BASE_ADDRESS_2, 4, 0xffffffff);
	cfg_write(d, PCI_BASE_ADDRESS_3, 4, 0xffffffff);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_2, 4),
		  ~(__u32)((16 << 20) - 1) | PCI_BASE_ADDRESS_MEM_TYPE_64 |
		  PCI_BASE_ADDRESS_MEM_PREFETCH);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_3, 4), 0xffffffff);

	/* Programming an address keeps only the bits above the size. */
	cfg_write(d, PCI_BASE_ADDRESS_0, 4, 0xfebf1234);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_0, 4), 0xfebf1000);
	cfg_write(d, PCI_BASE_ADDRESS_2, 4, 0x81234567);
	cfg_write(d, PCI_BASE_ADDRESS_3, 4, 0x00000001);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_2, 4), 0x8100000c);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_3, 4), 1);

	/* Unimplemented BARs size to zero. */
	cfg_write(d, PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_1, 4), 0);
	cfg_write(d, PCI_ROM_ADDRESS, 4, 0xffffffff);
	ASSERT_EQ(cfg_read(d, PCI_ROM_ADDRESS, 4), 0);
}

TEST(command_register_bits)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	/* Open leaves memory decoding on, as pci_enable_device() would. */
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	cfg_write(d, PCI_COMMAND, 2, 0xffff);
	/* No I/O BARs: the I/O enable bit stays clear; reserved bits too. */
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2),
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
		  PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	cfg_write(d, PCI_COMMAND, 2, 0);
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2), 0);
}

TEST(memory_decode_gates_bar_access)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u32 val;

	cfg_write(d, PCI_COMMAND, 2, 0);
	ASSERT_ERRNO(region_pread(d, REFMDEV_REGS_BAR, &val, 4, REFMDEV_REG_ID),
		     EIO);
	ASSERT_ERRNO(region_pread(d, REFMDEV_DEVMEM_BAR, &val, 4, 0), EIO);
	ASSERT_ERRNO(region_pwrite(d, REFMDEV_DEVMEM_BAR, &val, 4, 0), EIO);
	/* Config space itself is always reachable. */
	ASSERT_EQ(cfg_read(d, PCI_VENDOR_ID, 2), REFMDEV_PCI_VENDOR_ID);

	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_ID, 4), REFMDEV_ID_MAGIC);
}

TEST(memory_decode_off_faults_mmap)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *map;

	map = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED,
		   d->device, d->offset[REFMDEV_DEVMEM_BAR]);
	ASSERT_TRUE(map != MAP_FAILED);
	map[0] = 0x5a;
	ASSERT_TRUE(!read_faults(map));

	cfg_write(d, PCI_COMMAND, 2, 0);
	ASSERT_TRUE(read_faults(map));
	ASSERT_TRUE(read_faults(map + 4096));

	/* Decoding back on: same memory, same contents. */
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ASSERT_TRUE(!read_faults(map));
	ASSERT_EQ(map[0], 0x5a);
	munmap(map, 1 << 20);
}

TEST(capability_list)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	unsigned int msi = REFMDEV_CFG_MSI_CAP, exp = REFMDEV_CFG_EXP_CAP;
	__u16 flags;

	ASSERT_EQ(cfg_read(d, PCI_CAPABILITY_LIST, 1), msi);
	ASSERT_EQ(cfg_read(d, msi + PCI_CAP_LIST_ID, 1), PCI_CAP_ID_MSI);
	ASSERT_EQ(cfg_read(d, msi + PCI_CAP_LIST_NEXT, 1), exp);
	ASSERT_EQ(cfg_read(d, exp + PCI_CAP_LIST_ID, 1), PCI_CAP_ID_EXP);
	ASSERT_EQ(cfg_read(d, exp + PCI_CAP_LIST_NEXT, 1), 0);

	/* One vector, 64-bit addresses, only the enable bit writable. */
	flags = cfg_read(d, msi + PCI_MSI_FLAGS, 2);
	ASSERT_EQ(flags, PCI_MSI_FLAGS_64BIT);
	cfg_write(d, msi + PCI_MSI_FLAGS, 2, 0xffff);
	ASSERT_EQ(cfg_read(d, msi + PCI_MSI_FLAGS, 2),
		  PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_ENABLE);
	cfg_write(d, msi + PCI_MSI_ADDRESS_LO, 4, 0xfee00003);
	ASSERT_EQ(cfg_read(d, msi + PCI_MSI_ADDRESS_LO, 4), 0xfee00000);

	/* PCIe v2 endpoint that can do function-level reset. */
	ASSERT_EQ(cfg_read(d, exp + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_VERS, 2);
	ASSERT_EQ((cfg_read(d, exp + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE) >> 4,
		  PCI_EXP_TYPE_ENDPOINT);
	ASSERT_TRUE(cfg_read(d, exp + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR);
	/* No extended capabilities. */
	ASSERT_EQ(cfg_read(d, PCI_CFG_SPACE_SIZE, 4), 0);
}

TEST(access_widths_and_lengths)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 whole[256], piece[256];
	unsigned int off;

	ASSERT_EQ(region_pread(d, CFG, whole, sizeof(whole), 0), sizeof(whole));
	ASSERT_EQ(whole[0] | whole[1] << 8, REFMDEV_PCI_VENDOR_ID);
	/* Any offset and length inside the space reads the same bytes. */
	for (off = 0; off < 64; off += 3) {
		ASSERT_EQ(region_pread(d, CFG, piece, 7, off), 7);
		ASSERT_EQ(memcmp(piece, whole + off, 7), 0);
	}
	ASSERT_EQ(region_pread(d, CFG, piece, 8, 0), 8);
	ASSERT_EQ(memcmp(piece, whole, 8), 0);
	/* The whole 4 KiB space is there; the extended part reads zero. */
	ASSERT_EQ(region_pread(d, CFG, piece, 4, REFMDEV_CFG_SIZE - 4), 4);
	ASSERT_EQ(piece[0] | piece[1] | piece[2] | piece[3], 0);
}

TEST(out_of_bounds_accesses)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 buf[16];

	ASSERT_ERRNO(region_pread(d, CFG, buf, 1, REFMDEV_CFG_SIZE), EINVAL);
	ASSERT_ERRNO(region_pread(d, CFG, buf, 8, REFMDEV_CFG_SIZE - 4), EINVAL);
	ASSERT_ERRNO(region_pwrite(d, CFG, buf, 2, REFMDEV_CFG_SIZE - 1), EINVAL);
	ASSERT_ERRNO(region_pread(d, CFG, buf, 4, 1ull << 39), EINVAL);
	ASSERT_ERRNO(pread(d->device, buf, 4, (__u64)VFIO_PCI_NUM_REGIONS << 40),
		     EINVAL);
}

TEST(flr_resets_config_and_registers)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	unsigned int devctl = REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCTL;

	cfg_write(d, PCI_BASE_ADDRESS_0, 4, 0xfebf0000);
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	bar0_write(d, REFMDEV_REG_SCRATCH, 4, 0xdeadbeef);

	cfg_write(d, devctl, 2, cfg_read(d, devctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
	/* Initiate-FLR reads as zero; config is back to power-on. */
	ASSERT_EQ(cfg_read(d, devctl, 2) & PCI_EXP_DEVCTL_BCR_FLR, 0);
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2), 0);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_0, 4), 0);
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH, 4), 0);
}

TEST(status_reflects_intx_level)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	ASSERT_EQ(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	bar0_write(d, REFMDEV_REG_INT_RAISE, 4, REFMDEV_INT_SOFT);
	ASSERT_EQ(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT,
		  PCI_STATUS_INTERRUPT);
	/* INTX_DISABLE stops the line, not the status bit. */
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	ASSERT_EQ(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT,
		  PCI_STATUS_INTERRUPT);
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	bar0_write(d, REFMDEV_REG_INT_STATUS, 4, REFMDEV_INT_SOFT);
	ASSERT_EQ(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
}
