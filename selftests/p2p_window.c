// SPDX-License-Identifier: GPL-2.0
/*
 * P2P windows: device A exports its BAR2 as a dma-buf, device B attaches
 * it at an IOVA, and B's DMA engine reaches A's memory through it, without
 * pinning anything. Covered: every errno of the window ioctls, the window
 * states and the notification counter, copies and fills of every shape
 * with every byte of A's BAR2 checked (through A's region and a CPU
 * mapping of it), windows over multi-range exports, descriptors that
 * straddle a window, and A revoking the dma-buf (decode off, resets,
 * close, removal) with nothing written afterwards, also while a second
 * process streams descriptors into the window; DETACH and the importer's
 * death as barriers too.
 */
#include <linux/pci_regs.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dma_util.h"
#include "ktap.h"
#include "p2p_util.h"
#include "pin_cache_util.h"
#include "revoke.h"
#include "two_devs.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define SRC_IOVA	0x10000000ull	/* B's guest memory, sources */
#define DST_IOVA	0x40000000ull	/* B's guest memory, destinations */
#define WIN_IOVA	0x80000000ull	/* where B sees the dma-buf */
#define WIN2_IOVA	0xc0000000ull	/* a second window */
#define GUEST_SIZE	(2u << 20)
#define KIB		1024u
#define MIB		(1024u * 1024u)
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define BAR2		REFMDEV_DEVMEM_BAR
#define COPY		REFMDEV_DMA_OP_COPY
#define FILL		REFMDEV_DMA_OP_FILL
#define SRC_DEVMEM	REFMDEV_DMA_F_SRC_DEVMEM
#define DST_DEVMEM	REFMDEV_DMA_F_DST_DEVMEM
#define ST_OK		REFMDEV_DMA_ST_OK
#define ST_REVOKED	REFMDEV_DMA_ST_PEER_REVOKED
#define ST_RANGE	REFMDEV_DMA_ST_PEER_RANGE
#define GUARD		0x5a
#define ATTACH		REFMDEV_P2P_WINDOW_ATTACH
#define DETACH		REFMDEV_P2P_WINDOW_DETACH
#define QUERY		REFMDEV_P2P_WINDOW_QUERY
#define DECODE_ON	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

static void bar_fill(struct vfio_dev *d, __u8 val)
{
	size_t len = d->size[BAR2];
	__u8 *buf = malloc(len);

	ASSERT_TRUE(buf);
	memset(buf, val, len);
	bar2_write(d, buf, len, 0);
	free(buf);
}

/* A window request with everything valid; tests spoil one field. */
static struct refmdev_p2p_window win(__u32 index, int fd, __u64 iova)
{
	struct refmdev_p2p_window w = {
		.argsz = sizeof(w), .index = index, .dmabuf_fd = fd,
		.iova = iova,
	};

	return w;
}

static struct refmdev_p2p_window query(struct vfio_dev *d, __u32 index)
{
	struct refmdev_p2p_window w;
	int ret = window_query_raw(d, index, &w);

	if (ret)
		FAIL("QUERY of slot %u: %s", index, strerror(-ret));
	return w;
}

static __u32 state(struct vfio_dev *d, __u32 index)
{
	return query(d, index).state;
}

static void assert_all_empty(struct vfio_dev *d)
{
	__u32 i;

	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		struct refmdev_p2p_window w = query(d, i);

		ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_EMPTY);
		ASSERT_EQ(w.dmabuf_fd, -1);
	}
}

/*
 * How many devices the dma-buf behind @fd has attached, from debugfs:
 * the line after the buffer's own (matched by inode) that says
 * "Total N devices attached". Skips the test without debugfs.
 */
static int attached_devices(int fd)
{
	unsigned long ino;
	char line[512], name[128];
	struct stat st;
	bool mine = false;
	int count = -1, n;
	FILE *f;

	ASSERT_OK(fstat(fd, &st));
	f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	if (!f)
		SKIP("no /sys/kernel/debug/dma_buf/bufinfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long size, flags, mode;
		long refs;

		if (sscanf(line, "%lu %lx %lx %ld %127s %lu", &size, &flags,
			   &mode, &refs, name, &ino) == 6) {
			mine = ino == st.st_ino;
			continue;
		}
		if (mine && sscanf(line, "Total %d devices attached", &n) == 1) {
			count = n;
			mine = false;
		}
	}
	fclose(f);
	if (count < 0)
		FAIL("dma-buf inode %lu not in bufinfo", (unsigned long)st.st_ino);
	return count;
}

/*
 * The usual pair (selftests/lib/two_devs.h): A (the exporter) exports
 * ranges of its BAR2, B (the importer) attaches the dma-buf in slot 0 at
 * WIN_IOVA.
 */
struct p2p {
	struct two_devs dev;
	int buf;
	struct vfio_region_dma_range ranges[4];
	__u32 nranges;
	__u64 size;
};

static struct p2p p2p;

static struct p2p *p2p_setup_ranges(const struct vfio_region_dma_range *r,
				    __u32 n)
{
	struct p2p *p = &p2p;
	__u64 size = 0;
	__u32 i;

	two_devs_setup(&p->dev, 64, SRC_IOVA, DST_IOVA, GUEST_SIZE);
	p->buf = export_ranges(p->dev.a, O_RDWR | O_CLOEXEC, r, n);
	memcpy(p->ranges, r, n * sizeof(*r));
	p->nranges = n;
	p->size = 0;
	for (i = 0; i < n; i++)
		p->size += r[i].length;
	ASSERT_EQ(window_attach_raw(p->dev.b, 0, p->buf, WIN_IOVA, &size), 0);
	ASSERT_EQ(size, p->size);
	return p;
}

/* The default export: 512 KiB from 128 KiB into A's 1 MiB BAR2. */
#define BUF_OFF		(128 * KIB)
#define BUF_SIZE	(512 * KIB)

static struct p2p *p2p_setup(void)
{
	struct vfio_region_dma_range r = { .offset = BUF_OFF,
					   .length = BUF_SIZE };

	return p2p_setup_ranges(&r, 1);
}

/* The BAR2 offset behind window offset @woff: the ranges concatenated. */
static __u64 window_to_bar(struct p2p *p, __u64 woff)
{
	__u32 i;

	for (i = 0; i < p->nranges; i++) {
		if (woff < p->ranges[i].length)
			return p->ranges[i].offset + woff;
		woff -= p->ranges[i].length;
	}
	FAIL("window offset beyond the dma-buf");
}

/* What A's BAR2 should hold after writing @data at window offset @woff. */
static void apply(struct p2p *p, __u8 *image, __u64 woff, const __u8 *data,
		  size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		image[window_to_bar(p, woff + i)] = data[i];
}

/* A's BAR2 must be @want, through the region and through the mmap. */
static void expect_bar(struct p2p *p, const __u8 *want, const char *what)
{
	__u8 *got = malloc(p->dev.bar_size);
	size_t i;

	ASSERT_TRUE(got);
	bar2_read(p->dev.a, got, p->dev.bar_size, 0);
	for (i = 0; i < p->dev.bar_size; i++)
		if (got[i] != want[i])
			FAIL("%s: A's BAR2 byte 0x%zx is 0x%02x, expected 0x%02x",
			     what, i, got[i], want[i]);
	if (p->dev.bar)
		for (i = 0; i < p->dev.bar_size; i++)
			if (p->dev.bar[i] != want[i])
				FAIL("%s: A's BAR2 mmap byte 0x%zx is 0x%02x, expected 0x%02x",
				     what, i, p->dev.bar[i], want[i]);
	free(got);
}

static void expect_guest(struct guest_mem *m, const __u8 *want,
			 const char *what)
{
	const __u8 *got = m->va;
	size_t i;

	for (i = 0; i < m->size; i++)
		if (got[i] != want[i])
			FAIL("%s: guest byte 0x%zx is 0x%02x, expected 0x%02x",
			     what, i, got[i], want[i]);
}

/* Guest memory (src + @so) into the window at @woff, every byte checked. */
static void check_to_window(struct p2p *p, size_t so, __u64 woff, __u32 len,
			    unsigned int seed)
{
	__u8 *want = malloc(p->dev.bar_size), *src = p->dev.src->va;
	char what[96];

	ASSERT_TRUE(want);
	snprintf(what, sizeof(what), "guest +0x%zx -> window +0x%llx, %u bytes",
		 so, (unsigned long long)woff, len);
	memset(want, GUARD, p->dev.bar_size);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	fill_random(src + so, len, seed);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA + so, WIN_IOVA + woff, len, COPY),
		  ST_OK);
	apply(p, want, woff, src + so, len);
	expect_bar(p, want, what);
	free(want);
}

/* The window at @woff into guest memory (dst + @doff). */
static void check_from_window(struct p2p *p, __u64 woff, size_t doff,
			      __u32 len, unsigned int seed)
{
	__u8 *bar = malloc(p->dev.bar_size), *want = malloc(p->dev.dst->size);
	char what[96];
	size_t i;

	ASSERT_TRUE(bar && want);
	snprintf(what, sizeof(what), "window +0x%llx -> guest +0x%zx, %u bytes",
		 (unsigned long long)woff, doff, len);
	fill_random(bar, p->dev.bar_size, seed);
	bar2_write(p->dev.a, bar, p->dev.bar_size, 0);
	memset(p->dev.dst->va, GUARD, p->dev.dst->size);
	memset(want, GUARD, p->dev.dst->size);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA + woff, DST_IOVA + doff, len, COPY),
		  ST_OK);
	for (i = 0; i < len; i++)
		want[doff + i] = bar[window_to_bar(p, woff + i)];
	expect_guest(p->dev.dst, want, what);
	free(bar);
	free(want);
}

