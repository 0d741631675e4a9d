// SPDX-License-Identifier: GPL-2.0
/*
 * device_io: configuration space and BAR0 registers of an open refmdev,
 * through its VFIO regions; see device_io.h.
 */

/* Region offsets lie above 4 GiB; keep off_t 64-bit on 32-bit hosts too. */
#define _FILE_OFFSET_BITS 64

#include <endian.h>
#include <linux/pci_regs.h>
#include <unistd.h>

#include "device_io.h"
#include "fail.h"

/*
 * Messages name the device when a sample has more than one: "A's
 * region 2", or just "region 2". These give the two "%s" of "%s%s".
 */
static const char *owner(const struct sample_dev *d)
{
	return d->name ? d->name : "";
}

static const char *owner_s(const struct sample_dev *d)
{
	return d->name ? "'s " : "";
}

void get_region(struct sample_dev *d, unsigned int index,
		struct vfio_region_info *info, const char *step)
{
	const __u32 rw = VFIO_REGION_INFO_FLAG_READ |
			 VFIO_REGION_INFO_FLAG_WRITE;
	int err = vfio_mdev_region_info(&d->vm, index, info);

	if (err)
		fail(step, "%s%sVFIO_DEVICE_GET_REGION_INFO(%u): %s", owner(d),
		     d->name ? ": " : "", index, strerror(err));
	if (!info->size || (info->flags & rw) != rw)
		fail(step, "%s%sregion %u missing or not read/write", owner(d),
		     owner_s(d), index);
}

int region_read(const struct sample_dev *d, const struct vfio_region_info *r,
		__u64 off, void *buf, size_t len)
{
	__u8 *p = buf;
	ssize_t ret;

	/* A large read may come back in pieces; a register read may not. */
	while (len) {
		ret = pread(d->vm.device, p, len, (off_t)(r->offset + off));
		if (ret < 0)
			return errno;
		/* The region ends before the BAR does: a driver bug. */
		if (!ret)
			fail("region read", "%s%sregion %u ends at 0x%llx",
			     owner(d), owner_s(d), r->index,
			     (unsigned long long)off);
		p += ret;
		off += ret;
		len -= ret;
	}
	return 0;
}

void region_read_or_fail(const struct sample_dev *d,
			 const struct vfio_region_info *r, __u64 off,
			 void *buf, size_t len, const char *step)
{
	int err = region_read(d, r, off, buf, len);

	if (err)
		fail(step, "read of %s%sregion %u at 0x%llx: %s", owner(d),
		     owner_s(d), r->index, (unsigned long long)off,
		     strerror(err));
}

void region_write(const struct sample_dev *d, const struct vfio_region_info *r,
		  __u64 off, const void *buf, size_t len, const char *step)
{
	ssize_t ret = pwrite(d->vm.device, buf, len, (off_t)(r->offset + off));

	if (ret < 0)
		fail(step, "write of %s%sregion %u at 0x%llx: %s", owner(d),
		     owner_s(d), r->index, (unsigned long long)off,
		     strerror(errno));
	if ((size_t)ret != len)
		fail(step, "short write of %zd bytes to %s%sregion %u", ret,
		     owner(d), owner_s(d), r->index);
}

__u16 cfg_read16(const struct sample_dev *d, unsigned int off)
{
	__le16 val;

	region_read_or_fail(d, &d->config, off, &val, sizeof(val),
			    "config space read");
	return le16toh(val);
}

void cfg_write16(const struct sample_dev *d, unsigned int off, __u16 val)
{
	__le16 raw = htole16(val);

	region_write(d, &d->config, off, &raw, sizeof(raw),
		     "config space write");
}

void cmd_update(const struct sample_dev *d, __u16 set, __u16 clear)
{
	__u16 cmd = cfg_read16(d, PCI_COMMAND);

	cfg_write16(d, PCI_COMMAND, (cmd & ~clear) | set);
}

__u32 reg_read32(const struct sample_dev *d, unsigned int reg,
		 const char *step)
{
	__le32 val;

	region_read_or_fail(d, &d->bar0, reg, &val, sizeof(val), step);
	return le32toh(val);
}

void reg_write32(const struct sample_dev *d, unsigned int reg, __u32 val,
		 const char *step)
{
	__le32 raw = htole32(val);

	region_write(d, &d->bar0, reg, &raw, sizeof(raw), step);
}

void reg_write64(const struct sample_dev *d, unsigned int reg, __u64 val,
		 const char *step)
{
	__le64 raw = htole64(val);

	region_write(d, &d->bar0, reg, &raw, sizeof(raw), step);
}
