// SPDX-License-Identifier: GPL-2.0
/*
 * Peer-to-peer the way an unmodified VMM does it: the VMM mmaps device
 * A's BAR2 and maps that user address into a type1 container with
 * VFIO_IOMMU_MAP_DMA, like any other guest RAM. A second device's DMA to
 * that IOVA then reaches A's memory through type1: refmdev B pins the
 * pages with vfio_pin_pages() for each descriptor, a real device behind
 * an IOMMU (QEMU's edu on vfio-pci) has them pinned by type1 for as long
 * as the mapping exists. No dma-buf is involved, so revocation is not
 * either: what a reset, decode off or removal of A does to such a peer
 * follows from A's BAR2 being ordinary refcounted pages, and is checked
 * here.
 */
#include <linux/pci_regs.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_util.h"
#include "edu_util.h"
#include "ktap.h"
#include "p2p_util.h"
#include "two_devs.h"

#define SRC_IOVA	0x10000000ull	/* B's guest memory, sources */
#define DST_IOVA	0x40000000ull	/* B's guest memory, destinations */
#define PEER_IOVA	0x20000000ull	/* A's BAR2 mmap, in B's container */
#define GUEST_SIZE	(2u << 20)
#define MIB		(1024u * 1024u)
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define BAR2		REFMDEV_DEVMEM_BAR
#define COPY		REFMDEV_DMA_OP_COPY
#define FILL		REFMDEV_DMA_OP_FILL
#define GUARD		0x5a

/* All of @d's BAR2 must be @want. */
static void expect_bar(struct vfio_dev *d, const __u8 *want, size_t size,
		       const char *what)
{
	__u8 *got = malloc(size);
	size_t i;

	ASSERT_TRUE(got);
	bar2_read(d, got, size, 0);
	for (i = 0; i < size; i++)
		if (got[i] != want[i])
			FAIL("%s: A's BAR2 byte 0x%zx is 0x%02x, expected 0x%02x",
			     what, i, got[i], want[i]);
	free(got);
}

/*
 * A and B in separate containers, as a VMM gives each mdev group its
 * own. A's BAR2 is mapped into this process and the mapping into B's
 * container at PEER_IOVA. B's container holds only mdevs, so MAP_DMA pins
 * nothing: @base is this process's locked memory with everything set up,
 * and B's engine must bring it back there after every descriptor.
 */
/* The pair of selftests/lib/two_devs.h, A's BAR2 mapped into B's container. */
struct peer {
	struct two_devs dev;
	bool mapped;
	long base;
};

static struct peer peer;

static void peer_teardown(void *arg)
{
	struct peer *p = arg;

	if (p->mapped &&
	    dma_unmap_raw(p->dev.b, PEER_IOVA, p->dev.bar_size, 0))
		printf("# unmap of the peer range: %s\n", strerror(errno));
	p->mapped = false;
}

static struct peer *peer_setup(void)
{
	struct peer *p = &peer;

	two_devs_setup(&p->dev, 16, SRC_IOVA, DST_IOVA, GUEST_SIZE);
	ASSERT_OK(dma_map_raw(p->dev.b, p->dev.bar, PEER_IOVA,
			      p->dev.bar_size, RW));
	p->mapped = true;
	ktap_defer(peer_teardown, p);
	p->base = vm_locked_kib();
	return p;
}

static __u32 run(struct peer *p, __u64 src, __u64 dst, __u32 len,
		 __u32 flags)
{
	__u32 st = dma_run(p->dev.ring, src, dst, len, flags);

	/* No stale pins, whatever the outcome. */
	ASSERT_EQ(vm_locked_kib(), p->base);
	return st;
}