/* Re-program B's ring after a reset of B put its engine back to power-on. */
static void ring_restart(struct dma_ring *r)
{
	cfg_write(r->dev, PCI_COMMAND, 2, DECODE_ON);
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_BASE, 8, r->mem->iova);
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_SIZE, 4, r->size);
	bar0_write(r->dev, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
	r->tail = 0;
}

/* The descriptor a bad ATTACH row passes. */
enum attach_fd {
	FD_DMABUF,		/* A's dma-buf: the row spoils something else */
	FD_MINUS_1,
	FD_MINUS_1000,
	FD_NOT_OPEN,		/* 900, checked to be free */
	FD_PIPE_READ,		/* files, but not dma-bufs */
	FD_PIPE_WRITE,
	FD_EVENTFD,
	FD_VFIO_DEVICE,
};

FIXTURE(bad_attach) {
	struct vfio_dev *a, *b;
	int buf, fds[2], efd;
};

FIXTURE_VARIANT(bad_attach) {
	const char *name;
	__u32 argsz_short;	/* bytes less than sizeof(struct refmdev_p2p_window) */
	__u32 flags, index;
	enum attach_fd fd;
	__u64 iova_off;		/* added to WIN_IOVA */
	int err;
};

/* Every malformed ATTACH into an empty device, each with its errno. */
static const FIXTURE_VARIANT(bad_attach) bad_attaches[] = {
	{ .name = "argsz 1 short", .argsz_short = 1, .err = EINVAL },
	{ .name = "argsz 0", .argsz_short = sizeof(struct refmdev_p2p_window),
	  .err = EINVAL },
	{ .name = "flags bit 0", .flags = 1, .err = EINVAL },
	{ .name = "flags bit 31", .flags = 1u << 31, .err = EINVAL },
	{ .name = "index past the last", .index = REFMDEV_P2P_WINDOWS,
	  .err = EINVAL },
	{ .name = "index 0xffffffff", .index = ~0u, .err = EINVAL },
	{ .name = "iova + 1", .iova_off = 1, .err = EINVAL },
	{ .name = "iova + 2048", .iova_off = 2048, .err = EINVAL },
	{ .name = "iova + 4095", .iova_off = 4095, .err = EINVAL },
	/* Not a file, or not a dma-buf. */
	{ .name = "fd -1", .fd = FD_MINUS_1, .err = EBADF },
	{ .name = "fd -1000", .fd = FD_MINUS_1000, .err = EBADF },
	{ .name = "fd not open", .fd = FD_NOT_OPEN, .err = EBADF },
	{ .name = "pipe read end", .fd = FD_PIPE_READ, .err = EINVAL },
	{ .name = "pipe write end", .fd = FD_PIPE_WRITE, .err = EINVAL },
	{ .name = "eventfd", .fd = FD_EVENTFD, .err = EINVAL },
	{ .name = "VFIO device fd", .fd = FD_VFIO_DEVICE, .err = EINVAL },
	/* The window would run past 2^64. */
	{ .name = "window ends at 2^64 + 1 MiB - 4 KiB",
	  .iova_off = 0xfffffffffffff000ull - WIN_IOVA, .err = EOVERFLOW },
	{ .name = "window ends at 2^64 + 512 KiB",
	  .iova_off = 0ull - MIB / 2 - WIN_IOVA, .err = EOVERFLOW },
};

FIXTURE_VARIANT_TABLE(bad_attach, bad_attaches);

FIXTURE_SETUP(bad_attach)
{
	self->a = vfio_open(mdev_create(TYPE_1M));
	self->b = vfio_open(mdev_create(TYPE_1M));
	self->buf = dmabuf_export(self->a, 0, MIB);
	self->efd = new_eventfd();
	ASSERT_OK(pipe2(self->fds, O_CLOEXEC));
	ktap_defer(close_fd, (void *)(long)self->fds[0]);
	ktap_defer(close_fd, (void *)(long)self->fds[1]);
}

FIXTURE_TEARDOWN(bad_attach)
{
}

TEST_F(bad_attach, exact_errno_nothing_attached)
{
	const int fd[] = {
		[FD_DMABUF] = self->buf, [FD_MINUS_1] = -1,
		[FD_MINUS_1000] = -1000, [FD_NOT_OPEN] = 900,
		[FD_PIPE_READ] = self->fds[0], [FD_PIPE_WRITE] = self->fds[1],
		[FD_EVENTFD] = self->efd, [FD_VFIO_DEVICE] = self->b->device,
	};
	struct refmdev_p2p_window w = win(variant->index, fd[variant->fd],
					  WIN_IOVA + variant->iova_off);

	if (variant->fd == FD_NOT_OPEN)
		ASSERT_ERRNO(fcntl(900, F_GETFD), EBADF);
	w.argsz -= variant->argsz_short;
	w.flags = variant->flags;
	ASSERT_ERRNO(ioctl(self->b->device, ATTACH, &w), variant->err);
	/* Nothing left behind, and the dma-buf still attaches. */
	assert_all_empty(self->b);
	ASSERT_EQ(attached_devices(self->buf), 0);
	ASSERT_EQ(window_attach_raw(self->b, 0, self->buf, WIN_IOVA, NULL), 0);
	ASSERT_EQ(attached_devices(self->buf), 1);
}

/*
 * ATTACH fills every output field, whatever the caller left in them, and
 * writes them back before the window exists: when the write-back faults
 * (the request sits in a read-only page, so it can be read but not
 * written), nothing was attached, not even for a moment.
 */
TEST(attach_write_back)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(a, 0, MIB);
	struct refmdev_p2p_window w = win(0, buf, WIN_IOVA), *ro;

	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	*ro = w;
	ASSERT_OK(mprotect(ro, 4096, PROT_READ));
	ASSERT_ERRNO(ioctl(b->device, ATTACH, ro), EFAULT);
	assert_all_empty(b);
	ASSERT_EQ(attached_devices(buf), 0);
	ASSERT_OK(munmap(ro, 4096));

	w.size = 1;
	w.state = 0xdead;
	w.notifications = 77;
	ASSERT_OK(ioctl(b->device, ATTACH, &w));
	ASSERT_EQ(w.size, MIB);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_UNMAPPED);
	ASSERT_EQ(w.notifications, 0);
	/* What the caller passed comes back unchanged. */
	ASSERT_EQ(w.argsz, sizeof(w));
	ASSERT_EQ(w.flags, 0);
	ASSERT_EQ(w.index, 0);
	ASSERT_EQ(w.dmabuf_fd, buf);
	ASSERT_EQ(w.iova, WIN_IOVA);
	/* And QUERY agrees with what ATTACH wrote. */
	ASSERT_EQ(state(b, 0), REFMDEV_P2P_WINDOW_UNMAPPED);
	ASSERT_EQ(query(b, 0).notifications, 0);
	ASSERT_EQ(attached_devices(buf), 1);
}

/* With slots taken: busy slots and overlapping windows. */
TEST(attach_errors)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(a, 0, MIB), small = dmabuf_export(a, 0, 64 * KIB);
	__u64 size = 0;

	/* Slot 0: [WIN, WIN + 1 MiB). */
	ASSERT_EQ(window_attach_raw(b, 0, buf, WIN_IOVA, &size), 0);
	ASSERT_EQ(size, MIB);
	ASSERT_EQ(attached_devices(buf), 1);
	/* A slot in use, wherever the new window would go. */
	ASSERT_EQ(window_attach_raw(b, 0, small, WIN2_IOVA, NULL), -EBUSY);
	ASSERT_EQ(window_attach_raw(b, 0, buf, WIN_IOVA, NULL), -EBUSY);
	/* Overlaps with slot 0: at its start, inside, at its end, around it. */
	ASSERT_EQ(window_attach_raw(b, 1, small, WIN_IOVA, NULL), -EEXIST);
	ASSERT_EQ(window_attach_raw(b, 1, small, WIN_IOVA + 256 * KIB, NULL),
		  -EEXIST);
	ASSERT_EQ(window_attach_raw(b, 1, small, WIN_IOVA + MIB - 4096, NULL),
		  -EEXIST);
	ASSERT_EQ(window_attach_raw(b, 1, small, WIN_IOVA - 4096, NULL),
		  -EEXIST);
	ASSERT_EQ(window_attach_raw(b, 1, buf, WIN_IOVA - MIB / 2, NULL),
		  -EEXIST);
	/* Slot 1 further up; a 1 MiB window around it overlaps. */
	ASSERT_EQ(window_attach_raw(b, 1, small, WIN_IOVA + 2 * MIB, NULL), 0);
	ASSERT_EQ(window_attach_raw(b, 2, buf, WIN_IOVA + 3 * MIB / 2, NULL),
		  -EEXIST);
	ASSERT_EQ(window_attach_raw(b, 2, buf, WIN_IOVA + MIB + 4096, NULL),
		  -EEXIST);
	/* Touching windows do not overlap. */
	ASSERT_EQ(window_attach_raw(b, 2, small, WIN_IOVA + MIB, NULL), 0);
	ASSERT_EQ(window_attach_raw(b, 3, small, WIN_IOVA - 64 * KIB, NULL), 0);
	/* All four taken: any slot is busy. */
	ASSERT_EQ(window_attach_raw(b, 3, small, WIN2_IOVA, NULL), -EBUSY);
	ASSERT_EQ(attached_devices(small), 3);

	/* The failures changed nothing. */
	ASSERT_EQ(query(b, 0).iova, WIN_IOVA);
	ASSERT_EQ(query(b, 0).size, MIB);
	ASSERT_EQ(query(b, 1).iova, WIN_IOVA + 2 * MIB);
	ASSERT_EQ(query(b, 2).iova, WIN_IOVA + MIB);
	ASSERT_EQ(query(b, 3).iova, WIN_IOVA - 64 * KIB);
	ASSERT_EQ(query(b, 3).size, 64 * KIB);
}

