// SPDX-License-Identifier: GPL-2.0
/*
 * The VFIO face of a refmdev: device lifetime hooks, resets, the device
 * ioctls and region access dispatch. The parts of the device itself live
 * in config.c, regs.c, irq.c and devmem.c.
 */
#include <linux/dma-mapping.h>
#include <linux/uaccess.h>
#include "compat.h"
#include "refmdev.h"

/*
 * Reset the device. Not under rd->lock: the DMA engine is stopped first,
 * which waits for its worker to finish the descriptor in hand and drop
 * its pins.
 *
 * REFMDEV_RESET_FUNCTION is what VFIO_DEVICE_RESET and REFMDEV_CTRL_RESET
 * do: registers (the engine's included) go to power-on values and device
 * memory reads zero; configuration space is kept, as vfio-pci keeps it
 * by saving and restoring around the hardware reset, so the user's BAR
 * and command settings survive.
 *
 * REFMDEV_RESET_FLR is a function-level reset as a guest starts it through
 * PCI_EXP_DEVCTL: the same plus configuration space back to power-on,
 * memory decoding off. The guest's PCI core restores its config after.
 *
 * REFMDEV_RESET_OPEN is the FLR a new user starts from, with memory of its
 * own: fresh pages charged to the opener, allocated before anything is
 * touched. The other two renew the memory in place (see struct
 * refmdev_devmem): zeroing it is left to the first access and to a
 * worker, since zeroing takes longer than all the rest of a reset, and
 * only pages a peer still holds are replaced.
 *
 * If the memory cannot be had (-ENOMEM), nothing but the engine's
 * progress is changed; a renewing reset's importers have by then seen
 * their dma-bufs revoked, and restored on the same memory.
 */
int refmdev_reset(struct refmdev *rd, enum refmdev_reset_kind kind)
{
	struct page **fresh = NULL;
	int ret = 0;

	lockdep_assert_not_held(&rd->lock);
	mutex_lock(&rd->reset_lock);
	refmdev_dma_quiesce(rd);
	if (kind == REFMDEV_RESET_OPEN) {
		fresh = refmdev_devmem_alloc(rd);
		if (!fresh) {
			ret = -ENOMEM;
			goto resume;
		}
	}
	/* Importers of the old memory let go before it is replaced. */
	p2p_export_revoke(&rd->export);
	if (!fresh)
		ret = refmdev_devmem_renew(rd);
	mutex_lock(&rd->lock);
	if (!ret) {
		if (fresh)
			refmdev_devmem_install(rd, fresh);
		refmdev_regs_init(rd);
		refmdev_dma_reset_regs(rd);
		if (kind != REFMDEV_RESET_FUNCTION) {
			refmdev_config_init(rd);
			refmdev_devmem_set_decode(rd, false);
		}
		refmdev_irq_update(rd);
	}
	mutex_unlock(&rd->lock);
	/* On the renewed memory, or on the same one if it failed. */
	refmdev_export_sync(rd);
resume:
	mutex_lock(&rd->lock);
	refmdev_dma_resume(rd);
	mutex_unlock(&rd->lock);
	mutex_unlock(&rd->reset_lock);
	return ret;
}

/*
 * Make the BAR's dma-bufs follow memory decoding as it is now: revoked
 * while it is off, usable on the device's current memory while it is on.
 * Every change of the buffers' state runs under reset_lock, so a decode
 * change by another thread meanwhile is followed by its own sync. Not
 * under rd->lock: revoking waits (bounded) for importers and for fences,
 * which any holder of a dma-buf's fd can add, and register access,
 * interrupts and SET_IRQS must not wait with it.
 */
void refmdev_export_sync(struct refmdev *rd)
{
	bool decode;

	lockdep_assert_held(&rd->reset_lock);
	lockdep_assert_not_held(&rd->lock);
	mutex_lock(&rd->devmem.lock);
	decode = rd->devmem.decode;
	mutex_unlock(&rd->devmem.lock);
	if (decode)
		p2p_export_restore(&rd->export);
	else
		p2p_export_revoke(&rd->export);
}

/*
 * Bus mastering was turned off: once the write returns, the engine must
 * not touch guest memory, so wait for the descriptor in hand. The engine
 * then halts (HALT_BUS_MASTER) if more work is posted.
 */
