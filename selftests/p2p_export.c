// SPDX-License-Identifier: GPL-2.0
/*
 * BAR2 exported as a dma-buf (VFIO_DEVICE_FEATURE_DMA_BUF), as a VFIO
 * user and the CPU see it: the feature's probe answers; every malformed
 * request with its exact errno and nothing created; the dma-buf's size,
 * contents and mappings; its open flags, DMA_BUF_IOCTL_SYNC and debugfs
 * entry; and revocation by each event that takes device memory away
 * (the revoke fixture's variants: resets, memory decoding off, FLR; and
 * closing the device), also in a process the dma-buf was passed to.
 */
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmabuf_util.h"
#include "ktap.h"
#include "mdev_util.h"
#include "p2p_util.h"
#include "revoke.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define MEM		REFMDEV_DEVMEM_BAR
#define SZ_1M		0x100000ull
/* The kernel's page size: the tests run on x86-64 only. */
#define P		4096ull
/* The last page-aligned u64: one page more wraps. */
#define TOP		(~0ull & ~(P - 1))
#define RW		(O_RDWR | O_CLOEXEC)
#define R(o, l)		{ .offset = (o), .length = (l) }
/* struct vfio_device_feature followed by the DMA_BUF request. */
#define REQ_HDR		(sizeof(struct vfio_device_feature) + \
			 sizeof(struct vfio_device_feature_dma_buf))
#define RANGE_SZ	sizeof(struct vfio_region_dma_range)

/*
 * The feature ioctl with everything under the caller's control: @nr is
 * what nr_ranges says, @n how many of @r the buffer holds, @argsz what
 * the header claims (the buffer is at least that big, zero past @r).
 * Returns the ioctl's result, errno set on failure.
 */
static int feature_ioctl(struct vfio_dev *d, __u32 feat_flags, __u32 argsz,
			 __u32 region, __u32 open_flags, __u32 flags, __u32 nr,
			 const struct vfio_region_dma_range *r, __u32 n)
{
	size_t size = REQ_HDR + (size_t)n * RANGE_SZ;
	struct vfio_device_feature_dma_buf *get;
	struct vfio_device_feature *feat;
	int ret, err;

	if (argsz > size)
		size = argsz;
	feat = calloc(1, size + 64);
	if (!feat)
		FAIL("out of memory");
	feat->argsz = argsz;
	feat->flags = feat_flags;
	get = (void *)feat->data;
	get->region_index = region;
	get->open_flags = open_flags;
	get->flags = flags;
	get->nr_ranges = nr;
	if (n)
		memcpy(get->dma_ranges, r, n * RANGE_SZ);
	ret = ioctl(d->device, VFIO_DEVICE_FEATURE, feat);
	err = errno;
	free(feat);
	errno = err;
	return ret;
}

static int dmabuf_sync(int fd, __u64 flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
}

static const __u64 sync_flags[] = {
	DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ,
	DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ,
	DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE,
	DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE,
	DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW,
	DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW,
};

/*
 * Every valid DMA_BUF_IOCTL_SYNC gives 0, or (@err) every START fails
 * with @err. The END variants while revoked are sync_ioctl's alone, so
 * that the revocation tests do not all fail on that one point.
 */
static void assert_sync(int fd, int err)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sync_flags); i++) {
		if (!err)
			ASSERT_OK(dmabuf_sync(fd, sync_flags[i]));
		else if (!(sync_flags[i] & DMA_BUF_SYNC_END))
			ASSERT_ERRNO(dmabuf_sync(fd, sync_flags[i]), err);
	}
}

/* The END half of a SYNC while revoked: ENODEV too. */
static void assert_sync_end(int fd, int err)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sync_flags); i++)
		if (sync_flags[i] & DMA_BUF_SYNC_END)
			ASSERT_ERRNO(dmabuf_sync(fd, sync_flags[i]), err);
}

/* Every page of @map faults, for loads and for stores. */
static void assert_all_fault(__u8 *map, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += P) {
		if (!read_faults(map + off))
			FAIL("load at 0x%zx did not fault", off);
		if (!write_faults(map + off, 0xee))
			FAIL("store at 0x%zx did not fault", off);
	}
}

static void assert_none_fault(const __u8 *map, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += P)
		if (read_faults(map + off))
			FAIL("load at 0x%zx faulted", off);
}

static void assert_zero(const __u8 *p, size_t len, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			FAIL("%s: byte 0x%zx is 0x%02x, not 0", what, i, p[i]);
}

static __u8 *xmalloc(size_t len)
{
	__u8 *p = malloc(len);

	if (!p)
		FAIL("out of memory");
	return p;
}

/* Random bytes over [0, @len) of BAR2; returns them. */
static __u8 *fill_bar2(struct vfio_dev *d, size_t len, unsigned int seed)
{
	__u8 *buf = xmalloc(len);

	fill_random(buf, len, seed);
	ASSERT_EQ(region_pwrite(d, MEM, buf, len, 0), len);
	return buf;
}

static __u8 *read_bar2(struct vfio_dev *d, size_t len)
{
	__u8 *buf = xmalloc(len);

	ASSERT_EQ(region_pread(d, MEM, buf, len, 0), len);
	return buf;
}

static char *bar2_name(struct vfio_dev *d)
{
	static char name[UUID_LEN + 8];

	snprintf(name, sizeof(name), "%s:bar2", d->uuid);
	return name;
}

