/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A FUSE filesystem of one file whose reads the test can hold: the
 * kernel's page cache fills through us, so a fault on the file (GUP of a
 * mapping included) waits for as long as the test likes, as it would for
 * a slow or hostile FUSE server. The file is /data under the mount point,
 * @size bytes, byte k being fuse_stall_byte(k).
 */
#ifndef FUSE_STALL_H
#define FUSE_STALL_H

#include <stdbool.h>
#include <stddef.h>

struct fuse_stall;

static inline unsigned char fuse_stall_byte(size_t k)
{
	return (k * 7 + (k >> 12)) & 0xff;
}

/*
 * Mount at @dir (created) and serve from a process of its own; unmounted
 * when the test ends. Skips the test if the kernel has no FUSE.
 */
struct fuse_stall *fuse_stall_mount(const char *dir, size_t size);
/* While held, READ requests wait; letting go answers them. */
void fuse_stall_hold(struct fuse_stall *fs, bool hold);
/*
 * True once a READ waits while held; false after @timeout_ms. Neither
 * call allocates or maps memory: while a fault on the file waits, the
 * faulting process must not take its mmap_lock for writing.
 */
bool fuse_stall_wait_read(struct fuse_stall *fs, int timeout_ms);

#endif /* FUSE_STALL_H */
