// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's pin cache (pin_cache_pages), from the side of a user who
 * wants it to misbehave: a warm descriptor pins nothing and still moves
 * the right data; an unmap drops exactly the chunks it overlaps (a
 * chunk it only partly overlaps whole), so an IOVA mapped again to other
 * memory, or read-only, is never reached through an old pin; memory
 * mapped write-only is never read through a pin made for writing; the bound
 * holds, also for a descriptor larger than it; resets, FLR, bus master
 * off and close empty it; a full cache does not make RLIMIT_MEMLOCK
 * refuse a working set that fits; an unmap racing a stream leaves no pin
 * behind; and each process is charged for its own device's pins only.
 *
 * What the device holds is read from debugfs (pinned_pages, pin_calls;
 * selftests/lib/pin_cache_util.h) and checked against what the process
 * is charged (VmLck, or VmPin on iommufd).
 */
#include <linux/capability.h>
#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dma_util.h"
#include "dmabuf_util.h"
#include "ktap.h"
#include "p2p_util.h"
#include "pin_cache_util.h"
#include "vfio_backend.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define PAGE		4096
#define SZ_64K		(64 << 10)
#define SZ_1M		0x100000
#define SRC_IOVA	0x10000000ull
#define DST_IOVA	0x40000000ull
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define COPY		REFMDEV_DMA_OP_COPY
#define SMALL_BOUND	64	/* pages */

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* Anonymous memory of the test's, unmapped when the test ends. */
static __u8 *buffer(size_t len, int seed)
{
	__u8 *va = mmap_defer(len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	fill_random(va, len, seed);
	return va;
}

/* Copy @len bytes from @src to @dst: OK, and the bytes are @want's. */
static void copy_ok(struct dma_ring *r, __u64 src, __u64 dst, __u32 len,
		    const void *want, const void *got)
{
	ASSERT_EQ(dma_run(r, src, dst, len, COPY), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(got, want, len), 0);
}

/*
 * A descriptor whose pages are all cached pins nothing; new bytes written
 * by the CPU into cached pages are what it copies (the pins are of the
 * user's pages, not copies of them).
 */
TEST(warm_descriptor_makes_no_pin_calls)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;
	long calls;

	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, SZ_1M, RW);
	dst = guest_mem_map(d, DST_IOVA, SZ_1M, RW);
	base = vm_charge_now();

	calls = dev_pin_calls(d);
	fill_random(src->va, SZ_1M, 1);
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_1M, src->va, dst->va);
	/* Cold: both sides pinned, in chunks of at most 512 pages. */
	ASSERT_TRUE(dev_pin_calls(d) - calls >= 2);
	/* Only the pages the descriptor touched: 256 + 256. */
	ASSERT_EQ(dev_pinned_pages(d), 2 * SZ_1M / PAGE);
	ASSERT_VM_CHARGE_CACHED(base, d);

	calls = dev_pin_calls(d);
	fill_random(src->va, SZ_1M, 2);
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_1M, src->va, dst->va);
	/* Part of a cached range, at odd offsets. */
	fill_random(src->va, SZ_1M, 3);
	copy_ok(r, SRC_IOVA + 8191, DST_IOVA + 3, 100000,
		(__u8 *)src->va + 8191, (__u8 *)dst->va + 3);
	ASSERT_EQ(dev_pin_calls(d), calls);
	ASSERT_EQ(dev_pinned_pages(d), 2 * SZ_1M / PAGE);
	ASSERT_VM_CHARGE_CACHED(base, d);
}

/*
 * The cache holds what descriptors touched and nothing beyond: a page
 * mapped alone, with nothing mapped on either side, is pinned alone.
 */
