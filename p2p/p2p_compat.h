/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interface differences the P2P core (p2p/) has to bridge
 * between the kernels it is built for (6.1, 6.12, 7.x). Kbuild probes the
 * target tree's headers for each (REFMDEV_HAVE_* in Kbuild). They live
 * here, not in mdev/compat.h, so that p2p/ depends on no device model;
 * mdev/compat.h includes this file for the ones it shares.
 */
#ifndef P2P_COMPAT_H
#define P2P_COMPAT_H

#include <linux/dma-buf.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>

/* vm_flags became write-protected behind vm_flags_set() in 6.3. */
static inline void p2p_vm_flags_set(struct vm_area_struct *vma,
				    vm_flags_t flags)
{
#ifdef REFMDEV_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * A reference on a file unless its last one is already gone: 6.7 named it
 * get_file_active(); before, get_file_rcu() was the same increment.
 */
static inline struct file *p2p_get_file_active(struct file **f)
{
#ifdef REFMDEV_HAVE_GET_FILE_ACTIVE
	return get_file_active(f);
#else
	return get_file_rcu(*f) ? *f : NULL;
#endif
}

/*
 * dma-buf: 6.13 made symbol namespaces strings; 7.x renamed move_notify to
 * invalidate_mappings and added dma_buf_attach_revocable(), the test for
 * an importer that can give its mappings back on request.
 */
#ifdef REFMDEV_HAVE_MODULE_IMPORT_NS_TOKEN
#define P2P_IMPORT_DMA_BUF_NS()	MODULE_IMPORT_NS(DMA_BUF)
#else
#define P2P_IMPORT_DMA_BUF_NS()	MODULE_IMPORT_NS("DMA_BUF")
#endif

#ifdef REFMDEV_HAVE_DMA_BUF_INVALIDATE_MAPPINGS
#define P2P_DMA_BUF_NOTIFY_OP		invalidate_mappings
#define p2p_dma_buf_notify		dma_buf_invalidate_mappings
#define p2p_attach_is_revocable		dma_buf_attach_revocable
#else
#define P2P_DMA_BUF_NOTIFY_OP		move_notify
#define p2p_dma_buf_notify		dma_buf_move_notify
#define p2p_attach_is_revocable		dma_buf_attachment_is_dynamic
#endif

#endif /* P2P_COMPAT_H */
