// SPDX-License-Identifier: GPL-2.0
/*
 * PCI configuration space of a refmdev.
 *
 * The space is a byte array plus a per-byte mask of writable bits, set up
 * once at power-on. A write stores (old & ~wmask) | (new & wmask) and then
 * looks at what changed; everything the mask does not cover is read-only
 * by construction. BAR sizing falls out of the same rule: the address bits
 * below the BAR's size are not writable, so writing all-ones reads back as
 * the size mask with the BAR's type bits.
 */
#include <linux/pci_regs.h>
#include <linux/uaccess.h>
#include "compat.h"
#include "refmdev.h"

/* Command bits a VFIO user may change: no I/O BARs, so no PCI_COMMAND_IO. */
#define REFMDEV_COMMAND_WMASK	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
				 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | \
				 PCI_COMMAND_INTX_DISABLE)

/*
 * Device Control bits a user may change: error reporting enables, relaxed
 * ordering, max payload, no snoop and max read request. Extended tags,
 * phantom functions and aux power are not offered. BCR_FLR is handled
 * separately: it triggers a reset and always reads as zero.
 */
#define REFMDEV_DEVCTL_WMASK	(PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | \
				 PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE | \
				 PCI_EXP_DEVCTL_RELAX_EN | \
				 PCI_EXP_DEVCTL_PAYLOAD | \
				 PCI_EXP_DEVCTL_NOSNOOP_EN | \
				 PCI_EXP_DEVCTL_READRQ)

static void cfg_set8(u8 *space, unsigned int off, u8 val)
{
	space[off] = val;
}

static void cfg_set16(u8 *space, unsigned int off, u16 val)
{
	put_unaligned_le16(val, space + off);
}

static void cfg_set32(u8 *space, unsigned int off, u32 val)
{
	put_unaligned_le32(val, space + off);
}

static u16 cfg_get16(const u8 *space, unsigned int off)
{
	return get_unaligned_le16(space + off);
}

u16 refmdev_config_command(struct refmdev *rd)
{
	return cfg_get16(rd->config, PCI_COMMAND);
}

