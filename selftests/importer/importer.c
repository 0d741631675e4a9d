// SPDX-License-Identifier: GPL-2.0
/*
 * refmdev_test_importer: a test-only dma-buf importer (and, in
 * plain_exporter.c, a minimal exporter).
 *
 * /dev/refmdev_test_importer lets a selftest attach dma-bufs to a device
 * of this module's own, map them, read the memory a mapping points at,
 * and watch the exporter revoke the mapping. It is built with refmdev for
 * the test VM only and is no part of the driver. The uAPI and its errnos
 * are described in refmdev_test_importer.h.
 *
 * The importer's device is a root device with a 64-bit DMA mask and no
 * IOMMU, so the DMA API maps directly: a DMA address is a physical
 * address, which is what lets READ check that a mapping really points at
 * the exported memory.
 */
#include <linux/device.h>
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "refmdev_test_importer.h"
#include "rti.h"

/*
 * Objects and their lifetimes
 *
 * struct rti_file: one per open file, freed by release(). Its handles
 * live in @handles; an ioctl finds a handle there and uses it with @lock
 * held, so a handle cannot be freed under an ioctl.
 *
 * A fence from FENCE is referenced by its handle until SIGNAL or until the
 * handle goes, which signals it, so no waiter waits longer than the
 * handle lives. The dma-buf's reservation object keeps its own reference;
 * the fence ops live in this module, so the module must outlive the
 * dma-bufs it fenced (the test VM unloads it after every test has
 * closed everything).
 *
 * struct rti_handle: one per ATTACH. Holds a dma-buf reference (from
 * dma_buf_get()) and the attachment. Freed by DETACH or release(), after
 * it is out of @handles and after dma_buf_detach() has returned: the
 * attachment leaves the dma-buf's list under the reservation lock, so
 * once detach returns the exporter can no longer call rti_move_notify()
 * for it. The dma-buf reference is dropped last.
 *
 * Locking
 *
 * rti_file.lock (mutex): the handle table and the existence of every
 * handle in it. Held for the whole of an ioctl that uses a handle.
 *
 * The dma-buf's reservation lock (dmabuf->resv): a handle's mapping state
 * (@sgt, @notifications, @last_map_err). rti_move_notify() runs with it
 * held by the exporter and takes no other lock of ours.
 *
 * Order: rti_file.lock, then dmabuf->resv. Nothing is copied to or from
 * user space with the reservation lock held (a fault takes mmap_lock,
 * which nests outside reservation locks), so READ goes through a bounce
 * page.
 */
struct rti_file {
	struct mutex lock;		/* protects @handles */
	struct xarray handles;		/* id -> struct rti_handle */
};

struct rti_handle {
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	bool dynamic;
	bool ignore_notify;
	struct dma_fence *fence;	/* unsignaled, from FENCE; file lock */
	/* Protected by dmabuf->resv. */
	struct sg_table *sgt;		/* the current mapping, or NULL */
	u32 notifications;
	int last_map_err;		/* 0 or a negative errno */
};

static struct device *rti_dev;
static struct device_dma_parameters rti_dma_parms;

/* Called by the exporter with dmabuf->resv held. */
static void rti_move_notify(struct dma_buf_attachment *attach)
{
	struct rti_handle *h = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	h->notifications++;
	if (h->sgt && !h->ignore_notify) {
		dma_buf_unmap_attachment(attach, h->sgt, DMA_BIDIRECTIONAL);
		h->sgt = NULL;
	}
}

static const struct dma_buf_attach_ops rti_importer_ops = {
	.allow_peer2peer = true,
#ifdef REFMDEV_TI_HAVE_INVALIDATE_MAPPINGS
	.invalidate_mappings = rti_move_notify,
#else
	.move_notify = rti_move_notify,
#endif
};

static const char *rti_fence_name(struct dma_fence *fence)
{
	return "refmdev_test_importer";
}

static const struct dma_fence_ops rti_fence_ops = {
	.get_driver_name = rti_fence_name,
	.get_timeline_name = rti_fence_name,
};

static DEFINE_SPINLOCK(rti_fence_lock);