TEST(detach_and_query_errors)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(a, 0, 64 * KIB);
	struct refmdev_p2p_window w;
	__u32 i;

	/* Every slot of a new device: EMPTY, and nothing to detach. */
	assert_all_empty(b);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		ASSERT_EQ(window_detach_raw(b, i), -ENOENT);

	for (i = 0; i < 2; i++) {
		unsigned long cmd = i ? QUERY : DETACH;

		w = win(0, -1, 0);
		w.argsz = sizeof(w) - 1;
		ASSERT_ERRNO(ioctl(b->device, cmd, &w), EINVAL);
		w = win(0, -1, 0);
		w.flags = 1;
		ASSERT_ERRNO(ioctl(b->device, cmd, &w), EINVAL);
		w = win(REFMDEV_P2P_WINDOWS, -1, 0);
		ASSERT_ERRNO(ioctl(b->device, cmd, &w), EINVAL);
		w = win(~0u, -1, 0);
		ASSERT_ERRNO(ioctl(b->device, cmd, &w), EINVAL);
	}
	/* Other numbers of the ioctl type are not ours to answer. */
	ASSERT_ERRNO(ioctl(b->device, _IOWR(REFMDEV_IOCTL_TYPE, 0x03,
					    struct refmdev_p2p_window), &w),
		     ENOTTY);

	/* QUERY reports the attachment but never a file descriptor. */
	ASSERT_EQ(window_attach_raw(b, 2, buf, WIN_IOVA, NULL), 0);
	w = win(2, 77, 0);
	ASSERT_OK(ioctl(b->device, QUERY, &w));
	ASSERT_EQ(w.dmabuf_fd, -1);
	ASSERT_EQ(w.iova, WIN_IOVA);
	ASSERT_EQ(w.size, 64 * KIB);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_UNMAPPED);
	ASSERT_EQ(w.notifications, 0);
	ASSERT_EQ(w.flags, 0);
	ASSERT_EQ(state(b, 0), REFMDEV_P2P_WINDOW_EMPTY);

	/* DETACH once; the slot is then empty and reusable. */
	ASSERT_EQ(window_detach_raw(b, 2), 0);
	ASSERT_EQ(window_detach_raw(b, 2), -ENOENT);
	assert_all_empty(b);
	ASSERT_EQ(attached_devices(buf), 0);
	ASSERT_EQ(window_attach_raw(b, 2, buf, WIN_IOVA, NULL), 0);
	ASSERT_EQ(attached_devices(buf), 1);
}

TEST(attach_refuses_revoked_and_dead_dmabufs)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(a, 0, 64 * KIB), late;

	/* Decode off: revoked, attach refused; on again: accepted. */
	set_memory_decode(a, false);
	ASSERT_EQ(window_attach_raw(b, 0, buf, WIN_IOVA, NULL), -ENODEV);
	/* An export made while decode is off starts revoked. */
	late = dmabuf_export(a, 64 * KIB, 64 * KIB);
	ASSERT_EQ(window_attach_raw(b, 1, late, WIN2_IOVA, NULL), -ENODEV);
	assert_all_empty(b);
	ASSERT_EQ(attached_devices(buf), 0);
	set_memory_decode(a, true);
	ASSERT_EQ(window_attach_raw(b, 0, buf, WIN_IOVA, NULL), 0);
	ASSERT_EQ(window_attach_raw(b, 1, late, WIN2_IOVA, NULL), 0);
	ASSERT_EQ(window_detach_raw(b, 0), 0);
	ASSERT_EQ(window_detach_raw(b, 1), 0);

	/* The exporter's last fd closed: dead, even once it is reopened. */
	vfio_close(a);
	ASSERT_EQ(window_attach_raw(b, 0, buf, WIN_IOVA, NULL), -ENODEV);
	vfio_open(a->uuid);
	ASSERT_EQ(window_attach_raw(b, 0, buf, WIN_IOVA, NULL), -ENODEV);
	ASSERT_EQ(window_attach_raw(b, 1, late, WIN2_IOVA, NULL), -ENODEV);
	assert_all_empty(b);
}

TEST(states_and_notifications)
{
	struct p2p *p = p2p_setup();
	struct refmdev_p2p_window w = query(p->dev.b, 0);
	__u32 i;

	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_UNMAPPED);
	ASSERT_EQ(w.notifications, 0);
	for (i = 1; i < REFMDEV_P2P_WINDOWS; i++)
		ASSERT_EQ(state(p->dev.b, i), REFMDEV_P2P_WINDOW_EMPTY);

	/* Mapped lazily, by the first descriptor. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_OK);
	ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_MAPPED);
	ASSERT_EQ(query(p->dev.b, 0).notifications, 0);

	/* Decode off: notified, mapping dropped, and refused on next use. */
	set_memory_decode(p->dev.a, false);
	w = query(p->dev.b, 0);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_UNMAPPED);
	ASSERT_EQ(w.notifications, 1);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_REVOKED);
	w = query(p->dev.b, 0);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_REVOKED);
	ASSERT_EQ(w.notifications, 1);

	/* Decode on: one more notification; the next descriptor maps. */
	set_memory_decode(p->dev.a, true);
	ASSERT_EQ(query(p->dev.b, 0).notifications, 2);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_OK);
	ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_MAPPED);

	/* A reset revokes and restores: two notifications. */
	ASSERT_OK(ioctl(p->dev.a->device, VFIO_DEVICE_RESET));
	w = query(p->dev.b, 0);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_UNMAPPED);
	ASSERT_EQ(w.notifications, 4);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_OK);
	ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_MAPPED);
	bar0_write(p->dev.a, REFMDEV_REG_CONTROL, 4, REFMDEV_CTRL_RESET);
	ASSERT_EQ(query(p->dev.b, 0).notifications, 6);

	/* An FLR leaves decode off: revoked only, until decode is on. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_OK);
	function_level_reset(p->dev.a);
	ASSERT_EQ(query(p->dev.b, 0).notifications, 7);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_REVOKED);
	ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_REVOKED);
	set_memory_decode(p->dev.a, true);
	ASSERT_EQ(query(p->dev.b, 0).notifications, 8);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_OK);
	ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_MAPPED);

	/* Detach drops the mapping and the attachment. */
	ASSERT_EQ(attached_devices(p->buf), 1);
	ASSERT_EQ(window_detach_raw(p->dev.b, 0), 0);
	ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_EMPTY);
	ASSERT_EQ(attached_devices(p->buf), 0);
}

TEST(copy_guest_to_window)
{
	static const __u32 lens[] = {
		1, 2, 7, 4095, 4096, 4097, 8191, 65536 + 3, 300001,
	};
	static const __u64 woffs[] = { 0, 1, 4095, 5 * 4096 - 7 };
	struct p2p *p = p2p_setup();
	struct vm_charge base = vm_charge_now();
	unsigned int i, j, seed = 0;

	for (i = 0; i < ARRAY_SIZE(lens); i++)
		for (j = 0; j < ARRAY_SIZE(woffs); j++)
			check_to_window(p, (i * 4099 + j * 13) % 8192, woffs[j],
					lens[i], seed++);
	/* The whole dma-buf, its last byte, its last page crossing. */
	check_to_window(p, 0, 0, BUF_SIZE, seed++);
	check_to_window(p, 4095, 0, BUF_SIZE, seed++);
	check_to_window(p, 3, BUF_SIZE - 1, 1, seed++);
	check_to_window(p, 5, BUF_SIZE - 4097, 4097, seed++);
	/*
	 * The window side is never pinned; the guest side only as far as
	 * B's pin cache keeps it.
	 */
	ASSERT_VM_CHARGE_CACHED(base, p->dev.b);
}

/*
 * A dma-buf exported O_RDONLY gives a read-only window: B may read A's
 * memory through it but not write (REFMDEV_DMA_ST_READ_ONLY, nothing
 * written), whoever holds the fd. The exporter also refuses a writable
 * mapping to any importer of such a buffer.
 */
