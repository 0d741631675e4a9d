// SPDX-License-Identifier: GPL-2.0
/*
 * Revocation of BAR2 dma-bufs as an importer sees it, independently of
 * refmdev's own DMA engine: the test-only importer module
 * (selftests/importer, /dev/refmdev_test_importer) attaches dma-bufs to a
 * device of its own, maps them, reads the memory a mapping points at,
 * and counts move_notify calls, unmapping on each one.
 *
 * Covers the importer policy (static attachments refused), that a
 * mapping points at exactly the exported bytes (single and multi-range
 * exports), every revocation trigger (one variant each of the revoke
 * fixture: VFIO_DEVICE_RESET, CONTROL.RESET, memory decoding off, FLR;
 * then closing the device and removal after close),
 * many dma-bufs and importers at once, a dma-buf passed to another
 * process, reads racing resets, and the module reference a dma-buf
 * holds.
 */
#include <linux/pci_regs.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "importer_util.h"
#include "ktap.h"
#include "p2p_util.h"
#include "revoke.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define MEM		REFMDEV_DEVMEM_BAR
#define PAGE		4096ull
#define SZ_1M		0x100000ull
#define SZ_16M		0x1000000ull
#define RW_CLOEXEC	(O_RDWR | O_CLOEXEC)

/* A random pattern written over all of BAR2 (@size bytes). */
static __u8 *fill_bar2(struct vfio_dev *d, size_t size, unsigned int seed)
{
	__u8 *buf = malloc(size);

	ASSERT_TRUE(buf);
	fill_random(buf, size, seed);
	ASSERT_EQ(region_pwrite(d, MEM, buf, size, 0), size);
	return buf;
}

/* A device we close by hand; the defer closes it if a test ends early. */
static struct vfio_dev manual;

static void close_manual(void *arg)
{
	(void)arg;
	vfio_close(&manual);
}

static struct vfio_dev *open_manual(const char *uuid)
{
	int ret = vfio_open_raw(uuid, &manual);

	if (ret)
		FAIL("open mdev %s: %s", uuid, strerror(-ret));
	ktap_defer(close_manual, NULL);
	return &manual;
}

TEST(importer_rejects_bad_arguments)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(d, 0, PAGE);
	int imp = importer_open();
	struct refmdev_ti_attach a = {
		.dmabuf_fd = buf, .flags = REFMDEV_TI_ATTACH_DYNAMIC,
		.reserved = 1,
	};
	struct refmdev_ti_handle hop = { .flags = 1 };
	struct refmdev_ti_query q;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	__u64 size = 0;
	__u8 b[2];
	__u32 h;

	ASSERT_TRUE(null >= 0);
	ktap_defer(close_fd, (void *)(long)null);
	ASSERT_EQ(imp_attach_raw(imp, -1, REFMDEV_TI_ATTACH_DYNAMIC, NULL),
		  -EBADF);
	ASSERT_EQ(imp_attach_raw(imp, null, REFMDEV_TI_ATTACH_DYNAMIC, NULL),
		  -EINVAL);
	ASSERT_EQ(imp_attach_raw(imp, buf, 0x2, NULL), -EINVAL);
	ASSERT_EQ(imp_ioctl(imp, REFMDEV_TI_ATTACH, &a), -EINVAL);
	ASSERT_EQ(imp_map(imp, 0), -ENOENT);
	ASSERT_EQ(imp_map(imp, 12345), -ENOENT);
	ASSERT_EQ(imp_query_raw(imp, 1, &q), -ENOENT);
	ASSERT_ERRNO(ioctl(imp, _IO(REFMDEV_TI_IOCTL_TYPE, 0x7f)), ENOTTY);

	h = imp_attach_raw(imp, buf, REFMDEV_TI_ATTACH_DYNAMIC, &size);
	ASSERT_TRUE((int)h > 0);
	ASSERT_EQ(size, PAGE);
	q = imp_query(imp, h);
	ASSERT_EQ(q.size, PAGE);
	ASSERT_EQ(q.dynamic, 1);
	ASSERT_EQ(q.mapped, 0);
	ASSERT_EQ(q.notifications, 0);
	ASSERT_EQ(q.last_map_errno, 0);
	hop.handle = h;
	ASSERT_EQ(imp_ioctl(imp, REFMDEV_TI_MAP, &hop), -EINVAL);

	/* Nothing mapped yet. */
	ASSERT_EQ(imp_unmap(imp, h), -ENODEV);
	ASSERT_EQ(imp_read(imp, h, 0, b, 1), -ENODEV);
	ASSERT_EQ(imp_map(imp, h), 0);
	ASSERT_EQ(imp_map(imp, h), -EBUSY);
	ASSERT_EQ(imp_query(imp, h).mapped, 1);

	ASSERT_EQ(imp_read(imp, h, PAGE, b, 1), -EINVAL);
	ASSERT_EQ(imp_read(imp, h, PAGE - 1, b, 2), -EINVAL);
	ASSERT_EQ(imp_read(imp, h, ~0ull, b, 2), -EOVERFLOW);
	ASSERT_EQ(imp_read(imp, h, 0, NULL, 1), -EFAULT);
	ASSERT_EQ(imp_read(imp, h, 0, b, 0), 0);
	ASSERT_EQ(imp_read(imp, h, PAGE - 1, b, 1), 0);

	ASSERT_EQ(imp_unmap(imp, h), 0);
	ASSERT_EQ(imp_query(imp, h).mapped, 0);
	ASSERT_EQ(imp_unmap(imp, h), -ENODEV);
	ASSERT_EQ(imp_map(imp, h), 0);
	/* DETACH of a mapped handle unmaps it first. */
	ASSERT_EQ(imp_detach(imp, h), 0);
	ASSERT_EQ(imp_detach(imp, h), -ENOENT);
	ASSERT_EQ(imp_query_raw(imp, h, &q), -ENOENT);
}