/* Guest memory into A's BAR2 through the peer IOVA, every byte checked. */
static void check_to_peer(struct peer *p, __u8 *want, size_t so, __u64 off,
			  __u32 len, unsigned int seed)
{
	__u8 *src = p->dev.src->va;

	fill_random(src + so, len, seed);
	ASSERT_EQ(run(p, SRC_IOVA + so, PEER_IOVA + off, len, COPY),
		  REFMDEV_DMA_ST_OK);
	memcpy(want + off, src + so, len);
	expect_bar(p->dev.a, want, p->dev.bar_size, "guest -> peer");
	/* The CPU mapping is the same memory. */
	ASSERT_EQ(memcmp(p->dev.bar, want, p->dev.bar_size), 0);
}

TEST(peer_dma_reaches_bar)
{
	static const __u32 lens[] = { 1, 7, 4095, 4096, 4097, 65537, 300001 };
	static const __u64 offs[] = { 0, 1, 4095, 3 * 4096 + 5 };
	struct peer *p = peer_setup();
	__u8 *want = malloc(p->dev.bar_size), *dst = p->dev.dst->va;
	unsigned int i, j, seed = 0;

	ASSERT_TRUE(want);
	memset(want, GUARD, p->dev.bar_size);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	for (i = 0; i < ARRAY_SIZE(lens); i++)
		for (j = 0; j < ARRAY_SIZE(offs); j++)
			check_to_peer(p, want, (i * 13 + j) % 4096, offs[j],
				      lens[i], seed++);
	check_to_peer(p, want, 0, 0, p->dev.bar_size, seed++);
	check_to_peer(p, want, 0, p->dev.bar_size - 1, 1, seed++);

	/* The other way: A's BAR2 as the source. */
	fill_random(want, p->dev.bar_size, 99);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	memset(dst, GUARD, GUEST_SIZE);
	ASSERT_EQ(run(p, PEER_IOVA + 3, DST_IOVA + 1, p->dev.bar_size - 3, COPY),
		  REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(dst + 1, want + 3, p->dev.bar_size - 3), 0);
	ASSERT_EQ(dst[0], GUARD);
	ASSERT_EQ(dst[p->dev.bar_size - 2], GUARD);
	/* A fill, and B's own BAR2 into A's. */
	ASSERT_EQ(run(p, 0x1122334455667788ull, PEER_IOVA + 4093, 9, FILL),
		  REFMDEV_DMA_ST_OK);
	for (i = 0; i < 9; i++)
		want[4093 + i] = 0x1122334455667788ull >> (8 * (i % 8));
	fill_random(dst, 10000, 5);
	bar2_write(p->dev.b, dst, 10000, 0);
	ASSERT_EQ(run(p, 0, PEER_IOVA + 8192, 10000,
		      COPY | REFMDEV_DMA_F_SRC_DEVMEM), REFMDEV_DMA_ST_OK);
	memcpy(want + 8192, dst, 10000);
	expect_bar(p->dev.a, want, p->dev.bar_size, "fill and devmem copy");
	free(want);
}

TEST(exporter_reset_moves_peer_to_new_memory)
{
	struct peer *p = peer_setup();
	__u8 *want = malloc(p->dev.bar_size), *src = p->dev.src->va, *dst = p->dev.dst->va;
	int round;

	ASSERT_TRUE(want);
	memset(want, GUARD, p->dev.bar_size);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	check_to_peer(p, want, 0, 0, p->dev.bar_size, 1);
	for (round = 0; round < 3; round++) {
		__u64 off = 4096 * 7 + 5 + round * 100000;

		ASSERT_OK(ioctl(p->dev.a->device, VFIO_DEVICE_RESET));
		/* The old contents are gone from A... */
		memset(want, 0, p->dev.bar_size);
		expect_bar(p->dev.a, want, p->dev.bar_size, "after reset");
		/* ...and B's next DMA lands in A's new memory. */
		check_to_peer(p, want, 11, off, 1000, round + 2);
		/* B reads the new memory too. */
		memset(dst, GUARD, p->dev.bar_size);
		ASSERT_EQ(run(p, PEER_IOVA, DST_IOVA, p->dev.bar_size, COPY),
			  REFMDEV_DMA_ST_OK);
		ASSERT_EQ(memcmp(dst, want, p->dev.bar_size), 0);
		ASSERT_EQ(memcmp(dst + off, src + 11, 1000), 0);
	}
	free(want);
}