static int rti_fence(struct rti_handle *h)
{
	struct dma_resv *resv = h->dmabuf->resv;
	struct dma_fence *fence;
	int ret;

	if (h->fence)
		return -EBUSY;
	fence = kzalloc(sizeof(*fence), GFP_KERNEL);
	if (!fence)
		return -ENOMEM;
	dma_fence_init(fence, &rti_fence_ops, &rti_fence_lock,
		       dma_fence_context_alloc(1), 1);
	ret = dma_resv_lock_interruptible(resv, NULL);
	if (ret)
		goto err_put;
	ret = dma_resv_reserve_fences(resv, 1);
	if (!ret)
		dma_resv_add_fence(resv, fence, DMA_RESV_USAGE_WRITE);
	dma_resv_unlock(resv);
	if (ret)
		goto err_put;
	h->fence = fence;	/* our reference; the resv took its own */
	return 0;

err_put:
	dma_fence_put(fence);
	return ret;
}

static int rti_signal(struct rti_handle *h)
{
	if (!h->fence)
		return -ENODATA;
	dma_fence_signal(h->fence);
	dma_fence_put(h->fence);
	h->fence = NULL;
	return 0;
}

/* Unmap, detach, put, free. @h is no longer reachable from a file. */
static void rti_handle_destroy(struct rti_handle *h)
{
	struct dma_buf *dmabuf = h->dmabuf;

	rti_signal(h);

	dma_resv_lock(dmabuf->resv, NULL);
	if (h->sgt) {
		dma_buf_unmap_attachment(h->attach, h->sgt, DMA_BIDIRECTIONAL);
		h->sgt = NULL;
	}
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, h->attach);
	dma_buf_put(dmabuf);
	kfree(h);
}

static int rti_open(struct inode *inode, struct file *file)
{
	struct rti_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	xa_init_flags(&f->handles, XA_FLAGS_ALLOC1);
	file->private_data = f;
	return 0;
}

static int rti_release(struct inode *inode, struct file *file)
{
	struct rti_file *f = file->private_data;
	struct rti_handle *h;
	unsigned long id;

	mutex_lock(&f->lock);
	xa_for_each(&f->handles, id, h) {
		xa_erase(&f->handles, id);
		rti_handle_destroy(h);
	}
	mutex_unlock(&f->lock);
	xa_destroy(&f->handles);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

static long rti_attach(struct rti_file *f, void __user *argp)
{
	struct refmdev_ti_attach arg;
	struct dma_buf_attachment *attach;
	struct rti_handle *h;
	u32 id;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~(REFMDEV_TI_ATTACH_DYNAMIC |
			   REFMDEV_TI_ATTACH_IGNORE_NOTIFY)) || arg.reserved ||
	    arg.flags == REFMDEV_TI_ATTACH_IGNORE_NOTIFY)
		return -EINVAL;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->dynamic = arg.flags & REFMDEV_TI_ATTACH_DYNAMIC;
	h->ignore_notify = arg.flags & REFMDEV_TI_ATTACH_IGNORE_NOTIFY;
	h->dmabuf = dma_buf_get(arg.dmabuf_fd);
	if (IS_ERR(h->dmabuf)) {
		ret = PTR_ERR(h->dmabuf);
		goto err_free;
	}
	if (h->dynamic)
		attach = dma_buf_dynamic_attach(h->dmabuf, rti_dev,
						&rti_importer_ops, h);
	else
		attach = dma_buf_attach(h->dmabuf, rti_dev);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto err_put;
	}
	h->attach = attach;

	mutex_lock(&f->lock);
	ret = xa_alloc(&f->handles, &id, h,
		       XA_LIMIT(1, REFMDEV_TI_MAX_HANDLES), GFP_KERNEL);
	if (ret) {
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto err_unlock;
	}
	arg.handle = id;
	arg.size = h->dmabuf->size;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		ret = -EFAULT;
		goto err_erase;
	}
	mutex_unlock(&f->lock);
	return 0;

err_erase:
	xa_erase(&f->handles, id);
err_unlock:
	mutex_unlock(&f->lock);
	dma_buf_detach(h->dmabuf, attach);
err_put:
	dma_buf_put(h->dmabuf);
err_free:
	kfree(h);
	return ret;
}

/* The handle @id of @f; f->lock must be held. */
static struct rti_handle *rti_lookup(struct rti_file *f, u32 id)
{
	lockdep_assert_held(&f->lock);
	return xa_load(&f->handles, id);
}