TEST(feature_probe)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	const struct vfio_region_dma_range r = R(0, P);
	const __u32 base = VFIO_DEVICE_FEATURE_DMA_BUF;
	const __u32 full = REQ_HDR + RANGE_SZ;
	int fds = fd_count();

	/*
	 * PROBE answers whether GET is supported, and must not export even
	 * when the buffer holds a valid request.
	 */
	ASSERT_EQ(feature_ioctl(d, base | VFIO_DEVICE_FEATURE_PROBE |
				VFIO_DEVICE_FEATURE_GET,
				sizeof(struct vfio_device_feature), 0, 0, 0, 0,
				NULL, 0), 0);
	ASSERT_EQ(feature_ioctl(d, base | VFIO_DEVICE_FEATURE_PROBE |
				VFIO_DEVICE_FEATURE_GET, full, MEM, RW, 0, 1,
				&r, 1), 0);
	/* There is nothing to set. */
	ASSERT_ERRNO(feature_ioctl(d, base | VFIO_DEVICE_FEATURE_PROBE |
				   VFIO_DEVICE_FEATURE_SET, full, MEM, RW, 0, 1,
				   &r, 1), EINVAL);
	ASSERT_ERRNO(feature_ioctl(d, base | VFIO_DEVICE_FEATURE_SET, full,
				   MEM, RW, 0, 1, &r, 1), EINVAL);
	ASSERT_ERRNO(feature_ioctl(d, base | VFIO_DEVICE_FEATURE_GET |
				   VFIO_DEVICE_FEATURE_SET, full, MEM, RW, 0, 1,
				   &r, 1), EINVAL);
	ASSERT_ERRNO(feature_ioctl(d, base | VFIO_DEVICE_FEATURE_PROBE |
				   VFIO_DEVICE_FEATURE_GET |
				   VFIO_DEVICE_FEATURE_SET, full, MEM, RW, 0, 1,
				   &r, 1), EINVAL);
	ASSERT_EQ(fd_count(), fds);
	ASSERT_EQ(bufinfo_find(0, bar2_name(d), NULL), 0);
}

/*
 * One result per bad request: the fixture opens a fresh device for each
 * row, so a row that leaves something behind fails alone.
 */
FIXTURE(bad_export) {
	struct vfio_dev *d;
	int fds, next_fd;
};

FIXTURE_VARIANT(bad_export) {
	const char *name;
	__u32 region;
	__u32 open_flags;
	__u32 flags;
	__u32 nr;		/* nr_ranges */
	__u32 n;		/* ranges in the buffer */
	int argsz_delta;	/* added to the argsz that holds @n ranges */
	struct vfio_region_dma_range r[2];
	int err;
};

/*
 * The spec's checks in their order; a row with two faults shows which
 * check comes first when their errnos differ. Offsets are for a 1 MiB
 * BAR2 (256 pages).
 */
