/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * refmdev_guest: the interface of the guest driver for refmdev functions.
 *
 * refmdev_guest.ko is a PCI driver for the kernel of a virtual machine
 * that has refmdev mdevs assigned to it (QEMU: -device
 * vfio-pci,sysfsdev=/sys/bus/mdev/devices/UUID). Every function it binds
 * gets a misc device, /dev/refmdev_guestN, N counting from 0 in probe
 * order (the lowest free number). This header, usable from user space and
 * from the driver, holds its ioctls. The device's own programming model is
 * include/uapi/linux/refmdev.h.
 *
 * Every ioctl fails with ENODEV once its function has been unbound.
 */
#ifndef _REFMDEV_GUEST_H
#define _REFMDEV_GUEST_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define REFMDEV_GUEST_NAME		"refmdev_guest"	/* + N: misc device */

/* Largest transfer, and largest REFMDEV_GUEST_KIND_MEM data offset. */
#define REFMDEV_GUEST_MAX_LEN		(16u << 20)
#define REFMDEV_GUEST_MAX_MEM_OFFSET	(64u << 10)

/* How a PCI function is named in the *_peer fields with *_PEER_BDF. */
#define REFMDEV_GUEST_BDF(domain, bus, devfn) \
	(((__u32)(domain) << 16) | ((__u32)(bus) << 8) | (__u32)(devfn))

/* refmdev_guest_info.irq_mode */
#define REFMDEV_GUEST_IRQ_INTX		1
#define REFMDEV_GUEST_IRQ_MSI		2

/*
 * REFMDEV_GUEST_IOC_INFO: the function, its BARs as the guest sees them,
 * its interrupt and the driver's counters.
 */
struct refmdev_guest_info {
	__u32 index;		/* N of /dev/refmdev_guestN */
	__u32 domain;		/* PCI domain, bus, slot, function */
	__u8 bus;
	__u8 slot;
	__u8 func;
	__u8 reserved0;
	__u32 irq_mode;		/* REFMDEV_GUEST_IRQ_* */
	__u32 irq;		/* Linux IRQ number, for diagnostics */
	__u32 version;		/* REFMDEV_REG_VERSION */
	__u32 features;		/* REFMDEV_REG_FEATURES */
	__u32 ring_entries;	/* descriptors in the driver's ring */
	__u64 bar0_bus;		/* bus address of BAR0 */
	__u64 bar0_size;
	__u64 bar2_bus;		/* bus address of BAR2: what peers DMA to */
	__u64 bar2_size;
	__u64 devmem_size;	/* REFMDEV_REG_DEVMEM_SIZE */
	__u64 irqs;		/* handler calls that found a source pending */
	__u64 irqs_none;	/* handler calls that found none (shared INTx) */
	__u64 irqs_done;	/* ... with REFMDEV_INT_DMA_DONE */
	__u64 irqs_error;	/* ... with REFMDEV_INT_DMA_ERROR */
	__u64 xfers;		/* COPY/FILL batches waited for */
	__u64 descs;		/* descriptors posted */
	__u64 polled;		/* batches found done without an interrupt */
	__u64 timeouts;		/* batches that timed out */
	__u64 resets;		/* resets done: ioctl, recovery, probe */
	__u64 cancelled;	/* batches cut short by a reset */
	char bdf[32];		/* "dddd:bb:ss.f" */
};

/*
 * REFMDEV_GUEST_IOC_COPY, REFMDEV_GUEST_IOC_FILL: one transfer by the
 * function's DMA engine, @len bytes from the source to the destination
 * (FILL: the pattern, destination byte k being byte k % 8 of @pattern,
 * little-endian, as in the device's OP_FILL; the src_* fields are then
 * ignored). The driver splits the transfer into as many descriptors as
 * the memory it uses needs and waits for them, at most @timeout_ms per
 * ring-full.
 *
 * A side is one of:
 *
 * REFMDEV_GUEST_KIND_MEM: guest memory. The driver allocates a buffer of
 *   @offset + @len bytes, DMA-maps it and places the data at @offset in it
 *   (so @offset < REFMDEV_GUEST_MAX_MEM_OFFSET chooses the alignment the
 *   device sees). @addr is a user pointer to @len bytes: the source's data
 *   is copied in before the transfer; the destination's is copied out
 *   after it, only if the whole transfer succeeded.
 * REFMDEV_GUEST_KIND_DEVMEM: the function's own BAR2, at offset @offset
 *   (descriptor flag F_*_DEVMEM).
 * REFMDEV_GUEST_KIND_PEER: another function's BAR2, reached by its bus
 *   address (pci_bus_address() of its BAR2 plus @offset). @peer is the N
 *   of its /dev/refmdev_guestN, or with REFMDEV_GUEST_XFER_*_PEER_BDF its
 *   REFMDEV_GUEST_BDF(); it must be bound to this driver. The function's
 *   own N is accepted too.
 *
 * Returns 0 when every descriptor completed with REFMDEV_DMA_ST_OK, else:
 *   EINVAL   bad argument (nothing was posted)
 *   EFAULT   a user buffer could not be read or written
 *   ENOMEM   no memory for the buffers
 *   EIO      a descriptor failed (@status says how), or the engine
 *            halted (REFMDEV_GUEST_RES_HALTED), or the function is broken
 *            after a failed reset
 *   ECANCELED a reset took descriptors away before they were done
 *   ETIMEDOUT the engine did not finish in time
 *   EINTR    a fatal signal ended the wait
 * After ETIMEDOUT, EINTR or a halt the driver resets the function
 * (REFMDEV_CTRL_RESET) before giving the buffers back, so that nothing
 * is written to them later. The output fields are written back in every
 * case that got as far as posting.
 */