TEST(read_only_export_gives_read_only_window)
{
	struct p2p *p = p2p_setup();
	struct vfio_region_dma_range r = { .offset = 0, .length = 64 * KIB };
	__u8 *src = p->dev.src->va, *dst = p->dev.dst->va;
	int ro = dmabuf_export_raw(p->dev.a, BAR2, O_RDONLY | O_CLOEXEC, 0, &r, 1,
				   0);
	size_t i;

	ASSERT_TRUE(ro >= 0);
	ktap_defer(close_fd, (void *)(long)ro);
	ASSERT_EQ(window_attach_raw(p->dev.b, 1, ro, WIN2_IOVA, NULL), 0);
	fill_random(p->dev.bar, 64 * KIB, 31);
	fill_random(src, 8 * KIB, 32);

	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN2_IOVA + 100, 4096, COPY),
		  REFMDEV_DMA_ST_READ_ONLY);
	ASSERT_EQ(dma_run(p->dev.ring, 0xabcdefull, WIN2_IOVA, 16, FILL),
		  REFMDEV_DMA_ST_READ_ONLY);
	ASSERT_EQ(dma_run(p->dev.ring, WIN2_IOVA + 5, DST_IOVA, 8 * KIB, COPY),
		  ST_OK);
	for (i = 0; i < 8 * KIB; i++)
		if (dst[i] != p->dev.bar[5 + i])
			FAIL("read through the window: byte %zu", i);
	/* Nothing the refused descriptors aimed at changed. */
	ASSERT_TRUE(memcmp(p->dev.bar + 100, src, 16) != 0);
	/* The writable window on the same memory still writes. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 16, COPY), ST_OK);
	ASSERT_EQ(memcmp(p->dev.bar + BUF_OFF, src, 16), 0);
}

TEST(copy_window_to_guest)
{
	static const __u32 lens[] = {
		1, 3, 4095, 4096, 4097, 12289, 65536 + 5, 400003,
	};
	static const __u64 woffs[] = { 0, 7, 4093, 3 * 4096 + 1 };
	struct p2p *p = p2p_setup();
	struct vm_charge base = vm_charge_now();
	unsigned int i, j, seed = 50;

	for (i = 0; i < ARRAY_SIZE(lens); i++)
		for (j = 0; j < ARRAY_SIZE(woffs); j++)
			check_from_window(p, woffs[j], (i * 4097 + j * 11) % 8192,
					  lens[i], seed++);
	check_from_window(p, 0, 0, BUF_SIZE, seed++);
	check_from_window(p, 0, 4095, BUF_SIZE, seed++);
	check_from_window(p, BUF_SIZE - 1, 1, 1, seed++);
	check_from_window(p, BUF_SIZE - 8193, 100, 8193, seed++);
	ASSERT_VM_CHARGE_CACHED(base, p->dev.b);
}

TEST(window_and_importer_devmem)
{
	struct p2p *p = p2p_setup();
	size_t bsize = p->dev.b->size[BAR2];
	__u8 *bmem = malloc(bsize), *want = malloc(p->dev.bar_size);
	__u8 *got = malloc(bsize);

	ASSERT_TRUE(bmem && want && got);
	fill_random(bmem, bsize, 3);
	bar2_write(p->dev.b, bmem, bsize, 0);
	bar_fill(p->dev.a, GUARD);

	/* B's own BAR2 into the window. */
	ASSERT_EQ(dma_run(p->dev.ring, 4096 * 9 + 3, WIN_IOVA + 4095, 70001,
			  COPY | SRC_DEVMEM), ST_OK);
	memset(want, GUARD, p->dev.bar_size);
	apply(p, want, 4095, bmem + 4096 * 9 + 3, 70001);
	expect_bar(p, want, "B's BAR2 -> window");
	ASSERT_EQ(dma_run(p->dev.ring, 0, WIN_IOVA, BUF_SIZE, COPY | SRC_DEVMEM),
		  ST_OK);
	apply(p, want, 0, bmem, BUF_SIZE);
	expect_bar(p, want, "B's BAR2 -> whole window");

	/* And back: the window into B's BAR2, at another offset. */
	fill_random(want, p->dev.bar_size, 4);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA + 100, 600 * 1024 + 1, 123457,
			  COPY | DST_DEVMEM), ST_OK);
	memcpy(bmem + 600 * 1024 + 1, want + BUF_OFF + 100, 123457);
	bar2_read(p->dev.b, got, bsize, 0);
	ASSERT_EQ(memcmp(got, bmem, bsize), 0);
	free(bmem);
	free(want);
	free(got);
}

TEST(fill_window)
{
	static const __u64 woffs[] = { 0, 1, 4093, BUF_SIZE - 70000 };
	const __u64 pat = 0x8877665544332211ull;
	struct p2p *p = p2p_setup();
	__u8 *want = malloc(p->dev.bar_size), *fill = malloc(70000);
	unsigned int i, k;

	ASSERT_TRUE(want && fill);
	for (k = 0; k < 70000; k++)
		fill[k] = pat >> (8 * (k % 8));
	for (i = 0; i < ARRAY_SIZE(woffs); i++) {
		memset(want, GUARD, p->dev.bar_size);
		bar2_write(p->dev.a, want, p->dev.bar_size, 0);
		ASSERT_EQ(dma_run(p->dev.ring, pat, WIN_IOVA + woffs[i], 70000, FILL),
			  ST_OK);
		apply(p, want, woffs[i], fill, 70000);
		expect_bar(p, want, "fill");
	}
	/* The last byte alone. */
	ASSERT_EQ(dma_run(p->dev.ring, 0x33, WIN_IOVA + BUF_SIZE - 1, 1, FILL), ST_OK);
	want[BUF_OFF + BUF_SIZE - 1] = 0x33;
	expect_bar(p, want, "fill of the last byte");
	free(want);
	free(fill);
}

TEST(multi_range_export)
{
	static const struct vfio_region_dma_range r[] = {
		{ .offset = 512 * KIB, .length = 64 * KIB },
		{ .offset = 0, .length = 4 * KIB },
		{ .offset = 256 * KIB, .length = 128 * KIB },
	};
	const __u64 size = (64 + 4 + 128) * KIB;
	struct p2p *p = p2p_setup_ranges(r, ARRAY_SIZE(r));

	ASSERT_EQ(p->size, size);
	/* All of it, then pieces across both range boundaries. */
	check_to_window(p, 0, 0, size, 1);
	check_to_window(p, 1, 64 * KIB - 5, 4 * KIB + 10, 2);
	check_to_window(p, 2, 64 * KIB - 1, 2, 3);
	check_to_window(p, 3, 68 * KIB - 1, 2, 4);
	check_to_window(p, 4, size - 1, 1, 5);
	check_from_window(p, 0, 0, size, 6);
	check_from_window(p, 64 * KIB - 3, 5, 4 * KIB + 6, 7);
	check_from_window(p, 68 * KIB - 4096, 9, 8192, 8);
	/* A descriptor may not run past the concatenation either. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA + size - 1, 2, COPY),
		  ST_RANGE);
}

TEST(aliasing_ranges)
{
	/* The same 8 KiB twice: window offsets 0 and 8 KiB are one memory. */
	static const struct vfio_region_dma_range r[] = {
		{ .offset = 8 * KIB, .length = 8 * KIB },
		{ .offset = 8 * KIB, .length = 8 * KIB },
	};
	struct p2p *p = p2p_setup_ranges(r, ARRAY_SIZE(r));
	__u8 *src = p->dev.src->va, *dst = p->dev.dst->va;

	check_to_window(p, 0, 8 * KIB + 5, 4000, 9);
	/* Read back through the other alias. */
	memset(dst, GUARD, 8192);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA + 5, DST_IOVA, 4000, COPY), ST_OK);
	ASSERT_EQ(memcmp(dst, src, 4000), 0);
	ASSERT_EQ(dst[4000], GUARD);
}

TEST(straddling_and_two_window_descriptors)
{
	struct p2p *p = p2p_setup();
	int second = dmabuf_export(p->dev.a, 0, 64 * KIB);
	size_t bsize = p->dev.b->size[BAR2];
	__u8 *want = malloc(p->dev.bar_size), *bwant = malloc(bsize);
	__u8 *got = malloc(bsize), *dst = p->dev.dst->va;
	const __u64 end = WIN_IOVA + BUF_SIZE;
	unsigned int i;

	ASSERT_TRUE(want && bwant && got);
	ASSERT_EQ(window_attach_raw(p->dev.b, 1, second, WIN2_IOVA, NULL), 0);
	memset(want, GUARD, p->dev.bar_size);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	memset(bwant, GUARD, bsize);
	bar2_write(p->dev.b, bwant, bsize, 0);
	memset(dst, GUARD, GUEST_SIZE);
	fill_random(p->dev.src->va, GUEST_SIZE, 1);

	/* Straddling an edge of the window, from either side, or both. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, end - 10, 20, COPY), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA - 10, 20, COPY), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA - 4096, BUF_SIZE + 8192,
			  COPY), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, end - 1, DST_IOVA, 2, COPY), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA - 1, DST_IOVA, 2, COPY), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, 0x1111, end - 4, 8, FILL), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, 0, end - 4, 8, COPY | SRC_DEVMEM), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA - 1, 0, 2, COPY | DST_DEVMEM),
		  ST_RANGE);
	/* Both sides in windows: the same one or two different ones. */
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, WIN_IOVA + 4096, 100, COPY),
		  ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, WIN2_IOVA, 100, COPY), ST_RANGE);
	ASSERT_EQ(dma_run(p->dev.ring, WIN2_IOVA + 8, WIN_IOVA + 8, 1, COPY),
		  ST_RANGE);
	/* None of it wrote a byte anywhere. */
	expect_bar(p, want, "after failed descriptors");
	bar2_read(p->dev.b, got, bsize, 0);
	ASSERT_EQ(memcmp(got, bwant, bsize), 0);
	for (i = 0; i < GUEST_SIZE; i++)
		if (dst[i] != GUARD)
			FAIL("guest byte 0x%x written by a failed descriptor", i);

	/* The edges are exact: ending at the window's end is inside... */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, end - 20, 20, COPY), ST_OK);
	apply(p, want, BUF_SIZE - 20, p->dev.src->va, 20);
	expect_bar(p, want, "up to the window's last byte");
	/* ...and starting there, or ending at its start, is outside. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, end, 20, COPY),
		  REFMDEV_DMA_ST_UNMAPPED);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA - 20, 20, COPY),
		  REFMDEV_DMA_ST_UNMAPPED);
	/* A fill's source is a pattern, not an address. */
	ASSERT_EQ(dma_run(p->dev.ring, end - 4, DST_IOVA, 16, FILL), ST_OK);
	ASSERT_EQ(dst[0], (__u8)(end - 4));
	expect_bar(p, want, "after the edge cases");
	free(want);
	free(bwant);
	free(got);
}

TEST(window_shadows_container_mapping)
{
	struct p2p *p = p2p_setup();
	struct guest_mem *shadow = guest_mem_map(p->dev.b, WIN_IOVA, BUF_SIZE, RW);
	__u8 *want = malloc(p->dev.bar_size), *src = p->dev.src->va;
	__u8 *sh = shadow->va;
	size_t i;

	ASSERT_TRUE(want);
	memset(sh, GUARD, BUF_SIZE);
	memset(want, GUARD, p->dev.bar_size);
	bar2_write(p->dev.a, want, p->dev.bar_size, 0);
	fill_random(src, 4096, 8);

	/* While attached, the window wins over the container's mapping. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA + 100, 1000, COPY), ST_OK);
	apply(p, want, 100, src, 1000);
	expect_bar(p, want, "window over a mapping");
	for (i = 0; i < BUF_SIZE; i++)
		if (sh[i] != GUARD)
			FAIL("guest memory under the window written at 0x%zx", i);

	/* Detached, the IOVA is the container's again. */
	ASSERT_EQ(window_detach_raw(p->dev.b, 0), 0);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA + 1000, WIN_IOVA + 100, 1000, COPY),
		  ST_OK);
	ASSERT_EQ(memcmp(sh + 100, src + 1000, 1000), 0);
	expect_bar(p, want, "after detach");

	/* Without that mapping, a detached window's IOVA is simply unmapped. */
	guest_mem_unmap(shadow);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY),
		  REFMDEV_DMA_ST_UNMAPPED);
	free(want);
}