TEST(pins_only_the_pages_a_descriptor_touches)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;

	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA + PAGE, PAGE, RW);
	dst = guest_mem_map(d, DST_IOVA + 3 * PAGE, 2 * PAGE, RW);
	base = vm_charge_now();

	fill_random(src->va, PAGE, 4);
	copy_ok(r, SRC_IOVA + PAGE, DST_IOVA + 3 * PAGE, PAGE, src->va,
		dst->va);
	ASSERT_EQ(dev_pinned_pages(d), 2);
	/* 2 bytes across the destination's page boundary: one page more. */
	copy_ok(r, SRC_IOVA + PAGE, DST_IOVA + 4 * PAGE - 1, 2, src->va,
		(__u8 *)dst->va + PAGE - 1);
	ASSERT_EQ(dev_pinned_pages(d), 3);
	ASSERT_VM_CHARGE_CACHED(base, d);
}

/*
 * Descriptors over overlapping ranges: a page is pinned once however
 * many cached ranges include it, so the charge (which type1 and iommufd
 * make once per page) and pinned_pages agree.
 */
TEST(overlapping_descriptors_pin_a_page_once)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;
	int i;

	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, 4 * SZ_1M, RW);
	dst = guest_mem_map(d, DST_IOVA, 4 * SZ_1M, RW);
	base = vm_charge_now();
	fill_random(src->va, 4 * SZ_1M, 5);

	/* 64 KiB windows moved by 24 KiB, then a 3 MiB one over them all. */
	for (i = 0; i < 8; i++)
		copy_ok(r, SRC_IOVA + i * 24576, DST_IOVA + i * 24576, SZ_64K,
			(__u8 *)src->va + i * 24576,
			(__u8 *)dst->va + i * 24576);
	ASSERT_VM_CHARGE_CACHED(base, d);
	copy_ok(r, SRC_IOVA + PAGE, DST_IOVA + PAGE, 3 * SZ_1M,
		(__u8 *)src->va + PAGE, (__u8 *)dst->va + PAGE);
	ASSERT_VM_CHARGE_CACHED(base, d);
	ASSERT_PINNED_AT_MOST(d, 2 * 4 * SZ_1M / PAGE);
}

/*
 * An unmap drops the cached pins it overlaps and no others; and the IOVA
 * mapped again to other memory is reached there: no descriptor reads or
 * writes the old memory through a pin the cache kept (the stale-pin
 * attack, both directions).
 */
TEST(unmap_drops_its_chunks_and_remapped_memory_is_used)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;
	__u8 *old_dst, *new_dst, *new_src, *snap;

	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, SZ_1M, RW);
	dst = guest_mem_map(d, DST_IOVA, SZ_1M, RW);
	base = vm_charge_now();
	snap = malloc(SZ_1M);
	ASSERT_TRUE(snap);

	fill_random(src->va, SZ_1M, 6);
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_1M, src->va, dst->va);
	ASSERT_EQ(dev_pinned_pages(d), 2 * SZ_1M / PAGE);

	/* The destination goes: its 256 pages with it, the source's stay. */
	old_dst = dst->va;
	guest_mem_unmap(dst);
	ASSERT_EQ(dev_pinned_pages(d), SZ_1M / PAGE);
	ASSERT_VM_CHARGE_CACHED(base, d);

	/* Same IOVA, other memory: the copy lands there, not in the old. */
	new_dst = buffer(SZ_1M, 7);
	memcpy(snap, old_dst, SZ_1M);
	ASSERT_OK(dma_map_raw(d, new_dst, DST_IOVA, SZ_1M, RW));
	fill_random(src->va, SZ_1M, 8);
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_1M, src->va, new_dst);
	ASSERT_EQ(memcmp(old_dst, snap, SZ_1M), 0);
	ASSERT_VM_CHARGE_CACHED(base, d);

	/* And the source: the copy reads the new memory, not the old. */
	guest_mem_unmap(src);
	ASSERT_EQ(dev_pinned_pages(d), SZ_1M / PAGE);
	new_src = buffer(SZ_1M, 9);
	ASSERT_OK(dma_map_raw(d, new_src, SRC_IOVA, SZ_1M, RW));
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_1M, new_src, new_dst);
	ASSERT_VM_CHARGE_CACHED(base, d);

	ASSERT_OK(dma_unmap_raw(d, SRC_IOVA, SZ_1M, 0));
	ASSERT_EQ(dev_pinned_pages(d), SZ_1M / PAGE);
	ASSERT_OK(dma_unmap_raw(d, DST_IOVA, SZ_1M, 0));
	ASSERT_EQ(dev_pinned_pages(d), 0);
	ASSERT_VM_CHARGE(base);
	free(snap);
}

