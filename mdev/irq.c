// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupts of a refmdev, delivered to the VFIO user through eventfds.
 *
 * The device computes one "pending" condition from its registers
 * (INT_STATUS & INT_MASK). INTx follows it as a level with vfio-pci's
 * automasking: asserting signals the eventfd and masks the line until the
 * user unmasks it, and an unmask while the level is still high signals
 * again. MSI sends one message per rising edge of the condition. The
 * device request (REQ) index asks the user to release the device when it
 * is being removed. The error (ERR) index exists because the device has a
 * PCI Express capability: vfio-pci offers it for every PCIe device and
 * QEMU warns that it cannot enable error recovery without it. vfio-pci
 * signals it on an uncorrectable AER error, upon which QEMU stops the VM;
 * a refmdev has no such error (it is memory and a thread), so only the
 * user's loopback (DATA_NONE or DATA_BOOL) signals it.
 *
 * Like vfio-pci, INTx can also be unmasked through an eventfd (QEMU passes
 * KVM's resample eventfd there, so that a guest's EOI unmasks the line
 * without a trip through QEMU).
 *
 * The ioctls follow vfio-pci's errno choices, since VFIO users are written
 * against it: an index or range that does not exist is EINVAL, an action
 * an index does not support is ENOTTY.
 */
#include <linux/eventfd.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "compat.h"
#include "refmdev.h"

static u32 refmdev_irq_count(unsigned int index)
{
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
	case VFIO_PCI_MSI_IRQ_INDEX:
	case VFIO_PCI_ERR_IRQ_INDEX:
	case VFIO_PCI_REQ_IRQ_INDEX:
		return 1;
	default:	/* no MSI-X */
		return 0;
	}
}

static bool intx_level(struct refmdev *rd)
{
	return rd->irqs.pending &&
	       !(refmdev_config_command(rd) & PCI_COMMAND_INTX_DISABLE);
}

static void intx_try_assert(struct refmdev *rd)
{
	struct refmdev_irqs *irqs = &rd->irqs;

	if (irqs->mode != REFMDEV_IRQ_INTX || irqs->intx_masked ||
	    !intx_level(rd))
		return;
	irqs->intx_masked = true;
	refmdev_eventfd_signal(irqs->intx_trigger);
}

/* Re-evaluate the interrupt condition after any register change. */
void refmdev_irq_update(struct refmdev *rd)
{
	struct refmdev_irqs *irqs = &rd->irqs;
	bool was_pending = irqs->pending;

	lockdep_assert_held(&rd->lock);
	irqs->pending = !!(rd->regs.int_status & rd->regs.int_mask);

	if (irqs->mode == REFMDEV_IRQ_MSI) {
		if (irqs->pending && !was_pending)
			refmdev_eventfd_signal(irqs->msi_trigger);
	} else {
		intx_try_assert(rd);
	}
}