/* After a reset A's memory is new: zero, but for what B writes next. */
static void check_after_reset(struct p2p *p, const char *how)
{
	__u8 *want = calloc(1, p->dev.bar_size), *dst = p->dev.dst->va;
	size_t i;

	ASSERT_TRUE(want);
	expect_bar(p, want, how);
	/* The window reads the new, zeroed memory... */
	memset(dst, GUARD, BUF_SIZE);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, DST_IOVA, BUF_SIZE, COPY), ST_OK);
	for (i = 0; i < BUF_SIZE; i++)
		if (dst[i])
			FAIL("%s: window byte 0x%zx reads 0x%x", how, i, dst[i]);
	/* ...and writes into it. */
	fill_random(p->dev.src->va, 9000, 21);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA + 4090, 9000, COPY), ST_OK);
	apply(p, want, 4090, p->dev.src->va, 9000);
	expect_bar(p, want, how);
	free(want);
}

static void dirty_through_window(struct p2p *p)
{
	fill_random(p->dev.src->va, BUF_SIZE, 20);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, BUF_SIZE, COPY), ST_OK);
	ASSERT_EQ(memcmp(p->dev.bar + BUF_OFF, p->dev.src->va, BUF_SIZE), 0);
}

/*
 * Every revocation trigger (selftests/lib/revoke.h) as B's engine sees
 * the window onto A's memory: while revoked (decode off, FLR) every kind
 * of descriptor touching the window fails with PEER_REVOKED and writes
 * nothing, others run, and the CPU is refused too; once restored the
 * window reaches A's memory as it is then, the same or new and zeroed.
 */
FIXTURE(revoke) {
	struct p2p *p;
	__u8 *want, *bmem;
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
	struct p2p *p = p2p_setup();
	size_t bsize = p->dev.b->size[BAR2];
	__u8 *dst = p->dev.dst->va;

	self->p = p;
	self->want = malloc(p->dev.bar_size);
	self->bmem = malloc(bsize);
	ASSERT_TRUE(self->want && self->bmem);
	fill_random(self->want, p->dev.bar_size, 11);
	bar2_write(p->dev.a, self->want, p->dev.bar_size, 0);
	memset(self->bmem, GUARD, bsize);
	bar2_write(p->dev.b, self->bmem, bsize, 0);
	memset(dst, GUARD, GUEST_SIZE);
	fill_random(p->dev.src->va, GUEST_SIZE, 12);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, DST_IOVA, 4096, COPY), ST_OK);
	ASSERT_EQ(memcmp(dst, self->want + BUF_OFF, 4096), 0);
	memset(dst, GUARD, GUEST_SIZE);
}

FIXTURE_TEARDOWN(revoke)
{
	free(self->want);
	free(self->bmem);
}

/* While A is revoked: nothing through the window, all else as usual. */
static void check_while_revoked(struct p2p *p, __u8 *bmem)
{
	size_t bsize = p->dev.b->size[BAR2], i;
	__u8 *dst = p->dev.dst->va;
	__u8 val;

	/* The CPU is refused too, as the spec says. */
	ASSERT_ERRNO(region_pread(p->dev.a, BAR2, &val, 1, 0), EIO);
	ASSERT_TRUE(read_faults(p->dev.bar + BUF_OFF));
	/* Every kind of descriptor touching the window, each time. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 4096, COPY),
			  ST_REVOKED);
		ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA + 1, DST_IOVA,
				  BUF_SIZE - 1, COPY), ST_REVOKED);
		ASSERT_EQ(dma_run(p->dev.ring, 0x42, WIN_IOVA + 5, 1, FILL),
			  ST_REVOKED);
		ASSERT_EQ(dma_run(p->dev.ring, 0, WIN_IOVA, 8192,
				  COPY | SRC_DEVMEM), ST_REVOKED);
		ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, 0, 8192,
				  COPY | DST_DEVMEM), ST_REVOKED);
		ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_REVOKED);
	}
	/* Descriptors not touching the window are not affected. */
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, DST_IOVA + MIB, 100, COPY),
		  ST_OK);
	for (i = 0; i < MIB; i++)
		if (dst[i] != GUARD)
			FAIL("guest byte 0x%zx written by a revoked descriptor", i);
	bar2_read(p->dev.b, bmem, bsize, 0);
	for (i = 0; i < bsize; i++)
		if (bmem[i] != GUARD)
			FAIL("B's BAR2 byte 0x%zx written by a revoked descriptor", i);
}

TEST_F(revoke, window_revoked_then_restored)
{
	const struct revoke_trigger *t = variant->t;
	struct p2p *p = self->p;
	__u8 *want = self->want, *dst = p->dev.dst->va;

	t->revoke(p->dev.a);
	if (t->restore) {
		check_while_revoked(p, self->bmem);
		t->restore(p->dev.a);
	}
	if (t->new_memory) {
		check_after_reset(p, t->name);
		return;
	}
	/* The same memory, untouched, and reachable again. */
	expect_bar(p, want, "after decode off");
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA + 3, 5000, COPY),
		  ST_OK);
	apply(p, want, 3, p->dev.src->va, 5000);
	expect_bar(p, want, "after decode on");
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, DST_IOVA, BUF_SIZE, COPY),
		  ST_OK);
	ASSERT_EQ(memcmp(dst, want + BUF_OFF, BUF_SIZE), 0);
}

TEST(exporter_close_is_final)
{
	struct p2p *p = p2p_setup();
	__u8 *dst = p->dev.dst->va, *zero = calloc(1, p->dev.bar_size);
	struct vfio_dev *again;
	size_t i;
	int n;

	ASSERT_TRUE(zero);
	dirty_through_window(p);
	/* The mapping holds the device file open: it goes first. */
	two_devs_unmap_bar(&p->dev);
	vfio_close(p->dev.a);
	memset(dst, GUARD, GUEST_SIZE);
	for (n = 0; n < 3; n++) {
		ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 4096, COPY),
			  ST_REVOKED);
		ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, DST_IOVA, 4096, COPY),
			  ST_REVOKED);
		ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_REVOKED);
	}
	/* Opening the device again does not bring the dma-buf back. */
	again = vfio_open(p->dev.a->uuid);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 4096, COPY), ST_REVOKED);
	ASSERT_EQ(dma_run(p->dev.ring, 0x77, WIN_IOVA, 4096, FILL), ST_REVOKED);
	ASSERT_EQ(dma_run(p->dev.ring, WIN_IOVA, DST_IOVA, 4096, COPY), ST_REVOKED);
	for (i = 0; i < GUEST_SIZE; i++)
		if (dst[i] != GUARD)
			FAIL("guest byte 0x%zx written from a dead window", i);
	p->dev.a = again;
	p->dev.bar = NULL;
	expect_bar(p, zero, "the reopened exporter");
	ASSERT_EQ(window_attach_raw(p->dev.b, 1, p->buf, WIN2_IOVA, NULL), -ENODEV);
	/* The dead window can still be detached. */
	ASSERT_EQ(window_detach_raw(p->dev.b, 0), 0);
	ASSERT_EQ(attached_devices(p->buf), 0);
	free(zero);
}

TEST(windows_survive_importer_resets)
{
	struct p2p *p = p2p_setup();
	unsigned int devctl = REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCTL;
	__u8 *want = malloc(p->dev.bar_size);
	int round;

	ASSERT_TRUE(want);
	bar_fill(p->dev.a, 0);
	memset(want, 0, p->dev.bar_size);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_OK);
	for (round = 0; round < 3; round++) {
		struct refmdev_p2p_window w;

		if (round == 0)
			ASSERT_OK(ioctl(p->dev.b->device, VFIO_DEVICE_RESET));
		else if (round == 1)
			bar0_write(p->dev.b, REFMDEV_REG_CONTROL, 4, REFMDEV_CTRL_RESET);
		else
			cfg_write(p->dev.b, devctl, 2, PCI_EXP_DEVCTL_BCR_FLR);
		w = query(p->dev.b, 0);
		ASSERT_NE(w.state, REFMDEV_P2P_WINDOW_EMPTY);
		ASSERT_EQ(w.iova, WIN_IOVA);
		ASSERT_EQ(w.size, BUF_SIZE);
		ASSERT_EQ(attached_devices(p->buf), 1);
		ring_restart(p->dev.ring);
		fill_random(p->dev.src->va, 7000, round);
		ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA + round * 8192, 7000,
				  COPY), ST_OK);
		apply(p, want, round * 8192, p->dev.src->va, 7000);
		expect_bar(p, want, "after a reset of the importer");
		ASSERT_EQ(state(p->dev.b, 0), REFMDEV_P2P_WINDOW_MAPPED);
	}
	free(want);
}