/*
 * Decode off on A: its BAR2 mapping is zapped and faults with SIGBUS.
 * B's engine pins the peer range with vfio_pin_pages(), type1 pins with
 * pin_user_pages_remote() on A's mapping, the fault handler answers
 * VM_FAULT_SIGBUS, GUP turns that into -EFAULT, and type1 passes it on
 * (its fallback for EFAULT only handles VM_PFNMAP, and A's VMA is a
 * VM_MIXEDMAP of normal pages). The engine reports EFAULT from pinning as
 * REFMDEV_DMA_ST_FAULT, having written nothing and left nothing pinned.
 */
TEST(exporter_decode_off_faults_peer_dma)
{
	struct peer *p = peer_setup();
	__u8 *want = malloc(p->dev.bar_size), *dst = p->dev.dst->va;
	size_t i;

	ASSERT_TRUE(want);
	memset(want, GUARD, p->dev.bar_size);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	check_to_peer(p, want, 0, 4096, 5000, 1);

	cfg_write(p->dev.a, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	memset(dst, GUARD, GUEST_SIZE);
	ASSERT_EQ(run(p, SRC_IOVA, PEER_IOVA, 100, COPY), REFMDEV_DMA_ST_FAULT);
	ASSERT_EQ(run(p, SRC_IOVA, PEER_IOVA + 4096, 8192, COPY),
		  REFMDEV_DMA_ST_FAULT);
	ASSERT_EQ(run(p, 0x77, PEER_IOVA, p->dev.bar_size, FILL), REFMDEV_DMA_ST_FAULT);
	ASSERT_EQ(run(p, PEER_IOVA + 4096, DST_IOVA, 5000, COPY),
		  REFMDEV_DMA_ST_FAULT);
	for (i = 0; i < GUEST_SIZE; i++)
		if (dst[i] != GUARD)
			FAIL("guest byte 0x%zx written by a failed descriptor", i);

	/* Decode on: the same memory, untouched, reachable again. */
	cfg_write(p->dev.a, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	expect_bar(p->dev.a, want, p->dev.bar_size, "after decode off");
	check_to_peer(p, want, 3, 4096 * 100 + 1, 20000, 2);
	free(want);
}

TEST(unmap_peer_range_while_idle)
{
	struct peer *p = peer_setup();
	__u8 *want = malloc(p->dev.bar_size);

	ASSERT_TRUE(want);
	memset(want, GUARD, p->dev.bar_size);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	check_to_peer(p, want, 0, 0, 4096, 1);
	ASSERT_OK(dma_unmap_raw(p->dev.b, PEER_IOVA, p->dev.bar_size, 0));
	p->mapped = false;
	ASSERT_EQ(vm_locked_kib(), p->base);
	ASSERT_EQ(run(p, SRC_IOVA, PEER_IOVA, 4096, COPY),
		  REFMDEV_DMA_ST_UNMAPPED);
	expect_bar(p->dev.a, want, p->dev.bar_size, "after unmap");
	/* Mapped again, at another IOVA, it works again. */
	ASSERT_OK(dma_map_raw(p->dev.b, p->dev.bar, PEER_IOVA + p->dev.bar_size,
			      p->dev.bar_size, RW));
	ASSERT_EQ(run(p, SRC_IOVA + 1, PEER_IOVA + p->dev.bar_size + 2, 3, COPY),
		  REFMDEV_DMA_ST_OK);
	memcpy(want + 2, (__u8 *)p->dev.src->va + 1, 3);
	expect_bar(p->dev.a, want, p->dev.bar_size, "mapped again");
	ASSERT_OK(dma_unmap_raw(p->dev.b, PEER_IOVA + p->dev.bar_size, p->dev.bar_size, 0));
	free(want);
}

/*
 * QEMU's edu device on vfio-pci, sharing one container with refmdev A.
 * edu: BAR0 registers, a 4 KiB DMA buffer at device address 0x40000,
 * 28-bit DMA addresses, one transfer at a time, done ~100 ms after start.
 * QEMU 7.2 (Debian 12) aborts the whole VM (hw_error) on a transfer
 * outside the buffer, and its check is off by one: a transfer ending at
 * the buffer's last byte counts as outside. So every transfer is checked
 * to end before that, before it is started.
 */
#define EDU_ID			0x00
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_CMD_START		0x1
#define EDU_CMD_TO_RAM		0x2
#define EDU_BUF			0x40000
#define EDU_BUF_SIZE		4096
#define EDU_XFER_MAX		(EDU_BUF_SIZE - 1)
#define EDU_DMA_LIMIT		0x10000000ull	/* 28 bits */
#define EDU_GUEST_IOVA		0x01000000ull	/* 16 MiB: below edu's limit */
#define EDU_PEER_IOVA		0x02000000ull
#define EDU_GUEST_SIZE		(64u * 1024)

/* edu's PCI address, from edu_to_vfio_pci(&edu_bdf). */
static const char *edu_bdf;

/* One container, edu's and A's groups in it, and both devices open. */
static struct {
	int container, edu_group, a_group;
	struct vfio_dev edu, a;
	__u8 *bar;
	void *guest;
} sh = {
	.container = -1, .edu_group = -1, .a_group = -1,
	.edu = { .container = -1, .group = -1, .device = -1, .iommufd = -1 },
	.a = { .container = -1, .group = -1, .device = -1, .iommufd = -1 },
};

static void close_if(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void shared_close(void *arg)
{
	(void)arg;
	if (sh.bar)
		munmap(sh.bar, MIB);
	sh.bar = NULL;
	close_if(&sh.a.device);
	close_if(&sh.edu.device);
	close_if(&sh.a_group);
	close_if(&sh.edu_group);
	/* The container goes last; its mappings (and pins) with it. */
	close_if(&sh.container);
	if (sh.guest)
		munmap(sh.guest, EDU_GUEST_SIZE);
	sh.guest = NULL;
}

static void get_regions(struct vfio_dev *d)
{
	unsigned int i;

	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		struct vfio_region_info info = {
			.argsz = sizeof(info), .index = i,
		};

		if (i == VFIO_PCI_VGA_REGION_INDEX)
			continue;
		if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &info))
			continue;
		d->offset[i] = info.offset;
		d->size[i] = info.size;
	}
}

