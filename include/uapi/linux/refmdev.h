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
/* 0x100 - 0x1ff: reserved for the DMA engine. */

#define REFMDEV_ID_MAGIC		0x52454631	/* "REF1" */
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
#define REFMDEV_INT_ALL			REFMDEV_INT_SOFT

#endif /* _UAPI_LINUX_REFMDEV_H */