TEST(static_attach_refused)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(d, 0, 4 * PAGE);
	int imp = importer_open();
	__u32 h;

	ASSERT_EQ(imp_attach_raw(imp, buf, 0, NULL), -EOPNOTSUPP);
	ASSERT_EQ(imp_attach_raw(imp, buf, 0, NULL), -EOPNOTSUPP);
	/* The refusal left nothing behind: a dynamic importer still works. */
	h = imp_attach(imp, buf);
	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads_zeros(imp, h, 4 * PAGE);
}

TEST(mapping_reads_bar2)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *pat = fill_bar2(d, SZ_1M, 1);
	int buf = dmabuf_export(d, 0, SZ_1M);
	int sub = dmabuf_export(d, 16 * PAGE, 32 * PAGE);
	int imp = importer_open(), imp2 = importer_open();
	__u64 val = 0x0123456789abcdefull;
	struct refmdev_ti_query q;
	__u32 h, hs, h2;
	__u8 two[2];

	h = imp_attach(imp, buf);
	ASSERT_EQ(imp_map(imp, h), 0);
	q = imp_query(imp, h);
	ASSERT_EQ(q.mapped, 1);
	ASSERT_EQ(q.size, SZ_1M);
	ASSERT_EQ(q.notifications, 0);
	ASSERT_EQ(q.last_map_errno, 0);
	assert_reads(imp, h, pat, SZ_1M);
	/* Across a page boundary, at an odd offset. */
	ASSERT_EQ(imp_read(imp, h, PAGE - 1, two, 2), 0);
	ASSERT_EQ(two[0], pat[PAGE - 1]);
	ASSERT_EQ(two[1], pat[PAGE]);

	/* The mapping is the BAR's memory, not a copy of it. */
	ASSERT_EQ(region_pwrite(d, MEM, &val, 8, 0x12345), 8);
	memcpy(pat + 0x12345, &val, 8);
	assert_reads(imp, h, pat, SZ_1M);

	/* A sub-range starts at its offset in the BAR. */
	hs = imp_attach(imp, sub);
	ASSERT_EQ(imp_query(imp, hs).size, 32 * PAGE);
	ASSERT_EQ(imp_map(imp, hs), 0);
	assert_reads(imp, hs, pat + 16 * PAGE, 32 * PAGE);

	/* A second importer of the same dma-buf sees the same memory. */
	h2 = imp_attach(imp2, buf);
	ASSERT_EQ(imp_map(imp2, h2), 0);
	assert_reads(imp2, h2, pat, SZ_1M);
	free(pat);
}