/*
 * A chunk that an unmap only partly overlaps is dropped whole: the
 * source is two mappings side by side, one descriptor pins across both,
 * and unmapping the second drops what was pinned of the first too.
 */
TEST(partial_overlap_unmap_drops_the_whole_chunk)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *lo, *hi, *dst;
	struct vm_charge base;
	__u8 *want = malloc(2 * SZ_64K), *new_hi;
	long calls;

	ASSERT_TRUE(want);
	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	lo = guest_mem_map(d, SRC_IOVA, SZ_64K, RW);
	hi = guest_mem_map(d, SRC_IOVA + SZ_64K, SZ_64K, RW);
	dst = guest_mem_map(d, DST_IOVA, 2 * SZ_64K, RW);
	base = vm_charge_now();

	fill_random(lo->va, SZ_64K, 10);
	fill_random(hi->va, SZ_64K, 11);
	memcpy(want, lo->va, SZ_64K);
	memcpy(want + SZ_64K, hi->va, SZ_64K);
	copy_ok(r, SRC_IOVA, DST_IOVA, 2 * SZ_64K, want, dst->va);
	ASSERT_EQ(dev_pinned_pages(d), 2 * 2 * SZ_64K / PAGE);

	guest_mem_unmap(hi);
	/* Only the destination's 32 pages are left. */
	ASSERT_EQ(dev_pinned_pages(d), 2 * SZ_64K / PAGE);
	ASSERT_VM_CHARGE_CACHED(base, d);

	/* The first mapping alone works, and is pinned again. */
	calls = dev_pin_calls(d);
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_64K, lo->va, dst->va);
	ASSERT_TRUE(dev_pin_calls(d) > calls);

	/* The second half mapped to other memory: read from there. */
	new_hi = buffer(SZ_64K, 12);
	memcpy(want + SZ_64K, new_hi, SZ_64K);
	ASSERT_OK(dma_map_raw(d, new_hi, SRC_IOVA + SZ_64K, SZ_64K, RW));
	copy_ok(r, SRC_IOVA, DST_IOVA, 2 * SZ_64K, want, dst->va);
	ASSERT_VM_CHARGE_CACHED(base, d);
	ASSERT_OK(dma_unmap_raw(d, SRC_IOVA + SZ_64K, SZ_64K, 0));
	free(want);
}

/*
 * A destination cached with write permission, then unmapped and mapped
 * again read-only (same user memory, so the same pages): a write through
 * it is refused as READ_ONLY and writes nothing; reading it still works.
 */
