// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA engine as a guest driver uses it: descriptors in guest memory,
 * copies and fills between guest memory and device memory, every byte
 * checked, and a distinct status for every descriptor that cannot be
 * completed, with nothing written.
 */
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_util.h"
#include "ktap.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define SRC_IOVA	0x10000000ull
#define DST_IOVA	0x40000000ull
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define COPY		REFMDEV_DMA_OP_COPY
#define FILL		REFMDEV_DMA_OP_FILL
#define GUARD		0x5a

struct setup {
	struct vfio_dev *d;
	struct dma_ring *ring;
	struct guest_mem *src, *dst;
};

static struct setup setup(const char *type, size_t size)
{
	struct setup s;

	s.d = vfio_open(mdev_create(type));
	s.ring = dma_ring_setup(s.d, 64);
	s.src = guest_mem_map(s.d, SRC_IOVA, size, RW);
	s.dst = guest_mem_map(s.d, DST_IOVA, size, RW);
	return s;
}

/* Copy @len bytes from src+@so to dst+@doff and check every byte. */
static void check_copy(struct setup *s, size_t so, size_t doff, __u32 len,
		       unsigned int seed)
{
	__u8 *src = s->src->va, *dst = s->dst->va;
	size_t i;

	fill_random(src + so, len, seed);
	memset(dst, GUARD, s->dst->size);
	ASSERT_EQ(dma_run(s->ring, SRC_IOVA + so, DST_IOVA + doff, len, COPY),
		  REFMDEV_DMA_ST_OK);
	if (memcmp(dst + doff, src + so, len))
		FAIL("copy of %u bytes (src +%zu, dst +%zu) differs", len, so,
		     doff);
	for (i = 0; i < s->dst->size; i++)
		if ((i < doff || i >= doff + len) && dst[i] != GUARD)
			FAIL("byte %zu outside the copy was written", i);
}

static void assert_untouched(struct setup *s)
{
	__u8 *dst = s->dst->va;
	size_t i;

	for (i = 0; i < s->dst->size; i++)
		if (dst[i] != GUARD)
			FAIL("destination byte %zu written by a failed descriptor",
			     i);
}

TEST(registers)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	ASSERT_EQ(bar0_read(d, REFMDEV_REG_FEATURES, 4) & REFMDEV_FEATURE_DMA,
		  REFMDEV_FEATURE_DMA);
	bar0_write(d, REFMDEV_REG_DMA_RING_BASE, 8, 0x123456789abcdeffull);
	/* Descriptors are 32 bytes: the low bits do not exist. */
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_DMA_RING_BASE, 8),
		  0x123456789abcdee0ull);
	bar0_write(d, REFMDEV_REG_DMA_RING_SIZE, 4, 16);
	bar0_write(d, REFMDEV_REG_DMA_HEAD, 4, 5);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_DMA_HEAD, 4), 0);
	/* While enabled, the ring cannot move. */
	bar0_write(d, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
	bar0_write(d, REFMDEV_REG_DMA_RING_SIZE, 4, 32);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_DMA_RING_SIZE, 4), 16);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_DMA_STATUS, 4), 0);
	/* The 64-bit register refuses an access spanning into the next. */
	ASSERT_ERRNO(region_pread(d, REFMDEV_REGS_BAR, &(__u64){0}, 8,
				  REFMDEV_REG_DMA_HEAD - 4), EINVAL);
}

TEST(copy_sizes_and_alignments)
{
	static const __u32 lens[] = {
		1, 2, 7, 64, 4095, 4096, 4097, 8191, 65536 + 3,
		(1 << 20) + 5, (2 << 20) + 4096 + 1,
	};
	struct setup s = setup(TYPE_1M, 3 << 20);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		check_copy(&s, 0, 0, lens[i], i);
		check_copy(&s, 4095, 1, lens[i], i + 100);
		check_copy(&s, 13, 4096 * 3 - 7, lens[i], i + 200);
	}
}

TEST(copy_64mib)
{
	const __u32 len = REFMDEV_DMA_MAX_LEN;
	struct setup s = setup(TYPE_1M, len + 8192);

	check_copy(&s, 4096 + 3, 8191, len - 8192, 1);
	check_copy(&s, 0, 0, len, 2);
}

