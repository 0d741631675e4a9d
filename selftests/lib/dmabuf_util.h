/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests of exported dma-bufs as the rest of the system sees
 * them: the dma-buf core's debugfs listing (bufinfo), and the process's
 * file descriptor table, to prove that a failed call created nothing.
 */
#ifndef DMABUF_UTIL_H
#define DMABUF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BUFINFO_PATH	"/sys/kernel/debug/dma_buf/bufinfo"

/* One dma-buf as /sys/kernel/debug/dma_buf/bufinfo lists it. */
struct bufinfo_entry {
	unsigned long long size;
	unsigned int f_flags;
	unsigned int f_mode;
	long count;			/* references on the dma-buf's file */
	unsigned long ino;
	char exp_name[64];
	char name[128];
	int attached;			/* "Total N devices attached" */
	char devices[256];		/* the attached devices, space separated */
};

/*
 * Make bufinfo readable: mount debugfs on /sys/kernel/debug if nothing is
 * mounted there (unmounted again when the test ends). Fails the test if
 * the file is still missing.
 */
void bufinfo_ensure(void);

/*
 * Look for dma-bufs by inode (@ino, 0 for any) and name (@name, NULL for
 * any). Returns how many match; the first one is stored in @e if not
 * NULL.
 */
int bufinfo_find(unsigned long ino, const char *name, struct bufinfo_entry *e);

/* The entry of the dma-buf behind @fd; fails the test if there is none. */
void bufinfo_of_fd(int fd, struct bufinfo_entry *e);

/* Number of open file descriptors of this process. */
int fd_count(void);
/* The descriptor the next open() would get. */
int lowest_free_fd(void);

/* mmap() that fails the test if it fails, unmapped when the test ends. */
void *mmap_defer(size_t len, int prot, int flags, int fd, off_t off);

#endif /* DMABUF_UTIL_H */