static const FIXTURE_VARIANT(bad_export) bad_exports[] = {
	/* nr_ranges and flags first */
	{ "no ranges", MEM, RW, 0, 0, 0, 0, {}, EINVAL },
	{ "flags bit 0", MEM, RW, 1, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "flags bit 31", MEM, RW, 1u << 31, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "no ranges before ROM region", VFIO_PCI_ROM_REGION_INDEX, RW, 0,
	  0, 0, 0, {}, EINVAL },
	{ "flags before ROM region", VFIO_PCI_ROM_REGION_INDEX, RW, 1, 1, 1,
	  0, { R(0, P) }, EINVAL },
	/* the region */
	{ "ROM region", VFIO_PCI_ROM_REGION_INDEX, RW, 0, 1, 1, 0,
	  { R(0, P) }, ENODEV },
	{ "config region", VFIO_PCI_CONFIG_REGION_INDEX, RW, 0, 1, 1, 0,
	  { R(0, P) }, ENODEV },
	{ "VGA region", VFIO_PCI_VGA_REGION_INDEX, RW, 0, 1, 1, 0,
	  { R(0, P) }, ENODEV },
	{ "region 9", VFIO_PCI_NUM_REGIONS, RW, 0, 1, 1, 0, { R(0, P) },
	  ENODEV },
	{ "region 0xffffffff", ~0u, RW, 0, 1, 1, 0, { R(0, P) }, ENODEV },
	{ "ROM region before open_flags", VFIO_PCI_ROM_REGION_INDEX,
	  O_RDWR | O_NONBLOCK, 0, 1, 1, 0, { R(0, P) }, ENODEV },
	{ "ROM region before ranges", VFIO_PCI_ROM_REGION_INDEX, RW, 0, 1, 1,
	  0, { R(TOP, P) }, ENODEV },
	{ "BAR0", 0, RW, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "BAR1", 1, RW, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "BAR3", 3, RW, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "BAR4", 4, RW, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "BAR5", 5, RW, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "BAR0 before ranges", 0, RW, 0, 1, 1, 0, { R(TOP, P) }, EINVAL },
	/* open_flags */
	{ "O_NONBLOCK", MEM, O_RDWR | O_NONBLOCK, 0, 1, 1, 0, { R(0, P) },
	  EINVAL },
	{ "O_TRUNC", MEM, O_RDWR | O_TRUNC, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "O_APPEND", MEM, O_RDWR | O_APPEND, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "open_flags bit 31", MEM, O_RDWR | (1u << 31), 0, 1, 1, 0,
	  { R(0, P) }, EINVAL },
	{ "access mode 3", MEM, O_ACCMODE, 0, 1, 1, 0, { R(0, P) }, EINVAL },
	{ "access mode 3 with O_CLOEXEC", MEM, O_ACCMODE | O_CLOEXEC, 0, 1, 1,
	  0, { R(0, P) }, EINVAL },
	{ "open_flags before ranges", MEM, O_RDWR | O_NONBLOCK, 0, 1, 1, 0,
	  { R(TOP, P) }, EINVAL },
	/* nr_ranges against the BAR's pages, then argsz */
	{ "257 ranges on 256 pages", MEM, RW, 0, 257, 1, 256 * RANGE_SZ,
	  { R(TOP, P) }, EINVAL },
	{ "nr_ranges 1 << 28", MEM, RW, 0, 1u << 28, 1, 0, { R(0, P) },
	  EINVAL },
	{ "nr_ranges 0xffffffff", MEM, RW, 0, ~0u, 1, 0, { R(0, P) }, EINVAL },
	{ "argsz holds only the header", MEM, RW, 0, 1, 1,
	  -(int)(REQ_HDR - sizeof(struct vfio_device_feature) + RANGE_SZ),
	  { R(0, P) }, EINVAL },
	{ "argsz 1 byte short of the request", MEM, RW, 0, 1, 1,
	  -(int)(1 + RANGE_SZ), { R(0, P) }, EINVAL },
	{ "argsz holds no range", MEM, RW, 0, 1, 1, -(int)RANGE_SZ,
	  { R(0, P) }, EINVAL },
	{ "argsz 1 byte short of 2 ranges", MEM, RW, 0, 2, 2, -1,
	  { R(0, P), R(P, P) }, EINVAL },
	{ "argsz before ranges", MEM, RW, 0, 2, 2, -1, { R(TOP, P), R(0, P) },
	  EINVAL },
	/* each range */
	{ "zero length", MEM, RW, 0, 1, 1, 0, { R(0, 0) }, EINVAL },
	{ "offset 1", MEM, RW, 0, 1, 1, 0, { R(1, P) }, EINVAL },
	{ "offset half a page", MEM, RW, 0, 1, 1, 0, { R(P / 2, P) }, EINVAL },
	{ "length 1", MEM, RW, 0, 1, 1, 0, { R(0, 1) }, EINVAL },
	{ "length a page less 1", MEM, RW, 0, 1, 1, 0, { R(0, P - 1) },
	  EINVAL },
	{ "length a page plus 1", MEM, RW, 0, 1, 1, 0, { R(0, P + 1) },
	  EINVAL },
	{ "unaligned offset before wrap", MEM, RW, 0, 1, 1, 0,
	  { R(~0ull, P) }, EINVAL },
	{ "unaligned length before wrap", MEM, RW, 0, 1, 1, 0,
	  { R(TOP, P + 1) }, EINVAL },
	{ "offset + length wraps to 0", MEM, RW, 0, 1, 1, 0, { R(TOP, P) },
	  EOVERFLOW },
	{ "offset + length wraps past 0", MEM, RW, 0, 1, 1, 0,
	  { R(TOP, 2 * P) }, EOVERFLOW },
	{ "length wraps", MEM, RW, 0, 1, 1, 0, { R(P, TOP) }, EOVERFLOW },
	{ "starts at the end", MEM, RW, 0, 1, 1, 0, { R(SZ_1M, P) }, EINVAL },
	{ "ends past the end", MEM, RW, 0, 1, 1, 0, { R(SZ_1M - P, 2 * P) },
	  EINVAL },
	{ "longer than the BAR", MEM, RW, 0, 1, 1, 0, { R(0, SZ_1M + P) },
	  EINVAL },
	{ "offset 1 << 63", MEM, RW, 0, 1, 1, 0, { R(1ull << 63, P) }, EINVAL },
	{ "second range zero length", MEM, RW, 0, 2, 2, 0,
	  { R(0, P), R(0, 0) }, EINVAL },
	{ "second range wraps", MEM, RW, 0, 2, 2, 0, { R(0, P), R(TOP, P) },
	  EOVERFLOW },
	{ "first bad range decides", MEM, RW, 0, 2, 2, 0,
	  { R(SZ_1M, P), R(TOP, P) }, EINVAL },
	/* the sum of the lengths */
	{ "sum over the BAR", MEM, RW, 0, 2, 2, 0, { R(0, SZ_1M), R(0, P) },
	  EINVAL },
	{ "sum over the BAR, overlapping", MEM, RW, 0, 2, 2, 0,
	  { R(0, SZ_1M / 2 + P), R(SZ_1M / 2 - P, SZ_1M / 2) }, EINVAL },
};

FIXTURE_VARIANT_TABLE(bad_export, bad_exports);

FIXTURE_SETUP(bad_export)
{
	self->d = vfio_open(mdev_create(TYPE_1M));
	ASSERT_EQ(self->d->size[MEM], SZ_1M);
	self->fds = fd_count();
	self->next_fd = lowest_free_fd();
}

FIXTURE_TEARDOWN(bad_export)
{
}

TEST_F(bad_export, exact_errno_nothing_left)
{
	__u32 argsz = REQ_HDR + variant->n * RANGE_SZ + variant->argsz_delta;
	int ret, fd;

	ret = feature_ioctl(self->d, VFIO_DEVICE_FEATURE_GET |
			    VFIO_DEVICE_FEATURE_DMA_BUF, argsz,
			    variant->region, variant->open_flags,
			    variant->flags, variant->nr, variant->r,
			    variant->n);
	if (ret >= 0) {
		close(ret);
		FAIL("%s: exported (fd %d), expected %s", variant->name, ret,
		     strerrorname_np(variant->err));
	}
	if (errno != variant->err)
		FAIL("%s: errno %s, expected %s", variant->name,
		     strerrorname_np(errno), strerrorname_np(variant->err));
	if (lowest_free_fd() != self->next_fd)
		FAIL("%s: a descriptor was left open", variant->name);
	ASSERT_EQ(fd_count(), self->fds);
	/* No dma-buf object either, not even one without an fd. */
	ASSERT_EQ(bufinfo_find(0, bar2_name(self->d), NULL), 0);

	/* The device still exports, into the lowest free descriptor. */
	fd = dmabuf_export(self->d, 0, SZ_1M);
	ASSERT_EQ(fd, self->next_fd);
	ASSERT_EQ(bufinfo_find(0, bar2_name(self->d), NULL), 1);
}

/*
 * Ranges the kernel cannot read: the request sits just before a
 * PROT_NONE page, so every byte up to the ranges (or the first of two)
 * is readable and the rest is not.
 */