/*
 * The importer's device takes DMA segments of at most
 * REFMDEV_TI_SEGMENT_LIMIT bytes: physically contiguous device memory
 * must not be merged into longer ones, and the data stays in order.
 */
TEST(mapping_respects_importer_segment_limit)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	__u8 *pat = fill_bar2(d, SZ_16M, 31);
	int buf = dmabuf_export(d, 0, SZ_16M);
	int imp = importer_open();
	__u32 h = imp_attach(imp, buf);
	struct refmdev_ti_query q;

	ASSERT_EQ(imp_map(imp, h), 0);
	q = imp_query(imp, h);
	ASSERT_EQ(q.segment_limit, REFMDEV_TI_SEGMENT_LIMIT);
	ktap_info("longest segment %u bytes", q.max_segment);
	if (!q.max_segment || q.max_segment > q.segment_limit)
		FAIL("a %u-byte segment for a device that takes %u",
		     q.max_segment, q.segment_limit);
	assert_reads(imp, h, pat, SZ_16M);
	free(pat);
}

TEST(multi_range_export_is_the_ranges_concatenated)
{
	static const struct vfio_region_dma_range r[] = {
		{ .offset = 5 * PAGE, .length = 3 * PAGE },
		{ .offset = 0, .length = PAGE },
		{ .offset = 5 * PAGE, .length = PAGE },	/* overlaps the first */
		{ .offset = SZ_1M - 2 * PAGE, .length = 2 * PAGE },
		{ .offset = 100 * PAGE, .length = 7 * PAGE },
	};
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *pat = fill_bar2(d, SZ_1M, 2);
	__u8 *want = malloc(SZ_1M), val = 0x5a;
	int buf = export_ranges(d, RW_CLOEXEC, r, ARRAY_SIZE(r));
	int imp = importer_open();
	size_t size = 0;
	unsigned int i;
	__u32 h;

	ASSERT_TRUE(want);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		memcpy(want + size, pat + r[i].offset, r[i].length);
		size += r[i].length;
	}
	h = imp_attach(imp, buf);
	ASSERT_EQ(imp_query(imp, h).size, size);
	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads(imp, h, want, size);

	/* BAR2 offset 5 pages appears at dma-buf offsets 0 and 4 pages. */
	ASSERT_EQ(region_pwrite(d, MEM, &val, 1, 5 * PAGE + 7), 1);
	want[7] = val;
	want[4 * PAGE + 7] = val;
	assert_reads(imp, h, want, size);
	free(want);
	free(pat);
}

/*
 * Every revocation trigger (selftests/lib/revoke.h) as the importer sees
 * it: two attachments of one importer (one mapped, one idle) and a
 * mapped one of a second importer.
 */
FIXTURE(revoke) {
	struct vfio_dev *d;
	__u8 *pat;
	int buf, imp, imp2;
	__u32 mapped, idle, other;
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
	self->d = vfio_open(mdev_create(TYPE_1M));
	self->pat = fill_bar2(self->d, SZ_1M, 3);
	self->buf = dmabuf_export(self->d, 0, SZ_1M);
	self->imp = importer_open();
	self->imp2 = importer_open();
	self->mapped = imp_attach(self->imp, self->buf);
	self->idle = imp_attach(self->imp, self->buf);
	self->other = imp_attach(self->imp2, self->buf);
	ASSERT_EQ(imp_map(self->imp, self->mapped), 0);
	ASSERT_EQ(imp_map(self->imp2, self->other), 0);
	assert_reads(self->imp, self->mapped, self->pat, SZ_1M);
}

FIXTURE_TEARDOWN(revoke)
{
	free(self->pat);
}

/* What a mapping must read after the trigger gave the memory back. */
static void assert_restored(int imp, __u32 h, const __u8 *pat, bool zeroed)
{
	if (zeroed)
		assert_reads_zeros(imp, h, SZ_1M);
	else
		assert_reads(imp, h, pat, SZ_1M);
}

