// SPDX-License-Identifier: GPL-2.0
/* The iommufd backend of the selftests; see vfio_backend.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"
#include "vfio_backend.h"

/* -1: not chosen by the harness, REFMDEV_BACKEND decides. */
static int selected_backend = -1;

void backend_select(bool iommufd)
{
	selected_backend = iommufd;
}

bool backend_is_iommufd(void)
{
	const char *b = getenv("REFMDEV_BACKEND");

	if (selected_backend >= 0)
		return selected_backend;
	return b && !strcmp(b, "iommufd");
}

/* /dev/vfio/devices/<name> of mdev @uuid, from its vfio-dev directory. */
static int cdev_path(const char *uuid, char *path, size_t len)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *dp;
	int ret = -ENODEV;

	snprintf(dir, sizeof(dir), MDEV_DEVICES "/%s/vfio-dev", uuid);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((e = readdir(dp)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(path, len, "/dev/vfio/devices/%s", e->d_name);
			ret = 0;
			break;
		}
	closedir(dp);
	return ret;
}

int backend_iommufd_open(struct vfio_dev *d, const char *uuid,
			 const struct vfio_dev *share)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_option mode = {
		.size = sizeof(mode), .option_id = IOMMU_OPTION_RLIMIT_MODE,
		.op = IOMMU_OPTION_OP_SET, .val64 = 1,
	};
	char path[PATH_MAX];
	int ret;

	ret = cdev_path(uuid, path, sizeof(path));
	if (ret)
		return ret;
	if (share) {
		d->iommufd = fcntl(share->iommufd, F_DUPFD_CLOEXEC, 0);
		if (d->iommufd < 0)
			return -errno;
		d->ioas = share->ioas;
	} else {
		d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		if (d->iommufd < 0)
			return -errno;
		/*
		 * Process accounting, as type1 does: pins count against this
		 * process's RLIMIT_MEMLOCK and show in VmLck (besides VmPin).
		 * The default charges the user, which /proc cannot show.
		 * Only an iommufd with no objects yet takes it.
		 */
		if (ioctl(d->iommufd, IOMMU_OPTION, &mode))
			return -errno;
		if (ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &alloc))
			return -errno;
		d->ioas = alloc.out_ioas_id;
	}
	d->device = open(path, O_RDWR | O_CLOEXEC);
	if (d->device < 0)
		return -errno;
	bind.iommufd = d->iommufd;
	if (ioctl(d->device, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	attach.pt_id = d->ioas;
	if (ioctl(d->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	return 0;
}

int backend_map(struct vfio_dev *d, void *va, __u64 iova, __u64 size,
		__u32 flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map), .flags = flags,
		.vaddr = (uintptr_t)va, .iova = iova, .size = size,
	};
	struct iommu_ioas_map imap = {
		.size = sizeof(imap), .flags = IOMMU_IOAS_MAP_FIXED_IOVA,
		.ioas_id = d->ioas, .user_va = (uintptr_t)va,
		.length = size, .iova = iova,
	};

	if (!backend_is_iommufd())
		return ioctl(d->container, VFIO_IOMMU_MAP_DMA, &map);
	if (flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) {
		errno = EOPNOTSUPP;	/* VADDR is type1's */
		return -1;
	}
	if (flags & VFIO_DMA_MAP_FLAG_READ)
		imap.flags |= IOMMU_IOAS_MAP_READABLE;
	if (flags & VFIO_DMA_MAP_FLAG_WRITE)
		imap.flags |= IOMMU_IOAS_MAP_WRITEABLE;
	return ioctl(d->iommufd, IOMMU_IOAS_MAP, &imap);
}

int backend_unmap(struct vfio_dev *d, __u64 iova, __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap), .flags = flags,
		.iova = iova, .size = size,
	};
	struct iommu_ioas_unmap iunmap = {
		.size = sizeof(iunmap), .ioas_id = d->ioas,
		.iova = iova, .length = size,
	};

	if (!backend_is_iommufd())
		return ioctl(d->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	if (flags & ~VFIO_DMA_UNMAP_FLAG_ALL) {
		errno = EOPNOTSUPP;	/* VADDR, dirty bitmaps: type1's */
		return -1;
	}
	/* The whole address space, as iommufd spells it. */
	if (flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		iunmap.iova = 0;
		iunmap.length = UINT64_MAX;
	}
	return ioctl(d->iommufd, IOMMU_IOAS_UNMAP, &iunmap);
}