TEST(unreadable_ranges_efault)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *area = mmap_defer(2 * P, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct vfio_device_feature_dma_buf *get;
	struct vfio_device_feature *feat;
	int fds = fd_count();

	ASSERT_OK(mprotect(area + P, P, PROT_NONE));

	/* Not even the first range readable. */
	feat = (void *)(area + P - REQ_HDR);
	get = (void *)feat->data;
	feat->argsz = REQ_HDR + RANGE_SZ;
	feat->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	get->region_index = MEM;
	get->open_flags = RW;
	get->flags = 0;
	get->nr_ranges = 1;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_FEATURE, feat), EFAULT);

	/* The first of two readable (and valid), the second not. */
	feat = (void *)(area + P - REQ_HDR - RANGE_SZ);
	get = (void *)feat->data;
	feat->argsz = REQ_HDR + 2 * RANGE_SZ;
	feat->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	get->region_index = MEM;
	get->open_flags = RW;
	get->flags = 0;
	get->nr_ranges = 2;
	get->dma_ranges[0].offset = 0;
	get->dma_ranges[0].length = P;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_FEATURE, feat), EFAULT);
	/* The ranges are read before any of them is checked. */
	get->dma_ranges[0].length = 0;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_FEATURE, feat), EFAULT);
	/* Checks that need no ranges come before reading them. */
	get->nr_ranges = 257;
	feat->argsz = REQ_HDR + 257 * RANGE_SZ;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_FEATURE, feat), EINVAL);
	get->nr_ranges = 2;
	feat->argsz = REQ_HDR + RANGE_SZ;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_FEATURE, feat), EINVAL);
	feat->argsz = REQ_HDR + 2 * RANGE_SZ;
	get->open_flags = O_ACCMODE;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_FEATURE, feat), EINVAL);
	get->open_flags = RW;
	get->region_index = VFIO_PCI_ROM_REGION_INDEX;
	ASSERT_ERRNO(ioctl(d->device, VFIO_DEVICE_FEATURE, feat), ENODEV);

	ASSERT_EQ(fd_count(), fds);
	ASSERT_EQ(bufinfo_find(0, bar2_name(d), NULL), 0);
}

TEST(size_is_sum_of_ranges)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	static const struct {
		struct vfio_region_dma_range r[3];
		__u32 n;
		__u64 size;
	} cases[] = {
		{ { R(0, P) }, 1, P },
		{ { R(SZ_1M - 16 * P, 16 * P) }, 1, 16 * P },
		{ { R(0, SZ_1M) }, 1, SZ_1M },
		{ { R(0, P), R(0, P), R(8 * P, 3 * P) }, 3, 5 * P },
		{ { R(0, SZ_1M / 2), R(SZ_1M / 4, SZ_1M / 2) }, 2, SZ_1M },
	};
	struct stat st;
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fd = export_ranges(d, RW, cases[i].r, cases[i].n);
		ASSERT_EQ(lseek(fd, 0, SEEK_END), cases[i].size);
		/* The idiomatic rewind still works after finding the end. */
		ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
		ASSERT_OK(fstat(fd, &st));
		ASSERT_EQ(st.st_size, cases[i].size);
	}
}

TEST(single_range_contents)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	const __u64 off = 16 * P, len = 32 * P;
	__u8 *want = fill_bar2(d, SZ_1M, 1), *map, *page;
	int fd = dmabuf_export(d, off, len);

	map = mmap_defer(len, PROT_READ, MAP_SHARED, fd, 0);
	assert_same(map, want + off, len, "dma-buf mmap");
	/* A mapping at an offset into the dma-buf starts there. */
	page = mmap_defer(2 * P, PROT_READ, MAP_SHARED, fd, 5 * P);
	assert_same(page, want + off + 5 * P, 2 * P, "mmap at page 5");
	/* Not past the end, by even one page. */
	ASSERT_TRUE(mmap(NULL, 2 * P, PROT_READ, MAP_SHARED, fd,
			 len - P) == MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(mmap(NULL, len + P, PROT_READ, MAP_SHARED, fd, 0) ==
		    MAP_FAILED);
	ASSERT_EQ(errno, EINVAL);
}

TEST(multi_range_contents_overlapping)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	/* Out of order, overlapping, and touching both ends of the BAR. */
	static const struct vfio_region_dma_range r[] = {
		R(8 * P, 4 * P), R(0, P), R(10 * P, 4 * P), R(SZ_1M - P, P),
		R(9 * P, P),
	};
	__u8 *want = fill_bar2(d, SZ_1M, 2), *map;
	__u64 pos = 0, size = 0;
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(r); i++)
		size += r[i].length;
	fd = export_ranges(d, RW, r, ARRAY_SIZE(r));
	ASSERT_EQ(lseek(fd, 0, SEEK_END), size);
	map = mmap_defer(size, PROT_READ, MAP_SHARED, fd, 0);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		char what[64];

		snprintf(what, sizeof(what), "range %u", i);
		assert_same(map + pos, want + r[i].offset, r[i].length, what);
		pos += r[i].length;
	}
}

/* nr_ranges at its limit: one range per page, in reverse order. */
TEST(every_page_reversed)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	const unsigned int pages = SZ_1M / P;
	struct vfio_region_dma_range *r = calloc(pages, sizeof(*r));
	__u8 *want = fill_bar2(d, SZ_1M, 3), *map;
	unsigned int i;
	int fd;

	ASSERT_TRUE(r);
	for (i = 0; i < pages; i++) {
		r[i].offset = (pages - 1 - i) * P;
		r[i].length = P;
	}
	fd = export_ranges(d, RW, r, pages);
	ASSERT_EQ(lseek(fd, 0, SEEK_END), SZ_1M);
	map = mmap_defer(SZ_1M, PROT_READ, MAP_SHARED, fd, 0);
	for (i = 0; i < pages; i++)
		if (memcmp(map + i * P, want + (pages - 1 - i) * P, P))
			FAIL("dma-buf page %u is not BAR2 page %u", i,
			     pages - 1 - i);
	free(r);
}

