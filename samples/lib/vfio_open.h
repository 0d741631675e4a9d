/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfio_open: the way from an mdev's UUID to a VFIO device fd, shared by
 * the samples.
 *
 * This is the legacy group/container interface, with the type1 v2 IOMMU
 * model, as a VMM or a userspace driver walks it:
 *
 *   vfio_mdev_find_group()	sysfs: which IOMMU group holds the mdev
 *   vfio_mdev_open_container()	/dev/vfio/vfio, and its API version
 *   vfio_mdev_check_type1v2()	does the container offer type1 v2?
 *   vfio_mdev_open_group()	/dev/vfio/N, which must be viable
 *   vfio_mdev_attach()		group into container, IOMMU model set
 *   vfio_mdev_get_device()	the device fd, named by the UUID
 *
 * Each step is its own function so that a sample can show what happens
 * in between; vfio_mdev_open() runs them all for one that does not care.
 *
 * Every function that can fail returns 0 or a positive errno value, and
 * on failure points vm->failed at a short name of the step that failed,
 * e.g. "VFIO_GROUP_SET_CONTAINER". A caller can then report
 * "<program>: <vm->failed>: <strerror(err)>" without knowing how the
 * sequence is built. Nothing here prints or exits.
 */
#ifndef REFMDEV_SAMPLES_VFIO_OPEN_H
#define REFMDEV_SAMPLES_VFIO_OPEN_H

#include <linux/types.h>
#include <linux/vfio.h>

/* The three file descriptors of an open mdev, -1 while not open. */
struct vfio_mdev {
	int container;
	int group;
	int device;
	unsigned long group_id;	/* N, as in /dev/vfio/N */
	int api_version;	/* VFIO_GET_API_VERSION's answer */
	const char *failed;	/* after an error: the step that failed */
};

void vfio_mdev_init(struct vfio_mdev *vm);

int vfio_mdev_find_group(struct vfio_mdev *vm, const char *uuid);
int vfio_mdev_open_container(struct vfio_mdev *vm);
int vfio_mdev_check_type1v2(struct vfio_mdev *vm);
int vfio_mdev_open_group(struct vfio_mdev *vm);
int vfio_mdev_attach(struct vfio_mdev *vm);
int vfio_mdev_get_device(struct vfio_mdev *vm, const char *uuid);

/* All of the above in order; on failure, closes what it opened. */
int vfio_mdev_open(struct vfio_mdev *vm, const char *uuid);

/* Closes whatever is open, device first; reports the first error. */
int vfio_mdev_close(struct vfio_mdev *vm);

/*
 * VFIO_DEVICE_GET_REGION_INFO for region @index into @info. EINVAL is
 * how VFIO says a region index does not exist, e.g. vfio-pci's VGA.
 */
int vfio_mdev_region_info(const struct vfio_mdev *vm, unsigned int index,
			  struct vfio_region_info *info);

#endif /* REFMDEV_SAMPLES_VFIO_OPEN_H */