long refmdev_irq_get_info(struct refmdev *rd, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;

	info.count = refmdev_irq_count(info.index);
	info.flags = info.count ? VFIO_IRQ_INFO_EVENTFD : 0;
	if (info.index == VFIO_PCI_INTX_IRQ_INDEX)
		info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else if (info.count)
		info.flags |= VFIO_IRQ_INFO_NORESIZE;

	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

/*
 * Swap the eventfd in @slot for the one named by @fd (-1: none). The old
 * context is released by the caller after dropping the lock; returns it.
 */
static int refmdev_irq_eventfd_replace(struct eventfd_ctx **slot, s32 fd,
				       struct eventfd_ctx **old)
{
	struct eventfd_ctx *ctx = NULL;

	if (fd < -1)
		return -EINVAL;
	if (fd >= 0) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	*old = *slot;
	*slot = ctx;
	return 0;
}

/*
 * Point @mode's trigger at @fd (-1 turns the mode off). INTx and MSI
 * exclude each other, as on vfio-pci. A condition already pending is
 * delivered at once: an assertion for INTx, an edge for the new vector.
 */
static int refmdev_irq_set_mode_trigger(struct refmdev *rd,
					enum refmdev_irq_mode mode,
					struct eventfd_ctx **slot, s32 fd,
					struct eventfd_ctx **old)
{
	struct refmdev_irqs *irqs = &rd->irqs;
	int ret;

	if (irqs->mode != REFMDEV_IRQ_NONE && irqs->mode != mode)
		return -EINVAL;
	ret = refmdev_irq_eventfd_replace(slot, fd, old);
	if (ret)
		return ret;
	irqs->mode = fd >= 0 ? mode : REFMDEV_IRQ_NONE;
	irqs->intx_masked = false;
	irqs->pending = false;
	refmdev_irq_update(rd);
	return 0;
}

/* Is the "fire now" form (DATA_NONE, or DATA_BOOL true) requested? */
static bool refmdev_irq_set_fires(const struct vfio_irq_set *hdr,
				  const u8 *data)
{
	if (hdr->flags & VFIO_IRQ_SET_DATA_NONE)
		return true;
	return (hdr->flags & VFIO_IRQ_SET_DATA_BOOL) && data[0];
}

static int refmdev_irq_set_intx(struct refmdev *rd,
				const struct vfio_irq_set *hdr,
				const u8 *data, struct eventfd_ctx **old)
{
	struct refmdev_irqs *irqs = &rd->irqs;

	switch (hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) {
	case VFIO_IRQ_SET_ACTION_MASK:
		if (hdr->flags & VFIO_IRQ_SET_DATA_EVENTFD)
			return -EINVAL;	/* no irqfd-style masking */
		if (refmdev_irq_set_fires(hdr, data))
			irqs->intx_masked = true;
		return 0;
	case VFIO_IRQ_SET_ACTION_UNMASK:
		/* DATA_EVENTFD is handled by intx_unmask_eventfd(). */
		if (refmdev_irq_set_fires(hdr, data)) {
			irqs->intx_masked = false;
			intx_try_assert(rd);
		}
		return 0;
	}

	/* ACTION_TRIGGER */
	if (hdr->flags & VFIO_IRQ_SET_DATA_EVENTFD)
		return refmdev_irq_set_mode_trigger(rd, REFMDEV_IRQ_INTX,
						    &irqs->intx_trigger,
						    *(const s32 *)data, old);
	/* Loopback: behave as if the device asserted INTx. */
	if (irqs->mode == REFMDEV_IRQ_INTX &&
	    refmdev_irq_set_fires(hdr, data) && !irqs->intx_masked) {
		irqs->intx_masked = true;
		refmdev_eventfd_signal(irqs->intx_trigger);
	}
	return 0;
}

/* MSI, ERR and REQ support only ACTION_TRIGGER; the caller checked. */
static int refmdev_irq_set_msi(struct refmdev *rd,
			       const struct vfio_irq_set *hdr,
			       const u8 *data, struct eventfd_ctx **old)
{
	struct refmdev_irqs *irqs = &rd->irqs;

	if (WARN_ON_ONCE(!(hdr->flags & VFIO_IRQ_SET_ACTION_TRIGGER)))
		return -EINVAL;
	if (hdr->flags & VFIO_IRQ_SET_DATA_EVENTFD)
		return refmdev_irq_set_mode_trigger(rd, REFMDEV_IRQ_MSI,
						    &irqs->msi_trigger,
						    *(const s32 *)data, old);
	if (irqs->mode == REFMDEV_IRQ_MSI && refmdev_irq_set_fires(hdr, data))
		refmdev_eventfd_signal(irqs->msi_trigger);
	return 0;
}

/* ERR and REQ: one eventfd each, set or fired, whatever the mode. */
static int refmdev_irq_set_notifier(struct eventfd_ctx **slot,
				    const struct vfio_irq_set *hdr,
				    const u8 *data,
				    struct eventfd_ctx **old)
{
	if (hdr->flags & VFIO_IRQ_SET_DATA_EVENTFD)
		return refmdev_irq_eventfd_replace(slot, *(const s32 *)data,
						   old);
	if (refmdev_irq_set_fires(hdr, data) && *slot)
		refmdev_eventfd_signal(*slot);
	return 0;
}

/* count == 0 with DATA_NONE and ACTION_TRIGGER turns an index off. */
static void refmdev_irq_disable(struct refmdev *rd, unsigned int index,
				struct eventfd_ctx **old)
{
	struct refmdev_irqs *irqs = &rd->irqs;

	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		if (irqs->mode != REFMDEV_IRQ_INTX)
			return;
		*old = irqs->intx_trigger;
		irqs->intx_trigger = NULL;
		irqs->mode = REFMDEV_IRQ_NONE;
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
		if (irqs->mode != REFMDEV_IRQ_MSI)
			return;
		*old = irqs->msi_trigger;
		irqs->msi_trigger = NULL;
		irqs->mode = REFMDEV_IRQ_NONE;
		break;
	case VFIO_PCI_ERR_IRQ_INDEX:
		*old = irqs->err_trigger;
		irqs->err_trigger = NULL;
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		*old = irqs->req_trigger;
		irqs->req_trigger = NULL;
		break;
	}
}

