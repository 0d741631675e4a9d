/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the P2P selftests: exporting BAR2 as a dma-buf through
 * VFIO_DEVICE_FEATURE_DMA_BUF, attaching dma-bufs to P2P windows, and
 * probing whether a CPU mapping still works.
 */
#ifndef P2P_UTIL_H
#define P2P_UTIL_H

#include <stdbool.h>
#include "mdev_util.h"

/*
 * VFIO_DEVICE_FEATURE(GET | DMA_BUF) with @n ranges. @argsz_delta is added
 * to the correct argsz, to test short buffers. Returns the dma-buf fd or
 * -errno.
 */
int dmabuf_export_raw(struct vfio_dev *d, __u32 region, __u32 open_flags,
		      __u32 flags, const struct vfio_region_dma_range *ranges,
		      __u32 n, int argsz_delta);
/* Export [offset, offset + length) of BAR2, O_RDWR | O_CLOEXEC; closed at test end. */
int dmabuf_export(struct vfio_dev *d, __u64 offset, __u64 length);
/* Export @n ranges of BAR2 with @open_flags; fails the test on error, closed at test end. */
int export_ranges(struct vfio_dev *d, __u32 open_flags,
		  const struct vfio_region_dma_range *r, __u32 n);

/* A ktap_defer() cleanup: close((int)(long)@arg). */
void close_fd(void *arg);

/* All @len bytes of BAR2 at @off, through the VFIO region; fails the test otherwise. */
void bar2_read(struct vfio_dev *d, void *buf, size_t len, __u64 off);
void bar2_write(struct vfio_dev *d, const void *buf, size_t len, __u64 off);

/* Fails the test, naming @what, at the first byte where @got and @want differ. */
void assert_same(const __u8 *got, const __u8 *want, size_t len,
		 const char *what);

/* REFMDEV_P2P_WINDOW_*; return 0 or -errno. */
int window_attach_raw(struct vfio_dev *d, __u32 index, int dmabuf_fd,
		      __u64 iova, __u64 *size);
int window_detach_raw(struct vfio_dev *d, __u32 index);
int window_query_raw(struct vfio_dev *d, __u32 index,
		     struct refmdev_p2p_window *w);

/* PCI_COMMAND_MEMORY on or off, the other command bits kept. */
void set_memory_decode(struct vfio_dev *d, bool on);
/* A function-level reset through PCI_EXP_DEVCTL, as a guest starts one. */
void function_level_reset(struct vfio_dev *d);

/* One load through @p: true if it raised SIGBUS. */
bool read_faults(const void *p);
/* One store through @p: true if it raised SIGBUS. */
bool write_faults(void *p, __u8 val);

#endif /* P2P_UTIL_H */
