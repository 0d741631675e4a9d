/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Driving the test-only dma-buf importer (selftests/importer,
 * /dev/refmdev_test_importer) from a test: attach, map, read through a
 * mapping, query what the importer saw. Functions named *_raw and the
 * imp_* ioctls return 0 (or a handle) or -errno; the others fail the test.
 */
#ifndef IMPORTER_UTIL_H
#define IMPORTER_UTIL_H

#include <linux/types.h>
#include "../importer/refmdev_test_importer.h"

/* A new importer file; closing it at test end detaches all it has. */
int importer_open(void);
int imp_ioctl(int imp, unsigned long cmd, void *arg);
/* ATTACH: the handle, or -errno; *@size (if given) is the dma-buf's. */
int imp_attach_raw(int imp, int dmabuf, __u32 flags, __u64 *size);
/* A dynamic attachment that must succeed. */
__u32 imp_attach(int imp, int dmabuf);
int imp_op(int imp, unsigned long cmd, __u32 h);
int imp_map(int imp, __u32 h);
int imp_unmap(int imp, __u32 h);
int imp_detach(int imp, __u32 h);
int imp_read(int imp, __u32 h, __u64 off, void *buf, __u64 len);
int imp_query_raw(int imp, __u32 h, struct refmdev_ti_query *q);
struct refmdev_ti_query imp_query(int imp, __u32 h);

/* The handle reads exactly @want[0..len) from offset 0. */
void assert_reads(int imp, __u32 h, const __u8 *want, size_t len);
void assert_reads_zeros(int imp, __u32 h, size_t len);
/*
 * Revoked as seen by the importer: notified at least @min times since
 * attaching, no mapping left, READ refused.
 */
void assert_revoked(int imp, __u32 h, __u32 min);

#endif /* IMPORTER_UTIL_H */