static void config_init_header(struct refmdev *rd)
{
	u8 *c = rd->config, *w = rd->config_wmask;
	u64 bar2_mask = ~(rd->type->devmem_size - 1);

	cfg_set16(c, PCI_VENDOR_ID, REFMDEV_PCI_VENDOR_ID);
	cfg_set16(c, PCI_DEVICE_ID, REFMDEV_PCI_DEVICE_ID);
	cfg_set16(c, PCI_STATUS, PCI_STATUS_CAP_LIST);
	cfg_set32(c, PCI_CLASS_REVISION,
		  REFMDEV_PCI_CLASS << 8 | REFMDEV_PCI_REVISION);
	cfg_set8(c, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
	cfg_set32(c, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_SPACE_MEMORY |
		  PCI_BASE_ADDRESS_MEM_TYPE_32);
	cfg_set32(c, PCI_BASE_ADDRESS_2, PCI_BASE_ADDRESS_SPACE_MEMORY |
		  PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	cfg_set16(c, PCI_SUBSYSTEM_VENDOR_ID, REFMDEV_PCI_SUBSYS_VENDOR_ID);
	cfg_set16(c, PCI_SUBSYSTEM_ID,
		  REFMDEV_PCI_SUBSYS_ID_BASE + rd->type->index);
	cfg_set8(c, PCI_CAPABILITY_LIST, REFMDEV_CFG_MSI_CAP);
	cfg_set8(c, PCI_INTERRUPT_PIN, 1);	/* INTA# */

	cfg_set16(w, PCI_COMMAND, REFMDEV_COMMAND_WMASK);
	cfg_set8(w, PCI_CACHE_LINE_SIZE, 0xff);
	cfg_set32(w, PCI_BASE_ADDRESS_0,
		  ~(u32)(REFMDEV_REGS_SIZE - 1) & PCI_BASE_ADDRESS_MEM_MASK);
	cfg_set32(w, PCI_BASE_ADDRESS_2,
		  lower_32_bits(bar2_mask) & PCI_BASE_ADDRESS_MEM_MASK);
	cfg_set32(w, PCI_BASE_ADDRESS_3, upper_32_bits(bar2_mask));
	cfg_set8(w, PCI_INTERRUPT_LINE, 0xff);
}

static void config_init_msi(struct refmdev *rd)
{
	unsigned int cap = REFMDEV_CFG_MSI_CAP;
	u8 *c = rd->config, *w = rd->config_wmask;

	cfg_set8(c, cap + PCI_CAP_LIST_ID, PCI_CAP_ID_MSI);
	cfg_set8(c, cap + PCI_CAP_LIST_NEXT, REFMDEV_CFG_EXP_CAP);
	/* One vector (MMC = 0), 64-bit addresses, no per-vector masking. */
	cfg_set16(c, cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_64BIT);

	cfg_set16(w, cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE);
	cfg_set32(w, cap + PCI_MSI_ADDRESS_LO, 0xfffffffc);
	cfg_set32(w, cap + PCI_MSI_ADDRESS_HI, 0xffffffff);
	cfg_set16(w, cap + PCI_MSI_DATA_64, 0xffff);
}

static void config_init_exp(struct refmdev *rd)
{
	unsigned int cap = REFMDEV_CFG_EXP_CAP;
	u8 *c = rd->config, *w = rd->config_wmask;

	cfg_set8(c, cap + PCI_CAP_LIST_ID, PCI_CAP_ID_EXP);
	cfg_set8(c, cap + PCI_CAP_LIST_NEXT, 0);
	cfg_set16(c, cap + PCI_EXP_FLAGS,
		  2 | (PCI_EXP_TYPE_ENDPOINT << 4));	/* version 2 */
	/* 128-byte max payload, function-level reset supported. */
	cfg_set32(c, cap + PCI_EXP_DEVCAP, PCI_EXP_DEVCAP_FLR);
	/* Power-on defaults from the PCIe spec: RO and NS on, MRRS 512. */
	cfg_set16(c, cap + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_RELAX_EN |
		  PCI_EXP_DEVCTL_NOSNOOP_EN | PCI_EXP_DEVCTL_READRQ_512B);
	/* One 2.5 GT/s lane, trained. */
	cfg_set32(c, cap + PCI_EXP_LNKCAP,
		  PCI_EXP_LNKCAP_SLS_2_5GB | (1 << 4));
	cfg_set16(c, cap + PCI_EXP_LNKSTA,
		  PCI_EXP_LNKSTA_CLS_2_5GB | (1 << PCI_EXP_LNKSTA_NLW_SHIFT));

	cfg_set16(w, cap + PCI_EXP_DEVCTL, REFMDEV_DEVCTL_WMASK);
}

/* Power-on state: command register zero, so memory decoding is off. */
void refmdev_config_init(struct refmdev *rd)
{
	lockdep_assert_held(&rd->lock);
	memset(rd->config, 0, sizeof(rd->config));
	memset(rd->config_wmask, 0, sizeof(rd->config_wmask));
	config_init_header(rd);
	config_init_msi(rd);
	config_init_exp(rd);
}

static u32 config_read(struct refmdev *rd, unsigned int off, unsigned int len)
{
	u8 bytes[4];

	memcpy(bytes, rd->config + off, len);
	/* Interrupt Status reflects the INTx level, whatever INTX_DISABLE says. */
	if (off <= PCI_STATUS && off + len > PCI_STATUS &&
	    rd->irqs.pending && rd->irqs.mode != REFMDEV_IRQ_MSI)
		bytes[PCI_STATUS - off] |= PCI_STATUS_INTERRUPT;

	switch (len) {
	case 1:
		return bytes[0];
	case 2:
		return get_unaligned_le16(bytes);
	default:
		return get_unaligned_le32(bytes);
	}
}

/*
 * Returns the requests (enum refmdev_request: REFMDEV_REQ_RESET_FLR, or
 * REFMDEV_REQ_DMA_FENCE and REFMDEV_REQ_EXPORT_SYNC) for the caller to
 * carry out once it has dropped rd->lock; a write cannot fail.
 */
static unsigned int config_write(struct refmdev *rd, unsigned int off,
				 unsigned int len, u32 val)
{
	u16 old_cmd = refmdev_config_command(rd), new_cmd;
	unsigned int devctl = REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCTL;
	unsigned int requests = 0;
	bool flr = false;
	unsigned int i;

	lockdep_assert_held(&rd->lock);
	for (i = 0; i < len; i++) {
		unsigned int pos = off + i;
		u8 byte = val >> (8 * i);
		u8 wmask;

		if (pos >= PCI_CFG_SPACE_SIZE)
			break;	/* extended space is all read-only zeros */
		if (pos == devctl + 1 && (byte & (PCI_EXP_DEVCTL_BCR_FLR >> 8)))
			flr = true;
		wmask = rd->config_wmask[pos];
		rd->config[pos] = (rd->config[pos] & ~wmask) | (byte & wmask);
	}

	if (flr)
		return REFMDEV_REQ_RESET_FLR;

	new_cmd = refmdev_config_command(rd);
	if ((old_cmd ^ new_cmd) & PCI_COMMAND_MEMORY) {
		refmdev_devmem_set_decode(rd, new_cmd & PCI_COMMAND_MEMORY);
		requests |= REFMDEV_REQ_EXPORT_SYNC;
	}
	if ((old_cmd ^ new_cmd) & PCI_COMMAND_INTX_DISABLE)
		refmdev_irq_update(rd);
	if (old_cmd & ~new_cmd & PCI_COMMAND_MASTER)
		requests |= REFMDEV_REQ_DMA_FENCE;
	return requests;
}

/*
 * Change the command register as a user write would, side effects
 * included. Used where the engine is already stopped (open, close), so a
 * DMA fence request needs no carrying out; the caller brings the
 * dma-bufs in line itself (refmdev_export_sync() or close).
 */
void refmdev_config_set_command(struct refmdev *rd, u16 cmd)
{
	lockdep_assert_held(&rd->lock);
	config_write(rd, PCI_COMMAND, 2, cmd);
}

/*
 * Any length and offset inside the space is accepted and split into
 * naturally aligned accesses of at most four bytes, which is how vfio-pci
 * treats its config region too; the pieces are applied in order.
 */
ssize_t refmdev_config_rw(struct refmdev *rd, char __user *buf,
			  size_t count, loff_t pos, bool write)
{
	unsigned int requests;
	size_t done = 0;
	int ret = 0;

	if (pos < 0 || pos >= REFMDEV_CFG_SIZE ||
	    count > REFMDEV_CFG_SIZE - pos)
		return -EINVAL;

	while (done < count) {
		unsigned int off = pos + done;
		size_t left = count - done;
		unsigned int len;
		__le32 data;

		if (left >= 4 && !(off & 3))
			len = 4;
		else if (left >= 2 && !(off & 1))
			len = 2;
		else
			len = 1;

		if (write) {
			data = 0;
			if (copy_from_user(&data, buf + done, len)) {
				ret = -EFAULT;
				break;
			}
			mutex_lock(&rd->lock);
			requests = config_write(rd, off, len, le32_to_cpu(data));
			mutex_unlock(&rd->lock);
			if (requests)
				ret = refmdev_run_request(rd, requests);
			if (ret)
				break;
		} else {
			mutex_lock(&rd->lock);
			data = cpu_to_le32(config_read(rd, off, len));
			mutex_unlock(&rd->lock);
			if (copy_to_user(buf + done, &data, len)) {
				ret = -EFAULT;
				break;
			}
		}
		done += len;
	}
	return done ? done : ret;
}