TEST_F(revoke, importer_notified_and_remaps)
{
	const struct revoke_trigger *t = variant->t;
	int imp = self->imp, imp2 = self->imp2;
	struct refmdev_ti_query q;
	__u32 notified, h2;

	t->revoke(self->d);

	/* Every attachment heard of it, mapped or not. */
	assert_revoked(imp, self->mapped, 1);
	assert_revoked(imp, self->idle, 1);
	assert_revoked(imp2, self->other, 1);
	if (!t->restore) {
		/* The resets restore before they return. */
		ASSERT_EQ(imp_query(imp, self->mapped).last_map_errno, 0);
	} else {
		notified = imp_query(imp, self->mapped).notifications;
		ASSERT_EQ(imp_map(imp, self->mapped), -ENODEV);
		q = imp_query(imp, self->mapped);
		ASSERT_EQ(q.last_map_errno, ENODEV);
		ASSERT_EQ(q.mapped, 0);
		ASSERT_EQ(imp_attach_raw(imp, self->buf,
					 REFMDEV_TI_ATTACH_DYNAMIC, NULL),
			  -ENODEV);
		/* Still revoked after the failed attempts, and later. */
		ASSERT_EQ(imp_map(imp, self->mapped), -ENODEV);
		usleep(100000);
		ASSERT_EQ(imp_map(imp, self->mapped), -ENODEV);

		t->restore(self->d);
		/* Restoring is a transition too: another notification. */
		q = imp_query(imp, self->mapped);
		if (q.notifications <= notified)
			FAIL("no notification when %s was undone (%u, %u before)",
			     t->name, q.notifications, notified);
		ASSERT_EQ(q.mapped, 0);
	}

	/* Usable again, on new zeroed memory or on the same data. */
	ASSERT_EQ(imp_map(imp, self->mapped), 0);
	ASSERT_EQ(imp_query(imp, self->mapped).last_map_errno, 0);
	ASSERT_EQ(imp_map(imp, self->idle), 0);
	ASSERT_EQ(imp_map(imp2, self->other), 0);
	assert_restored(imp, self->mapped, self->pat, t->new_memory);
	assert_restored(imp2, self->other, self->pat, t->new_memory);
	h2 = imp_attach(imp, self->buf);
	ASSERT_EQ(imp_map(imp, h2), 0);
	assert_restored(imp, h2, self->pat, t->new_memory);

	/* And every mapping is the device's memory as it is now. */
	fill_random(self->pat, SZ_1M, 4);
	ASSERT_EQ(region_pwrite(self->d, MEM, self->pat, SZ_1M, 0), SZ_1M);
	assert_reads(imp, self->idle, self->pat, SZ_1M);
	assert_reads(imp2, self->other, self->pat, SZ_1M);
	assert_reads(imp, h2, self->pat, SZ_1M);
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * An importer that is notified but keeps its mapping (it breaks the
 * dynamic-importer contract, as a pinned RDMA registration does). The
 * reset must still return, after refmdev's bounded wait (5 s, give or
 * take a slow VM), and that importer must still read live memory: the
 * old pages, which its mapping keeps referenced; the device has new
 * ones. On the debug kernel KASAN watches those reads.
 */
TEST(importer_ignoring_notifications_cannot_hang_revocation)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *pat = fill_bar2(d, SZ_1M, 21);
	int buf = dmabuf_export(d, 0, SZ_1M);
	int imp = importer_open();
	int h = imp_attach_raw(imp, buf, REFMDEV_TI_ATTACH_DYNAMIC |
			       REFMDEV_TI_ATTACH_IGNORE_NOTIFY, NULL);
	__u32 good = imp_attach(imp, buf);
	struct refmdev_ti_query q;
	long start, took;
	int i;

	ASSERT_TRUE(h > 0);
	ASSERT_EQ(imp_map(imp, h), 0);
	ASSERT_EQ(imp_map(imp, good), 0);
	/* More stubborn importers: the bound is per call, not per buffer. */
	for (i = 1; i <= 7; i++) {
		int more = imp_attach_raw(imp, dmabuf_export(d, i * PAGE, PAGE),
					  REFMDEV_TI_ATTACH_DYNAMIC |
					  REFMDEV_TI_ATTACH_IGNORE_NOTIFY, NULL);

		ASSERT_TRUE(more > 0);
		ASSERT_EQ(imp_map(imp, more), 0);
	}

	start = mono_ms();
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	took = mono_ms() - start;
	ktap_info("reset with 8 stubborn importers took %ld ms", took);
	/* 8 x 5 s if each buffer had its own bound. */
	if (took < 4500 || took > 15000)
		FAIL("reset took %ld ms; the bound is 5 s for the whole call",
		     took);

	/* The well-behaved one let go; the other was told but kept it. */
	assert_revoked(imp, good, 1);
	q = imp_query(imp, h);
	ASSERT_TRUE(q.notifications >= 1);
	ASSERT_EQ(q.mapped, 1);
	assert_reads(imp, h, pat, SZ_1M);	/* old, still alive */

	/* The device and the other importer are on the new memory. */
	ASSERT_EQ(imp_map(imp, good), 0);
	assert_reads_zeros(imp, good, SZ_1M);

	/* Once it lets go, it maps the new memory like anyone. */
	ASSERT_EQ(imp_unmap(imp, h), 0);
	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads_zeros(imp, h, SZ_1M);
	free(pat);
}

