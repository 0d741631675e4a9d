/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * refmdev: a reference mediated device for VFIO.
 *
 * This header is the device's programming model as seen by a VFIO user
 * (a VMM, a userspace driver, or a guest driver behind a VMM): PCI
 * identity, BAR layout and the BAR0 register file. Documentation/ holds
 * the prose version with the reasons behind each choice.
 */
#ifndef _UAPI_LINUX_REFMDEV_H
#define _UAPI_LINUX_REFMDEV_H

#include <linux/types.h>
#include <linux/vfio.h>

/*
 * PCI identity. 0x1234 is the vendor ID QEMU uses for its own emulated
 * test devices; no shipping hardware uses it, and the device ID avoids
 * the two QEMU already takes (0x1111 bochs-display, 0x11e8 edu).
 */
#define REFMDEV_PCI_VENDOR_ID		0x1234
#define REFMDEV_PCI_DEVICE_ID		0x4d44
#define REFMDEV_PCI_REVISION		0x01
#define REFMDEV_PCI_CLASS		0x088000	/* other system peripheral */
#define REFMDEV_PCI_SUBSYS_VENDOR_ID	0x1234
/* Subsystem ID: REFMDEV_PCI_SUBSYS_ID_BASE + the mdev type's index. */
#define REFMDEV_PCI_SUBSYS_ID_BASE	0x0100

/* Capability list, at fixed offsets so tests and guests can rely on it. */
#define REFMDEV_CFG_MSI_CAP		0x40
#define REFMDEV_CFG_EXP_CAP		0x50
#define REFMDEV_CFG_SIZE		4096	/* PCIe: extended space present */

/*
 * BARs. BAR0 is a 32-bit, non-prefetchable register file that is always
 * trapped (never mmappable). BAR2/3 is one 64-bit prefetchable BAR of
 * device memory, mmappable, its size set by the mdev type.
 */
#define REFMDEV_REGS_BAR		0
#define REFMDEV_REGS_SIZE		0x1000
#define REFMDEV_DEVMEM_BAR		2

/*
 * BAR0 register file.
 *
 * Every register is either 32 or 64 bits wide and naturally aligned. An
 * access is 1, 2, 4 or 8 bytes, naturally aligned, and must fall inside a
 * single register: an 8-byte access that would cover two 32-bit registers,
 * an unaligned access or an access of another width fails with EINVAL.
 * Offsets that hold no register read as zero and ignore writes. With
 * memory decoding off (PCI_COMMAND_MEMORY clear) every BAR access fails
 * with EIO, as on vfio-pci.
 */
#define REFMDEV_REG_ID			0x000	/* RO 32: REFMDEV_ID_MAGIC */
#define REFMDEV_REG_VERSION		0x004	/* RO 32: major << 16 | minor */
#define REFMDEV_REG_FEATURES		0x008	/* RO 32: REFMDEV_FEATURE_* */
#define REFMDEV_REG_DEVMEM_SIZE		0x010	/* RO 64: BAR2 size in bytes */
#define REFMDEV_REG_CONTROL		0x020	/* RW 32: REFMDEV_CTRL_* */
#define REFMDEV_REG_STATUS		0x024	/* RO 32: REFMDEV_STATUS_* */
#define REFMDEV_REG_INT_STATUS		0x030	/* RW1C 32: REFMDEV_INT_* */
#define REFMDEV_REG_INT_MASK		0x034	/* RW 32: 1 = source enabled */
#define REFMDEV_REG_INT_RAISE		0x038	/* WO 32: sets INT_STATUS bits */
#define REFMDEV_REG_SCRATCH		0x040	/* RW 32: no side effects */
#define REFMDEV_REG_SCRATCH64		0x048	/* RW 64: no side effects */
/* 0x100 - 0x1ff: the DMA engine, below. */

#define REFMDEV_ID_MAGIC		0x52454631	/* "REF1" */

/* FEATURES */
#define REFMDEV_FEATURE_DMA		(1u << 0)	/* the DMA engine below */
#define REFMDEV_FEATURE_P2P		(1u << 1)	/* BAR2 export, P2P windows */
#define REFMDEV_VERSION_MAJOR		1
#define REFMDEV_VERSION_MINOR		0

/*
 * CONTROL. Writing REFMDEV_CTRL_RESET resets the device's function
 * (registers to power-on values, device memory replaced by zeroed pages)
 * but not its PCI configuration space, like VFIO_DEVICE_RESET. The bit
 * reads back as zero: the reset has completed when the write returns.
 */
#define REFMDEV_CTRL_RESET		(1u << 31)

/* STATUS */
#define REFMDEV_STATUS_READY		(1u << 0)	/* out of reset */