TEST(copy_across_mappings)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(d, 16);
	struct guest_mem *a = guest_mem_map(d, SRC_IOVA, 1 << 20, RW);
	struct guest_mem *b = guest_mem_map(d, SRC_IOVA + (1 << 20), 1 << 20, RW);
	struct guest_mem *c = guest_mem_map(d, DST_IOVA, 2 << 20, RW);
	const size_t at = (1 << 20) - 5000;

	/* One source range, two mappings of unrelated user memory. */
	fill_random(a->va, 1 << 20, 3);
	fill_random(b->va, 1 << 20, 4);
	ASSERT_EQ(dma_run(r, SRC_IOVA + at, DST_IOVA, 10000, COPY),
		  REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(c->va, (__u8 *)a->va + at, 5000), 0);
	ASSERT_EQ(memcmp((__u8 *)c->va + 5000, b->va, 5000), 0);
}

TEST(fill_pattern)
{
	struct setup s = setup(TYPE_1M, 1 << 20);
	const __u64 pat = 0x0123456789abcdefull;
	__u8 *dst = s.dst->va;
	__u32 off, len = 70000, k;

	for (off = 0; off < 9; off += 4) {
		memset(dst, GUARD, 1 << 20);
		ASSERT_EQ(dma_run(s.ring, pat, DST_IOVA + off, len, FILL),
			  REFMDEV_DMA_ST_OK);
		for (k = 0; k < len; k++)
			if (dst[off + k] != (__u8)(pat >> (8 * (k % 8))))
				FAIL("fill byte %u is 0x%x", k, dst[off + k]);
		ASSERT_EQ(dst[off + len], GUARD);
		if (off)
			ASSERT_EQ(dst[off - 1], GUARD);
	}
}