static void refmdev_dma_fence(struct refmdev *rd)
{
	mutex_lock(&rd->reset_lock);
	refmdev_dma_quiesce(rd);
	mutex_lock(&rd->lock);
	refmdev_dma_resume(rd);
	mutex_unlock(&rd->lock);
	mutex_unlock(&rd->reset_lock);
}

/*
 * Carry out what a register or config write asked for (a mask of enum
 * refmdev_request); see refmdev.h.
 */
int refmdev_run_request(struct refmdev *rd, unsigned int requests)
{
	if (requests & REFMDEV_REQ_RESET_FUNCTION)
		return refmdev_reset(rd, REFMDEV_RESET_FUNCTION);
	if (requests & REFMDEV_REQ_RESET_FLR)
		return refmdev_reset(rd, REFMDEV_RESET_FLR);
	if (requests & REFMDEV_REQ_DMA_FENCE)
		refmdev_dma_fence(rd);
	if (requests & REFMDEV_REQ_EXPORT_SYNC) {
		mutex_lock(&rd->reset_lock);
		refmdev_export_sync(rd);
		mutex_unlock(&rd->reset_lock);
	}
	return 0;
}

/* The exporter's view of its owner: BAR2's pages and the device's lifetime. */
static struct refmdev *exp_to_refmdev(struct p2p_exporter *exp)
{
	return container_of(exp, struct refmdev, export);
}

static int refmdev_export_get_pages(struct p2p_exporter *exp,
				    const struct vfio_region_dma_range *ranges,
				    u32 nr_ranges, struct page **pages)
{
	lockdep_assert_held(&exp->lock);
	return refmdev_devmem_get_ranges(exp_to_refmdev(exp), ranges,
					 nr_ranges, pages);
}

static void refmdev_export_prepare_access(struct p2p_exporter *exp,
					  const struct vfio_region_dma_range *ranges,
					  u32 nr_ranges)
{
	refmdev_devmem_prepare_ranges(exp_to_refmdev(exp), ranges, nr_ranges);
}

/* Each exported buffer keeps the device, and so @exp, alive. */
static void refmdev_export_get_owner(struct p2p_exporter *exp)
{
	get_device(&exp_to_refmdev(exp)->vdev.device);
}

static void refmdev_export_put_owner(struct p2p_exporter *exp)
{
	vfio_put_device(&exp_to_refmdev(exp)->vdev);
}

static const struct p2p_exporter_ops refmdev_export_ops = {
	.get_pages = refmdev_export_get_pages,
	.prepare_access = refmdev_export_prepare_access,
	.get_owner = refmdev_export_get_owner,
	.put_owner = refmdev_export_put_owner,
	.name = REFMDEV_NAME,
};

static int refmdev_init_dev(struct vfio_device *vdev)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	int ret;

	rd->type = container_of(mdev->type, struct refmdev_type, mtype);
	mutex_init(&rd->reset_lock);
	mutex_init(&rd->irq_gate);
	mutex_init(&rd->lock);
	/* Nobody else sees @rd yet; the lock is for the functions' asserts. */
	mutex_lock(&rd->lock);
	refmdev_config_init(rd);
	refmdev_regs_init(rd);
	mutex_unlock(&rd->lock);
	refmdev_dma_init(rd);
	p2p_export_init(&rd->export, &refmdev_export_ops, refmdev_dev(rd),
			&rd->reset_lock, REFMDEV_DEVMEM_BAR,
			rd->type->devmem_size);
	p2p_windows_init(&rd->windows, refmdev_dev(rd));
	ret = refmdev_devmem_init(rd);
	if (ret) {
		refmdev_pin_cache_destroy(rd);
		p2p_windows_destroy(&rd->windows);
		p2p_export_destroy(&rd->export);
		mutex_destroy(&rd->lock);
		mutex_destroy(&rd->irq_gate);
		mutex_destroy(&rd->reset_lock);
	}
	return ret;
}

static void refmdev_release_dev(struct vfio_device *vdev)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);

	refmdev_pin_cache_destroy(rd);
	refmdev_devmem_free(rd);
	p2p_windows_destroy(&rd->windows);
	p2p_export_destroy(&rd->export);
	mutex_destroy(&rd->lock);
	mutex_destroy(&rd->irq_gate);
	mutex_destroy(&rd->reset_lock);
	refmdev_vfio_free_device(vdev);
}