TEST(cpu_stores_reach_bar2)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	/* dma-buf pages 0-3 are BAR2 pages 4-7, pages 4-5 BAR2 pages 6-7. */
	static const struct vfio_region_dma_range r[] = {
		R(4 * P, 4 * P), R(6 * P, 2 * P),
	};
	__u8 *buf, *map, *bar;
	__u32 v;
	int fd, i;

	fd = export_ranges(d, RW, r, ARRAY_SIZE(r));
	map = mmap_defer(6 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	bar = mmap_defer(SZ_1M, PROT_READ | PROT_WRITE, MAP_SHARED, d->device,
			 d->offset[MEM]);
	for (i = 0; i < 4; i++) {
		v = 0xc0de0000 + i;
		memcpy(map + i * P + 8, &v, 4);
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(region_pread(d, MEM, &v, 4, (4 + i) * P + 8), 4);
		ASSERT_EQ(v, 0xc0de0000 + i);
		memcpy(&v, bar + (4 + i) * P + 8, 4);
		ASSERT_EQ(v, 0xc0de0000 + i);
	}
	/* The overlap is the same memory, not a copy. */
	memcpy(&v, map + 4 * P + 8, 4);
	ASSERT_EQ(v, 0xc0de0002);
	memcpy(map + 5 * P + 12, "P2P!", 4);
	ASSERT_EQ(memcmp(map + 3 * P + 12, "P2P!", 4), 0);
	ASSERT_EQ(memcmp(bar + 7 * P + 12, "P2P!", 4), 0);
	/* And the other way: device-side writes show in the dma-buf. */
	memcpy(bar + 4 * P + 100, "bar2", 4);
	ASSERT_EQ(memcmp(map + 100, "bar2", 4), 0);
	ASSERT_EQ(region_pwrite(d, MEM, "vfio", 4, 6 * P + 200), 4);
	ASSERT_EQ(memcmp(map + 2 * P + 200, "vfio", 4), 0);
	ASSERT_EQ(memcmp(map + 4 * P + 200, "vfio", 4), 0);
	/* Nothing outside the ranges was touched. */
	buf = read_bar2(d, SZ_1M);
	assert_zero(buf, 4 * P, "BAR2 below the ranges");
	assert_zero(buf + 8 * P, SZ_1M - 8 * P, "BAR2 above the ranges");
	free(buf);
}

TEST(map_private_refused)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int fd = dmabuf_export(d, 0, 4 * P);

	ASSERT_ERRNO(mmap(NULL, 4 * P, PROT_READ, MAP_PRIVATE, fd, 0), EINVAL);
	ASSERT_ERRNO(mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
			  0), EINVAL);
	/* MAP_SHARED of the same fd is fine. */
	mmap_defer(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

TEST(open_flags_cloexec)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	const struct vfio_region_dma_range r = R(0, P);
	int fd;

	fd = export_ranges(d, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	fd = export_ranges(d, O_RDWR, &r, 1);
	ASSERT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	fd = export_ranges(d, O_RDONLY | O_CLOEXEC, &r, 1);
	ASSERT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	fd = export_ranges(d, O_RDONLY, &r, 1);
	ASSERT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
}

TEST(open_flags_read_only)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	const struct vfio_region_dma_range r = R(0, 2 * P);
	__u8 *want = fill_bar2(d, 2 * P, 4), *map;
	int ro;

	ro = export_ranges(d, O_RDONLY | O_CLOEXEC, &r, 1);
	ASSERT_EQ(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	ASSERT_ERRNO(mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, ro,
			  0), EACCES);
	ASSERT_ERRNO(mmap(NULL, 2 * P, PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	map = mmap_defer(2 * P, PROT_READ, MAP_SHARED, ro, 0);
	assert_same(map, want, 2 * P, "read-only mapping");
	/* Nor can it be made writable afterwards. */
	ASSERT_ERRNO(mprotect(map, 2 * P, PROT_READ | PROT_WRITE), EACCES);
	free(want);
}

TEST(open_flags_read_write_and_write_only)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	const struct vfio_region_dma_range r = R(0, 2 * P);
	__u8 *want = fill_bar2(d, 2 * P, 4), *map;
	int rw, wo;
	__u32 v;

	rw = export_ranges(d, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_EQ(fcntl(rw, F_GETFL) & O_ACCMODE, O_RDWR);
	map = mmap_defer(2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
	assert_same(map, want, 2 * P, "read-write mapping");
	map[P + 7] = 0x77;
	ASSERT_EQ(region_pread(d, MEM, &v, 1, P + 7), 1);
	ASSERT_EQ(v & 0xff, 0x77);

	/* Write-only is a valid access mode; mapping needs read access. */
	wo = export_ranges(d, O_WRONLY | O_CLOEXEC, &r, 1);
	ASSERT_EQ(fcntl(wo, F_GETFL) & O_ACCMODE, O_WRONLY);
	ASSERT_ERRNO(mmap(NULL, 2 * P, PROT_READ, MAP_SHARED, wo, 0), EACCES);
	free(want);
}

TEST(sync_ioctl)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int fd = dmabuf_export(d, 0, 4 * P);

	assert_sync(fd, 0);
	/* The core's own checks still come first. */
	ASSERT_ERRNO(dmabuf_sync(fd, DMA_BUF_SYNC_START), EINVAL);
	ASSERT_ERRNO(dmabuf_sync(fd, DMA_BUF_SYNC_RW | 8), EINVAL);

	/* Revoked: START and END alike. */
	set_memory_decode(d, false);
	assert_sync(fd, ENODEV);
	assert_sync_end(fd, ENODEV);
	set_memory_decode(d, true);
	assert_sync(fd, 0);
}

TEST(bufinfo_entry)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	static const struct vfio_region_dma_range r[] = {
		R(0, 2 * P), R(P, P),
	};
	struct bufinfo_entry e;
	struct stat st;
	int a, b;

	bufinfo_ensure();
	ASSERT_EQ(bufinfo_find(0, bar2_name(d), NULL), 0);
	a = dmabuf_export_raw(d, MEM, O_RDWR | O_CLOEXEC, 0, r, 2, 0);
	ASSERT_OK(a);
	ktap_defer(close_fd, (void *)(long)a);
	bufinfo_of_fd(a, &e);
	ASSERT_OK(fstat(a, &st));
	ASSERT_EQ(e.ino, st.st_ino);
	ASSERT_EQ(e.size, 3 * P);
	ASSERT_EQ(strcmp(e.exp_name, "refmdev"), 0);
	if (strcmp(e.name, bar2_name(d)))
		FAIL("name '%s', expected '%s'", e.name, bar2_name(d));
	ASSERT_EQ(e.f_flags & O_ACCMODE, O_RDWR);
	ASSERT_EQ(e.attached, 0);

	/* Each export is its own dma-buf; closing one removes only it. */
	b = dmabuf_export_raw(d, MEM, O_RDONLY | O_CLOEXEC, 0, r, 1, 0);
	ASSERT_OK(b);
	ASSERT_EQ(bufinfo_find(0, bar2_name(d), NULL), 2);
	bufinfo_of_fd(b, &e);
	ASSERT_EQ(e.size, 2 * P);
	ASSERT_EQ(e.f_flags & O_ACCMODE, O_RDONLY);
	ASSERT_OK(close(b));
	ASSERT_EQ(bufinfo_find(0, bar2_name(d), NULL), 1);
	ASSERT_EQ(bufinfo_find(st.st_ino, bar2_name(d), NULL), 1);
}

/*
 * bufinfo_ensure() mounts debugfs where nothing is mounted. Shown in a
 * private mount namespace, so the rest of the system keeps its debugfs.
 */
TEST(bufinfo_without_debugfs_mounted)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct bufinfo_entry e;
	int fd;

	ASSERT_OK(unshare(CLONE_NEWNS));
	ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	if (!access(BUFINFO_PATH, F_OK))
		ASSERT_OK(umount2("/sys/kernel/debug", MNT_DETACH));
	ASSERT_ERRNO(access(BUFINFO_PATH, F_OK), ENOENT);

	fd = dmabuf_export(d, 0, P);
	bufinfo_of_fd(fd, &e);
	ASSERT_EQ(e.size, P);
	ASSERT_EQ(strcmp(e.exp_name, "refmdev"), 0);
}