TEST(device_memory_copies)
{
	struct setup s = setup(TYPE_16M, 1 << 20);
	__u8 *buf = malloc(1 << 20);
	const __u32 devmem_flags = REFMDEV_DMA_F_DST_DEVMEM;

	ASSERT_TRUE(buf);
	/* Guest memory into BAR2, checked through the BAR2 region. */
	fill_random(s.src->va, 1 << 20, 9);
	ASSERT_EQ(dma_run(s.ring, SRC_IOVA + 1, 4096 * 100 + 3, 500000,
			  COPY | devmem_flags), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(region_pread(s.d, REFMDEV_DEVMEM_BAR, buf, 500000,
			       4096 * 100 + 3), 500000);
	ASSERT_EQ(memcmp(buf, (__u8 *)s.src->va + 1, 500000), 0);
	/* BAR2 to BAR2, then back out to guest memory. */
	ASSERT_EQ(dma_run(s.ring, 4096 * 100 + 3, (8 << 20) + 11, 500000,
			  COPY | REFMDEV_DMA_F_SRC_DEVMEM | devmem_flags),
		  REFMDEV_DMA_ST_OK);
	memset(s.dst->va, GUARD, 1 << 20);
	ASSERT_EQ(dma_run(s.ring, (8 << 20) + 11, DST_IOVA, 500000,
			  COPY | REFMDEV_DMA_F_SRC_DEVMEM), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(s.dst->va, (__u8 *)s.src->va + 1, 500000), 0);
	/* Fill device memory up to its last byte. */
	ASSERT_EQ(dma_run(s.ring, 0x7777777777777777ull, (16 << 20) - 100, 100,
			  FILL | devmem_flags), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(region_pread(s.d, REFMDEV_DEVMEM_BAR, buf, 100,
			       (16 << 20) - 100), 100);
	ASSERT_EQ(buf[0], 0x77);
	ASSERT_EQ(buf[99], 0x77);
	free(buf);
}

/* A failing descriptor: exact status, nothing written, engine goes on. */
static void expect_failure(struct setup *s, __u64 src, __u64 dst, __u32 len,
			   __u32 flags, __u32 status)
{
	memset(s->dst->va, GUARD, s->dst->size);
	ASSERT_EQ(dma_run(s->ring, src, dst, len, flags), status);
	assert_untouched(s);
}

TEST(descriptor_errors)
{
	struct setup s = setup(TYPE_1M, 1 << 20);
	struct refmdev_dma_desc *desc;

	expect_failure(&s, SRC_IOVA, DST_IOVA, 100, 0, REFMDEV_DMA_ST_BAD_DESC);
	expect_failure(&s, SRC_IOVA, DST_IOVA, 100, 7, REFMDEV_DMA_ST_BAD_DESC);
	expect_failure(&s, SRC_IOVA, DST_IOVA, 100, COPY | (1u << 30),
		       REFMDEV_DMA_ST_BAD_DESC);
	expect_failure(&s, 0, DST_IOVA, 100, FILL | REFMDEV_DMA_F_SRC_DEVMEM,
		       REFMDEV_DMA_ST_BAD_DESC);
	desc = dma_post(s.ring, SRC_IOVA, DST_IOVA, 100, COPY);
	desc->reserved = htole32(1);
	dma_doorbell(s.ring);
	ASSERT_EQ(dma_wait(s.ring, desc), REFMDEV_DMA_ST_BAD_DESC);

	expect_failure(&s, SRC_IOVA, DST_IOVA, 0, COPY, REFMDEV_DMA_ST_BAD_LEN);
	expect_failure(&s, SRC_IOVA, DST_IOVA, REFMDEV_DMA_MAX_LEN + 1, COPY,
		       REFMDEV_DMA_ST_BAD_LEN);
	expect_failure(&s, ~0ull - 10, DST_IOVA, 100, COPY,
		       REFMDEV_DMA_ST_OVERFLOW);
	expect_failure(&s, SRC_IOVA, ~0ull - 50, 100, FILL,
		       REFMDEV_DMA_ST_OVERFLOW);
	expect_failure(&s, DST_IOVA, DST_IOVA + 50, 100, COPY,
		       REFMDEV_DMA_ST_OVERLAP);
	expect_failure(&s, 0, (1 << 20) - 10, 100,
		       FILL | REFMDEV_DMA_F_DST_DEVMEM,
		       REFMDEV_DMA_ST_DEVMEM_RANGE);
	expect_failure(&s, 1 << 20, DST_IOVA, 1, COPY | REFMDEV_DMA_F_SRC_DEVMEM,
		       REFMDEV_DMA_ST_DEVMEM_RANGE);
	/* The engine is still fine. */
	check_copy(&s, 0, 0, 4096, 1);
}

TEST(unmapped_and_partially_mapped)
{
	struct setup s = setup(TYPE_1M, 1 << 20);

	/* Nothing mapped at all. */
	expect_failure(&s, 0x70000000, DST_IOVA, 100, COPY,
		       REFMDEV_DMA_ST_UNMAPPED);
	/* Source runs off the end of its mapping. */
	expect_failure(&s, SRC_IOVA + (1 << 20) - 100, DST_IOVA, 200, COPY,
		       REFMDEV_DMA_ST_UNMAPPED);
	/* Destination runs off the end: nothing, not even the mapped part. */
	expect_failure(&s, SRC_IOVA, DST_IOVA + (1 << 20) - 4096, 8192, COPY,
		       REFMDEV_DMA_ST_UNMAPPED);
	expect_failure(&s, 0, DST_IOVA + (1 << 20) - 10, 20, FILL,
		       REFMDEV_DMA_ST_UNMAPPED);
	check_copy(&s, 0, 0, 100, 2);
}

TEST(read_only_destination)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(d, 16);
	struct guest_mem *src = guest_mem_map(d, SRC_IOVA, 1 << 20, RW);
	struct guest_mem *ro = guest_mem_map(d, DST_IOVA, 1 << 20,
					     VFIO_DMA_MAP_FLAG_READ);
	size_t i;

	fill_random(src->va, 1 << 20, 5);
	memset(ro->va, GUARD, 1 << 20);
	ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, 1 << 20, COPY),
		  REFMDEV_DMA_ST_READ_ONLY);
	ASSERT_EQ(dma_run(r, 0, DST_IOVA, 100, FILL), REFMDEV_DMA_ST_READ_ONLY);
	for (i = 0; i < 1 << 20; i++)
		if (((__u8 *)ro->va)[i] != GUARD)
			FAIL("read-only destination byte %zu written", i);
	/* Reading from it is fine. */
	ASSERT_EQ(dma_run(r, DST_IOVA, SRC_IOVA, 4096, COPY), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(((__u8 *)src->va)[0], GUARD);
}