/*
 * Every user starts from power-on state with fresh device memory, so no
 * data crosses from one user to the next. Memory decoding is then turned
 * on, as the host PCI core's pci_enable_device() does for vfio-pci users.
 */
static int refmdev_open_device(struct vfio_device *vdev)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);
	int ret;

	ret = refmdev_devmem_file_open(rd);
	if (ret)
		return ret;
	ret = refmdev_reset(rd, REFMDEV_RESET_OPEN);
	if (ret) {
		refmdev_devmem_file_close(rd);
		return ret;
	}
	refmdev_pin_cache_open(rd);
	refmdev_dma_set_active(rd, true);
	mutex_lock(&rd->reset_lock);
	mutex_lock(&rd->lock);
	refmdev_config_set_command(rd, PCI_COMMAND_MEMORY);
	mutex_unlock(&rd->lock);
	refmdev_export_sync(rd);
	mutex_unlock(&rd->reset_lock);
	return 0;
}

/*
 * The engine stops before the VFIO core forgets the container: after
 * this, nothing of ours pins or reads guest memory. Our dma-bufs die with
 * the open (a new user must not reach a former user's exports, nor they
 * its memory), and the windows this user attached go with it.
 */
static void refmdev_close_device(struct vfio_device *vdev)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);

	mutex_lock(&rd->reset_lock);
	refmdev_dma_quiesce(rd);
	mutex_unlock(&rd->reset_lock);
	refmdev_dma_scratch_free(rd);
	refmdev_dma_set_active(rd, false);
	p2p_windows_detach_all(&rd->windows);
	refmdev_irq_release_all(rd);
	mutex_lock(&rd->reset_lock);
	/* Closing revokes, which waits (bounded) for importers: never under @lock. */
	lockdep_assert_not_held(&rd->lock);
	p2p_export_close(&rd->export);
	mutex_lock(&rd->lock);
	refmdev_config_set_command(rd, 0);
	mutex_unlock(&rd->lock);
	mutex_unlock(&rd->reset_lock);
	refmdev_devmem_file_close(rd);
}

static long refmdev_get_info(unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

/*
 * Describe the region @info->index names. Since 6.19 the VFIO core
 * answers VFIO_DEVICE_GET_REGION_INFO itself (it copies the structure in
 * and out and adds @caps) and calls this as .get_region_info_caps; a
 * driver without that op makes the ioctl fail with EINVAL, and no VFIO
 * user can use the device. Before 6.19 refmdev_ioctl() does the copying.
 * refmdev regions have no capabilities.
 */
static int refmdev_region_info(struct vfio_device *vdev,
			       struct vfio_region_info *info,
			       struct vfio_info_cap *caps)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);

	if (info->index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;

	info->offset = REFMDEV_INDEX_TO_OFFSET(info->index);
	info->cap_offset = 0;
	switch (info->index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->size = REFMDEV_CFG_SIZE;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			      VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case REFMDEV_REGS_BAR:
		info->size = REFMDEV_REGS_SIZE;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			      VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case REFMDEV_DEVMEM_BAR:
		info->size = rd->type->devmem_size;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			      VFIO_REGION_INFO_FLAG_WRITE |
			      VFIO_REGION_INFO_FLAG_MMAP;
		break;
	case VFIO_PCI_VGA_REGION_INDEX:
		return -EINVAL;		/* not a VGA device, as vfio-pci says */
	default:			/* unimplemented BARs, no ROM */
		info->size = 0;
		info->flags = 0;
		break;
	}
	return 0;
}

#ifndef REFMDEV_HAVE_GET_REGION_INFO_CAPS
static long refmdev_get_region_info(struct vfio_device *vdev,
				    unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_region_info info;
	int ret;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	ret = refmdev_region_info(vdev, &info, NULL);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}
#endif

static long refmdev_ioctl(struct vfio_device *vdev, unsigned int cmd,
			  unsigned long arg)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return refmdev_get_info(arg);
#ifndef REFMDEV_HAVE_GET_REGION_INFO_CAPS
	case VFIO_DEVICE_GET_REGION_INFO:
		return refmdev_get_region_info(vdev, arg);
