/* SPDX-License-Identifier: GPL-2.0 */
/*
 * device_io: an open refmdev as the DMA samples drive it, and access to
 * its configuration space and BAR0 registers through VFIO regions.
 *
 * A VFIO region is read and written like a file, at the offset
 * VFIO_DEVICE_GET_REGION_INFO reported for it. Configuration space and
 * registers are little-endian whatever the host is, and BAR0 takes only
 * accesses of a register's own width, naturally aligned; the accessors
 * here do both. Everything but region_read() fails the step (fail.h) on
 * an error.
 */
#ifndef REFMDEV_SAMPLES_DEVICE_IO_H
#define REFMDEV_SAMPLES_DEVICE_IO_H

#include <stddef.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "vfio_open.h"

struct sample_dev {
	const char *name;	/* "A", "B": in messages; NULL if only one */
	const char *uuid;
	struct vfio_mdev vm;
	struct vfio_region_info config;
	struct vfio_region_info bar0;
	struct vfio_region_info bar2;
};

/*
 * Region @index into @info; it must exist and be readable and writable.
 * Fails @step otherwise.
 */
void get_region(struct sample_dev *d, unsigned int index,
		struct vfio_region_info *info, const char *step);

/*
 * Read @len bytes at @off of region @r. Returns 0 or an errno: with
 * decoding off, BAR2 reads fail with EIO, which a caller may want to
 * show rather than stop at.
 */
int region_read(const struct sample_dev *d, const struct vfio_region_info *r,
		__u64 off, void *buf, size_t len);
void region_read_or_fail(const struct sample_dev *d,
			 const struct vfio_region_info *r, __u64 off,
			 void *buf, size_t len, const char *step);
void region_write(const struct sample_dev *d, const struct vfio_region_info *r,
		  __u64 off, const void *buf, size_t len, const char *step);

__u16 cfg_read16(const struct sample_dev *d, unsigned int off);
void cfg_write16(const struct sample_dev *d, unsigned int off, __u16 val);
/* Set @set and clear @clear in the command register, keeping the rest. */
void cmd_update(const struct sample_dev *d, __u16 set, __u16 clear);

__u32 reg_read32(const struct sample_dev *d, unsigned int reg,
		 const char *step);
void reg_write32(const struct sample_dev *d, unsigned int reg, __u32 val,
		 const char *step);
void reg_write64(const struct sample_dev *d, unsigned int reg, __u64 val,
		 const char *step);

#endif /* REFMDEV_SAMPLES_DEVICE_IO_H */