/*
 * Every revocation trigger (selftests/lib/revoke.h) as the CPU sees it,
 * through two dma-bufs over the same pages (all of BAR2, and its last 8
 * pages) and the BAR2 mmap: revoked before the trigger returns (loads
 * and stores fault, SYNC fails), and once restored the same mappings
 * reach the device's memory as it is then, new and zeroed or the same.
 */
FIXTURE(revoke) {
	struct vfio_dev *d;
	int fa, fb;
	__u8 *a, *b, *bar, *want;
};

FIXTURE_VARIANT(revoke) {
	const struct revoke_trigger *t;
};

FIXTURE_VARIANT_ADD(revoke, vfio_reset) { .t = &revoke_vfio_reset };
FIXTURE_VARIANT_ADD(revoke, ctrl_reset) { .t = &revoke_ctrl_reset };
FIXTURE_VARIANT_ADD(revoke, decode_off) { .t = &revoke_decode_off };
FIXTURE_VARIANT_ADD(revoke, flr) { .t = &revoke_flr };

FIXTURE_SETUP(revoke)
{
	static const struct vfio_region_dma_range r = R(SZ_1M - 8 * P, 8 * P);
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	self->d = d;
	self->fa = dmabuf_export(d, 0, SZ_1M);
	self->fb = export_ranges(d, RW, &r, 1);
	self->a = mmap_defer(SZ_1M, PROT_READ | PROT_WRITE, MAP_SHARED,
			     self->fa, 0);
	self->b = mmap_defer(8 * P, PROT_READ | PROT_WRITE, MAP_SHARED,
			     self->fb, 0);
	self->bar = mmap_defer(SZ_1M, PROT_READ | PROT_WRITE, MAP_SHARED,
			       d->device, d->offset[MEM]);
	self->want = xmalloc(SZ_1M);
}

FIXTURE_TEARDOWN(revoke)
{
	free(self->want);
}