/* The unmask eventfd was signalled. Runs from the virqfd work. */
static void intx_unmask_thread(void *opaque, void *data)
{
	struct refmdev *rd = opaque;

	mutex_lock(&rd->lock);
	rd->irqs.intx_masked = false;
	intx_try_assert(rd);
	mutex_unlock(&rd->lock);
}

/*
 * ACTION_UNMASK with DATA_EVENTFD: a non-negative fd becomes the unmask
 * eventfd (INTx must be enabled, as on vfio-pci), a negative one removes
 * it. Caller holds irq_gate, so INTx cannot be turned off between the
 * check and the enable; not rd->lock: disabling waits for the virqfd
 * work, which takes it.
 */
static int intx_unmask_eventfd(struct refmdev *rd, s32 fd)
{
	bool intx;

	lockdep_assert_held(&rd->irq_gate);
	lockdep_assert_not_held(&rd->lock);
	if (fd < 0) {
		vfio_virqfd_disable(&rd->irqs.intx_unmask);
		return 0;
	}
	mutex_lock(&rd->lock);
	intx = rd->irqs.mode == REFMDEV_IRQ_INTX;
	mutex_unlock(&rd->lock);
	if (!intx)
		return -EINVAL;
	return vfio_virqfd_enable(rd, NULL, intx_unmask_thread, NULL,
				  &rd->irqs.intx_unmask, fd);
}

/*
 * The checks vfio-pci makes beyond the core's helper: exactly one action
 * (the helper already checked the data type), count 0 only to disable,
 * and only INTx can be masked. Returns the action or -EINVAL/-ENOTTY.
 */
