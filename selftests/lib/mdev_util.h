/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers the selftests share: sysfs for creating and removing mdevs, and
 * the VFIO group/container (type1 v2) path to open one, acting as the VMM.
 * Functions named *_raw report failure as -errno; the others assert and
 * register their own cleanup with ktap_defer().
 */
#ifndef MDEV_UTIL_H
#define MDEV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <sys/types.h>
#include <linux/vfio.h>
#include <linux/refmdev.h>
#include "fill_pattern.h"

#define REFMDEV_PARENT	"/sys/class/mdev_bus/refmdev"
#define REFMDEV_TYPES	REFMDEV_PARENT "/mdev_supported_types"
#define MDEV_DEVICES	"/sys/bus/mdev/devices"
#define TYPE_1M		"refmdev-1M"
#define TYPE_16M	"refmdev-16M"
#define UUID_LEN	36

int sysfs_write(const char *path, const char *val);
int sysfs_read(const char *path, char *buf, size_t len);
long sysfs_read_long(const char *path);
bool path_exists(const char *path);

#define DEBUGFS		"/sys/kernel/debug"
/*
 * Mount debugfs on DEBUGFS if nothing is mounted there (unmounted again
 * when the test ends).
 */
void debugfs_ensure(void);

void make_uuid(char *out);
int mdev_create_raw(const char *type, const char *uuid);
int mdev_remove(const char *uuid);
const char *mdev_create(const char *type);
long mdev_available(const char *type);

/*
 * An open mdev: through a type1 container (container, group) or through
 * iommufd (iommufd, ioas); see vfio_backend.h. Unused fds are -1.
 */
struct vfio_dev {
	int container;
	int group;
	int device;
	int iommufd;
	__u32 ioas;
	char uuid[UUID_LEN + 1];
	__u64 offset[VFIO_PCI_NUM_REGIONS];
	__u64 size[VFIO_PCI_NUM_REGIONS];
};

int vfio_open_raw(const char *uuid, struct vfio_dev *d);
void vfio_close(struct vfio_dev *d);
struct vfio_dev *vfio_open(const char *uuid);
/* Open mdev @uuid in @a's container (a second group); closed by a defer. */
struct vfio_dev *vfio_join_container(struct vfio_dev *a, const char *uuid);
int mdev_group_number(const char *uuid);

__u32 cfg_read(struct vfio_dev *d, unsigned int off, unsigned int len);
void cfg_write(struct vfio_dev *d, unsigned int off, unsigned int len,
	       __u32 val);
__u64 bar0_read(struct vfio_dev *d, unsigned int off, unsigned int len);
void bar0_write(struct vfio_dev *d, unsigned int off, unsigned int len,
		__u64 val);
ssize_t region_pread(struct vfio_dev *d, int index, void *buf, size_t len,
		     __u64 off);
ssize_t region_pwrite(struct vfio_dev *d, int index, const void *buf,
		      size_t len, __u64 off);

int irq_set(struct vfio_dev *d, unsigned int index, __u32 flags,
	    __u32 start, __u32 count, const void *data,
	    size_t data_len);
int irq_set_eventfd(struct vfio_dev *d, unsigned int index, int fd);
int new_eventfd(void);
__u64 eventfd_wait(int fd, int timeout_ms);

/*
 * fill_random() is the samples' (samples/lib/fill_pattern.c), linked into
 * every selftest: one generator for tests and samples. Seeds 0 and 1 give
 * the same bytes.
 */

#endif /* MDEV_UTIL_H */