TEST_F(revoke, cpu_mappings_revoked_then_restored)
{
	const struct revoke_trigger *t = variant->t;
	__u8 *a = self->a, *b = self->b, *bar = self->bar, *buf;
	/* Decode off and on again keeps the memory: more rounds of it. */
	int i, rounds = t->new_memory ? 3 : 10;
	__u32 v;

	for (i = 0; i < rounds; i++) {
		fill_random(self->want, SZ_1M, 5 + i);
		memcpy(a, self->want, SZ_1M);
		ASSERT_EQ(memcmp(b, a + SZ_1M - 8 * P, 8 * P), 0);

		t->revoke(self->d);
		if (t->restore) {
			/* Revoked before the trigger returned. */
			assert_all_fault(a, SZ_1M);
			assert_all_fault(b, 8 * P);
			assert_sync(self->fa, ENODEV);
			assert_sync(self->fb, ENODEV);
			t->restore(self->d);
		}
		assert_none_fault(a, SZ_1M);
		assert_none_fault(b, 8 * P);
		buf = read_bar2(self->d, SZ_1M);
		if (t->new_memory) {
			assert_zero(a, SZ_1M, "dma-buf after restore");
			assert_zero(b, 8 * P, "second dma-buf after restore");
			assert_zero(bar, SZ_1M, "BAR2 mmap after restore");
			assert_zero(buf, SZ_1M, "BAR2 after restore");
		} else {
			/* Same memory, and the faulting stores wrote nothing. */
			assert_same(a, self->want, SZ_1M, "dma-buf after restore");
			assert_same(bar, self->want, SZ_1M,
				    "BAR2 mmap after restore");
			assert_same(buf, self->want, SZ_1M, "BAR2 after restore");
		}
		free(buf);
		assert_sync(self->fa, 0);
		assert_sync(self->fb, 0);

		/* The mappings reach the memory the device has now. */
		v = 0xabcd0000 + i;
		memcpy(a + SZ_1M - P, &v, 4);
		memcpy(&v, b + 7 * P, 4);
		ASSERT_EQ(v, 0xabcd0000 + i);
		memcpy(&v, bar + SZ_1M - P, 4);
		ASSERT_EQ(v, 0xabcd0000 + i);
		ASSERT_EQ(region_pread(self->d, MEM, &v, 4, SZ_1M - P), 4);
		ASSERT_EQ(v, 0xabcd0000 + i);
	}
}

TEST(export_while_decode_off_starts_revoked)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *want = fill_bar2(d, 16 * P, 7), *map;
	int fd;

	set_memory_decode(d, false);
	fd = dmabuf_export(d, 0, 16 * P);
	ASSERT_EQ(lseek(fd, 0, SEEK_END), 16 * P);
	map = mmap_defer(16 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_all_fault(map, 16 * P);
	assert_sync(fd, ENODEV);

	set_memory_decode(d, true);
	assert_none_fault(map, 16 * P);
	assert_same(map, want, 16 * P, "dma-buf after decode on");
	assert_sync(fd, 0);
}

static void vfio_close_cb(void *arg)
{
	vfio_close(arg);
}

/*
 * Closing the device kills its dma-bufs for good: reopening gives a new
 * device life that old dma-bufs are no part of. The mdev can then be
 * removed while a dma-buf is still open and mapped, and that dma-buf
 * closed afterwards.
 */
TEST(device_close_kills_dmabuf)
{
	const char *uuid = mdev_create(TYPE_1M);
	struct vfio_region_dma_range r = R(0, 4 * P);
	char path[128], name[UUID_LEN + 8];
	struct vfio_dev d, d2;
	int fd, fd2;
	__u8 *map, *map2;

	snprintf(name, sizeof(name), "%s:bar2", uuid);
	/* Closed here unless an assertion ends the test first. */
	d.device = -1;
	d.group = -1;
	d.container = -1;
	d.iommufd = -1;
	d2 = d;
	ktap_defer(vfio_close_cb, &d);
	ktap_defer(vfio_close_cb, &d2);
	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	fd = dmabuf_export_raw(&d, MEM, O_RDWR | O_CLOEXEC, 0, &r, 1, 0);
	ASSERT_OK(fd);
	map = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	memset(map, 0x3c, 4 * P);
	vfio_close(&d);

	assert_all_fault(map, 4 * P);
	assert_sync(fd, ENODEV);
	ASSERT_EQ(lseek(fd, 0, SEEK_END), 4 * P);

	/* Reopen: the device starts clean and the old dma-buf stays dead. */
	ASSERT_EQ(vfio_open_raw(uuid, &d2), 0);
	assert_all_fault(map, 4 * P);
	assert_sync(fd, ENODEV);
	set_memory_decode(&d2, false);
	set_memory_decode(&d2, true);
	ASSERT_OK(ioctl(d2.device, VFIO_DEVICE_RESET));
	assert_all_fault(map, 4 * P);
	assert_sync(fd, ENODEV);
	/* A new export works, on the new (zeroed) memory. */
	fd2 = dmabuf_export_raw(&d2, MEM, O_RDWR | O_CLOEXEC, 0, &r, 1, 0);
	ASSERT_OK(fd2);
	map2 = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	ASSERT_TRUE(map2 != MAP_FAILED);
	assert_zero(map2, 4 * P, "new dma-buf after reopen");
	vfio_close(&d2);
	assert_all_fault(map2, 4 * P);

	/* Both dma-bufs are still open and mapped: removal must not wait. */
	ASSERT_EQ(mdev_remove(uuid), 0);
	snprintf(path, sizeof(path), MDEV_DEVICES "/%s", uuid);
	ASSERT_TRUE(!path_exists(path));
	assert_all_fault(map, 4 * P);
	assert_sync(fd, ENODEV);
	assert_sync(fd2, ENODEV);
	ASSERT_EQ(lseek(fd, 0, SEEK_END), 4 * P);
	ASSERT_EQ(bufinfo_find(0, name, NULL), 2);
	ASSERT_OK(munmap(map, 4 * P));
	ASSERT_OK(close(fd));
	ASSERT_OK(close(fd2));
	ASSERT_OK(munmap(map2, 4 * P));
	/* The last references are gone, and so are the dma-bufs. */
	ASSERT_EQ(bufinfo_find(0, name, NULL), 0);
}

static int wait_byte(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	if (read(fd, &c, 1) != 1)
		return -1;
	return c;
}

static void put_byte(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		FAIL("pipe write: %s", strerror(errno));
}

static void send_fd(int sock, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u = { 0 };
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		FAIL("sendmsg: %s", strerror(errno));
}

static int recv_fd(int sock, int timeout_ms)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} u = { 0 };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (poll(&pfd, 1, timeout_ms) != 1)
		FAIL("no fd within %d ms", timeout_ms);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		FAIL("recvmsg: %s", strerror(errno));
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		FAIL("no SCM_RIGHTS message");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#define PASS_LEN	(16 * P)
#define PASS_SEED	8
#define WAIT_MS		20000