TEST(closing_importer_detaches)
{
	struct p2p *p = p2p_setup();
	int second = dmabuf_export(p->dev.a, 0, 64 * KIB);
	struct vfio_dev *b;

	ASSERT_EQ(window_attach_raw(p->dev.b, 3, second, WIN2_IOVA, NULL), 0);
	ASSERT_EQ(dma_run(p->dev.ring, SRC_IOVA, WIN_IOVA, 100, COPY), ST_OK);
	ASSERT_EQ(attached_devices(p->buf), 1);
	ASSERT_EQ(attached_devices(second), 1);
	/* Closing the container took B's mappings along. */
	vfio_close(p->dev.b);
	p->dev.src->mapped = false;
	p->dev.dst->mapped = false;
	p->dev.ring->mem->mapped = false;
	ASSERT_EQ(attached_devices(p->buf), 0);
	ASSERT_EQ(attached_devices(second), 0);
	/* The exporter revokes and restores with no importer left. */
	ASSERT_OK(ioctl(p->dev.a->device, VFIO_DEVICE_RESET));
	set_memory_decode(p->dev.a, false);
	set_memory_decode(p->dev.a, true);

	b = vfio_open(p->dev.b->uuid);
	assert_all_empty(b);
	/* The dma-bufs are still good for a new attachment. */
	ASSERT_EQ(window_attach_raw(b, 0, p->buf, WIN_IOVA, NULL), 0);
	ASSERT_EQ(window_attach_raw(b, 1, second, WIN2_IOVA, NULL), 0);
}

TEST(window_keeps_its_dmabuf)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_open(mdev_create(TYPE_1M));
	struct vfio_region_dma_range r = { .offset = 0, .length = 64 * KIB };
	struct dma_ring *ring = dma_ring_setup(b, 16);
	struct guest_mem *src = guest_mem_map(b, SRC_IOVA, 64 * KIB, RW);
	__u8 got[300];
	int fd;

	fd = dmabuf_export_raw(a, BAR2, O_RDWR | O_CLOEXEC, 0, &r, 1, 0);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(window_attach_raw(b, 0, fd, WIN_IOVA, NULL), 0);
	/* The window holds its own reference: the fd is not needed. */
	ASSERT_OK(close(fd));
	fill_random(src->va, 300, 30);
	ASSERT_EQ(dma_run(ring, SRC_IOVA, WIN_IOVA + 4000, 300, COPY), ST_OK);
	bar2_read(a, got, 300, 4000);
	ASSERT_EQ(memcmp(got, src->va, 300), 0);
	/* Revocation still reaches it. */
	set_memory_decode(a, false);
	ASSERT_EQ(dma_run(ring, SRC_IOVA, WIN_IOVA, 300, COPY), ST_REVOKED);
	set_memory_decode(a, true);
	ASSERT_EQ(dma_run(ring, SRC_IOVA, WIN_IOVA, 300, COPY), ST_OK);
	/* Detaching drops the last reference; then the exporter goes. */
	ASSERT_EQ(window_detach_raw(b, 0), 0);
	vfio_close(a);
}

TEST(four_exporters_in_one_ring)
{
	static const __u64 iova[REFMDEV_P2P_WINDOWS] = {
		WIN_IOVA, WIN_IOVA + 64 * KIB, WIN_IOVA + 16 * MIB, WIN2_IOVA,
	};
	struct vfio_dev *a[REFMDEV_P2P_WINDOWS], *b;
	struct refmdev_dma_desc *desc[3 * REFMDEV_P2P_WINDOWS];
	__u64 len[REFMDEV_P2P_WINDOWS], off[REFMDEV_P2P_WINDOWS], size;
	__u8 *src, *dst, *got = malloc(MIB), *want = malloc(MIB);
	struct dma_ring *r;
	int buf[REFMDEV_P2P_WINDOWS];
	unsigned int i, n;

	ASSERT_TRUE(got && want);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		a[i] = vfio_open(mdev_create(TYPE_1M));
		off[i] = i * 64 * KIB;
		len[i] = (i + 1) * 64 * KIB;
		buf[i] = dmabuf_export(a[i], off[i], len[i]);
	}
	b = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(b, 64);
	src = guest_mem_map(b, SRC_IOVA, GUEST_SIZE, RW)->va;
	dst = guest_mem_map(b, DST_IOVA, GUEST_SIZE, RW)->va;
	/* Windows 0 and 1 touch; 2 and 3 are far away. */
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		ASSERT_EQ(window_attach_raw(b, i, buf[i], iova[i], &size), 0);
		ASSERT_EQ(size, len[i]);
	}
	fill_random(src, GUEST_SIZE, 40);
	memset(dst, GUARD, GUEST_SIZE);

	/*
	 * One batch: into each window (all but its first bytes), a fill of
	 * those first bytes, and each window back out into guest memory.
	 */
	n = 0;
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		desc[n++] = dma_post(r, SRC_IOVA + i * 300 * KIB + i,
				     iova[i] + 1 + i, len[i] - 1 - i, COPY);
		desc[n++] = dma_post(r, 0x0101010101010101ull * (i + 1), iova[i],
				     1 + i, FILL);
		desc[n++] = dma_post(r, iova[i], DST_IOVA + i * 300 * KIB,
				     len[i], COPY);
	}
	dma_doorbell(r);
	for (i = 0; i < n; i++)
		ASSERT_EQ(dma_wait(r, desc[i]), ST_OK);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		memset(want, 0, MIB);
		memset(want + off[i], i + 1, 1 + i);
		memcpy(want + off[i] + 1 + i, src + i * 300 * KIB + i,
		       len[i] - 1 - i);
		bar2_read(a[i], got, MIB, 0);
		if (memcmp(got, want, MIB))
			FAIL("exporter %u's BAR2 is not what its window was given", i);
		if (memcmp(dst + i * 300 * KIB, want + off[i], len[i]))
			FAIL("window %u read back wrong", i);
		ASSERT_EQ(state(b, i), REFMDEV_P2P_WINDOW_MAPPED);
	}

	/* Across two touching windows, or from one window to another. */
	ASSERT_EQ(dma_run(r, SRC_IOVA, iova[1] - 8, 16, COPY), ST_RANGE);
	ASSERT_EQ(dma_run(r, iova[0], iova[2], 64, COPY), ST_RANGE);
	ASSERT_EQ(dma_run(r, iova[3], iova[1], 64, COPY), ST_RANGE);

	/* One exporter revoked: only its window's descriptors fail. */
	set_memory_decode(a[2], false);
	n = 0;
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		desc[n++] = dma_post(r, SRC_IOVA, iova[i] + 8, 100, COPY);
	dma_doorbell(r);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		ASSERT_EQ(dma_wait(r, desc[i]), i == 2 ? ST_REVOKED : ST_OK);
	ASSERT_EQ(state(b, 2), REFMDEV_P2P_WINDOW_REVOKED);
	set_memory_decode(a[2], true);
	n = 0;
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		desc[n++] = dma_post(r, SRC_IOVA + 100, iova[i] + 8, 100, COPY);
	dma_doorbell(r);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++)
		ASSERT_EQ(dma_wait(r, desc[i]), ST_OK);
	for (i = 0; i < REFMDEV_P2P_WINDOWS; i++) {
		bar2_read(a[i], got, 100, off[i] + 8);
		ASSERT_EQ(memcmp(got, src + 100, 100), 0);
	}
	free(got);
	free(want);
}

/*
 * DETACH while descriptors into the window are queued and running. Like
 * VFIO_IOMMU_UNMAP_DMA, it is a barrier: once it returns, nothing more
 * lands in A's memory. A descriptor either ran before (OK, its block
 * complete) or after (UNMAPPED: with the window gone the IOVA is simply
 * not mapped in B's container), in order, and A's memory holds the block
 * of the last OK one, whole.
 */
TEST(detach_during_dma_is_a_barrier)
{
	static const struct vfio_region_dma_range r = {
		.offset = 0, .length = 64 * KIB,
	};
	const __u32 len = 64 * KIB, nd = 4;
	struct p2p *p = p2p_setup_ranges(&r, 1);
	__u8 *snap1 = malloc(len), *snap2 = malloc(len), *src = p->dev.src->va;
	unsigned int round, j, ok = 0, refused = 0;
	__u8 have = 0;
	size_t i;

	ASSERT_TRUE(snap1 && snap2);
	bar_fill(p->dev.a, 0);
	srand(2);
	for (round = 0; round < 300; round++) {
		struct refmdev_dma_desc *desc[4];
		__u32 st[4];
		int last_ok = -1;

		if (round)
			ASSERT_EQ(window_attach_raw(p->dev.b, 0, p->buf, WIN_IOVA,
						    NULL), 0);
		for (j = 0; j < nd; j++) {
			memset(src + j * len, (round * nd + j) % 255 + 1, len);
			desc[j] = dma_post(p->dev.ring, SRC_IOVA + j * len, WIN_IOVA,
					   len, COPY);
		}
		dma_doorbell(p->dev.ring);
		usleep(rand() % 1500);
		ASSERT_EQ(window_detach_raw(p->dev.b, 0), 0);
		bar2_read(p->dev.a, snap1, len, 0);
		for (j = 0; j < nd; j++) {
			st[j] = dma_wait(p->dev.ring, desc[j]);
			if (st[j] == ST_OK) {
				if (j && st[j - 1] != ST_OK)
					FAIL("round %u: descriptor %u OK after a refused one",
					     round, j);
				last_ok = j;
				ok++;
			} else if (st[j] == REFMDEV_DMA_ST_UNMAPPED) {
				refused++;
			} else {
				FAIL("round %u: descriptor %u: status 0x%x", round,
				     j, st[j]);
			}
		}
		bar2_read(p->dev.a, snap2, len, 0);
		if (memcmp(snap1, snap2, len))
			FAIL("round %u: A's memory written after DETACH returned",
			     round);
		if (last_ok >= 0)
			have = (round * nd + last_ok) % 255 + 1;
		for (i = 0; i < len; i++)
			if (snap2[i] != have)
				FAIL("round %u: byte 0x%zx is 0x%x, expected 0x%x",
				     round, i, snap2[i], have);
	}
	ktap_info("%u descriptors ran before DETACH, %u were refused after it",
		  ok, refused);
	free(snap1);
	free(snap2);
}