static __u32 edu_read(unsigned int off)
{
	__u32 val;

	ASSERT_EQ(region_pread(&sh.edu, VFIO_PCI_BAR0_REGION_INDEX, &val, 4,
			       off), 4);
	return val;
}

static void edu_write(unsigned int off, __u32 val)
{
	ASSERT_EQ(region_pwrite(&sh.edu, VFIO_PCI_BAR0_REGION_INDEX, &val, 4,
				off), 4);
}

/* One transfer between edu's buffer and @iova; @to_ram: buffer to @iova. */
static void edu_dma(__u64 iova, __u32 len, bool to_ram)
{
	long deadline;

	ASSERT_TRUE(len > 0 && len <= EDU_XFER_MAX);
	ASSERT_TRUE(iova + len <= EDU_DMA_LIMIT);
	edu_write(EDU_DMA_SRC, to_ram ? EDU_BUF : iova);
	edu_write(EDU_DMA_DST, to_ram ? iova : EDU_BUF);
	edu_write(EDU_DMA_COUNT, len);
	edu_write(EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
	deadline = now_ms() + 10000;
	while (edu_read(EDU_DMA_CMD) & EDU_CMD_START) {
		if (now_ms() > deadline)
			FAIL("edu DMA not done in 10 s");
		usleep(5000);
	}
}

/* edu's and A's groups in one new container, both devices open. */
static void shared_open(int edu_group, const char *uuid)
{
	ktap_defer(shared_close, NULL);
	sh.container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(sh.container >= 0);
	sh.edu_group = vfio_group_open(edu_group);
	sh.a_group = vfio_group_open(mdev_group_number(uuid));
	ASSERT_OK(ioctl(sh.edu_group, VFIO_GROUP_SET_CONTAINER, &sh.container));
	ASSERT_OK(ioctl(sh.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_OK(ioctl(sh.a_group, VFIO_GROUP_SET_CONTAINER, &sh.container));
	/* MAP_DMA and UNMAP_DMA work through either handle. */
	sh.edu.container = sh.container;
	sh.a.container = sh.container;
	sh.edu.device = ioctl(sh.edu_group, VFIO_GROUP_GET_DEVICE_FD, edu_bdf);
	ASSERT_TRUE(sh.edu.device >= 0);
	sh.a.device = ioctl(sh.a_group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	ASSERT_TRUE(sh.a.device >= 0);
	get_regions(&sh.edu);
	get_regions(&sh.a);
	ASSERT_EQ(sh.a.size[BAR2], MIB);
	ASSERT_EQ(edu_read(EDU_ID) & 0xff, 0xed);
}

TEST(edu_dma_into_bar_mmap_then_removal)
{
	int edu_group = edu_to_vfio_pci(&edu_bdf);
	long avail = mdev_available(TYPE_1M), base, guest_kib, bar_kib;
	const char *uuid = mdev_create(TYPE_1M);
	__u8 *want = calloc(1, MIB), *guest;
	__u64 at = 5 * 4096 + 3000;	/* crosses a page */
	__u16 cmd;

	ASSERT_TRUE(want);
	shared_open(edu_group, uuid);

	/*
	 * With a real IOMMU domain in the container, type1 pins every page
	 * of a mapping when it is made and charges it as locked memory: A's
	 * BAR2 is normal RAM, so all of it counts, like the guest buffer.
	 */
	base = vm_locked_kib();
	sh.guest = mmap(NULL, EDU_GUEST_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_TRUE(sh.guest != MAP_FAILED);
	guest = sh.guest;
	fill_random(guest, EDU_GUEST_SIZE, 7);
	ASSERT_OK(dma_map_raw(&sh.edu, guest, EDU_GUEST_IOVA, EDU_GUEST_SIZE, RW));
	guest_kib = EDU_GUEST_SIZE / 1024;
	ASSERT_EQ(vm_locked_kib(), base + guest_kib);
	sh.bar = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED,
		      sh.a.device, sh.a.offset[BAR2]);
	ASSERT_TRUE(sh.bar != MAP_FAILED);
	ASSERT_OK(dma_map_raw(&sh.edu, sh.bar, EDU_PEER_IOVA, MIB, RW));
	bar_kib = MIB / 1024;
	ASSERT_EQ(vm_locked_kib(), base + guest_kib + bar_kib);

	/* edu: bus mastering on; guest memory into its buffer, then out to A. */
	cmd = cfg_read(&sh.edu, PCI_COMMAND, 2);
	cfg_write(&sh.edu, PCI_COMMAND, 2,
		  cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	edu_dma(EDU_GUEST_IOVA + 4096, EDU_XFER_MAX, false);
	edu_dma(EDU_PEER_IOVA + at, EDU_XFER_MAX, true);
	memcpy(want + at, guest + 4096, EDU_XFER_MAX);
	edu_dma(EDU_PEER_IOVA + MIB - 7, 7, true);
	memcpy(want + MIB - 7, guest + 4096, 7);
	expect_bar(&sh.a, want, MIB, "after edu's DMA");
	ASSERT_EQ(memcmp(sh.bar, want, MIB), 0);

	/*
	 * The VMM unplugs A while the mapping exists: it unmaps the BAR,
	 * closes the device and its group, and the mdev is removed. type1
	 * still pins A's old pages; they must survive the removal, and go
	 * only with the mapping.
	 */
	munmap(sh.bar, MIB);
	sh.bar = NULL;
	close_if(&sh.a.device);
	close_if(&sh.a_group);
	ASSERT_EQ(mdev_remove(uuid), 0);
	ASSERT_EQ(mdev_available(TYPE_1M), avail);
	ASSERT_EQ(vm_locked_kib(), base + guest_kib + bar_kib);
	ASSERT_OK(dma_unmap_raw(&sh.edu, EDU_PEER_IOVA, MIB, 0));
	ASSERT_EQ(vm_locked_kib(), base + guest_kib);
	/* edu is fine, and its other mapping too. */
	edu_dma(EDU_GUEST_IOVA + 8192, 16, false);
	edu_dma(EDU_GUEST_IOVA + 100, 16, true);
	ASSERT_EQ(memcmp(guest + 100, guest + 8192, 16), 0);
	ASSERT_OK(dma_unmap_raw(&sh.edu, EDU_GUEST_IOVA, EDU_GUEST_SIZE, 0));
	ASSERT_EQ(vm_locked_kib(), base);
	free(want);
}

/*
 * The other direction: A's engine aimed at edu's BAR0, which the VMM
 * mapped into the shared container (type1 maps the MMIO into the IOMMU
 * for real devices). The engine moves data only through pinned pages,
 * and vfio_pin_pages() has no page to give for MMIO, so the descriptor
 * completes with REFMDEV_DMA_ST_UNMAPPED (documented in p2p.rst) and
 * neither side is touched. vfio_dma_rw() could reach the registers with
 * CPU accesses, but with no all-or-nothing and no say over access width.
 */
#define EDU_BAR_IOVA		0x03000000ull
#define EDU_REG_PATTERN		0x13579bdfu

TEST(engine_into_edu_bar_is_refused)
{
	int edu_group = edu_to_vfio_pci(&edu_bdf);
	const char *uuid = mdev_create(TYPE_1M);
	struct dma_ring *r;
	struct guest_mem *g;
	long base;
	__u8 *edu_bar;
	__u16 cmd;
	__u64 i;

	shared_open(edu_group, uuid);
	cmd = cfg_read(&sh.edu, PCI_COMMAND, 2);
	cfg_write(&sh.edu, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY);
	edu_write(EDU_DMA_SRC, EDU_REG_PATTERN);

	base = vm_locked_kib();
	edu_bar = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED,
		       sh.edu.device, sh.edu.offset[VFIO_PCI_BAR0_REGION_INDEX]);
	ASSERT_TRUE(edu_bar != MAP_FAILED);
	ASSERT_OK(dma_map_raw(&sh.edu, edu_bar, EDU_BAR_IOVA, MIB, RW));
	/* MMIO is not memory: nothing to pin, nothing charged. */
	ASSERT_EQ(vm_locked_kib(), base);

	r = dma_ring_setup(&sh.a, 16);
	g = guest_mem_map(&sh.a, EDU_GUEST_IOVA, EDU_GUEST_SIZE, RW);
	fill_random(g->va, 4096, 11);
	memset((__u8 *)g->va + 4096, GUARD, 4096);

	ASSERT_EQ(dma_run(r, g->iova, EDU_BAR_IOVA + EDU_DMA_SRC, 8, COPY),
		  REFMDEV_DMA_ST_UNMAPPED);
	ASSERT_EQ(edu_read(EDU_DMA_SRC), EDU_REG_PATTERN);
	ASSERT_EQ(dma_run(r, EDU_BAR_IOVA + EDU_DMA_SRC, g->iova + 4096, 8,
			  COPY), REFMDEV_DMA_ST_UNMAPPED);
	for (i = 0; i < 4096; i++)
		ASSERT_EQ(((__u8 *)g->va)[4096 + i], GUARD);
	/* The engine itself is fine, and holds no pin. */
	ASSERT_EQ(dma_run(r, g->iova, g->iova + 8192, 4096, COPY),
		  REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(g->va, (__u8 *)g->va + 8192, 4096), 0);

	ASSERT_OK(dma_unmap_raw(&sh.edu, EDU_BAR_IOVA, MIB, 0));
	munmap(edu_bar, MIB);
}