TEST(read_only_remap_of_a_cached_range_refuses_writes)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *other;
	struct vm_charge base;
	__u8 *va = buffer(SZ_1M, 13), *snap = malloc(SZ_1M);

	ASSERT_TRUE(snap);
	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, SZ_1M, RW);
	other = guest_mem_map(d, SRC_IOVA + 2 * SZ_1M, SZ_1M, RW);
	base = vm_charge_now();
	fill_random(src->va, SZ_1M, 14);

	ASSERT_OK(dma_map_raw(d, va, DST_IOVA, SZ_1M, RW));
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_1M, src->va, va);
	ASSERT_OK(dma_unmap_raw(d, DST_IOVA, SZ_1M, 0));
	ASSERT_EQ(dev_pinned_pages(d), SZ_1M / PAGE);

	ASSERT_OK(dma_map_raw(d, va, DST_IOVA, SZ_1M, VFIO_DMA_MAP_FLAG_READ));
	memset(va, 0x5a, SZ_1M);
	memcpy(snap, va, SZ_1M);
	ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, SZ_1M, COPY),
		  REFMDEV_DMA_ST_READ_ONLY);
	ASSERT_EQ(dma_run(r, 0x11, DST_IOVA + 5, 1, REFMDEV_DMA_OP_FILL),
		  REFMDEV_DMA_ST_READ_ONLY);
	ASSERT_EQ(memcmp(va, snap, SZ_1M), 0);
	ASSERT_VM_CHARGE_CACHED(base, d);
	/* Read-only is still readable. */
	copy_ok(r, DST_IOVA, SRC_IOVA + 2 * SZ_1M, SZ_1M, va, other->va);
	ASSERT_VM_CHARGE_CACHED(base, d);
	ASSERT_OK(dma_unmap_raw(d, DST_IOVA, SZ_1M, 0));
	free(snap);
}

/*
 * The other way round: memory the user mapped write-only is written by
 * the engine but never read, not even through the chunk the write left
 * in the cache. iommufd checks only the write permission of a pin that
 * asks for read and write, so a cache that pinned for both whenever the
 * mapping let it would read here. Writes and refused reads alternate, so
 * that each finds the other's chunk in the cache.
 */
TEST(write_only_mapping_is_never_read_through_the_cache)
{
	struct guest_mem *src, *out;
	struct vm_charge base;
	struct vfio_dev *d;
	struct dma_ring *r;
	__u8 *va = buffer(SZ_64K, 15), *snap = malloc(SZ_64K);
	int round;

	ASSERT_TRUE(snap);
	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, SZ_64K, RW);
	out = guest_mem_map(d, SRC_IOVA + SZ_1M, SZ_64K, RW);
	base = vm_charge_now();
	ASSERT_OK(dma_map_raw(d, va, DST_IOVA, SZ_64K,
			      VFIO_DMA_MAP_FLAG_WRITE));

	for (round = 0; round < 2; round++) {
		fill_random(src->va, SZ_64K, 16 + round);
		copy_ok(r, SRC_IOVA, DST_IOVA, SZ_64K, src->va, va);
		ASSERT_EQ(dma_run(r, 0x11, DST_IOVA + 5, 1, REFMDEV_DMA_OP_FILL),
			  REFMDEV_DMA_ST_OK);
		ASSERT_EQ(va[5], 0x11);

		fill_random(out->va, SZ_64K, 18 + round);
		memcpy(snap, out->va, SZ_64K);
		ASSERT_EQ(dma_run(r, DST_IOVA, SRC_IOVA + SZ_1M, SZ_64K, COPY),
			  REFMDEV_DMA_ST_READ_ONLY);
		ASSERT_EQ(dma_run(r, DST_IOVA + 3 * PAGE, SRC_IOVA + SZ_1M, 1,
				  COPY),
			  REFMDEV_DMA_ST_READ_ONLY);
		ASSERT_EQ(memcmp(out->va, snap, SZ_64K), 0);
		ASSERT_VM_CHARGE_CACHED(base, d);
	}
	ASSERT_OK(dma_unmap_raw(d, DST_IOVA, SZ_64K, 0));
	free(snap);
}

/* Copy the @i-th 64 KiB of the source to the same place in the destination. */
static void copy_64k(struct dma_ring *r, struct guest_mem *src,
		     struct guest_mem *dst, int i)
{
	copy_ok(r, SRC_IOVA + i * SZ_64K, DST_IOVA + i * SZ_64K, SZ_64K,
		(__u8 *)src->va + i * SZ_64K, (__u8 *)dst->va + i * SZ_64K);
}