static pid_t pass_child;

/* The receiver's word, or a failure that says how the receiver ended. */
static void expect_from_child(int fd, char want, const char *what)
{
	int c = wait_byte(fd, WAIT_MS), status;

	if (c == want)
		return;
	if (waitpid(pass_child, &status, WNOHANG) != pass_child)
		FAIL("the receiver did not %s within %d ms", what, WAIT_MS);
	pass_child = 0;
	if (WIFSIGNALED(status))
		FAIL("the receiver was killed by %s before it could %s",
		     sigabbrev_np(WTERMSIG(status)), what);
	FAIL("the receiver exited with %d before it could %s",
	     WEXITSTATUS(status), what);
}

static void reap_pass_child(void *arg)
{
	(void)arg;
	if (pass_child > 0) {
		kill(pass_child, SIGKILL);
		waitpid(pass_child, NULL, 0);
	}
}

/*
 * How the dma-buf reaches the other process: over an AF_UNIX socket with
 * SCM_RIGHTS, or taken from the sender with pidfd_getfd(), for kernels
 * built without AF_UNIX (the debug kernel's tinyconfig base has no
 * networking at all).
 */
enum pass_how { PASS_SCM_RIGHTS, PASS_PIDFD_GETFD };

static int take_fd(enum pass_how how, int sock, int from_parent)
{
	int number, pidfd, fd;

	if (how == PASS_SCM_RIGHTS)
		return recv_fd(sock, WAIT_MS);
	/* The sender's descriptor number comes as one byte. */
	number = wait_byte(from_parent, WAIT_MS);
	if (number < 0)
		FAIL("no descriptor number from the parent");
	pidfd = pidfd_open(getppid(), 0);
	ASSERT_OK(pidfd);
	fd = pidfd_getfd(pidfd, number, 0);
	if (fd < 0)
		FAIL("pidfd_getfd of the parent's fd %d: %s", number,
		     strerror(errno));
	close(pidfd);
	return fd;
}

/* The receiving process: check the data, then see the revocation. */
static noreturn void pass_receiver(enum pass_how how, int sock,
				   int from_parent, int to_parent)
{
	__u8 *want = xmalloc(PASS_LEN), *map;
	int fd = take_fd(how, sock, from_parent);

	ASSERT_EQ(lseek(fd, 0, SEEK_END), PASS_LEN);
	map = mmap(NULL, PASS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	fill_random(want, PASS_LEN, PASS_SEED);
	assert_same(map, want, PASS_LEN, "received dma-buf");
	assert_sync(fd, 0);
	put_byte(to_parent, 'R');

	if (wait_byte(from_parent, WAIT_MS) != 'G')
		FAIL("no word from the parent");
	assert_all_fault(map, PASS_LEN);
	assert_sync(fd, ENODEV);
	put_byte(to_parent, 'S');

	if (wait_byte(from_parent, WAIT_MS) != 'G')
		FAIL("no second word from the parent");
	assert_none_fault(map, PASS_LEN);
	assert_same(map, want, PASS_LEN, "received dma-buf after decode on");
	put_byte(to_parent, 'S');
	ktap_finish(0);
}

/*
 * Another process maps a dma-buf it was given and reads what this one
 * wrote; clearing memory decoding here revokes its mapping there.
 * Steps are paced by pipes, each wait bounded.
 */
static void pass_to_another_process(enum pass_how how)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int sv[2] = { -1, -1 }, to_child[2], to_parent[2], fd;
	int status = -1, i;
	__u8 *want;

	if (how == PASS_SCM_RIGHTS) {
		/* AF_UNIX registers this file wherever it exists. */
		if (!path_exists("/proc/net/unix"))
			SKIP("no AF_UNIX sockets in this kernel");
		ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     sv));
	}
	ASSERT_OK(pipe2(to_child, O_CLOEXEC));
	ASSERT_OK(pipe2(to_parent, O_CLOEXEC));
	/* Forked before the export: the child cannot inherit the dma-buf. */
	pass_child = ktap_fork();
	if (!pass_child) {
		close(sv[0]);
		close(to_child[1]);
		close(to_parent[0]);
		pass_receiver(how, sv[1], to_child[0], to_parent[1]);
	}
	ktap_defer(reap_pass_child, NULL);
	close(sv[1]);
	close(to_child[0]);
	close(to_parent[1]);

	want = fill_bar2(d, PASS_LEN, PASS_SEED);
	fd = dmabuf_export_raw(d, MEM, O_RDWR | O_CLOEXEC, 0,
			       &(struct vfio_region_dma_range)R(0, PASS_LEN),
			       1, 0);
	ASSERT_OK(fd);
	if (how == PASS_SCM_RIGHTS) {
		send_fd(sv[0], fd);
	} else {
		ASSERT_TRUE(fd < 128);
		put_byte(to_child[1], fd);
	}
	expect_from_child(to_parent[0], 'R', "read the data");
	/* The receiver's reference alone keeps the dma-buf. */
	ASSERT_OK(close(fd));

	set_memory_decode(d, false);
	put_byte(to_child[1], 'G');
	expect_from_child(to_parent[0], 'S', "see the revocation");

	set_memory_decode(d, true);
	put_byte(to_child[1], 'G');
	expect_from_child(to_parent[0], 'S', "see the restore");

	for (i = 0; i < WAIT_MS / 10; i++) {
		if (waitpid(pass_child, &status, WNOHANG) == pass_child)
			break;
		usleep(10000);
	}
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pass_child = 0;
	free(want);
}

TEST(fd_passed_over_scm_rights)
{
	pass_to_another_process(PASS_SCM_RIGHTS);
}

TEST(fd_taken_with_pidfd_getfd)
{
	pass_to_another_process(PASS_PIDFD_GETFD);
}