TEST(export_while_decode_off_starts_revoked)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *pat = fill_bar2(d, SZ_1M, 6);
	int buf, imp = importer_open();
	__u32 h;

	set_memory_decode(d, false);
	buf = dmabuf_export(d, 0, SZ_1M);
	ASSERT_EQ(imp_attach_raw(imp, buf, REFMDEV_TI_ATTACH_DYNAMIC, NULL),
		  -ENODEV);
	set_memory_decode(d, true);
	h = imp_attach(imp, buf);
	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads(imp, h, pat, SZ_1M);
	free(pat);
}

TEST(device_close_revokes_forever)
{
	const char *uuid = mdev_create(TYPE_1M);
	struct vfio_dev *d = open_manual(uuid);
	__u8 *pat = fill_bar2(d, SZ_1M, 8);
	int buf = dmabuf_export(d, 0, SZ_1M);
	int imp = importer_open();
	__u32 h = imp_attach(imp, buf), idle = imp_attach(imp, buf), h2;
	int buf2;

	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads(imp, h, pat, SZ_1M);
	vfio_close(d);
	assert_revoked(imp, h, 1);
	assert_revoked(imp, idle, 1);
	ASSERT_EQ(imp_map(imp, h), -ENODEV);
	ASSERT_EQ(imp_map(imp, idle), -ENODEV);
	ASSERT_EQ(imp_query(imp, h).last_map_errno, ENODEV);
	ASSERT_EQ(imp_attach_raw(imp, buf, REFMDEV_TI_ATTACH_DYNAMIC, NULL),
		  -ENODEV);

	/* Opening the device again does not bring the dma-buf back. */
	d = open_manual(uuid);
	ASSERT_EQ(imp_map(imp, h), -ENODEV);
	ASSERT_EQ(imp_map(imp, idle), -ENODEV);
	ASSERT_EQ(imp_attach_raw(imp, buf, REFMDEV_TI_ATTACH_DYNAMIC, NULL),
		  -ENODEV);
	set_memory_decode(d, false);
	set_memory_decode(d, true);
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	ASSERT_EQ(imp_map(imp, h), -ENODEV);
	assert_revoked(imp, h, 1);

	/* A new export from the new open works. */
	buf2 = dmabuf_export(d, 0, SZ_1M);
	h2 = imp_attach(imp, buf2);
	ASSERT_EQ(imp_map(imp, h2), 0);
	assert_reads_zeros(imp, h2, SZ_1M);
	vfio_close(d);
	assert_revoked(imp, h2, 1);
	ASSERT_EQ(imp_map(imp, h2), -ENODEV);
	ASSERT_EQ(imp_detach(imp, h), 0);
	ASSERT_EQ(imp_detach(imp, h2), 0);
	free(pat);
}

/*
 * Remove the mdev after closing the device, with dma-bufs still open and
 * attached; the importer lets go of them afterwards, in both orders (the
 * dma-buf fd last, or the importer's reference last).
 */
