// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs and VFIO helpers for the selftests; see mdev_util.h.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"
#include "vfio_backend.h"

int sysfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

long sysfs_read_long(const char *path)
{
	char buf[64], *end;
	long val;
	int ret;

	ret = sysfs_read(path, buf, sizeof(buf));
	if (ret)
		FAIL("read %s: %s", path, strerror(-ret));
	val = strtol(buf, &end, 0);
	if (end == buf || *end)
		FAIL("%s: not a number: '%s'", path, buf);
	return val;
}

bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void umount_debugfs(void *arg)
{
	(void)arg;
	if (umount(DEBUGFS))
		printf("# cleanup: umount %s: %s\n", DEBUGFS, strerror(errno));
}

static bool debugfs_mounted(void)
{
	char line[512], dev[128], dir[256], type[64];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mounts", "re");
	if (!f)
		FAIL("/proc/self/mounts: %s", strerror(errno));
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 &&
			!strcmp(dir, DEBUGFS) && !strcmp(type, "debugfs");
	fclose(f);
	return found;
}

void debugfs_ensure(void)
{
	/*
	 * Only mount what is not there, and only for this test: the system
	 * (or the VM's init) may rely on its own debugfs mount.
	 */
	if (debugfs_mounted())
		return;
	if (mount("debugfs", DEBUGFS, "debugfs", 0, NULL))
		FAIL("mount debugfs on %s: %s", DEBUGFS, strerror(errno));
	ktap_defer(umount_debugfs, NULL);
}

void make_uuid(char *out)
{
	if (sysfs_read("/proc/sys/kernel/random/uuid", out, UUID_LEN + 1))
		FAIL("no /proc/sys/kernel/random/uuid");
}

int mdev_create_raw(const char *type, const char *uuid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), REFMDEV_TYPES "/%s/create", type);
	return sysfs_write(path, uuid);
}

int mdev_remove(const char *uuid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/remove", uuid);
	return sysfs_write(path, "1");
}

static void mdev_remove_deferred(void *arg)
{
	char *uuid = arg;
	int ret = mdev_remove(uuid);

	if (ret && ret != -ENOENT)
		printf("# cleanup: removing %s: %s\n", uuid, strerror(-ret));
	free(uuid);
}

const char *mdev_create(const char *type)
{
	char *uuid = malloc(UUID_LEN + 1);
	int ret;

	if (!uuid)
		FAIL("out of memory");
	make_uuid(uuid);
	ret = mdev_create_raw(type, uuid);
	if (ret)
		FAIL("create %s mdev: %s", type, strerror(-ret));
	ktap_defer(mdev_remove_deferred, uuid);
	return uuid;
}

long mdev_available(const char *type)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), REFMDEV_TYPES "/%s/available_instances",
		 type);
	return sysfs_read_long(path);
}

int mdev_group_number(const char *uuid)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/iommu_group", uuid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	return atoi(basename(target));
}

static int region_info(struct vfio_dev *d, unsigned int index)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info), .index = index,
	};

	if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	d->offset[index] = info.offset;
	d->size[index] = info.size;
	return 0;
}

/* The VMM's sequence: container, group, IOMMU model, device fd. */
int vfio_open_raw(const char *uuid, struct vfio_dev *d)
{
	char path[64];
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int group, err;
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->container = -1;
	d->group = -1;
	d->device = -1;
	d->iommufd = -1;
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);

	if (backend_is_iommufd()) {
		err = backend_iommufd_open(d, uuid, NULL);
		if (err)
			goto err_close;
		goto regions;
	}
	group = mdev_group_number(uuid);
	if (group < 0)
		return group;
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0)
		goto err;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	d->group = open(path, O_RDWR | O_CLOEXEC);
	if (d->group < 0)
		goto err;
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &status))
		goto err;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EBUSY;
		goto err;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		goto err;
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (d->device < 0)
		goto err;
regions:
	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++)
		if (i != VFIO_PCI_VGA_REGION_INDEX && region_info(d, i))
			goto err;
	return 0;
err:
	err = -errno;
err_close:
	vfio_close(d);
	return err;
}

void vfio_close(struct vfio_dev *d)
{
	if (d->device >= 0)
		close(d->device);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	if (d->iommufd >= 0)
		close(d->iommufd);
	d->device = -1;
	d->group = -1;
	d->container = -1;
	d->iommufd = -1;
}

static void vfio_close_deferred(void *arg)
{
	vfio_close(arg);
	free(arg);
}

struct vfio_dev *vfio_open(const char *uuid)
{
	struct vfio_dev *d = malloc(sizeof(*d));
	int ret;