TEST(completion_interrupts)
{
	struct setup s = setup(TYPE_1M, 1 << 20);
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(s.d, VFIO_PCI_MSI_IRQ_INDEX, efd));
	bar0_write(s.d, REFMDEV_REG_INT_MASK, 4,
		   REFMDEV_INT_DMA_DONE | REFMDEV_INT_DMA_ERROR);

	/* No F_IRQ: no interrupt. */
	ASSERT_EQ(dma_run(s.ring, SRC_IOVA, DST_IOVA, 100, COPY),
		  REFMDEV_DMA_ST_OK);
	ASSERT_EQ(eventfd_wait(efd, 200), 0);
	ASSERT_EQ(dma_run(s.ring, SRC_IOVA, DST_IOVA, 100,
			  COPY | REFMDEV_DMA_F_IRQ), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(eventfd_wait(efd, 5000), 1);
	ASSERT_EQ(bar0_read(s.d, REFMDEV_REG_INT_STATUS, 4),
		  REFMDEV_INT_DMA_DONE);
	bar0_write(s.d, REFMDEV_REG_INT_STATUS, 4, REFMDEV_INT_DMA_DONE);
	/* A failed descriptor with F_IRQ raises the error source. */
	ASSERT_EQ(dma_run(s.ring, SRC_IOVA, DST_IOVA, 0,
			  COPY | REFMDEV_DMA_F_IRQ), REFMDEV_DMA_ST_BAD_LEN);
	ASSERT_EQ(eventfd_wait(efd, 5000), 1);
	ASSERT_EQ(bar0_read(s.d, REFMDEV_REG_INT_STATUS, 4),
		  REFMDEV_INT_DMA_ERROR);
	ASSERT_EQ(bar0_read(s.d, REFMDEV_REG_DMA_COMPLETED, 4), 3);
}

TEST(batch_of_descriptors_in_order)
{
	struct setup s = setup(TYPE_1M, 1 << 20);
	struct refmdev_dma_desc *desc[60];
	unsigned int i;

	fill_random(s.src->va, 1 << 20, 6);
	memset(s.dst->va, 0, 1 << 20);
	/* Wrap the ring once; each copy depends on nothing but its own. */
	for (i = 0; i < 60; i++)
		desc[i] = dma_post(s.ring, SRC_IOVA + i * 4096, DST_IOVA + i * 4096,
				   4096, COPY);
	dma_doorbell(s.ring);
	for (i = 0; i < 60; i++)
		ASSERT_EQ(dma_wait(s.ring, desc[i]), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(s.src->va, s.dst->va, 60 * 4096), 0);
	for (i = 0; i < 30; i++)
		desc[i] = dma_post(s.ring, SRC_IOVA, DST_IOVA + i * 64, 64, COPY);
	dma_doorbell(s.ring);
	for (i = 0; i < 30; i++)
		ASSERT_EQ(dma_wait(s.ring, desc[i]), REFMDEV_DMA_ST_OK);
	/*
	 * The engine writes a descriptor's status before it moves HEAD
	 * past it: seeing the last status does not mean HEAD has moved yet.
	 */
	dma_wait_idle(s.ring);
	ASSERT_EQ(bar0_read(s.d, REFMDEV_REG_DMA_HEAD, 4), 90);
}

