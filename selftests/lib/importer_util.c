// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for tests that use the test-only dma-buf importer; see
 * importer_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "importer_util.h"
#include "ktap.h"
#include "p2p_util.h"

/* A new importer file; closing it at test end detaches all it has. */
int importer_open(void)
{
	int fd = open(REFMDEV_TI_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		FAIL("open %s: %s (refmdev_test_importer.ko not loaded?)",
		     REFMDEV_TI_DEVICE, strerror(errno));
	ktap_defer(close_fd, (void *)(long)fd);
	return fd;
}

int imp_ioctl(int imp, unsigned long cmd, void *arg)
{
	return ioctl(imp, cmd, arg) < 0 ? -errno : 0;
}

/* ATTACH: the handle, or -errno. */
int imp_attach_raw(int imp, int dmabuf, __u32 flags, __u64 *size)
{
	struct refmdev_ti_attach a = { .dmabuf_fd = dmabuf, .flags = flags };
	int ret = imp_ioctl(imp, REFMDEV_TI_ATTACH, &a);

	if (ret)
		return ret;
	if (size)
		*size = a.size;
	return a.handle;
}

/* A dynamic attachment that must succeed. */
__u32 imp_attach(int imp, int dmabuf)
{
	int h = imp_attach_raw(imp, dmabuf, REFMDEV_TI_ATTACH_DYNAMIC, NULL);

	if (h <= 0)
		FAIL("dynamic attach of dma-buf fd %d: %s", dmabuf,
		     h ? strerror(-h) : "handle 0");
	return h;
}

int imp_op(int imp, unsigned long cmd, __u32 h)
{
	struct refmdev_ti_handle a = { .handle = h };

	return imp_ioctl(imp, cmd, &a);
}

int imp_map(int imp, __u32 h)
{
	return imp_op(imp, REFMDEV_TI_MAP, h);
}

int imp_unmap(int imp, __u32 h)
{
	return imp_op(imp, REFMDEV_TI_UNMAP, h);
}

int imp_detach(int imp, __u32 h)
{
	return imp_op(imp, REFMDEV_TI_DETACH, h);
}

int imp_read(int imp, __u32 h, __u64 off, void *buf, __u64 len)
{
	struct refmdev_ti_read r = {
		.handle = h, .offset = off, .len = len,
		.buf = (__u64)(unsigned long)buf,
	};

	return imp_ioctl(imp, REFMDEV_TI_READ, &r);
}

int imp_query_raw(int imp, __u32 h, struct refmdev_ti_query *q)
{
	memset(q, 0, sizeof(*q));
	q->handle = h;
	return imp_ioctl(imp, REFMDEV_TI_QUERY, q);
}

struct refmdev_ti_query imp_query(int imp, __u32 h)
{
	struct refmdev_ti_query q;
	int ret = imp_query_raw(imp, h, &q);

	if (ret)
		FAIL("query of handle %u: %s", h, strerror(-ret));
	return q;
}

/* The handle reads exactly @want[0..len) from offset 0. */
void assert_reads(int imp, __u32 h, const __u8 *want, size_t len)
{
	__u8 *buf = malloc(len);
	size_t i;
	int ret;

	ASSERT_TRUE(buf);
	memset(buf, 0xee, len);
	ret = imp_read(imp, h, 0, buf, len);
	if (ret)
		FAIL("READ of %zu bytes through handle %u: %s", len, h,
		     strerror(-ret));
	for (i = 0; i < len; i++)
		if (buf[i] != want[i])
			FAIL("handle %u byte 0x%zx: 0x%02x, expected 0x%02x",
			     h, i, buf[i], want[i]);
	free(buf);
}

void assert_reads_zeros(int imp, __u32 h, size_t len)
{
	__u8 *zero = calloc(1, len);

	ASSERT_TRUE(zero);
	assert_reads(imp, h, zero, len);
	free(zero);
}

/*
 * Revoked as seen by the importer: notified at least @min times since
 * attaching, no mapping left, READ refused.
 */
void assert_revoked(int imp, __u32 h, __u32 min)
{
	struct refmdev_ti_query q = imp_query(imp, h);
	__u8 b;

	if (q.notifications < min)
		FAIL("handle %u: %u notifications, expected at least %u", h,
		     q.notifications, min);
	if (q.mapped)
		FAIL("handle %u still mapped after the revoking call returned",
		     h);
	ASSERT_EQ(imp_read(imp, h, 0, &b, 1), -ENODEV);
}