/*
 * Interrupt sources. A source is pending when its INT_STATUS bit is set
 * and its INT_MASK bit is set. INTx is a level: asserted while anything is
 * pending (and PCI_COMMAND_INTX_DISABLE is clear). MSI is an edge: one
 * message each time the pending set goes from empty to non-empty.
 */
#define REFMDEV_INT_SOFT		(1u << 0)	/* raised by INT_RAISE */
#define REFMDEV_INT_DMA_DONE		(1u << 1)	/* descriptor with F_IRQ done */
#define REFMDEV_INT_DMA_ERROR		(1u << 2)	/* failed F_IRQ descriptor, or halt */
#define REFMDEV_INT_ALL			(REFMDEV_INT_SOFT | REFMDEV_INT_DMA_DONE | \
					 REFMDEV_INT_DMA_ERROR)

/*
 * DMA engine.
 *
 * The driver keeps a ring of REFMDEV_DMA_RING_SIZE descriptors in its own
 * memory (an IOVA the VMM mapped with VFIO_IOMMU_MAP_DMA), posts work by
 * writing descriptors and moving TAIL forward, and the engine consumes
 * them in order, moving HEAD. HEAD and TAIL are free-running 32-bit
 * counters: the slot of index i is i % RING_SIZE, the ring is empty when
 * HEAD == TAIL and holds TAIL - HEAD descriptors (at most RING_SIZE).
 *
 * Writing RING_BASE or RING_SIZE (only possible while CONTROL.ENABLE is
 * clear) sets HEAD and TAIL to 0. The engine runs while ENABLE is set and
 * HEAD != TAIL. It never touches guest memory while bus mastering
 * (PCI_COMMAND_MASTER) is off: it halts instead.
 *
 * A ring-level problem halts the engine (STATUS.HALTED, the reason in
 * STATUS bits 15:8, a REFMDEV_INT_DMA_ERROR interrupt) without consuming
 * a descriptor; clearing and setting ENABLE again clears the halt.
 */
#define REFMDEV_REG_DMA_RING_BASE	0x100	/* RW 64: 32-byte aligned IOVA */
#define REFMDEV_REG_DMA_RING_SIZE	0x108	/* RW 32: power of two, <= MAX */
#define REFMDEV_REG_DMA_HEAD		0x10c	/* RO 32 */
#define REFMDEV_REG_DMA_TAIL		0x110	/* RW 32: the doorbell */
#define REFMDEV_REG_DMA_CONTROL		0x114	/* RW 32: REFMDEV_DMA_CTRL_* */
#define REFMDEV_REG_DMA_STATUS		0x118	/* RO 32: REFMDEV_DMA_STATUS_* */
#define REFMDEV_REG_DMA_COMPLETED	0x11c	/* RO 32: descriptors consumed */

#define REFMDEV_DMA_RING_MAX		4096
#define REFMDEV_DMA_MAX_LEN		(64u << 20)	/* per descriptor */

#define REFMDEV_DMA_CTRL_ENABLE		(1u << 0)

#define REFMDEV_DMA_STATUS_BUSY		(1u << 0)	/* work pending */
#define REFMDEV_DMA_STATUS_HALTED	(1u << 1)
#define REFMDEV_DMA_STATUS_REASON_SHIFT	8
#define REFMDEV_DMA_STATUS_REASON(s)	(((s) >> 8) & 0xff)

/* Why the engine halted. */
#define REFMDEV_DMA_HALT_BUS_MASTER	1	/* PCI_COMMAND_MASTER is off */
#define REFMDEV_DMA_HALT_RING		2	/* RING_SIZE 0 or TAIL too far */
#define REFMDEV_DMA_HALT_RING_FAULT	3	/* ring IOVA not readable/writable */

/*
 * A descriptor, 32 bytes, little-endian. @src and @dst are IOVAs, or
 * offsets into the device's own BAR2 memory with F_SRC_DEVMEM /
 * F_DST_DEVMEM. For OP_FILL, @src is the pattern: destination byte k is
 * byte k % 8 of it. The driver sets @status to 0 before posting; the
 * device writes one of REFMDEV_DMA_ST_* when it is done with the
 * descriptor, after the data. A descriptor that fails has written
 * nothing to its destination.
 */
struct refmdev_dma_desc {
	__le64 src;
	__le64 dst;
	__le32 len;		/* 1 .. REFMDEV_DMA_MAX_LEN */
	__le32 flags;
	__le32 status;
	__le32 reserved;	/* must be zero */
};

#define REFMDEV_DMA_OP_MASK		0xf
#define REFMDEV_DMA_OP_COPY		1
#define REFMDEV_DMA_OP_FILL		2
#define REFMDEV_DMA_F_SRC_DEVMEM	(1u << 8)
#define REFMDEV_DMA_F_DST_DEVMEM	(1u << 9)
#define REFMDEV_DMA_F_IRQ		(1u << 16)	/* interrupt when done */