/*
 * With a bound of 64 pages, descriptors touching 256 pages leave at most
 * 64 pinned, the least recently used evicted first: of 32-page
 * descriptors, the last two stay warm. The bound is the one the device
 * was opened with: raising the parameter afterwards changes nothing.
 */
TEST(bound_holds_and_evicts_least_recently_used)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;
	long calls;
	int i;

	pin_cache_set(SMALL_BOUND);
	d = vfio_open(mdev_create(TYPE_1M));
	pin_cache_set(PIN_CACHE_DEFAULT);
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, SZ_1M, RW);
	dst = guest_mem_map(d, DST_IOVA, SZ_1M, RW);
	base = vm_charge_now();
	fill_random(src->va, SZ_1M, 15);

	/* 16 + 16 pages each. */
	for (i = 0; i < 8; i++) {
		copy_64k(r, src, dst, i);
		ASSERT_VM_CHARGE_CACHED(base, d);
	}
	ASSERT_EQ(dev_pinned_pages(d), SMALL_BOUND);
	/* 7 and 6 are the most recent: warm. Now 6 is the newest. */
	calls = dev_pin_calls(d);
	copy_64k(r, src, dst, 7);
	copy_64k(r, src, dst, 6);
	ASSERT_EQ(dev_pin_calls(d), calls);
	/* 0 was evicted long ago; running it evicts 7, the older of 6 and 7. */
	copy_64k(r, src, dst, 0);
	ASSERT_TRUE(dev_pin_calls(d) > calls);
	ASSERT_VM_CHARGE_CACHED(base, d);
	calls = dev_pin_calls(d);
	copy_64k(r, src, dst, 6);
	ASSERT_EQ(dev_pin_calls(d), calls);
	copy_64k(r, src, dst, 7);
	ASSERT_TRUE(dev_pin_calls(d) > calls);
	ASSERT_VM_CHARGE_CACHED(base, d);
}

/* A descriptor of 512 pages with a bound of 64: it runs, then is cut. */
TEST(descriptor_larger_than_the_bound)
{
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;

	pin_cache_set(SMALL_BOUND);
	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, 2 * SZ_1M, RW);
	dst = guest_mem_map(d, DST_IOVA, 2 * SZ_1M, RW);
	base = vm_charge_now();

	fill_random(src->va, 2 * SZ_1M, 16);
	copy_ok(r, SRC_IOVA, DST_IOVA, 2 * SZ_1M, src->va, dst->va);
	ASSERT_VM_CHARGE_CACHED(base, d);
	fill_random(src->va, 2 * SZ_1M, 17);
	copy_ok(r, SRC_IOVA + 1, DST_IOVA + 2, 2 * SZ_1M - 2,
		(__u8 *)src->va + 1, (__u8 *)dst->va + 2);
	ASSERT_VM_CHARGE_CACHED(base, d);
	guest_mem_unmap(src);
	guest_mem_unmap(dst);
	ASSERT_EQ(dev_pinned_pages(d), 0);
	ASSERT_VM_CHARGE(base);
}

/*
 * Everything that stops the engine empties the cache before it returns:
 * the resets, FLR, bus master off, close (with the mappings still there).
 * After the others the engine goes on, and its next descriptor pins
 * again.
 */
FIXTURE(drop) {
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;
};

FIXTURE_VARIANT(drop) {
	void (*drop)(struct vfio_dev *d);
	bool closes;
};

static void drop_vfio_reset(struct vfio_dev *d)
{
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
}

static void drop_ctrl_reset(struct vfio_dev *d)
{
	bar0_write(d, REFMDEV_REG_CONTROL, 4, REFMDEV_CTRL_RESET);
}

static void drop_flr(struct vfio_dev *d)
{
	function_level_reset(d);
}

static void drop_master_off(struct vfio_dev *d)
{
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
}

static void drop_close(struct vfio_dev *d)
{
	close(d->device);
	d->device = -1;
}