static int refmdev_irq_set_action(const struct vfio_irq_set *hdr)
{
	u32 action = hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;

	if (hweight32(action) != 1)
		return -EINVAL;
	if (!hdr->count &&
	    (action != VFIO_IRQ_SET_ACTION_TRIGGER ||
	     !(hdr->flags & VFIO_IRQ_SET_DATA_NONE)))
		return -EINVAL;
	if (hdr->index != VFIO_PCI_INTX_IRQ_INDEX &&
	    action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -ENOTTY;
	return action;
}

/* One index's change; an eventfd it replaces goes to @old, put by the caller. */
static int refmdev_irq_set_index(struct refmdev *rd,
				 const struct vfio_irq_set *hdr,
				 const u8 *data, struct eventfd_ctx **old)
{
	lockdep_assert_held(&rd->lock);

	if (!hdr->count) {
		refmdev_irq_disable(rd, hdr->index, old);
		return 0;
	}
	switch (hdr->index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return refmdev_irq_set_intx(rd, hdr, data, old);
	case VFIO_PCI_MSI_IRQ_INDEX:
		return refmdev_irq_set_msi(rd, hdr, data, old);
	case VFIO_PCI_ERR_IRQ_INDEX:
		return refmdev_irq_set_notifier(&rd->irqs.err_trigger, hdr,
						data, old);
	case VFIO_PCI_REQ_IRQ_INDEX:
		return refmdev_irq_set_notifier(&rd->irqs.req_trigger, hdr,
						data, old);
	}
	return 0;
}

long refmdev_irq_set(struct refmdev *rd, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct eventfd_ctx *old = NULL;
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	u8 *data = NULL;
	int action;
	int ret;

	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	ret = vfio_set_irqs_validate_and_prepare(&hdr,
						 refmdev_irq_count(hdr.index),
						 VFIO_PCI_NUM_IRQS, &data_size);
	if (ret)
		return ret;
	action = refmdev_irq_set_action(&hdr);
	if (action < 0)
		return action;

	if (data_size) {
		data = memdup_user((void __user *)(arg + minsz), data_size);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}

	/*
	 * Every change of the interrupt mode and of the unmask eventfd runs
	 * under irq_gate, so the unmask eventfd exists only while INTx is
	 * on (vfio-pci's igate does the same).
	 */
	mutex_lock(&rd->irq_gate);
	if (hdr.index == VFIO_PCI_INTX_IRQ_INDEX &&
	    action == VFIO_IRQ_SET_ACTION_UNMASK &&
	    (hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD)) {
		ret = intx_unmask_eventfd(rd, *(const s32 *)data);
		goto out_gate;
	}

	mutex_lock(&rd->lock);
	ret = refmdev_irq_set_index(rd, &hdr, data, &old);
	mutex_unlock(&rd->lock);

	/*
	 * INTx turned off (by any index: MSI replaces it) takes its unmask
	 * eventfd with it, as on vfio-pci.
	 */
	if (action == VFIO_IRQ_SET_ACTION_TRIGGER &&
	    READ_ONCE(rd->irqs.mode) != REFMDEV_IRQ_INTX)
		vfio_virqfd_disable(&rd->irqs.intx_unmask);
	if (old)
		eventfd_ctx_put(old);
out_gate:
	/*
	 * Only calls under irq_gate enable the unmask eventfd or change the
	 * mode; the virqfd code may clear the pointer at any time, never set it.
	 */
	WARN_ON_ONCE(data_race(rd->irqs.intx_unmask) &&
		     READ_ONCE(rd->irqs.mode) != REFMDEV_IRQ_INTX);
	mutex_unlock(&rd->irq_gate);
	kfree(data);
	return ret;
}

/* Close: the user's eventfds go with the user. */
void refmdev_irq_release_all(struct refmdev *rd)
{
	struct refmdev_irqs *irqs = &rd->irqs;
	struct eventfd_ctx *ctx[4];
	unsigned int i;

	mutex_lock(&rd->irq_gate);
	vfio_virqfd_disable(&irqs->intx_unmask);
	mutex_lock(&rd->lock);
	ctx[0] = irqs->intx_trigger;
	ctx[1] = irqs->msi_trigger;
	ctx[2] = irqs->req_trigger;
	ctx[3] = irqs->err_trigger;
	memset(irqs, 0, sizeof(*irqs));
	mutex_unlock(&rd->lock);
	mutex_unlock(&rd->irq_gate);

	for (i = 0; i < ARRAY_SIZE(ctx); i++)
		if (ctx[i])
			eventfd_ctx_put(ctx[i]);
}

/*
 * Called by the VFIO core, repeatedly, while removal waits for the user
 * to close the device. Without a request eventfd nobody can be told, so
 * say in the log why removal is stalled.
 */
void refmdev_request(struct vfio_device *vdev, unsigned int count)
{
	struct refmdev *rd = vdev_to_refmdev(vdev);

	mutex_lock(&rd->lock);
	if (rd->irqs.req_trigger) {
		if (!count)
			dev_notice(refmdev_dev(rd),
				   "asking the user to release the device\n");
		refmdev_eventfd_signal(rd->irqs.req_trigger);
	} else if (!count) {
		dev_notice(refmdev_dev(rd),
			   "no device request eventfd; removal waits until the user closes the device\n");
	}
	mutex_unlock(&rd->lock);
}