TEST(bus_master_off_touches_nothing)
{
	struct setup s = setup(TYPE_1M, 1 << 20);
	struct refmdev_dma_desc *desc;
	__u32 status;

	memset(s.dst->va, GUARD, 1 << 20);
	cfg_write(s.d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	bar0_write(s.d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_DMA_ERROR);
	desc = dma_post(s.ring, SRC_IOVA, DST_IOVA, 4096, COPY);
	dma_doorbell(s.ring);
	dma_wait_idle(s.ring);
	status = bar0_read(s.d, REFMDEV_REG_DMA_STATUS, 4);
	ASSERT_TRUE(status & REFMDEV_DMA_STATUS_HALTED);
	ASSERT_EQ(REFMDEV_DMA_STATUS_REASON(status), REFMDEV_DMA_HALT_BUS_MASTER);
	ASSERT_EQ(bar0_read(s.d, REFMDEV_REG_INT_STATUS, 4),
		  REFMDEV_INT_DMA_ERROR);
	/* Not even the descriptor was read or written back. */
	ASSERT_EQ(desc->status, 0);
	ASSERT_EQ(bar0_read(s.d, REFMDEV_REG_DMA_HEAD, 4), 0);
	assert_untouched(&s);

	/* Bus mastering on, engine re-enabled: the descriptor runs. */
	cfg_write(s.d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	bar0_write(s.d, REFMDEV_REG_DMA_CONTROL, 4, 0);
	bar0_write(s.d, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
	ASSERT_EQ(dma_wait(s.ring, desc), REFMDEV_DMA_ST_OK);
}

/*
 * Turning bus mastering off while copies run: once the config write
 * returns, guest memory is not touched again. Descriptors either
 * completed before (status written) or never started (status 0).
 */
TEST(bus_master_off_fences_running_dma)
{
	const __u32 len = 8 << 20;
	struct setup s = setup(TYPE_1M, len);
	struct refmdev_dma_desc *desc[8];
	__u8 *snap = malloc(len);
	__u32 done = 0, head, i;

	ASSERT_TRUE(snap);
	fill_random(s.src->va, len, 3);
	memset(s.dst->va, 0, len);
	for (i = 0; i < 8; i++)
		desc[i] = dma_post(s.ring, SRC_IOVA, DST_IOVA, len, COPY);
	dma_doorbell(s.ring);
	usleep(20000);
	cfg_write(s.d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);

	memcpy(snap, s.dst->va, len);
	head = bar0_read(s.d, REFMDEV_REG_DMA_HEAD, 4);
	for (i = 0; i < 8; i++)
		done += !!desc[i]->status;
	usleep(200000);
	ASSERT_EQ(memcmp(snap, s.dst->va, len), 0);
	ASSERT_EQ(bar0_read(s.d, REFMDEV_REG_DMA_HEAD, 4), head);
	ASSERT_EQ(head, done);
	for (i = 0; i < 8; i++)
		ASSERT_EQ(desc[i]->status, i < done ? REFMDEV_DMA_ST_OK : 0);
	if (done < 8) {
		__u32 status = bar0_read(s.d, REFMDEV_REG_DMA_STATUS, 4);

		ASSERT_TRUE(status & REFMDEV_DMA_STATUS_HALTED);
		ASSERT_EQ(REFMDEV_DMA_STATUS_REASON(status),
			  REFMDEV_DMA_HALT_BUS_MASTER);
	}
	ktap_info("%u of 8 copies completed before bus mastering went off", done);
	free(snap);
}

/* Program a ring, ring the doorbell, and say why the engine halted. */
static __u32 halt_reason(struct vfio_dev *d, __u32 size, __u32 tail)
{
	__u32 status;

	bar0_write(d, REFMDEV_REG_DMA_CONTROL, 4, 0);
	bar0_write(d, REFMDEV_REG_DMA_RING_SIZE, 4, size);
	bar0_write(d, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
	bar0_write(d, REFMDEV_REG_DMA_TAIL, 4, tail);
	while ((status = bar0_read(d, REFMDEV_REG_DMA_STATUS, 4)) &
	       REFMDEV_DMA_STATUS_BUSY)
		usleep(100);
	ASSERT_TRUE(status & REFMDEV_DMA_STATUS_HALTED);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_DMA_HEAD, 4), 0);
	return REFMDEV_DMA_STATUS_REASON(status);
}

TEST(ring_faults_halt)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	bar0_write(d, REFMDEV_REG_DMA_RING_BASE, 8, 0x7f000000);	/* unmapped */
	ASSERT_EQ(halt_reason(d, 8, 1), REFMDEV_DMA_HALT_RING_FAULT);
	/* A ring size that is not a power of two, and a tail too far. */
	ASSERT_EQ(halt_reason(d, 6, 1), REFMDEV_DMA_HALT_RING);
	ASSERT_EQ(halt_reason(d, 8, 9), REFMDEV_DMA_HALT_RING);
}