FIXTURE_VARIANT_ADD(drop, vfio_reset) { .drop = drop_vfio_reset };
FIXTURE_VARIANT_ADD(drop, ctrl_reset) { .drop = drop_ctrl_reset };
FIXTURE_VARIANT_ADD(drop, flr) { .drop = drop_flr };
FIXTURE_VARIANT_ADD(drop, master_off) { .drop = drop_master_off };
FIXTURE_VARIANT_ADD(drop, close) { .drop = drop_close, .closes = true };

FIXTURE_SETUP(drop)
{
	pin_cache_set(PIN_CACHE_DEFAULT);
	self->d = vfio_open(mdev_create(TYPE_1M));
	self->r = dma_ring_setup(self->d, 16);
	self->src = guest_mem_map(self->d, SRC_IOVA, SZ_1M, RW);
	self->dst = guest_mem_map(self->d, DST_IOVA, SZ_1M, RW);
	self->base = vm_charge_now();
}

FIXTURE_TEARDOWN(drop)
{
}

/* The ring programmed again from scratch, as after power-on. */
static void ring_restart(struct dma_ring *r)
{
	cfg_write(r->dev, PCI_COMMAND, 2,
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	bar0_write(r->dev, REFMDEV_REG_DMA_CONTROL, 4, 0);
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_BASE, 8, r->mem->iova);
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_SIZE, 4, r->size);
	bar0_write(r->dev, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
	r->tail = 0;
}

TEST_F(drop, empties_the_cache)
{
	long calls;

	fill_random(self->src->va, SZ_1M, 18);
	copy_ok(self->r, SRC_IOVA, DST_IOVA, SZ_1M, self->src->va,
		self->dst->va);
	ASSERT_EQ(dev_pinned_pages(self->d), 2 * SZ_1M / PAGE);

	variant->drop(self->d);
	ASSERT_EQ(dev_pinned_pages(self->d), 0);
	ASSERT_VM_CHARGE(self->base);
	if (variant->closes)
		return;
	ring_restart(self->r);
	calls = dev_pin_calls(self->d);
	fill_random(self->src->va, SZ_1M, 19);
	copy_ok(self->r, SRC_IOVA, DST_IOVA, SZ_1M, self->src->va,
		self->dst->va);
	ASSERT_TRUE(dev_pin_calls(self->d) - calls >= 2);
	ASSERT_VM_CHARGE_CACHED(self->base, self->d);
}

/* Without CAP_IPC_LOCK, type1 holds mappings made from now on to the rlimit. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		FAIL("capget: %s", strerror(errno));
	data[0].effective &= ~(1u << CAP_IPC_LOCK);
	data[0].permitted &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &hdr, data))
		FAIL("capset: %s", strerror(errno));
}

/*
 * RLIMIT_MEMLOCK of 1 MiB (256 pages), filled by two earlier descriptors'
 * cached pins: a third on other memory, 64 + 64 pages, fits only after
 * the engine evicts the idle cache and tries again, and it must succeed.
 * One that could never fit still fails whole.
 */
