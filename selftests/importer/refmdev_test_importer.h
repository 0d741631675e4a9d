/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * refmdev_test_importer: the uAPI of a test-only dma-buf importer.
 *
 * The module registers /dev/refmdev_test_importer. Every open file has
 * its own table of handles; a handle is one attachment of one dma-buf to
 * the importer's device, with at most one mapping. Closing the file
 * unmaps and detaches all its handles and drops their dma-buf
 * references. The selftests use it to see revocation from an importer's
 * side, independently of refmdev's own DMA engine.
 *
 * ATTACH   in: @dmabuf_fd, @flags; out: @handle (never 0), @size.
 *          DYNAMIC attaches with dma_buf_dynamic_attach() and importer
 *          ops (allow_peer2peer, move_notify); without it the attachment
 *          is static (dma_buf_attach()). The move_notify callback counts
 *          the notification and unmaps the handle's mapping at once.
 * MAP      dma_buf_map_attachment(DMA_BIDIRECTIONAL) under the dma-buf's
 *          reservation lock. The exporter's errno is returned, and kept
 *          for QUERY's @last_map_errno.
 * UNMAP    dma_buf_unmap_attachment() of the handle's mapping.
 * DETACH   unmap if mapped, detach, drop the dma-buf reference.
 * READ     copy @len bytes at @offset of the dma-buf to @buf, through the
 *          handle's current mapping: each DMA address is turned back into
 *          a physical address (no IOMMU sits in front of the importer's
 *          device), and the page is read with the CPU.
 * QUERY    in: @handle; out: the rest. The importer's device limits DMA
 *          segments to REFMDEV_TI_SEGMENT_LIMIT bytes, so that an
 *          exporter that ignores dma_get_max_seg_size() shows in
 *          @max_segment.
 * FENCE    add an unsignaled fence to the handle's dma-buf, for writing
 *          (DMA_RESV_USAGE_WRITE), as a device with work queued on it
 *          would: everyone who honours fences now waits for it. It is
 *          signaled by SIGNAL, or when the handle goes (DETACH, close).
 * SIGNAL   signal the handle's fence.
 *
 * Errors: EFAULT for an unreadable argument or an unwritable buffer;
 * EINVAL for unknown flags, a non-zero reserved field, or a READ range
 * past the end of the dma-buf; EOVERFLOW if @offset + @len wraps; ENOENT
 * for a handle the file does not have; ENOSPC when the file has
 * REFMDEV_TI_MAX_HANDLES handles; EBUSY for MAP of a mapped handle;
 * ENODEV for UNMAP or READ of a handle that is not mapped; EIO if a READ
 * meets a DMA address that is not RAM or a mapping shorter than the
 * dma-buf. EBUSY for FENCE while the handle's fence is unsignaled;
 * ENODATA for SIGNAL without one. ATTACH: EBADF for a bad fd, EINVAL for an fd that is not a
 * dma-buf, and otherwise the exporter's errno, as MAP. ENOTTY for an
 * unknown ioctl.
 */
#ifndef _REFMDEV_TEST_IMPORTER_H
#define _REFMDEV_TEST_IMPORTER_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define REFMDEV_TI_DEVICE		"/dev/refmdev_test_importer"
#define REFMDEV_TI_MAX_HANDLES		4096
#define REFMDEV_TI_SEGMENT_LIMIT	8192

#define REFMDEV_TI_ATTACH_DYNAMIC	0x1u
/*
 * With DYNAMIC: count notifications but keep the mapping, as an importer
 * that breaks the dynamic-importer contract (or a pinned RDMA
 * registration) does. The exporter must neither hang nor free memory
 * this mapping still reaches.
 */
#define REFMDEV_TI_ATTACH_IGNORE_NOTIFY	0x2u

struct refmdev_ti_attach {
	__s32 dmabuf_fd;	/* in */
	__u32 flags;		/* in: REFMDEV_TI_ATTACH_* */
	__u32 handle;		/* out */
	__u32 reserved;		/* in: zero */
	__u64 size;		/* out: the dma-buf's size in bytes */
};

/* MAP, UNMAP and DETACH. */
struct refmdev_ti_handle {
	__u32 handle;
	__u32 flags;		/* zero */
};

struct refmdev_ti_read {
	__u32 handle;
	__u32 flags;		/* zero */
	__u64 offset;		/* in the dma-buf */
	__u64 len;
	__u64 buf;		/* user pointer */
};

struct refmdev_ti_query {
	__u32 handle;		/* in */
	__u32 flags;		/* in: zero */
	__u32 notifications;	/* move_notify calls received */
	__u32 mapped;		/* 1 while the handle holds a mapping */
	__u64 size;		/* the dma-buf's size in bytes */
	__s32 last_map_errno;	/* of the last MAP: 0, or a positive errno */
	__u32 dynamic;		/* 1 for a dynamic attachment */
	__u32 max_segment;	/* longest DMA segment of the mapping, bytes */
	__u32 segment_limit;	/* the importer device's max segment size */
};

/* Not 0xB9 (refmdev's own ioctls) and not VFIO's ';'. */
#define REFMDEV_TI_IOCTL_TYPE		0xBA
#define REFMDEV_TI_ATTACH	_IOWR(REFMDEV_TI_IOCTL_TYPE, 0x00, \
				      struct refmdev_ti_attach)
#define REFMDEV_TI_MAP		_IOW(REFMDEV_TI_IOCTL_TYPE, 0x01, \
				     struct refmdev_ti_handle)
#define REFMDEV_TI_UNMAP	_IOW(REFMDEV_TI_IOCTL_TYPE, 0x02, \
				     struct refmdev_ti_handle)
#define REFMDEV_TI_DETACH	_IOW(REFMDEV_TI_IOCTL_TYPE, 0x03, \
				     struct refmdev_ti_handle)
#define REFMDEV_TI_READ		_IOW(REFMDEV_TI_IOCTL_TYPE, 0x04, \
				     struct refmdev_ti_read)
#define REFMDEV_TI_QUERY	_IOWR(REFMDEV_TI_IOCTL_TYPE, 0x05, \
				      struct refmdev_ti_query)

#define REFMDEV_TI_FENCE	_IOW(REFMDEV_TI_IOCTL_TYPE, 0x06, \
				     struct refmdev_ti_handle)
#define REFMDEV_TI_SIGNAL	_IOW(REFMDEV_TI_IOCTL_TYPE, 0x07, \
				     struct refmdev_ti_handle)

/*
 * EXPORT_PLAIN: a new dma-buf of @size bytes (page aligned, at most
 * REFMDEV_TI_EXPORT_MAX) of zeroed pages, whose exporter offers DMA
 * mappings and nothing else (no vmap, no CPU access, no mmap). Returns
 * its fd (O_RDWR, close-on-exec).
 */
#define REFMDEV_TI_EXPORT_MAX	(16u << 20)
struct refmdev_ti_export {
	__u64 size;
	__u32 flags;		/* zero */
	__u32 reserved;		/* zero */
};

#define REFMDEV_TI_EXPORT_PLAIN	_IOW(REFMDEV_TI_IOCTL_TYPE, 0x08, \
				     struct refmdev_ti_export)

#endif /* _REFMDEV_TEST_IMPORTER_H */