#define REFMDEV_GUEST_KIND_MEM		1
#define REFMDEV_GUEST_KIND_DEVMEM	2
#define REFMDEV_GUEST_KIND_PEER		3

/* flags */
#define REFMDEV_GUEST_XFER_SRC_PEER_BDF	0x01u
#define REFMDEV_GUEST_XFER_DST_PEER_BDF	0x02u
/*
 * Do not check DEVMEM ranges against BAR2 in the driver: let the device
 * judge them (REFMDEV_DMA_ST_DEVMEM_RANGE, _OVERFLOW). For testing.
 */
#define REFMDEV_GUEST_XFER_NO_RANGE_CHECK 0x04u
#define REFMDEV_GUEST_XFER_FLAGS	0x07u

/* result */
#define REFMDEV_GUEST_RES_RESET		0x01u	/* a reset while posted */
#define REFMDEV_GUEST_RES_TIMEOUT	0x02u
#define REFMDEV_GUEST_RES_HALTED	0x04u	/* ring-level halt */
#define REFMDEV_GUEST_RES_POLLED	0x08u	/* done, no interrupt */
#define REFMDEV_GUEST_RES_SIGNAL	0x10u

struct refmdev_guest_xfer {
	__u32 src_kind;		/* REFMDEV_GUEST_KIND_* */
	__u32 dst_kind;
	__u64 src_addr;		/* KIND_MEM: user pointer */
	__u64 dst_addr;
	__u64 src_offset;	/* see above */
	__u64 dst_offset;
	__u64 len;		/* 1 .. REFMDEV_GUEST_MAX_LEN */
	__u64 pattern;		/* FILL */
	__u32 src_peer;		/* KIND_PEER: N, or BDF */
	__u32 dst_peer;
	__u32 flags;		/* REFMDEV_GUEST_XFER_* */
	__u32 timeout_ms;	/* 0: the module's timeout_ms */
	/* out */
	__u32 status;		/* first failing REFMDEV_DMA_ST_*; OK; 0 */
	__u32 result;		/* REFMDEV_GUEST_RES_* */
	__u32 ndesc;		/* descriptors posted */
	__u32 ndone;		/* descriptors that completed OK */
	__u64 done_bytes;	/* bytes those descriptors moved */
	__u64 elapsed_ns;	/* first doorbell to the end of the last wait */
};

/*
 * REFMDEV_GUEST_IOC_RESET: reset the function, at any time, also while
 * another thread's transfer is in flight (it ends with ECANCELED, or 0
 * if all its descriptors were done). The driver programs the engine again
 * afterwards. Both methods replace the device memory with zeroed pages.
 *
 * REFMDEV_GUEST_RESET_FLR: PCIe function-level reset (pcie_flr()), with
 *   the configuration space saved and restored around it; EOPNOTSUPP if
 *   the function does not offer FLR.
 * REFMDEV_GUEST_RESET_CTRL: REFMDEV_CTRL_RESET through BAR0.
 *
 * EIO: the function did not come back (it then stays unusable, with bus
 * mastering off, until a reset succeeds).
 */
#define REFMDEV_GUEST_RESET_FLR		1
#define REFMDEV_GUEST_RESET_CTRL	2

struct refmdev_guest_reset {
	__u32 method;		/* REFMDEV_GUEST_RESET_* */
	__u32 flags;		/* must be 0 */
	__u32 cancelled;	/* out: 1 if it cut a transfer short */
	__u32 reserved;		/* must be 0 */
	__u64 elapsed_ns;	/* out */
};

/*
 * REFMDEV_GUEST_IOC_READ_BAR2, REFMDEV_GUEST_IOC_WRITE_BAR2: CPU access
 * to the function's BAR2 through the driver's mapping, @len bytes at
 * @offset, to or from the user buffer @buf. EINVAL if the range is not
 * inside BAR2.
 */
struct refmdev_guest_bar2_io {
	__u64 offset;
	__u64 len;
	__u64 buf;		/* user pointer */
};

/* 0xB9 is refmdev's own VFIO-side type; this is the one after it. */
#define REFMDEV_GUEST_IOC_TYPE		0xBA
#define REFMDEV_GUEST_IOC_INFO		_IOR(REFMDEV_GUEST_IOC_TYPE, 0x00, \
					     struct refmdev_guest_info)
#define REFMDEV_GUEST_IOC_COPY		_IOWR(REFMDEV_GUEST_IOC_TYPE, 0x01, \
					      struct refmdev_guest_xfer)
#define REFMDEV_GUEST_IOC_FILL		_IOWR(REFMDEV_GUEST_IOC_TYPE, 0x02, \
					      struct refmdev_guest_xfer)
#define REFMDEV_GUEST_IOC_RESET		_IOWR(REFMDEV_GUEST_IOC_TYPE, 0x03, \
					      struct refmdev_guest_reset)
#define REFMDEV_GUEST_IOC_READ_BAR2	_IOW(REFMDEV_GUEST_IOC_TYPE, 0x04, \
					     struct refmdev_guest_bar2_io)
#define REFMDEV_GUEST_IOC_WRITE_BAR2	_IOW(REFMDEV_GUEST_IOC_TYPE, 0x05, \
					     struct refmdev_guest_bar2_io)

#endif /* _REFMDEV_GUEST_H */