#define REFMDEV_DMA_ST_OK		1
#define REFMDEV_DMA_ST_BAD_DESC		0x10	/* unknown op or flags, reserved set */
#define REFMDEV_DMA_ST_BAD_LEN		0x11	/* zero or over MAX_LEN */
#define REFMDEV_DMA_ST_OVERFLOW		0x12	/* address + length wraps */
#define REFMDEV_DMA_ST_OVERLAP		0x13	/* source and destination overlap */
#define REFMDEV_DMA_ST_DEVMEM_RANGE	0x14	/* outside BAR2 */
#define REFMDEV_DMA_ST_UNMAPPED		0x20	/* IOVA range not (fully) mapped */
#define REFMDEV_DMA_ST_READ_ONLY	0x21	/* destination mapped read-only */
#define REFMDEV_DMA_ST_NO_MEMLOCK	0x22	/* pinning exceeds RLIMIT_MEMLOCK */
#define REFMDEV_DMA_ST_FAULT		0x23	/* pages cannot be pinned (MMIO) */
#define REFMDEV_DMA_ST_NO_OWNER		0x24	/* the mapping's owner is gone */
#define REFMDEV_DMA_ST_NO_MEM		0x25	/* the host is out of memory */
#define REFMDEV_DMA_ST_PEER_REVOKED	0x30	/* P2P window's dma-buf revoked */
#define REFMDEV_DMA_ST_PEER_RANGE	0x31	/* crosses a window edge, 2 windows */
#define REFMDEV_DMA_ST_PEER_FAULT	0x32	/* window memory not reachable */

/*
 * BAR export as a dma-buf: upstream's VFIO_DEVICE_FEATURE_DMA_BUF, with
 * its numbers and layout, for kernels whose headers predate it. Use it
 * with VFIO_DEVICE_FEATURE_GET; the ioctl returns the new dma-buf fd.
 * Only the device-memory BAR (REFMDEV_DEVMEM_BAR) can be exported.
 */
#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
#define VFIO_DEVICE_FEATURE_DMA_BUF 11

struct vfio_region_dma_range {
	__u64 offset;
	__u64 length;
};

struct vfio_device_feature_dma_buf {
	__u32 region_index;
	__u32 open_flags;
	__u32 flags;
	__u32 nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};
#endif

/*
 * P2P windows: a VFIO user attaches a dma-buf (typically another
 * refmdev's BAR2, exported as above) to this device at an IOVA. The DMA
 * engine then reaches [iova, iova + dma-buf size) through the dma-buf
 * instead of the IOMMU, without pinning; see Documentation/p2p.rst.
 *
 * These ioctls go to the VFIO device fd. Their type, 0xB9, is not VFIO's
 * (';'), so they cannot collide with present or future VFIO ioctls.
 *
 * ATTACH: in @index, @dmabuf_fd, @iova; out @size, @state (UNMAPPED) and
 * @notifications (0), written before the window exists. DETACH: in @index.
 * QUERY: in @index; out @dmabuf_fd (-1), @iova, @size, @state and
 * @notifications. @flags must be zero, @argsz at least the struct size.
 */
struct refmdev_p2p_window {
	__u32 argsz;
	__u32 flags;
	__u32 index;		/* 0 .. REFMDEV_P2P_WINDOWS - 1 */
	__s32 dmabuf_fd;
	__u64 iova;		/* page aligned */
	__u64 size;		/* the dma-buf's size */
	__u32 state;		/* REFMDEV_P2P_WINDOW_* */
	__u32 notifications;	/* move/revoke notifications received */
};

#define REFMDEV_P2P_WINDOWS		4

#define REFMDEV_P2P_WINDOW_EMPTY	0	/* nothing attached */
#define REFMDEV_P2P_WINDOW_UNMAPPED	1	/* attached, mapped on next use */
#define REFMDEV_P2P_WINDOW_MAPPED	2	/* the engine holds a mapping */
#define REFMDEV_P2P_WINDOW_REVOKED	3	/* the exporter refused a mapping */

#define REFMDEV_IOCTL_TYPE		0xB9
#define REFMDEV_P2P_WINDOW_ATTACH	_IOWR(REFMDEV_IOCTL_TYPE, 0x00, \
					      struct refmdev_p2p_window)
#define REFMDEV_P2P_WINDOW_DETACH	_IOW(REFMDEV_IOCTL_TYPE, 0x01, \
					     struct refmdev_p2p_window)
#define REFMDEV_P2P_WINDOW_QUERY	_IOWR(REFMDEV_IOCTL_TYPE, 0x02, \
					      struct refmdev_p2p_window)

#endif /* _UAPI_LINUX_REFMDEV_H */
