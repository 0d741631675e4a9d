// SPDX-License-Identifier: GPL-2.0
/*
 * BAR access through the VFIO device fd: the BAR0 register rules (widths,
 * alignment, no straddling, holes), BAR2 as memory through read/write and
 * mmap, and the errno for every access that is not allowed.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define REGS	REFMDEV_REGS_BAR
#define MEM	REFMDEV_DEVMEM_BAR

TEST(identity_registers)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));

	ASSERT_EQ(bar0_read(d, REFMDEV_REG_ID, 4), REFMDEV_ID_MAGIC);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_VERSION, 4),
		  REFMDEV_VERSION_MAJOR << 16 | REFMDEV_VERSION_MINOR);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_DEVMEM_SIZE, 8), 16 << 20);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_STATUS, 4), REFMDEV_STATUS_READY);
	/* Read-only registers ignore writes. */
	bar0_write(d, REFMDEV_REG_ID, 4, 0);
	bar0_write(d, REFMDEV_REG_DEVMEM_SIZE, 8, 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_ID, 4), REFMDEV_ID_MAGIC);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_DEVMEM_SIZE, 8), 16 << 20);
}

TEST(register_access_widths)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u64 v = 0x0123456789abcdefull;
	unsigned int i;

	bar0_write(d, REFMDEV_REG_SCRATCH64, 8, v);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH64, 8), v);
	for (i = 0; i < 8; i++)
		ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH64 + i, 1),
			  (v >> (8 * i)) & 0xff);
	for (i = 0; i < 8; i += 2)
		ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH64 + i, 2),
			  (v >> (8 * i)) & 0xffff);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH64 + 4, 4), v >> 32);

	/* Partial writes touch only their bytes. */
	bar0_write(d, REFMDEV_REG_SCRATCH64 + 2, 2, 0xbeef);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH64, 8),
		  (v & ~0xffff0000ull) | 0xbeef0000ull);
	bar0_write(d, REFMDEV_REG_SCRATCH, 4, 0x11223344);
	bar0_write(d, REFMDEV_REG_SCRATCH + 3, 1, 0xaa);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH, 4), 0xaa223344);
}

FIXTURE(bad_reg_access) {
	struct vfio_dev *d;
};

FIXTURE_VARIANT(bad_reg_access) {
	const char *name;
	bool write;
	size_t len;
	__u64 off;
	int err;
};

/* BAR0 accesses the register rules refuse, one result each. */
static const FIXTURE_VARIANT(bad_reg_access) bad_reg_accesses[] = {
	/* Widths other than 1, 2, 4, 8. */
	{ "read 3 bytes", false, 3, REFMDEV_REG_SCRATCH64, EINVAL },
	{ "read 16 bytes", false, 16, REFMDEV_REG_SCRATCH64, EINVAL },
	{ "write 6 bytes", true, 6, REFMDEV_REG_SCRATCH64, EINVAL },
	{ "read 0 bytes", false, 0, REFMDEV_REG_SCRATCH, EINVAL },
	/* Unaligned. */
	{ "read 2 at +1", false, 2, REFMDEV_REG_SCRATCH + 1, EINVAL },
	{ "read 4 at +2", false, 4, REFMDEV_REG_SCRATCH64 + 2, EINVAL },
	{ "write 8 at +4", true, 8, REFMDEV_REG_SCRATCH64 + 4, EINVAL },
	/* Straddling two 32-bit registers, or a register and a hole. */
	{ "read 8 over ID", false, 8, REFMDEV_REG_ID, EINVAL },
	{ "write 8 over INT_STATUS", true, 8, REFMDEV_REG_INT_STATUS, EINVAL },
	{ "read 8 over FEATURES", false, 8, REFMDEV_REG_FEATURES, EINVAL },
	/* Past the end of the BAR. */
	{ "read at the end", false, 4, REFMDEV_REGS_SIZE, EINVAL },
	{ "read at 4 GiB", false, 4, 1ull << 32, EINVAL },
};

FIXTURE_VARIANT_TABLE(bad_reg_access, bad_reg_accesses);

FIXTURE_SETUP(bad_reg_access)
{
	self->d = vfio_open(mdev_create(TYPE_1M));
}

FIXTURE_TEARDOWN(bad_reg_access)
{
}

TEST_F(bad_reg_access, refused_nothing_written)
{
	__u8 buf[16];

	/* Ones, so that a write that got through would show. */
	memset(buf, 0xff, sizeof(buf));
	if (variant->write)
		ASSERT_ERRNO(region_pwrite(self->d, REGS, buf, variant->len,
					   variant->off), variant->err);
	else
		ASSERT_ERRNO(region_pread(self->d, REGS, buf, variant->len,
					  variant->off), variant->err);
	/* Nothing was written by a refused write. */
	ASSERT_EQ(bar0_read(self->d, REFMDEV_REG_SCRATCH64, 8), 0);
	ASSERT_EQ(bar0_read(self->d, REFMDEV_REG_INT_STATUS, 4), 0);
}

TEST(register_holes_read_zero)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	ASSERT_EQ(bar0_read(d, 0x00c, 4), 0);
	ASSERT_EQ(bar0_read(d, 0x800, 8), 0);
	bar0_write(d, 0x800, 8, ~0ull);
	ASSERT_EQ(bar0_read(d, 0x800, 8), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REGS_SIZE - 8, 8), 0);
	/* Write-only INT_RAISE reads as zero. */
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_RAISE, 4), 0);
}