TEST(memlock_full_cache_evicts_and_retries)
{
	struct rlimit lim = { .rlim_cur = SZ_1M, .rlim_max = SZ_1M };
	const __u32 len = 256 << 10;
	struct vfio_dev *d;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;
	size_t i;

	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	drop_ipc_lock();
	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &lim));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, 4 * SZ_1M, RW);
	dst = guest_mem_map(d, DST_IOVA, 4 * SZ_1M, RW);
	base = vm_charge_now();
	fill_random(src->va, 4 * SZ_1M, 20);

	/* 64 + 64 pages, twice: 256 pages cached, the whole limit. */
	for (i = 0; i < 3; i++) {
		copy_ok(r, SRC_IOVA + i * SZ_1M, DST_IOVA + i * SZ_1M, len,
			(__u8 *)src->va + i * SZ_1M,
			(__u8 *)dst->va + i * SZ_1M);
		ASSERT_VM_CHARGE_CACHED(base, d);
		if (i == 1)
			ASSERT_EQ(dev_pinned_pages(d), SZ_1M / PAGE);
	}
	/* 512 + 512 pages can never fit: refused, nothing written. */
	memset(dst->va, 0x5a, 4 * SZ_1M);
	ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, 2 * SZ_1M, COPY),
		  REFMDEV_DMA_ST_NO_MEMLOCK);
	for (i = 0; i < 4 * SZ_1M; i++)
		if (((__u8 *)dst->va)[i] != 0x5a)
			FAIL("byte %zu written by a descriptor over the limit", i);
	ASSERT_VM_CHARGE_CACHED(base, d);
	copy_ok(r, SRC_IOVA + 3 * SZ_1M, DST_IOVA + 3 * SZ_1M, len,
		(__u8 *)src->va + 3 * SZ_1M, (__u8 *)dst->va + 3 * SZ_1M);
	ASSERT_VM_CHARGE_CACHED(base, d);
}

/* Copies out of the source over and over, until told to stop. */
struct stream {
	struct dma_ring *r;
	__u32 len;
	int stop;
	long ok;		/* copies completed */
	__u32 bad;		/* a status other than OK or UNMAPPED */
};

static void *stream_thread(void *p)
{
	struct stream *s = p;

	while (!LOAD(s->stop)) {
		__u32 st = dma_run(s->r, SRC_IOVA, DST_IOVA, s->len, COPY);

		if (st == REFMDEV_DMA_ST_OK)
			STORE(s->ok, LOAD(s->ok) + 1);
		else if (st != REFMDEV_DMA_ST_UNMAPPED)
			STORE(s->bad, st);
	}
	return NULL;
}

/*
 * A stream of copies out of a source that the user unmaps and maps again,
 * to a buffer of a new value each round, 100 times: when the unmap
 * returns nothing of the source is pinned, and once two copies have
 * completed after the map, the destination holds the new value, never
 * one read through a pin of an earlier buffer.
 */
TEST(unmap_racing_a_stream_leaves_no_pin)
{
	const __u32 len = 256 << 10;
	const int rounds = 100;
	struct vfio_dev *d;
	struct guest_mem *dst;
	struct vm_charge base;
	struct stream s = { .len = len };
	__u8 *buf[2];
	pthread_t t;
	int i;
	size_t j;

	pin_cache_set(PIN_CACHE_DEFAULT);
	d = vfio_open(mdev_create(TYPE_1M));
	s.r = dma_ring_setup(d, 16);
	dst = guest_mem_map(d, DST_IOVA, len, RW);
	buf[0] = buffer(len, 0);
	buf[1] = buffer(len, 0);
	base = vm_charge_now();

	ASSERT_EQ(pthread_create(&t, NULL, stream_thread, &s), 0);
	for (i = 1; i <= rounds; i++) {
		__u8 *va = buf[i & 1];
		long ok, start;

		memset(va, i, len);
		ASSERT_OK(dma_map_raw(d, va, SRC_IOVA, len, RW));
		ok = LOAD(s.ok);
		start = now_ms();
		while (LOAD(s.ok) < ok + 2 && !LOAD(s.bad)) {
			if (now_ms() - start > 60000)
				FAIL("round %d: no copy completed in 60 s", i);
			usleep(100);
		}
		if (LOAD(s.bad))
			FAIL("round %d: copy status 0x%x", i, LOAD(s.bad));
		for (j = 0; j < len; j++)
			if (((__u8 *)dst->va)[j] != (__u8)i)
				FAIL("round %d: byte %zu is 0x%02x: read through a stale pin",
				     i, j, ((__u8 *)dst->va)[j]);
		usleep(i % 7 * 300);
		ASSERT_OK(dma_unmap_raw(d, SRC_IOVA, len, 0));
		/*
		 * The destination's pages at most. Exact though the stream
		 * runs: under the bound the engine unpins nothing itself.
		 */
		ASSERT_PINNED_AT_MOST(d, len / PAGE);
	}
	STORE(s.stop, 1);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ktap_info("%ld copies in %d rounds", s.ok, rounds);
	ASSERT_VM_CHARGE_CACHED(base, d);
	guest_mem_unmap(dst);
	ASSERT_EQ(dev_pinned_pages(d), 0);
	ASSERT_VM_CHARGE(base);
}