TEST(mdev_removal_after_close)
{
	char path[128];
	const char *uuid = mdev_create(TYPE_1M);
	struct vfio_dev *d = open_manual(uuid);
	int buf = dmabuf_export(d, 0, SZ_1M);
	int buf2 = dmabuf_export_raw(d, MEM, RW_CLOEXEC, 0,
				     &(struct vfio_region_dma_range){
					.offset = 0, .length = PAGE }, 1, 0);
	int imp = importer_open();
	__u32 h = imp_attach(imp, buf), h2;
	__u8 b;

	ASSERT_TRUE(buf2 >= 0);
	h2 = imp_attach(imp, buf2);
	ASSERT_EQ(imp_map(imp, h), 0);
	ASSERT_EQ(imp_map(imp, h2), 0);
	vfio_close(d);
	assert_revoked(imp, h, 1);
	assert_revoked(imp, h2, 1);

	ASSERT_EQ(mdev_remove(uuid), 0);
	snprintf(path, sizeof(path), MDEV_DEVICES "/%s", uuid);
	ASSERT_TRUE(!path_exists(path));

	/* The dma-bufs outlive the device, dead. */
	ASSERT_EQ(imp_map(imp, h), -ENODEV);
	ASSERT_EQ(imp_read(imp, h, 0, &b, 1), -ENODEV);
	ASSERT_EQ(imp_attach_raw(imp, buf, REFMDEV_TI_ATTACH_DYNAMIC, NULL),
		  -ENODEV);
	/* Detach first, dma-buf fd closed at the end of the test. */
	ASSERT_EQ(imp_detach(imp, h), 0);
	/* dma-buf fd closed first: the importer holds the last reference. */
	ASSERT_OK(close(buf2));
	ASSERT_EQ(imp_map(imp, h2), -ENODEV);
	assert_revoked(imp, h2, 1);
	ASSERT_EQ(imp_detach(imp, h2), 0);
}

/* 64 dma-bufs, each attached and mapped by two importers; one reset. */
#define NBUFS	64

static int many_fds[NBUFS];

static void close_many(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < NBUFS; i++)
		if (many_fds[i] >= 0)
			close(many_fds[i]);
}

TEST(many_dmabufs_and_importers_one_reset)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	__u8 *pat = fill_bar2(d, SZ_16M, 9);
	int imp[2] = { importer_open(), importer_open() };
	__u32 h[2][NBUFS];
	__u64 off[NBUFS], len[NBUFS];
	int i, j;

	for (i = 0; i < NBUFS; i++)
		many_fds[i] = -1;
	ktap_defer(close_many, NULL);
	for (i = 0; i < NBUFS; i++) {
		struct vfio_region_dma_range r;

		/* 1 to 4 pages, spread over the BAR. */
		off[i] = i * (SZ_16M / NBUFS) + (i % 3) * PAGE;
		len[i] = (i % 4 + 1) * PAGE;
		r.offset = off[i];
		r.length = len[i];
		many_fds[i] = dmabuf_export_raw(d, MEM, RW_CLOEXEC, 0, &r, 1, 0);
		if (many_fds[i] < 0)
			FAIL("export %d: %s", i, strerror(-many_fds[i]));
		for (j = 0; j < 2; j++) {
			h[j][i] = imp_attach(imp[j], many_fds[i]);
			ASSERT_EQ(imp_map(imp[j], h[j][i]), 0);
		}
	}
	for (i = 0; i < NBUFS; i++)
		for (j = 0; j < 2; j++)
			assert_reads(imp[j], h[j][i], pat + off[i], len[i]);

	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	for (i = 0; i < NBUFS; i++)
		for (j = 0; j < 2; j++)
			assert_revoked(imp[j], h[j][i], 1);

	for (i = 0; i < NBUFS; i++)
		for (j = 0; j < 2; j++) {
			ASSERT_EQ(imp_map(imp[j], h[j][i]), 0);
			assert_reads_zeros(imp[j], h[j][i], len[i]);
		}
	free(pat);
}

static void send_fd(int sock, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	char c = 'F';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	ASSERT_EQ(sendmsg(sock, &msg, 0), 1);
}

static int recv_fd(int sock)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	int fd;

	ASSERT_EQ(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC), 1);
	cm = CMSG_FIRSTHDR(&msg);
	ASSERT_TRUE(cm && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)));
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static void send_byte(int sock, char c)
{
	ASSERT_EQ(write(sock, &c, 1), 1);
}