#endif
	case VFIO_DEVICE_GET_IRQ_INFO:
		return refmdev_irq_get_info(rd, arg);
	case VFIO_DEVICE_SET_IRQS:
		return refmdev_irq_set(rd, arg);
	case VFIO_DEVICE_RESET:
		return refmdev_reset(rd, REFMDEV_RESET_FUNCTION);
	case REFMDEV_P2P_WINDOW_ATTACH:
	case REFMDEV_P2P_WINDOW_DETACH:
	case REFMDEV_P2P_WINDOW_QUERY:
		return p2p_window_ioctl(&rd->windows, cmd, arg);
	}
	return -ENOTTY;
}

/*
 * VFIO_DEVICE_FEATURE: probing and dispatch, as vfio-pci's core does it.
 * The one feature is the BAR2 dma-buf, which the P2P core exports.
 */
static int refmdev_device_feature(struct vfio_device *vdev, u32 flags,
				  void __user *arg, size_t argsz)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);
	int ret;

	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_DMA_BUF:
		ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
					 sizeof(struct vfio_device_feature_dma_buf));
		if (ret != 1)
			return ret;
		return p2p_export_dmabuf(&rd->export, arg, argsz);
	}
	return -ENOTTY;
}

static ssize_t refmdev_rw(struct refmdev *rd, char __user *buf, size_t count,
			  loff_t *ppos, bool write)
{
	u64 index = (u64)*ppos >> REFMDEV_OFFSET_SHIFT;
	loff_t pos = *ppos & REFMDEV_OFFSET_MASK;
	ssize_t ret;

	if (*ppos < 0)
		return -EINVAL;

	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		ret = refmdev_config_rw(rd, buf, count, pos, write);
		break;
	case REFMDEV_REGS_BAR:
		ret = refmdev_regs_rw(rd, buf, count, pos, write);
		break;
	case REFMDEV_DEVMEM_BAR:
		ret = refmdev_devmem_rw(rd, buf, count, pos, write);
		break;
	default:
		return -EINVAL;
	}
	if (ret > 0)
		*ppos += ret;
	return ret;
}

static ssize_t refmdev_read(struct vfio_device *vdev, char __user *buf,
			    size_t count, loff_t *ppos)
{
	return refmdev_rw(vdev_to_refmdev(vdev), buf, count, ppos, false);
}

static ssize_t refmdev_write(struct vfio_device *vdev, const char __user *buf,
			     size_t count, loff_t *ppos)
{
	return refmdev_rw(vdev_to_refmdev(vdev), (char __user *)buf, count,
			  ppos, true);
}

static int refmdev_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	return refmdev_devmem_mmap(vdev_to_refmdev(vdev), vma);
}

#ifdef REFMDEV_HAVE_VFIO_IOMMUFD_OPS
/*
 * Bound through iommufd, not a type1 container: the pin cache may keep
 * pins by default (pin_cache.c). The VFIO core binds before the first
 * open and unbinds after the last close.
 */
static int refmdev_bind_iommufd(struct vfio_device *vdev,
				struct iommufd_ctx *ictx, u32 *out_device_id)
{
	int ret = vfio_iommufd_emulated_bind(vdev, ictx, out_device_id);

	if (!ret)
		vdev_to_refmdev(vdev)->dma.pins.iommufd = true;
	return ret;
}

static void refmdev_unbind_iommufd(struct vfio_device *vdev)
{
	vfio_iommufd_emulated_unbind(vdev);
	vdev_to_refmdev(vdev)->dma.pins.iommufd = false;
}
#endif

const struct vfio_device_ops refmdev_vfio_ops = {
	.name		= "vfio-refmdev",
	.init		= refmdev_init_dev,
	.release	= refmdev_release_dev,
	.open_device	= refmdev_open_device,
	.close_device	= refmdev_close_device,
	.read		= refmdev_read,
	.write		= refmdev_write,
	.ioctl		= refmdev_ioctl,
	.device_feature	= refmdev_device_feature,
	.mmap		= refmdev_mmap,
	.request	= refmdev_request,
	.dma_unmap	= refmdev_dma_unmap,
#ifdef REFMDEV_HAVE_GET_REGION_INFO_CAPS
	.get_region_info_caps = refmdev_region_info,
#endif
#ifdef REFMDEV_HAVE_VFIO_IOMMUFD_OPS
	.bind_iommufd	= refmdev_bind_iommufd,
	.unbind_iommufd	= refmdev_unbind_iommufd,
	.attach_ioas	= vfio_iommufd_emulated_attach_ioas,
	.detach_ioas	= vfio_iommufd_emulated_detach_ioas,
#endif
};
