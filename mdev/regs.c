// SPDX-License-Identifier: GPL-2.0
/*
 * BAR0 register file of a refmdev.
 *
 * Accesses are checked against a table of registers so that every rule in
 * the uAPI header (natural alignment, 1/2/4/8-byte widths, no access
 * spanning two registers) is enforced in one place. A sub-register access
 * is a read-modify-write of the whole register with a byte-enable mask,
 * which keeps write-one-to-clear and write-only registers exact for any
 * width.
 */
#include <linux/uaccess.h>
#include "compat.h"
#include "refmdev.h"

struct refmdev_reg {
	unsigned int offset;
	unsigned int width;
};

static const struct refmdev_reg refmdev_regs[] = {
	{ REFMDEV_REG_ID, 4 },
	{ REFMDEV_REG_VERSION, 4 },
	{ REFMDEV_REG_FEATURES, 4 },
	{ REFMDEV_REG_DEVMEM_SIZE, 8 },
	{ REFMDEV_REG_CONTROL, 4 },
	{ REFMDEV_REG_STATUS, 4 },
	{ REFMDEV_REG_INT_STATUS, 4 },
	{ REFMDEV_REG_INT_MASK, 4 },
	{ REFMDEV_REG_INT_RAISE, 4 },
	{ REFMDEV_REG_SCRATCH, 4 },
	{ REFMDEV_REG_SCRATCH64, 8 },
};

/*
 * The register holding byte @off, or a zero-width one for a hole. The
 * DMA engine's registers are described by dma.c.
 */
static struct refmdev_reg regs_find(unsigned int off)
{
	struct refmdev_reg r = { .offset = off, .width = 0 };
	unsigned int i, base;

	for (i = 0; i < ARRAY_SIZE(refmdev_regs); i++) {
		if (off >= refmdev_regs[i].offset &&
		    off < refmdev_regs[i].offset + refmdev_regs[i].width)
			return refmdev_regs[i];
	}
	for (base = off & ~7u; base <= off; base += 4) {
		if (refmdev_dma_is_reg(base, &r.width) &&
		    off < base + r.width) {
			r.offset = base;
			return r;
		}
	}
	r.width = 0;
	return r;
}

void refmdev_regs_init(struct refmdev *rd)
{
	lockdep_assert_held(&rd->lock);
	memset(&rd->regs, 0, sizeof(rd->regs));
}

static u64 regs_read(struct refmdev *rd, unsigned int offset)
{
	switch (offset) {
	case REFMDEV_REG_ID:
		return REFMDEV_ID_MAGIC;
	case REFMDEV_REG_VERSION:
		return REFMDEV_VERSION_MAJOR << 16 | REFMDEV_VERSION_MINOR;
	case REFMDEV_REG_FEATURES:
		return REFMDEV_FEATURE_DMA | REFMDEV_FEATURE_P2P;
	case REFMDEV_REG_DEVMEM_SIZE:
		return rd->type->devmem_size;
	case REFMDEV_REG_CONTROL:
		return rd->regs.control;
	case REFMDEV_REG_STATUS:
		return REFMDEV_STATUS_READY;
	case REFMDEV_REG_INT_STATUS:
		return rd->regs.int_status;
	case REFMDEV_REG_INT_MASK:
		return rd->regs.int_mask;
	case REFMDEV_REG_SCRATCH:
		return rd->regs.scratch;
	case REFMDEV_REG_SCRATCH64:
		return rd->regs.scratch64;
	default:	/* the engine's, or write-only ones that read as 0 */
		return refmdev_dma_reg_read(rd, offset);
	}
}

/*
 * @val holds the written bytes in register position and @mask says which
 * bytes were written. Returns the requests (enum refmdev_request) for the
 * caller to carry out after unlocking; a write cannot fail.
 */
static unsigned int regs_write(struct refmdev *rd, unsigned int offset,
			       u64 val, u64 mask)
{
	struct refmdev_regs *r = &rd->regs;

	lockdep_assert_held(&rd->lock);
	val &= mask;
	switch (offset) {
	case REFMDEV_REG_CONTROL:
		if (val & REFMDEV_CTRL_RESET)
			return REFMDEV_REQ_RESET_FUNCTION;
		break;
	case REFMDEV_REG_INT_STATUS:
		r->int_status &= ~val;
		refmdev_irq_update(rd);
		break;
	case REFMDEV_REG_INT_MASK:
		r->int_mask = (r->int_mask & ~mask) | (val & REFMDEV_INT_ALL);
		refmdev_irq_update(rd);
		break;
	case REFMDEV_REG_INT_RAISE:
		r->int_status |= val & REFMDEV_INT_ALL;
		refmdev_irq_update(rd);
		break;
	case REFMDEV_REG_SCRATCH:
		r->scratch = (r->scratch & ~mask) | val;
		break;
	case REFMDEV_REG_SCRATCH64:
		r->scratch64 = (r->scratch64 & ~mask) | val;
		break;
	default:	/* the engine's; read-only ones ignore writes */
		refmdev_dma_reg_write(rd, offset, val, mask);
		break;
	}
	return 0;
}

static int regs_access(struct refmdev *rd, unsigned int off, unsigned int len,
		       u64 *val, bool write)
{
	struct refmdev_reg reg = regs_find(off), last = regs_find(off + len - 1);
	unsigned int requests = 0;
	unsigned int shift;
	u64 mask;
	int ret = 0;

	/* Both ends in the same register, or both in a hole. */
	if (reg.width != last.width ||
	    (reg.width && reg.offset != last.offset))
		return -EINVAL;

	mutex_lock(&rd->lock);
	if (!(refmdev_config_command(rd) & PCI_COMMAND_MEMORY)) {
		ret = -EIO;
	} else if (reg.width) {
		shift = 8 * (off - reg.offset);
		mask = (len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1) << shift;
		if (write)
			requests = regs_write(rd, reg.offset, *val << shift,
					      mask);
		else
			*val = (regs_read(rd, reg.offset) & mask) >> shift;
	} else if (!write) {
		*val = 0;
	}
	mutex_unlock(&rd->lock);
	if (requests)
		ret = refmdev_run_request(rd, requests);
	return ret;
}

ssize_t refmdev_regs_rw(struct refmdev *rd, char __user *buf,
			size_t count, loff_t pos, bool write)
{
	u64 val = 0;
	int ret;

	if (count != 1 && count != 2 && count != 4 && count != 8)
		return -EINVAL;
	if (pos < 0 || pos >= REFMDEV_REGS_SIZE ||
	    count > REFMDEV_REGS_SIZE - pos || (pos & (count - 1)))
		return -EINVAL;

	/* The byte image of a little-endian register is its low bytes. */
	if (write) {
		__le64 raw = 0;

		if (copy_from_user(&raw, buf, count))
			return -EFAULT;
		val = le64_to_cpu(raw);
	}
	ret = regs_access(rd, pos, count, &val, write);
	if (ret)
		return ret;
	if (!write) {
		__le64 raw = cpu_to_le64(val);

		if (copy_to_user(buf, &raw, count))
			return -EFAULT;
	}
	return count;
}