/* The next byte, or 0 at end of file. */
static char recv_byte(int sock)
{
	char c;

	return read(sock, &c, 1) == 1 ? c : 0;
}

static void wait_child_ok(pid_t pid)
{
	int status;

	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("child failed (status 0x%x)", status);
}

/*
 * The child's copy of the parent's fd @fd: over SCM_RIGHTS on @sock, or,
 * when @sock is -1 (a kernel without AF_UNIX, like the debug kernel),
 * with pidfd_getfd(), which installs the same open file in the caller.
 */
static int fetch_fd(int sock, int fd)
{
	int pidfd, got;

	if (sock >= 0)
		return recv_fd(sock);
	pidfd = syscall(SYS_pidfd_open, getppid(), 0);
	if (pidfd < 0)
		FAIL("pidfd_open: %s", strerror(errno));
	got = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (got < 0)
		FAIL("pidfd_getfd: %s", strerror(errno));
	close(pidfd);
	return got;
}

TEST(dmabuf_passed_to_another_process)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *pat = fill_bar2(d, SZ_1M, 10);
	int sv[2] = { -1, -1 }, to_child[2], to_parent[2], buf;
	pid_t pid;

	/* /proc/net/unix exists exactly when the kernel has AF_UNIX. */
	if (path_exists("/proc/net/unix"))
		ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	else
		ktap_info("no AF_UNIX in this kernel: passing the fd with pidfd_getfd()");
	ASSERT_OK(pipe2(to_child, O_CLOEXEC));
	ASSERT_OK(pipe2(to_parent, O_CLOEXEC));
	buf = dmabuf_export_raw(d, MEM, RW_CLOEXEC, 0,
				&(struct vfio_region_dma_range){
					.offset = 0, .length = SZ_1M }, 1, 0);
	ASSERT_TRUE(buf >= 0);

	pid = ktap_fork();
	if (!pid) {
		int fd, imp;
		__u32 h;

		close(to_child[1]);
		close(to_parent[0]);
		if (sv[0] >= 0)
			close(sv[0]);
		vfio_close(d);	/* the child's copies; the parent's stay */
		/* Not the inherited copy: the one passed over. */
		close(buf);
		fd = fetch_fd(sv[1], buf);
		ktap_defer(close_fd, (void *)(long)fd);
		imp = importer_open();
		h = imp_attach(imp, fd);
		ASSERT_EQ(imp_map(imp, h), 0);
		assert_reads(imp, h, pat, SZ_1M);
		send_byte(to_parent[1], 'M');
		if (recv_byte(to_child[0]) != 'R')
			FAIL("parent did not reset");
		assert_revoked(imp, h, 1);
		ASSERT_EQ(imp_map(imp, h), 0);
		assert_reads_zeros(imp, h, SZ_1M);
		send_byte(to_parent[1], 'D');
		ktap_finish(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	if (sv[0] >= 0) {
		close(sv[1]);
		send_fd(sv[0], buf);
		close(sv[0]);
	}
	if (recv_byte(to_parent[0]) != 'M') {
		wait_child_ok(pid);
		FAIL("child ended before mapping");
	}
	/* Only the child holds the dma-buf from here on. */
	ASSERT_OK(close(buf));
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	send_byte(to_child[1], 'R');
	if (recv_byte(to_parent[0]) != 'D') {
		wait_child_ok(pid);
		FAIL("child ended early");
	}
	wait_child_ok(pid);
	close(to_child[1]);
	close(to_parent[0]);
	free(pat);
}

/* The write end of the non-blocking pipe @fd was closed. */
static bool stopped(int fd)
{
	char c;

	return read(fd, &c, 1) >= 0 || errno != EAGAIN;
}

/*
 * An importer reads and remaps in a loop while the device is reset over
 * and over: a READ either fails with ENODEV or returns bytes that are
 * the pattern or zeros, never anything else, and nothing splats.
 */
TEST(reads_race_resets)
{
	const size_t len = 16 * PAGE;
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	__u8 *pat = fill_bar2(d, len, 11);
	int buf = dmabuf_export(d, 0, len);
	int ready[2], stop[2], i;
	pid_t pid;

	ASSERT_OK(pipe2(ready, O_CLOEXEC));
	ASSERT_OK(pipe2(stop, O_CLOEXEC));
	pid = ktap_fork();
	if (!pid) {
		int imp = importer_open(), ok = 0, revoked = 0;
		__u8 *got = malloc(len);
		__u32 h = imp_attach(imp, buf);
		size_t k;

		ASSERT_TRUE(got);
		close(ready[0]);
		close(stop[1]);
		ASSERT_EQ(imp_map(imp, h), 0);
		send_byte(ready[1], 'A');
		ASSERT_OK(fcntl(stop[0], F_SETFL, O_NONBLOCK));
		while (!stopped(stop[0])) {
			int ret = imp_map(imp, h);

			ASSERT_TRUE(ret == 0 || ret == -EBUSY || ret == -ENODEV);
			ret = imp_read(imp, h, 0, got, len);
			if (ret == -ENODEV) {
				revoked++;
				continue;
			}
			ASSERT_EQ(ret, 0);
			ok++;
			for (k = 0; k < len; k++)
				if (got[k] && got[k] != pat[k])
					FAIL("byte 0x%zx: 0x%02x is neither 0 nor 0x%02x",
					     k, got[k], pat[k]);
		}
		ktap_info("%d reads completed, %d found the mapping revoked",
			  ok, revoked);
		ASSERT_TRUE(ok > 0);
		free(got);
		ktap_finish(0);
	}
	close(ready[1]);
	close(stop[0]);
	/* Start once the child holds an attachment and a mapping. */
	if (recv_byte(ready[0]) != 'A') {
		wait_child_ok(pid);
		FAIL("child ended before mapping");
	}
	for (i = 0; i < 200; i++) {
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
		ASSERT_EQ(region_pwrite(d, MEM, pat, len, 0), len);
		if (i % 8 == 0)
			usleep(2000);
	}
	close(stop[1]);
	wait_child_ok(pid);
	close(ready[0]);
	free(pat);
}

static long module_refcnt(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	return sysfs_read_long(path);
}

/*
 * delete_module("refmdev") must fail with EAGAIN. Should it succeed, put
 * the module back so the programs after this one still have it, and fail.
 */
static void assert_unload_refused(void)
{
	long ret;
	int fd;

	errno = 0;
	ret = syscall(SYS_delete_module, "refmdev", O_NONBLOCK);
	if (ret == 0) {
		fd = open("/payload/refmdev.ko", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0))
			printf("# could not load refmdev again: %s\n",
			       strerror(errno));
		FAIL("refmdev unloaded while a dma-buf exists");
	}
	if (errno != EAGAIN)
		FAIL("delete_module: errno %s, expected EAGAIN",
		     strerrorname_np(errno));
}