/*
 * Revocation racing a stream of descriptors.
 *
 * A child process owns B and streams copies from its guest memory into
 * the window, SX_QUEUE at a time. Descriptor n (from 1) writes block
 * n % SX_NBLK of the window, SX_BLK bytes in which 64-bit word k is
 * sx_word(n, k): a block that holds anything but one descriptor's full
 * pattern, or zeros, was torn. The child records each status in shared
 * memory.
 *
 * The parent revokes A over and over, alternating VFIO_DEVICE_RESET
 * (revoke, new zeroed memory, restore) with decode off ... decode on.
 * What must hold: once the revoking call returns, the memory the window
 * pointed to before is never written again, and the descriptors that run
 * afterwards fail (decode off) or go to the new memory (reset).
 *
 * Seeing the old memory after revocation is the hard part: after a reset
 * A's region and every mmap show the new pages, and with decode off the
 * region fails with EIO and mmaps fault. So before each revocation the
 * parent vmsplice()s the window's part of its BAR2 mmap into a pipe.
 * That takes page references (GUP on the mmap's normal pages), and a pipe
 * buffer of user pages is copied out at read() time, so reading the pipe
 * later shows what the old pages hold then, whatever happened to the
 * device meanwhile; the references also keep the old pages from being
 * freed and reused, so a late write by the engine lands where we look.
 * Right after the revoking call returns, tee() duplicates the buffers
 * into a second pipe and reading that gives snapshot 1; after at least
 * two descriptors posted after the revocation have completed, reading
 * the first pipe gives snapshot 2. Any difference is a write after
 * revocation, which also catches an engine still using a stale mapping,
 * since the descriptors in between would have written through it. (A
 * late write that is over before snapshot 1 shows in neither, unless it
 * tore a block, which the next check finds.) probe_self_check() proves
 * first that this view works: a write after vmsplice() shows, and the old
 * page still shows after a reset.
 *
 * The snapshots are also checked for consistency: every block is zero or
 * one descriptor's complete pattern, blocks only move forward within one
 * memory (decode off/on keeps it; a reset starts a new one), every
 * descriptor found in a new memory is newer than every one found in the
 * memory before it, and at the end every descriptor found anywhere must
 * have completed with OK. The two descriptors posted after each revoking
 * call returned must be PEER_REVOKED (decode off) or OK (reset).
 *
 * SX_ITERS revocations, or fewer if SX_BUDGET_MS runs out first (the
 * debug kernel under TCG manages about a third); the counts are printed.
 */
#define SX_OFF		(64 * KIB)	/* the export's start in A's BAR2 */
#define SX_SIZE		(256 * KIB)	/* the window: 64 pages */
#define SX_BLK		(36 * KIB)	/* one descriptor: 9 pages */
#define SX_NBLK		7
#define SX_WORDS	(SX_BLK / 8)
#define SX_QUEUE	4		/* descriptors in flight */
#define SX_MAXSEQ	(4u * 1024 * 1024)
#define SX_ITERS	2000
#define SX_BUDGET_MS	60000		/* stop early on a slow kernel */
#define SX_MIN_ITERS	200

struct stream {
	int stop;		/* parent: finish what is posted and exit */
	int ready;		/* child: streaming */
	__u32 posted;		/* child: last sequence number posted */
	__u32 collected;	/* child: statuses known for 1 .. collected */
	__u32 final_state;	/* child: window state at the end */
	__u8 status[SX_MAXSEQ + 1];
};

static __u64 sx_word(__u32 seq, __u32 k)
{
	return (__u64)seq << 32 | (__u64)(seq % SX_NBLK) << 24 | k;
}

static noreturn void stream_child(const char *uuid, int buf, struct stream *s)
{
	struct refmdev_dma_desc *desc[SX_QUEUE];
	struct refmdev_p2p_window w;
	struct guest_mem *src;
	struct dma_ring *r;
	struct vfio_dev *b;
	__u32 seq = 0, done = 0, k, st;

	b = vfio_open(uuid);
	r = dma_ring_setup(b, 64);
	src = guest_mem_map(b, SRC_IOVA, SX_QUEUE * SX_BLK, RW);
	ASSERT_EQ(window_attach_raw(b, 0, buf, WIN_IOVA, NULL), 0);
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	for (;;) {
		if (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) &&
		    seq < SX_MAXSEQ) {
			while (seq - done < SX_QUEUE && seq < SX_MAXSEQ) {
				__u32 slot = ++seq % SX_QUEUE;
				__u64 *p = (__u64 *)((__u8 *)src->va + slot * SX_BLK);

				for (k = 0; k < SX_WORDS; k++)
					p[k] = sx_word(seq, k);
				desc[slot] = dma_post(r, SRC_IOVA + slot * SX_BLK,
						      WIN_IOVA + (seq % SX_NBLK) * SX_BLK,
						      SX_BLK, COPY);
			}
			/*
			 * Published before the doorbell: a descriptor newer
			 * than what the parent reads here cannot have started.
			 */
			__atomic_store_n(&s->posted, seq, __ATOMIC_SEQ_CST);
			dma_doorbell(r);
		}
		if (done == seq)
			break;
		st = dma_wait(r, desc[(done + 1) % SX_QUEUE]);
		if (st != ST_OK && st != ST_REVOKED)
			FAIL("descriptor %u: status 0x%x", done + 1, st);
		s->status[done + 1] = st;
		__atomic_store_n(&s->collected, ++done, __ATOMIC_RELEASE);
	}
	ASSERT_EQ(window_query_raw(b, 0, &w), 0);
	s->final_state = w.state;
	ktap_finish(0);
}

static pid_t streamer = -1;
static int streamer_status;

static bool streamer_gone(void)
{
	if (streamer > 0 &&
	    waitpid(streamer, &streamer_status, WNOHANG) == streamer)
		streamer = -1;
	return streamer < 0;
}

/* Ask the child to stop, and wait for it (or kill it) in bounded time. */
static void streamer_stop(void *arg)
{
	struct stream *s = arg;
	long deadline = now_ms() + 30000;

	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	while (!streamer_gone()) {
		if (now_ms() > deadline) {
			printf("# the streaming child did not stop; killing it\n");
			kill(streamer, SIGKILL);
			waitpid(streamer, &streamer_status, 0);
			streamer = -1;
			break;
		}
		usleep(1000);
	}
}

/*
 * Fork the streaming child. It keeps only @buf of the parent's files, and
 * drops the parent's mapping @map of A's BAR2 (if any), which holds A's
 * file too: a copy of A's device fd in the child would keep A open when
 * the parent closes it.
 */
static struct stream *start_streamer(const char *uuid_b, int buf, void *map,
				     size_t map_len)
{
	struct stream *s;
	pid_t parent = getpid();
	long deadline;

	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(s != MAP_FAILED);
	streamer = ktap_fork();
	if (!streamer) {
		/* Never outlive the test: it would hold B open forever. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if ((buf > 3 && close_range(3, buf - 1, 0)) ||
		    close_range(buf + 1, ~0u, 0))
			_exit(1);
		if (map && munmap(map, map_len))
			_exit(1);
		stream_child(uuid_b, buf, s);
	}
	ktap_defer(streamer_stop, s);
	deadline = now_ms() + 30000;
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE)) {
		if (streamer_gone())
			FAIL("the streaming child failed to start");
		if (now_ms() > deadline)
			FAIL("the streaming child did not start in 30 s");
		usleep(1000);
	}
	return s;
}

/* Until the child knows the statuses of descriptors 1 .. @seq. */
static void wait_collected(struct stream *s, __u32 seq)
{
	long deadline = now_ms() + 30000;

	while (__atomic_load_n(&s->collected, __ATOMIC_ACQUIRE) < seq) {
		if (streamer_gone())
			FAIL("the streaming child exited (status 0x%x)",
			     streamer_status);
		if (now_ms() > deadline)
			FAIL("the streaming child is stuck at %u of %u",
			     s->collected, seq);
		usleep(50);
	}
}

static void stop_streamer_cleanly(struct stream *s)
{
	streamer_stop(s);
	if (!WIFEXITED(streamer_status) || WEXITSTATUS(streamer_status))
		FAIL("the streaming child failed (status 0x%x)", streamer_status);
}

/* What the parent knows about one memory of A (a reset starts a new one). */
struct sx_mem {
	__u32 last[SX_NBLK];	/* newest descriptor seen per block; 0: none */
	__u32 floor;		/* every descriptor here is newer than this */
	__u32 max;		/* newest seen here */
};

static void check_snapshot(const __u8 *snap, struct sx_mem *m, __u8 *seen,
			   int iter)
{
	const __u64 *w = (const __u64 *)snap;
	__u32 b, k, seq;
	size_t i;

	for (b = 0; b < SX_NBLK; b++, w += SX_WORDS) {
		seq = w[0] >> 32;
		if (!w[0]) {
			for (k = 0; k < SX_WORDS; k++)
				if (w[k])
					FAIL("iteration %d: block %u torn: word %u 0x%llx",
					     iter, b, k, (unsigned long long)w[k]);
			if (m->last[b])
				FAIL("iteration %d: block %u back to zero after descriptor %u",
				     iter, b, m->last[b]);
			continue;
		}
		for (k = 0; k < SX_WORDS; k++)
			if (w[k] != sx_word(seq, k))
				FAIL("iteration %d: block %u torn: word %u 0x%llx, not %u's",
				     iter, b, k, (unsigned long long)w[k], seq);
		if (seq % SX_NBLK != b || seq > SX_MAXSEQ)
			FAIL("iteration %d: descriptor %u's data in block %u",
			     iter, seq, b);
		if (seq <= m->floor)
			FAIL("iteration %d: new memory, block %u: old descriptor %u <= %u",
			     iter, b, seq, m->floor);
		if (seq < m->last[b])
			FAIL("iteration %d: block %u went back from descriptor %u to %u",
			     iter, b, m->last[b], seq);
		m->last[b] = seq;
		seen[seq] = 1;
		if (seq > m->max)
			m->max = seq;
	}
	for (i = SX_NBLK * SX_BLK; i < SX_SIZE; i++)
		if (snap[i])
			FAIL("iteration %d: window byte 0x%zx past the blocks written",
			     iter, i);
}

static void read_all(int fd, __u8 *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n <= 0)
			FAIL("read from pipe: %s", n ? strerror(errno) : "EOF");
		done += n;
	}
}

