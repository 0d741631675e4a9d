/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces refmdev uses moved a little between the Debian
 * kernels it supports (6.1, 6.12, 7.x). Kbuild probes the target tree's
 * headers for each difference (see REFMDEV_HAVE_* in Kbuild), which also
 * catches backports that a version number would miss; the differences
 * live here so the rest of the driver reads like code for one kernel.
 * The ones the P2P core needs too are in p2p/p2p_compat.h, which the
 * core owns: mdev/ may include p2p/, never the reverse.
 */
#ifndef REFMDEV_COMPAT_H
#define REFMDEV_COMPAT_H

#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/vfio.h>
#include "../p2p/p2p_compat.h"

#ifdef REFMDEV_HAVE_LINUX_UNALIGNED_H
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* eventfd_signal() lost its count argument in 6.8. */
static inline void refmdev_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef REFMDEV_HAVE_EVENTFD_SIGNAL_NO_COUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* Before 6.2 the driver's .release had to free the vfio_device itself. */
static inline void refmdev_vfio_free_device(struct vfio_device *vdev)
{
#ifdef REFMDEV_HAVE_VFIO_FREE_DEVICE
	vfio_free_device(vdev);
#endif
}

/* class_create() lost its owner argument in 6.4. */
static inline struct class *refmdev_class_create(const char *name)
{
#ifdef REFMDEV_HAVE_CLASS_CREATE_OWNER
	return class_create(THIS_MODULE, name);
#else
	return class_create(name);
#endif
}

#endif /* REFMDEV_COMPAT_H */