TEST(module_unload_refused_while_a_dmabuf_exists)
{
	const char *uuid = mdev_create(TYPE_1M);
	long base = module_refcnt("refmdev"), held;
	struct vfio_dev *d = open_manual(uuid);
	int imp = importer_open();
	int buf = dmabuf_export_raw(d, MEM, RW_CLOEXEC, 0,
				    &(struct vfio_region_dma_range){
					.offset = 0, .length = PAGE }, 1, 0);
	__u32 h;

	ASSERT_TRUE(buf >= 0);
	h = imp_attach(imp, buf);
	ASSERT_EQ(imp_map(imp, h), 0);
	/* Only the dma-buf is left to hold the module. */
	vfio_close(d);
	held = module_refcnt("refmdev");
	if (held <= base)
		FAIL("refmdev refcnt %ld with a dma-buf, %ld without", held,
		     base);
	assert_unload_refused();
	ASSERT_EQ(module_refcnt("refmdev"), held);

	/* The importer's reference alone holds it too. */
	ASSERT_OK(close(buf));
	ASSERT_TRUE(module_refcnt("refmdev") > base);
	assert_unload_refused();
	ASSERT_EQ(imp_map(imp, h), -ENODEV);

	ASSERT_EQ(imp_detach(imp, h), 0);
	ASSERT_EQ(module_refcnt("refmdev"), base);
}
