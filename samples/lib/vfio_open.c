// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_open: open an mdev through VFIO's group/container interface with
 * the type1 v2 IOMMU model; see vfio_open.h for the steps.
 *
 * An mdev sits alone in an IOMMU group of its own. VFIO hands out devices
 * only through their group, and a group only once it is attached to a
 * container with an IOMMU model set. The type1 model works for mdevs too:
 * their parent driver pins and maps guest memory on their behalf, so the
 * container's VFIO_IOMMU_MAP_DMA is what makes memory visible to them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vfio_open.h"

/* Record which step failed and hand its errno back, in one statement. */
static int failed(struct vfio_mdev *vm, const char *step, int err)
{
	vm->failed = step;
	return err;
}

void vfio_mdev_init(struct vfio_mdev *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->container = -1;
	vm->group = -1;
	vm->device = -1;
}

/*
 * The mdev's iommu_group link in sysfs ends in .../iommu_groups/N, and N
 * names the group's character device, /dev/vfio/N.
 */
int vfio_mdev_find_group(struct vfio_mdev *vm, const char *uuid)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *name;
	unsigned long group;
	char *end;
	ssize_t len;
	int ret;

	/* The UUID becomes part of a path: keep it inside the mdev dir. */
	if (!uuid[0] || strchr(uuid, '/'))
		return failed(vm, "UUID", EINVAL);

	ret = snprintf(path, sizeof(path),
		       "/sys/bus/mdev/devices/%s/iommu_group", uuid);
	if (ret < 0 || (size_t)ret >= sizeof(path))
		return failed(vm, "UUID", ENAMETOOLONG);
	len = readlink(path, link, sizeof(link));
	if (len < 0)
		return failed(vm, "iommu_group link", errno);
	/* readlink() does not terminate, and truncates silently. */
	if ((size_t)len >= sizeof(link))
		return failed(vm, "iommu_group link", ENAMETOOLONG);
	link[len] = '\0';

	name = strrchr(link, '/');
	name = name ? name + 1 : link;
	errno = 0;
	group = strtoul(name, &end, 10);
	if (!name[0] || *end || errno)
		return failed(vm, "iommu_group link", EINVAL);

	vm->group_id = group;
	return 0;
}

int vfio_mdev_open_container(struct vfio_mdev *vm)
{
	int ret;

	vm->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (vm->container < 0)
		return failed(vm, "open /dev/vfio/vfio", errno);

	/*
	 * The version has been 0 since VFIO was merged; anything else is
	 * an interface this code was not written for.
	 */
	ret = ioctl(vm->container, VFIO_GET_API_VERSION);
	if (ret < 0)
		return failed(vm, "VFIO_GET_API_VERSION", errno);
	if (ret != VFIO_API_VERSION)
		return failed(vm, "VFIO_GET_API_VERSION", EPROTONOSUPPORT);
	vm->api_version = ret;
	return 0;
}

/*
 * Ask before setting: VFIO_CHECK_EXTENSION answers 0 for "not supported",
 * which is not an error of the ioctl itself. Type1 v2 is the model with
 * the unmap semantics VMMs rely on (no splitting of mappings).
 */
int vfio_mdev_check_type1v2(struct vfio_mdev *vm)
{
	int ret;

	ret = ioctl(vm->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
	if (ret < 0)
		return failed(vm, "VFIO_CHECK_EXTENSION", errno);
	if (!ret)
		return failed(vm, "VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)",
			      EOPNOTSUPP);
	return 0;
}

int vfio_mdev_open_group(struct vfio_mdev *vm)
{
	struct vfio_group_status status;
	char path[32];

	snprintf(path, sizeof(path), "/dev/vfio/%lu", vm->group_id);
	vm->group = open(path, O_RDWR | O_CLOEXEC);
	if (vm->group < 0)
		return failed(vm, "open /dev/vfio/<group>", errno);

	/*
	 * Viable means every device in the group is bound to a VFIO driver
	 * (or to none); only then may the group be given to one user.
	 */
	memset(&status, 0, sizeof(status));
	status.argsz = sizeof(status);
	if (ioctl(vm->group, VFIO_GROUP_GET_STATUS, &status))
		return failed(vm, "VFIO_GROUP_GET_STATUS", errno);
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return failed(vm, "VFIO_GROUP_GET_STATUS: group not viable",
			      EBUSY);
	return 0;
}

/* The IOMMU model can be set only once a group is in the container. */
int vfio_mdev_attach(struct vfio_mdev *vm)
{
	if (ioctl(vm->group, VFIO_GROUP_SET_CONTAINER, &vm->container))
		return failed(vm, "VFIO_GROUP_SET_CONTAINER", errno);
	if (ioctl(vm->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return failed(vm, "VFIO_SET_IOMMU", errno);
	return 0;
}

/* Devices in a group are named by their sysfs name: an mdev's UUID. */
int vfio_mdev_get_device(struct vfio_mdev *vm, const char *uuid)
{
	vm->device = ioctl(vm->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (vm->device < 0)
		return failed(vm, "VFIO_GROUP_GET_DEVICE_FD", errno);
	return 0;
}

int vfio_mdev_open(struct vfio_mdev *vm, const char *uuid)
{
	const char *step;
	int err;

	vfio_mdev_init(vm);
	err = vfio_mdev_find_group(vm, uuid);
	if (!err)
		err = vfio_mdev_open_container(vm);
	if (!err)
		err = vfio_mdev_check_type1v2(vm);
	if (!err)
		err = vfio_mdev_open_group(vm);
	if (!err)
		err = vfio_mdev_attach(vm);
	if (!err)
		err = vfio_mdev_get_device(vm, uuid);
	if (err) {
		/* Report the step that failed, not a close after it. */
		step = vm->failed;
		vfio_mdev_close(vm);
		vm->failed = step;
	}
	return err;
}

/*
 * Close in the reverse order of opening: the device holds the group, and
 * the group is what keeps the container's IOMMU set up. Closing the last
 * group also drops every VFIO_IOMMU_MAP_DMA mapping of the container.
 *
 * close() releases the descriptor even when it reports an error, so go
 * on with the others and report the first failure.
 */
int vfio_mdev_close(struct vfio_mdev *vm)
{
	int err = 0;

	if (vm->device >= 0 && close(vm->device) && !err)
		err = failed(vm, "close device", errno);
	vm->device = -1;
	if (vm->group >= 0 && close(vm->group) && !err)
		err = failed(vm, "close group", errno);
	vm->group = -1;
	if (vm->container >= 0 && close(vm->container) && !err)
		err = failed(vm, "close container", errno);
	vm->container = -1;
	return err;
}

int vfio_mdev_region_info(const struct vfio_mdev *vm, unsigned int index,
			  struct vfio_region_info *info)
{
	/*
	 * argsz is the size of the buffer we own. A driver with capabilities
	 * to report would set FLAG_CAPS and a larger argsz; the samples do
	 * not need them, so one fixed-size struct is enough.
	 */
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	if (ioctl(vm->device, VFIO_DEVICE_GET_REGION_INFO, info))
		return errno;
	return 0;
}
