/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two ways a VFIO user reaches an mdev, and the one the selftests use:
 *
 *   type1    the group in a type1 v2 container (/dev/vfio/vfio); DMA
 *            mappings with VFIO_IOMMU_MAP_DMA/UNMAP_DMA.
 *   iommufd  the device's cdev (/dev/vfio/devices/vfioN) bound to an
 *            iommufd (/dev/iommu) and attached to an IOAS; DMA mappings
 *            with IOMMU_IOAS_MAP/UNMAP.
 *
 * The harness picks one per test: a program that says
 * KTAP_BACKENDS(KTAP_BOTH) runs each test on type1 and, where the kernel
 * has /dev/iommu, again on iommufd (ktap.h), the results named
 * "test.type1" and "test.iommufd". Kernels without it (every Debian
 * kernel) run type1 only. REFMDEV_BACKEND=type1 or =iommufd narrows a
 * run to one; in a program without the harness (the benchmark, the
 * fuzzer) it selects the backend.
 *
 * Debian 12's userspace headers predate iommufd, so the uAPI it needs is
 * defined here when they lack it (numbers and layouts from the kernel's
 * include/uapi/linux/iommufd.h and vfio.h).
 */
#ifndef VFIO_BACKEND_H
#define VFIO_BACKEND_H

#include <stdbool.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};

#define VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)

struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};

#define VFIO_DEVICE_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)

struct vfio_device_detach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
};

#define VFIO_DEVICE_DETACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 20)
#endif

#ifndef IOMMUFD_TYPE
#define IOMMUFD_TYPE			(';')

struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};

#define IOMMU_IOAS_ALLOC		_IO(IOMMUFD_TYPE, 0x81)

#define IOMMU_IOAS_MAP_FIXED_IOVA	0x1
#define IOMMU_IOAS_MAP_WRITEABLE	0x2
#define IOMMU_IOAS_MAP_READABLE		0x4
struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};

#define IOMMU_IOAS_MAP			_IO(IOMMUFD_TYPE, 0x85)

struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};

#define IOMMU_IOAS_UNMAP		_IO(IOMMUFD_TYPE, 0x86)

#define IOMMU_OPTION_RLIMIT_MODE	0
#define IOMMU_OPTION_OP_SET		0
struct iommu_option {
	__u32 size;
	__u32 option_id;
	__u16 op;
	__u16 __reserved;
	__u32 object_id;
	__aligned_u64 val64;
};

#define IOMMU_OPTION			_IO(IOMMUFD_TYPE, 0x87)
#endif

struct vfio_dev;

/* Is this test running on the iommufd backend? */
bool backend_is_iommufd(void);
/* For the harness: the backend of the test about to run. */
void backend_select(bool iommufd);

/*
 * Open mdev @uuid in @d (whose fds are -1) through the iommufd backend: a
 * new iommufd and IOAS, or @share's when @share is not NULL. -errno.
 */
int backend_iommufd_open(struct vfio_dev *d, const char *uuid,
			 const struct vfio_dev *share);

/* Map/unmap for either backend; -1 with errno set on failure. */
int backend_map(struct vfio_dev *d, void *va, __u64 iova, __u64 size,
		__u32 flags);
int backend_unmap(struct vfio_dev *d, __u64 iova, __u64 size, __u32 flags);

#endif /* VFIO_BACKEND_H */