static void pipe_pair(int fds[2])
{
	ASSERT_OK(pipe2(fds, O_CLOEXEC));
	ktap_defer(close_fd, (void *)(long)fds[0]);
	ktap_defer(close_fd, (void *)(long)fds[1]);
	ASSERT_TRUE(fcntl(fds[1], F_SETPIPE_SZ, SX_SIZE) >= (int)SX_SIZE);
}

static void unmap_sx_bar(void *arg)
{
	munmap(arg, MIB);
}

/*
 * The probe sees what it must: a pipe holding the window's pages shows a
 * write made after vmsplice(), and still shows the old page after a reset
 * gave A new memory.
 */
static void probe_self_check(struct vfio_dev *a, __u8 *bar, int p[2])
{
	struct iovec iov = { .iov_base = bar + SX_OFF, .iov_len = SX_SIZE };
	__u8 *snap = malloc(SX_SIZE), val;

	ASSERT_TRUE(snap);
	ASSERT_EQ(vmsplice(p[1], &iov, 1, 0), SX_SIZE);
	bar2_write(a, &(__u8){ 0x88 }, 1, SX_OFF + 5);
	ASSERT_OK(ioctl(a->device, VFIO_DEVICE_RESET));
	bar2_read(a, &val, 1, SX_OFF + 5);
	ASSERT_EQ(val, 0);
	read_all(p[0], snap, SX_SIZE);
	ASSERT_EQ(snap[5], 0x88);
	free(snap);
}

TEST(revoke_while_streaming)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	const char *uuid_b = mdev_create(TYPE_1M);
	__u8 *snap1 = malloc(SX_SIZE), *snap2 = malloc(SX_SIZE);
	__u8 *seen = calloc(SX_MAXSEQ + 1, 1), *bar;
	unsigned int resets = 0, offs = 0, ok = 0, revoked = 0;
	struct sx_mem mem = { 0 };
	int p1[2], p2[2], buf, i;
	struct stream *s;
	long start;
	__u32 n, posted;

	ASSERT_TRUE(snap1 && snap2 && seen);
	ASSERT_EQ(a->size[BAR2], MIB);
	bar = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, a->device,
		   a->offset[BAR2]);
	ASSERT_TRUE(bar != MAP_FAILED);
	ktap_defer(unmap_sx_bar, bar);
	buf = dmabuf_export(a, SX_OFF, SX_SIZE);
	pipe_pair(p1);
	pipe_pair(p2);
	probe_self_check(a, bar, p1);
	s = start_streamer(uuid_b, buf, bar, MIB);
	srand(1);

	start = now_ms();
	for (i = 0; i < SX_ITERS && now_ms() - start < SX_BUDGET_MS; i++) {
		struct iovec iov = { .iov_base = bar + SX_OFF, .iov_len = SX_SIZE };
		bool reset = i & 1;

		/* References on the memory about to be revoked. */
		ASSERT_EQ(vmsplice(p1[1], &iov, 1, 0), SX_SIZE);
		if (reset)
			ASSERT_OK(ioctl(a->device, VFIO_DEVICE_RESET));
		else
			set_memory_decode(a, false);
		posted = __atomic_load_n(&s->posted, __ATOMIC_ACQUIRE);
		ASSERT_EQ(tee(p1[0], p2[1], SX_SIZE, 0), SX_SIZE);
		read_all(p2[0], snap1, SX_SIZE);
		check_snapshot(snap1, &mem, seen, i);

		/* Descriptors posted from now on run after the revocation. */
		wait_collected(s, posted + 2);
		for (n = posted + 1; n <= posted + 2; n++)
			if (s->status[n] != (reset ? ST_OK : ST_REVOKED))
				FAIL("iteration %d (%s): later descriptor %u: status 0x%x",
				     i, reset ? "reset" : "decode off", n,
				     s->status[n]);
		if (rand() % 4 == 0)
			usleep(rand() % 300);
		read_all(p1[0], snap2, SX_SIZE);
		if (memcmp(snap1, snap2, SX_SIZE)) {
			size_t at = 0;

			while (snap1[at] == snap2[at])
				at++;
			FAIL("iteration %d (%s): old memory written afterwards at 0x%zx",
			     i, reset ? "reset" : "decode off", at);
		}
		if (reset) {
			memset(mem.last, 0, sizeof(mem.last));
			mem.floor = mem.max;
			resets++;
		} else {
			set_memory_decode(a, true);
			offs++;
		}
		/* Let the stream run into the next revocation at any point. */
		usleep(rand() % 500);
	}

	/* The window works after the last revocation. */
	posted = __atomic_load_n(&s->posted, __ATOMIC_ACQUIRE);
	wait_collected(s, posted + 2);
	ASSERT_EQ(s->status[posted + 1], ST_OK);
	ASSERT_EQ(s->status[posted + 2], ST_OK);
	stop_streamer_cleanly(s);
	ASSERT_EQ(s->final_state, REFMDEV_P2P_WINDOW_MAPPED);
	for (n = 1; n <= s->collected; n++) {
		if (s->status[n] == ST_OK)
			ok++;
		else
			revoked++;
		if (seen[n] && s->status[n] != ST_OK)
			FAIL("descriptor %u wrote its data but reports 0x%x", n,
			     s->status[n]);
	}
	ktap_info("%d revocations (%u resets, %u decode off/on) in %ld ms; %u descriptors: %u OK, %u PEER_REVOKED",
		  i, resets, offs, now_ms() - start, s->collected, ok, revoked);
	if (i < SX_MIN_ITERS)
		FAIL("only %d revocations in %d ms", i, SX_BUDGET_MS);
	free(snap1);
	free(snap2);
	free(seen);
}

TEST(exporter_removed_while_streaming)
{
	const char *uuid_a = mdev_create(TYPE_1M);
	struct vfio_dev *a = vfio_open(uuid_a);
	int buf = dmabuf_export(a, SX_OFF, SX_SIZE);
	struct stream *s = start_streamer(mdev_create(TYPE_1M), buf, NULL, 0);
	__u32 n, first_revoked = 0, posted;
	char path[128];

	wait_collected(s, 20);
	for (n = 1; n <= 20; n++)
		ASSERT_EQ(s->status[n], ST_OK);

	/* The exporter's last fd goes: dead, whatever comes after. */
	vfio_close(a);
	posted = __atomic_load_n(&s->posted, __ATOMIC_ACQUIRE);
	wait_collected(s, posted + 3);
	for (n = posted + 1; n <= posted + 3; n++)
		ASSERT_EQ(s->status[n], ST_REVOKED);
	/* Removing the device now does not wait for the dma-buf. */
	ASSERT_EQ(mdev_remove(uuid_a), 0);
	snprintf(path, sizeof(path), MDEV_DEVICES "/%s", uuid_a);
	ASSERT_TRUE(!path_exists(path));
	posted = __atomic_load_n(&s->posted, __ATOMIC_ACQUIRE);
	wait_collected(s, posted + 3);
	for (n = posted + 1; n <= posted + 3; n++)
		ASSERT_EQ(s->status[n], ST_REVOKED);
	stop_streamer_cleanly(s);
	ASSERT_EQ(s->final_state, REFMDEV_P2P_WINDOW_REVOKED);

	/* OK up to some point, PEER_REVOKED from there on. */
	for (n = 1; n <= s->collected; n++) {
		if (s->status[n] == ST_REVOKED && !first_revoked)
			first_revoked = n;
		if (first_revoked && s->status[n] != ST_REVOKED)
			FAIL("descriptor %u: 0x%x after descriptor %u was revoked",
			     n, s->status[n], first_revoked);
	}
	ktap_info("%u descriptors, PEER_REVOKED from %u on", s->collected,
		  first_revoked);
}

/*
 * The importer's process dies with descriptors into the window in flight:
 * closing its device detaches the window once the engine has stopped, so
 * when the process is reaped nothing more is written, the attachment is
 * gone, and the exporter carries on.
 */
TEST(importer_killed_while_streaming)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(a, SX_OFF, SX_SIZE), round;
	__u8 *snap1 = malloc(SX_SIZE), *snap2 = malloc(SX_SIZE);
	const char *uuid_b = mdev_create(TYPE_1M);

	ASSERT_TRUE(snap1 && snap2);
	for (round = 0; round < 10; round++) {
		struct stream *s = start_streamer(uuid_b, buf, NULL, 0);

		wait_collected(s, 3 + round);
		usleep(round * 300);
		ASSERT_OK(kill(streamer, SIGKILL));
		ASSERT_EQ(waitpid(streamer, &streamer_status, 0), streamer);
		streamer = -1;
		ASSERT_TRUE(WIFSIGNALED(streamer_status));
		ASSERT_EQ(attached_devices(buf), 0);
		bar2_read(a, snap1, SX_SIZE, SX_OFF);
		usleep(20000);
		bar2_read(a, snap2, SX_SIZE, SX_OFF);
		if (memcmp(snap1, snap2, SX_SIZE))
			FAIL("round %d: written after the importer was reaped", round);
	}
	/* The exporter is unharmed: its memory resets and its dma-buf works. */
	ASSERT_OK(ioctl(a->device, VFIO_DEVICE_RESET));
	set_memory_decode(a, false);
	set_memory_decode(a, true);
	free(snap1);
	free(snap2);
}