static int rti_map(struct rti_handle *h)
{
	struct dma_resv *resv = h->dmabuf->resv;
	struct sg_table *sgt;
	int ret;

	ret = dma_resv_lock_interruptible(resv, NULL);
	if (ret)
		return ret;
	if (h->sgt) {
		ret = -EBUSY;
		goto out_unlock;
	}
	sgt = dma_buf_map_attachment(h->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
	} else {
		h->sgt = sgt;
		ret = 0;
	}
	h->last_map_err = ret;
out_unlock:
	dma_resv_unlock(resv);
	return ret;
}

static int rti_unmap(struct rti_handle *h)
{
	struct dma_resv *resv = h->dmabuf->resv;
	int ret;

	ret = dma_resv_lock_interruptible(resv, NULL);
	if (ret)
		return ret;
	if (h->sgt) {
		dma_buf_unmap_attachment(h->attach, h->sgt, DMA_BIDIRECTIONAL);
		h->sgt = NULL;
	} else {
		ret = -ENODEV;
	}
	dma_resv_unlock(resv);
	return ret;
}

static long rti_handle_op(struct rti_file *f, unsigned int cmd,
			  void __user *argp)
{
	struct refmdev_ti_handle arg;
	struct rti_handle *h;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags)
		return -EINVAL;

	mutex_lock(&f->lock);
	h = rti_lookup(f, arg.handle);
	if (!h) {
		ret = -ENOENT;
	} else if (cmd == REFMDEV_TI_MAP) {
		ret = rti_map(h);
	} else if (cmd == REFMDEV_TI_UNMAP) {
		ret = rti_unmap(h);
	} else if (cmd == REFMDEV_TI_FENCE) {
		ret = rti_fence(h);
	} else if (cmd == REFMDEV_TI_SIGNAL) {
		ret = rti_signal(h);
	} else {
		xa_erase(&f->handles, arg.handle);
		rti_handle_destroy(h);
		ret = 0;
	}
	mutex_unlock(&f->lock);
	return ret;
}

/*
 * Copy up to @max bytes at @offset of @h's mapping into @dst, stopping at
 * a page boundary. Returns the number of bytes copied or a negative
 * errno. dmabuf->resv must be held and the handle mapped.
 */
static ssize_t rti_copy_chunk(struct rti_handle *h, u64 offset, void *dst,
			      size_t max)
{
	struct scatterlist *sg;
	phys_addr_t phys;
	unsigned int i;
	size_t n, in_page;
	void *va;

	dma_resv_assert_held(h->dmabuf->resv);
	for_each_sgtable_dma_sg(h->sgt, sg, i) {
		u64 len = sg_dma_len(sg);

		if (offset >= len) {
			offset -= len;
			continue;
		}
		phys = dma_to_phys(rti_dev, sg_dma_address(sg) + offset);
		if (!pfn_valid(PHYS_PFN(phys)))
			return -EIO;
		in_page = offset_in_page(phys);
		n = min3(max, (size_t)(len - offset),
			 (size_t)(PAGE_SIZE - in_page));
		va = kmap_local_page(pfn_to_page(PHYS_PFN(phys)));
		memcpy(dst, va + in_page, n);
		kunmap_local(va);
		return n;
	}
	/* The mapping is shorter than the dma-buf. */
	return -EIO;
}

static long rti_read(struct rti_file *f, void __user *argp)
{
	struct refmdev_ti_read arg;
	struct rti_handle *h;
	void __user *ubuf;
	u64 end, done = 0;
	ssize_t n = 0;
	void *bounce;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags)
		return -EINVAL;
	if (check_add_overflow(arg.offset, arg.len, &end))
		return -EOVERFLOW;
	ubuf = u64_to_user_ptr(arg.buf);

	bounce = (void *)__get_free_page(GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;
	mutex_lock(&f->lock);
	h = rti_lookup(f, arg.handle);
	if (!h) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (end > h->dmabuf->size) {
		ret = -EINVAL;
		goto out_unlock;
	}
	/*
	 * A page at a time: the reservation lock keeps the mapping (and the
	 * exporter's memory behind it) in place while the page is copied,
	 * and is dropped before copying to user space. A revocation between
	 * two pages ends the read with ENODEV.
	 */
	ret = 0;
	while (done < arg.len) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = dma_resv_lock_interruptible(h->dmabuf->resv, NULL);
		if (ret)
			break;
		if (h->sgt)
			n = rti_copy_chunk(h, arg.offset + done, bounce,
					   min_t(u64, arg.len - done, PAGE_SIZE));
		else
			n = -ENODEV;
		dma_resv_unlock(h->dmabuf->resv);
		if (n < 0) {
			ret = n;
			break;
		}
		if (copy_to_user(ubuf + done, bounce, n)) {
			ret = -EFAULT;
			break;
		}
		done += n;
	}