TEST(unimplemented_regions_refuse_access)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u32 val = 0;
	int index;

	for (index = 0; index < VFIO_PCI_CONFIG_REGION_INDEX; index++) {
		if (index == REGS || index == MEM)
			continue;
		ASSERT_ERRNO(pread(d->device, &val, 4, (__u64)index << 40),
			     EINVAL);
		ASSERT_ERRNO(pwrite(d->device, &val, 4, (__u64)index << 40),
			     EINVAL);
	}
	ASSERT_ERRNO(pread(d->device, &val, 4,
			   (__u64)VFIO_PCI_VGA_REGION_INDEX << 40), EINVAL);
}

TEST(devmem_read_write)
{
	const size_t size = 1 << 20;
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *src = malloc(size), *dst = malloc(size);
	size_t off, len;

	ASSERT_TRUE(src && dst);
	/* Fresh device memory is zero. */
	ASSERT_EQ(region_pread(d, MEM, dst, size, 0), size);
	for (off = 0; off < size; off++)
		if (dst[off])
			FAIL("byte %zu of new device memory is 0x%x", off, dst[off]);

	fill_random(src, size, 1);
	ASSERT_EQ(region_pwrite(d, MEM, src, size, 0), size);
	memset(dst, 0, size);
	ASSERT_EQ(region_pread(d, MEM, dst, size, 0), size);
	ASSERT_EQ(memcmp(src, dst, size), 0);

	/* Unaligned pieces crossing page boundaries. */
	for (off = 4093, len = 1; off + len < size; off += 8191, len = len * 3 + 1) {
		if (len > 20000)
			len = 5;
		fill_random(src, len, off);
		ASSERT_EQ(region_pwrite(d, MEM, src, len, off), len);
		ASSERT_EQ(region_pread(d, MEM, dst, len, off), len);
		ASSERT_EQ(memcmp(src, dst, len), 0);
	}
	free(src);
	free(dst);
}

TEST(devmem_bounds)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 buf[64] = { 0 };

	ASSERT_ERRNO(region_pread(d, MEM, buf, 1, 1 << 20), EINVAL);
	ASSERT_ERRNO(region_pread(d, MEM, buf, 64, (1 << 20) - 32), EINVAL);
	ASSERT_ERRNO(region_pwrite(d, MEM, buf, 2, (1 << 20) - 1), EINVAL);
	ASSERT_EQ(region_pread(d, MEM, buf, 32, (1 << 20) - 32), 32);
	/* A bad user buffer is EFAULT, and nothing is half-done silently. */
	ASSERT_ERRNO(region_pwrite(d, MEM, (void *)8, 16, 0), EFAULT);
	ASSERT_ERRNO(region_pread(d, MEM, (void *)8, 16, 0), EFAULT);
}

TEST(devmem_mmap_coherent_with_read_write)
{
	const size_t size = 16 << 20;
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	__u8 *map, *buf = malloc(4096);
	unsigned int i;

	ASSERT_TRUE(buf);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d->device,
		   d->offset[MEM]);
	ASSERT_TRUE(map != MAP_FAILED);
	for (i = 0; i < size / 4096; i += 97) {
		fill_random(map + i * 4096, 4096, i);
		ASSERT_EQ(region_pread(d, MEM, buf, 4096, i * 4096), 4096);
		ASSERT_EQ(memcmp(buf, map + i * 4096, 4096), 0);
		fill_random(buf, 4096, i + 1);
		ASSERT_EQ(region_pwrite(d, MEM, buf, 4096, i * 4096), 4096);
		ASSERT_EQ(memcmp(buf, map + i * 4096, 4096), 0);
	}
	ASSERT_OK(munmap(map, size));
	free(buf);
}

TEST(devmem_mmap_at_offset)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *map;
	__u32 val = 0xcafef00d, got = 0;

	ASSERT_EQ(region_pwrite(d, MEM, &val, 4, 8192 + 12), 4);
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, d->device,
		   d->offset[MEM] + 8192);
	ASSERT_TRUE(map != MAP_FAILED);
	memcpy(&got, map + 12, 4);
	ASSERT_EQ(got, val);
	ASSERT_OK(munmap(map, 4096));
}

TEST(mmap_refusals)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int prot = PROT_READ | PROT_WRITE;

	/* The register BAR is always trapped. */
	ASSERT_TRUE(mmap(NULL, 4096, prot, MAP_SHARED, d->device,
			 d->offset[REGS]) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(mmap(NULL, 4096, prot, MAP_SHARED, d->device,
			 d->offset[VFIO_PCI_CONFIG_REGION_INDEX]) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	/* Beyond the BAR, or running past its end. */
	ASSERT_TRUE(mmap(NULL, 4096, prot, MAP_SHARED, d->device,
			 d->offset[MEM] + (1 << 20)) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(mmap(NULL, 8192, prot, MAP_SHARED, d->device,
			 d->offset[MEM] + (1 << 20) - 4096) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	/* Private copies of device memory are refused. */
	ASSERT_TRUE(mmap(NULL, 4096, prot, MAP_PRIVATE, d->device,
			 d->offset[MEM]) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
}

TEST(mmap_cannot_grow)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	void *map, *grown;

	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, d->device, d->offset[MEM]);
	ASSERT_TRUE(map != MAP_FAILED);
	grown = mremap(map, 4096, 8192, MREMAP_MAYMOVE);
	ASSERT_TRUE(grown == MAP_FAILED);
	ASSERT_EQ(errno, EFAULT);
	ASSERT_OK(munmap(map, 4096));
}