/*
 * The other process of the next test: fills its device's cache, says so
 * on @ready, and holds the pins until @go; its charge must not move.
 */
static void hold_pins(const char *uuid, int ready, int go)
{
	struct vfio_dev *a = vfio_open(uuid);
	struct dma_ring *r = dma_ring_setup(a, 16);
	struct guest_mem *src = guest_mem_map(a, SRC_IOVA, SZ_1M, RW);
	struct guest_mem *dst = guest_mem_map(a, DST_IOVA, SZ_1M, RW);
	struct vm_charge base = vm_charge_now();
	char c;

	fill_random(src->va, SZ_1M, 21);
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_1M, src->va, dst->va);
	ASSERT_VM_CHARGE_CACHED(base, a);
	ASSERT_EQ(write(ready, "r", 1), 1);
	ASSERT_EQ(read(go, &c, 1), 1);
	/* The other process's work changed nothing here. */
	ASSERT_EQ(dev_pinned_pages(a), 2 * SZ_1M / PAGE);
	ASSERT_VM_CHARGE_CACHED(base, a);
}

/*
 * Two processes, each with its own device and container: one fills its
 * cache and holds it; the other's charge does not move, and its own
 * device's pins are charged to it alone. The first's pins go with its
 * exit.
 */
TEST(each_process_is_charged_for_its_own_pins)
{
	const char *uuid_a, *uuid_b;
	int go[2], ready[2], status;
	struct vfio_dev *b;
	struct dma_ring *r;
	struct guest_mem *src, *dst;
	struct vm_charge base;
	pid_t pid;
	char c;

	pin_cache_set(PIN_CACHE_DEFAULT);
	uuid_a = mdev_create(TYPE_1M);
	uuid_b = mdev_create(TYPE_1M);
	ASSERT_OK(pipe(go));
	ASSERT_OK(pipe(ready));
	pid = ktap_fork();
	if (!pid) {
		/* Each side keeps only its ends: a failure ends the other's read. */
		close(ready[0]);
		close(go[1]);
		hold_pins(uuid_a, ready[1], go[0]);
		ktap_finish(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(read(ready[0], &c, 1), 1);
	ASSERT_EQ(uuid_pinned_pages(uuid_a), 2 * SZ_1M / PAGE);

	b = vfio_open(uuid_b);
	r = dma_ring_setup(b, 16);
	src = guest_mem_map(b, SRC_IOVA, SZ_1M, RW);
	dst = guest_mem_map(b, DST_IOVA, SZ_1M, RW);
	base = vm_charge_now();
	fill_random(src->va, SZ_64K, 22);
	copy_ok(r, SRC_IOVA, DST_IOVA, SZ_64K, src->va, dst->va);
	ASSERT_EQ(dev_pinned_pages(b), 2 * SZ_64K / PAGE);
	/* Charged for its 32 pages, not the other's 512. */
	ASSERT_VM_CHARGE_CACHED(base, b);
	ASSERT_EQ(uuid_pinned_pages(uuid_a), 2 * SZ_1M / PAGE);

	ASSERT_EQ(write(go[1], "g", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(uuid_pinned_pages(uuid_a), 0);
	ASSERT_VM_CHARGE_CACHED(base, b);
	close(go[1]);
	close(ready[0]);
}