out_unlock:
	mutex_unlock(&f->lock);
	free_page((unsigned long)bounce);
	return ret;
}

static long rti_query(struct rti_file *f, void __user *argp)
{
	struct refmdev_ti_query arg;
	struct rti_handle *h;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags)
		return -EINVAL;

	mutex_lock(&f->lock);
	h = rti_lookup(f, arg.handle);
	if (!h) {
		ret = -ENOENT;
		goto out_unlock;
	}
	ret = dma_resv_lock_interruptible(h->dmabuf->resv, NULL);
	if (ret)
		goto out_unlock;
	arg.notifications = h->notifications;
	arg.mapped = !!h->sgt;
	arg.max_segment = 0;
	if (h->sgt) {
		struct scatterlist *sg;
		unsigned int i;

		for_each_sgtable_dma_sg(h->sgt, sg, i)
			arg.max_segment = max(arg.max_segment, sg_dma_len(sg));
	}
	arg.segment_limit = dma_get_max_seg_size(rti_dev);
	arg.last_map_errno = -h->last_map_err;
	dma_resv_unlock(h->dmabuf->resv);
	arg.size = h->dmabuf->size;
	arg.dynamic = h->dynamic;
	if (copy_to_user(argp, &arg, sizeof(arg)))
		ret = -EFAULT;
out_unlock:
	mutex_unlock(&f->lock);
	return ret;
}

static long rti_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct rti_file *f = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case REFMDEV_TI_ATTACH:
		return rti_attach(f, argp);
	case REFMDEV_TI_MAP:
	case REFMDEV_TI_UNMAP:
	case REFMDEV_TI_DETACH:
	case REFMDEV_TI_FENCE:
	case REFMDEV_TI_SIGNAL:
		return rti_handle_op(f, cmd, argp);
	case REFMDEV_TI_READ:
		return rti_read(f, argp);
	case REFMDEV_TI_QUERY:
		return rti_query(f, argp);
	case REFMDEV_TI_EXPORT_PLAIN:
		return rti_export_plain(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations rti_fops = {
	.owner = THIS_MODULE,
	.open = rti_open,
	.release = rti_release,
	.unlocked_ioctl = rti_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice rti_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "refmdev_test_importer",
	.fops = &rti_fops,
};

static int __init rti_init(void)
{
	int ret;

	rti_dev = root_device_register("refmdev_test_importer");
	if (IS_ERR(rti_dev))
		return PTR_ERR(rti_dev);
	ret = dma_coerce_mask_and_coherent(rti_dev, DMA_BIT_MASK(64));
	if (ret)
		goto err_unregister_dev;
	/* Set directly: dma_set_max_seg_size() changed its return type. */
	rti_dma_parms.max_segment_size = REFMDEV_TI_SEGMENT_LIMIT;
	rti_dev->dma_parms = &rti_dma_parms;
	ret = misc_register(&rti_misc);
	if (ret)
		goto err_unregister_dev;
	return 0;

err_unregister_dev:
	root_device_unregister(rti_dev);
	return ret;
}

static void __exit rti_exit(void)
{
	misc_deregister(&rti_misc);
	root_device_unregister(rti_dev);
}

module_init(rti_init);
module_exit(rti_exit);

MODULE_DESCRIPTION("Test-only dma-buf importer for the refmdev selftests");
MODULE_LICENSE("GPL");
#ifdef REFMDEV_TI_IMPORT_NS_TOKEN
MODULE_IMPORT_NS(DMA_BUF);
#else
MODULE_IMPORT_NS("DMA_BUF");
#endif
