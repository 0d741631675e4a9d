/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces refmdev uses moved a little between the Debian
 * kernels it supports (6.1, 6.12, 7.x). Kbuild probes the target tree's
 * headers for each difference (see REFMDEV_HAVE_* in Kbuild), which also
 * catches backports that a version number would miss; the differences
 * live here so the rest of the driver reads like code for one kernel.
 */
#ifndef REFMDEV_COMPAT_H
#define REFMDEV_COMPAT_H

#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/vfio.h>

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

/* vm_flags became write-protected behind vm_flags_set() in 6.3. */
static inline void refmdev_vm_flags_set(struct vm_area_struct *vma,
					vm_flags_t flags)
{
#ifdef REFMDEV_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/* Before 6.2 the driver's .release had to free the vfio_device itself. */
static inline void refmdev_vfio_free_device(struct vfio_device *vdev)
{
#ifdef REFMDEV_HAVE_VFIO_FREE_DEVICE
	vfio_free_device(vdev);
#endif
}

/*
 * A reference on a file unless its last one is already gone: 6.7 named it
 * get_file_active(); before, get_file_rcu() was the same increment.
 */
static inline struct file *refmdev_get_file_active(struct file **f)
{
#ifdef REFMDEV_HAVE_GET_FILE_ACTIVE
	return get_file_active(f);
#else
	return get_file_rcu(*f) ? *f : NULL;
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

/*
 * dma-buf: 6.13 made symbol namespaces strings; 7.x renamed move_notify to
 * invalidate_mappings and added dma_buf_attach_revocable(), the test for
 * an importer that can give its mappings back on request.
 */
#ifdef REFMDEV_HAVE_MODULE_IMPORT_NS_TOKEN
#define REFMDEV_IMPORT_DMA_BUF_NS()	MODULE_IMPORT_NS(DMA_BUF)
#else
#define REFMDEV_IMPORT_DMA_BUF_NS()	MODULE_IMPORT_NS("DMA_BUF")
#endif

#ifdef REFMDEV_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
#define REFMDEV_DMA_BUF_NOTIFY_OP	invalidate_mappings
#define refmdev_dma_buf_notify		dma_buf_invalidate_mappings
#define refmdev_attach_is_revocable	dma_buf_attach_revocable
#else
#define REFMDEV_DMA_BUF_NOTIFY_OP	move_notify
#define refmdev_dma_buf_notify		dma_buf_move_notify
#define refmdev_attach_is_revocable	dma_buf_attachment_is_dynamic
#endif

#endif /* REFMDEV_COMPAT_H */