	if (!d)
		FAIL("out of memory");
	ret = vfio_open_raw(uuid, d);
	if (ret)
		FAIL("open mdev %s through VFIO: %s", uuid, strerror(-ret));
	ktap_defer(vfio_close_deferred, d);
	return d;
}

ssize_t region_pread(struct vfio_dev *d, int index, void *buf, size_t len,
		     __u64 off)
{
	return pread(d->device, buf, len, d->offset[index] + off);
}

ssize_t region_pwrite(struct vfio_dev *d, int index, const void *buf,
		      size_t len, __u64 off)
{
	return pwrite(d->device, buf, len, d->offset[index] + off);
}

/* Little-endian image of a register or config field, like the bus. */
static __u64 region_read(struct vfio_dev *d, int index, unsigned int off,
			 unsigned int len)
{
	__u64 val = 0;
	ssize_t n;

	n = region_pread(d, index, &val, len, off);
	if (n != (ssize_t)len)
		FAIL("read region %d offset 0x%x len %u: %s", index, off, len,
		     n < 0 ? strerror(errno) : "short");
	return val;
}

static void region_write(struct vfio_dev *d, int index, unsigned int off,
			 unsigned int len, __u64 val)
{
	ssize_t n;

	n = region_pwrite(d, index, &val, len, off);
	if (n != (ssize_t)len)
		FAIL("write region %d offset 0x%x len %u: %s", index, off, len,
		     n < 0 ? strerror(errno) : "short");
}

__u32 cfg_read(struct vfio_dev *d, unsigned int off, unsigned int len)
{
	return region_read(d, VFIO_PCI_CONFIG_REGION_INDEX, off, len);
}

void cfg_write(struct vfio_dev *d, unsigned int off, unsigned int len,
	       __u32 val)
{
	region_write(d, VFIO_PCI_CONFIG_REGION_INDEX, off, len, val);
}

__u64 bar0_read(struct vfio_dev *d, unsigned int off, unsigned int len)
{
	return region_read(d, REFMDEV_REGS_BAR, off, len);
}

void bar0_write(struct vfio_dev *d, unsigned int off, unsigned int len,
		__u64 val)
{
	region_write(d, REFMDEV_REGS_BAR, off, len, val);
}

int irq_set(struct vfio_dev *d, unsigned int index, __u32 flags,
	    __u32 start, __u32 count, const void *data,
	    size_t data_len)
{
	size_t size = sizeof(struct vfio_irq_set) + data_len;
	struct vfio_irq_set *set = calloc(1, size);
	int ret;

	if (!set)
		FAIL("out of memory");
	set->argsz = size;
	set->flags = flags;
	set->index = index;
	set->start = start;
	set->count = count;
	if (data_len)
		memcpy(set->data, data, data_len);
	ret = ioctl(d->device, VFIO_DEVICE_SET_IRQS, set);
	free(set);
	return ret;
}

int irq_set_eventfd(struct vfio_dev *d, unsigned int index, int fd)
{
	__s32 efd = fd;

	return irq_set(d, index, VFIO_IRQ_SET_DATA_EVENTFD |
		       VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd, sizeof(efd));
}

int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		FAIL("eventfd: %s", strerror(errno));
	return fd;
}

/* The counter's value, or 0 if nothing arrived within @timeout_ms. */
__u64 eventfd_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	__u64 val = 0;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	if (read(fd, &val, sizeof(val)) != sizeof(val))
		return 0;
	return val;
}

static void vfio_close_joined(void *arg)
{
	struct vfio_dev *d = arg;

	d->container = -1;	/* the first device's; not ours to close */
	vfio_close(d);
	free(d);
}

struct vfio_dev *vfio_join_container(struct vfio_dev *a, const char *uuid)
{
	struct vfio_dev *d = calloc(1, sizeof(*d));
	char path[64];
	int i;

	ASSERT_TRUE(d);
	d->container = a->container;
	d->device = -1;
	d->group = -1;
	d->iommufd = -1;
	if (backend_is_iommufd()) {
		int err;

		d->container = -1;
		ktap_defer(vfio_close_joined, d);
		err = backend_iommufd_open(d, uuid, a);
		if (err)
			FAIL("open mdev %s in %s's IOAS: %s", uuid, a->uuid,
			     strerror(-err));
		goto regions;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", mdev_group_number(uuid));
	d->group = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(d->group >= 0);
	ktap_defer(vfio_close_joined, d);
	ASSERT_OK(ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &a->container));
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	ASSERT_TRUE(d->device >= 0);
regions:
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++)
		d->offset[i] = (__u64)i << 40;
	return d;
}
