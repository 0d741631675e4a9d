// SPDX-License-Identifier: GPL-2.0
/*
 * Operations on the device as a whole: open and close, every ioctl with
 * random arguments, region and register access, resets, the command
 * register's switches and interrupt setup.
 */
#include <linux/pci_regs.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_util.h"
#include "fuzz.h"

#define REGION_SHIFT	40	/* VFIO_PCI_INDEX_TO_OFFSET */

static int rw(int fd, bool write, void *buf, size_t len, __u64 off)
{
	ssize_t n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

int fz_region_write(struct fz_dev *d, unsigned int index, unsigned int off,
		    unsigned int len, __u64 val)
{
	return rw(d->v.device, true, &val, len, d->v.offset[index] + off);
}

int fz_region_read(struct fz_dev *d, unsigned int index, unsigned int off,
		   unsigned int len, __u64 *val)
{
	*val = 0;
	return rw(d->v.device, false, val, len, d->v.offset[index] + off);
}

/* The ring goes into every container at a fixed IOVA; the copies that
 * check data re-map it, and their own memory, each time.
 */
int fz_dev_open(struct fz_proc *p, int i, const char *uuid)
{
	struct fz_dev *d = &p->dev[i];
	int ret = vfio_open_raw(uuid, &d->v);

	if (ret)
		return ret;
	d->open = true;
	d->ring = (void *)(p->rings + i * FZ_PAGE);
	dma_map_raw(&d->v, d->ring, FZ_RING_IOVA, FZ_PAGE,
		    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	return 0;
}

void fz_dev_close(struct fz_proc *p, int i)
{
	vfio_close(&p->dev[i].v);
	p->dev[i].open = false;
}

int fz_op_open(struct fz_thread *t)
{
	struct fz_proc *p = t->p;
	int s, i, ret = FZ_SKIPPED;

	pthread_rwlock_wrlock(&p->lock);
	s = fz_pick_slot(t, FZ_SLOT_PRESENT);
	if (s < 0 || atomic_load(&p->sh->stop))
		goto out;
	for (i = 0; i < FZ_DEVS; i++) {
		char uuid[UUID_LEN + 1];

		if (p->dev[i].open)
			continue;
		/* Torn if the slot is being re-created: then it names no
		 * device and the open fails.
		 */
		memcpy(uuid, p->sh->slot[s].uuid, sizeof(uuid));
		uuid[UUID_LEN] = '\0';
		ret = fz_dev_open(p, i, uuid);
		break;
	}
out:
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

int fz_op_close(struct fz_thread *t)
{
	struct fz_proc *p = t->p;
	struct fz_dev *d;

	pthread_rwlock_wrlock(&p->lock);
	d = fz_pick_dev(t);
	if (d)
		fz_dev_close(p, d - p->dev);
	pthread_rwlock_unlock(&p->lock);
	return d ? FZ_DONE : FZ_SKIPPED;
}

/* Every ioctl the three VFIO files and our device answer, and some they
 * do not; the argument is random bytes with a plausible argsz.
 */
static const unsigned long device_ioctls[] = {
	VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO,
	VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET,
	VFIO_DEVICE_FEATURE, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
	VFIO_DEVICE_PCI_HOT_RESET, REFMDEV_P2P_WINDOW_ATTACH,
	REFMDEV_P2P_WINDOW_DETACH, REFMDEV_P2P_WINDOW_QUERY,
	_IO(REFMDEV_IOCTL_TYPE, 0x03), _IO(VFIO_TYPE, VFIO_BASE + 40),
};

static const unsigned long container_ioctls[] = {
	VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_IOMMU_GET_INFO,
	VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_IOMMU_DIRTY_PAGES,
	VFIO_SET_IOMMU,
};

static const unsigned long group_ioctls[] = {
	VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
	VFIO_GROUP_UNSET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD,
};

/* Two pages, the second inaccessible: arguments at or running into it. */
static __u8 *guard_pages(void)
{
	static __thread __u8 *base;

	if (!base) {
		base = mmap(NULL, 2 * FZ_PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED ||
		    mprotect(base + FZ_PAGE, FZ_PAGE, PROT_NONE))
			base = NULL;
	}
	return base;
}

int fz_op_ioctl(struct fz_thread *t)
{
	__u8 *guard = guard_pages();
	struct fz_proc *p = t->p;
	__u32 arg[128];
	unsigned long cmd;
	struct fz_dev *d;
	void *ptr = arg;
	int fd, ret, i;

	for (i = 0; i < (int)ARRAY_SIZE(arg); i++)
		arg[i] = fz_chance(&t->rng, 50) ? 0 : fz_next(&t->rng);
	arg[0] = fz_chance(&t->rng, 70) ? 16 + fz_below(&t->rng, 64) :
					  fz_size(&t->rng, sizeof(arg));
	arg[1] = fz_chance(&t->rng, 60) ? 0 : (__u32)fz_next(&t->rng);
	switch (guard ? fz_below(&t->rng, 10) : 9) {
	case 0:
		ptr = NULL;
		break;
	case 1:
		ptr = guard + FZ_PAGE;
		break;
	case 2:
		/* argsz and flags readable, the rest of the struct not. */
		ptr = guard + FZ_PAGE - 8;
		memcpy(ptr, arg, 8);
		break;
	}

	pthread_rwlock_rdlock(&p->lock);
	d = fz_pick_dev(t);
	if (!d) {
		pthread_rwlock_unlock(&p->lock);
		return FZ_SKIPPED;
	}
	switch (fz_below(&t->rng, 10)) {
	case 0:
		fd = d->v.container;
		cmd = container_ioctls[fz_below(&t->rng, ARRAY_SIZE(container_ioctls))];
		break;
	case 1:
		fd = d->v.group;
		cmd = group_ioctls[fz_below(&t->rng, ARRAY_SIZE(group_ioctls))];
		break;
	default:
		fd = d->v.device;
		cmd = device_ioctls[fz_below(&t->rng, ARRAY_SIZE(device_ioctls))];
		break;
	}
	ret = ioctl(fd, cmd, ptr);
	/* New fds would pile up: the dma-buf of a random FEATURE call and
	 * a second device fd.
	 */
	if (ret > 0 && (cmd == VFIO_DEVICE_FEATURE ||
			cmd == VFIO_GROUP_GET_DEVICE_FD))
		close(ret);
	pthread_rwlock_unlock(&p->lock);
	return ret < 0 ? -errno : FZ_DONE;
}

int fz_op_region_rw(struct fz_thread *t)
{
	static __thread __u8 buf[16384];
	struct fz_dev *d;
	__u64 index, off;
	size_t len;
	bool write = fz_chance(&t->rng, 50);
	int ret;

	index = fz_chance(&t->rng, 90) ? fz_below(&t->rng, VFIO_PCI_NUM_REGIONS) :
					 fz_below(&t->rng, 1u << 24);
	off = fz_chance(&t->rng, 80) ? fz_below(&t->rng, 2u << 20) :
				       fz_size(&t->rng, 1ull << REGION_SHIFT);
	len = fz_chance(&t->rng, 60) ? 1u << fz_below(&t->rng, 4) :
				       fz_below(&t->rng, sizeof(buf)) + 1;
	if (write)
		memset(buf, (int)fz_next(&t->rng), len);

	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	if (!d) {
		ret = FZ_SKIPPED;
	} else if (write && index == VFIO_PCI_BAR0_REGION_INDEX) {
		/* BAR0 writes keep out of a checked copy (ops_dma.c). */
		pthread_mutex_lock(&d->ring_lock);
		ret = rw(d->v.device, write, buf, len, off);
		pthread_mutex_unlock(&d->ring_lock);
	} else {
		ret = rw(d->v.device, write, buf, len,
			 (index << REGION_SHIFT) + off);
	}
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

/* The config fields whose writes do something. */
static const unsigned int config_fields[] = {
	PCI_COMMAND, PCI_STATUS, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_2,
	PCI_BASE_ADDRESS_3, PCI_ROM_ADDRESS, PCI_INTERRUPT_LINE,
	REFMDEV_CFG_MSI_CAP + PCI_MSI_FLAGS, REFMDEV_CFG_MSI_CAP + PCI_MSI_ADDRESS_LO,
	REFMDEV_CFG_MSI_CAP + PCI_MSI_DATA_64, REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCTL,
	REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVSTA, 0x100,
};

int fz_op_config_rw(struct fz_thread *t)
{
	unsigned int off, len = 1u << fz_below(&t->rng, 3);
	struct fz_dev *d;
	__u64 val;
	int ret;

	off = fz_chance(&t->rng, 70) ?
		config_fields[fz_below(&t->rng, ARRAY_SIZE(config_fields))] :
		fz_below(&t->rng, REFMDEV_CFG_SIZE + 16);
	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	if (!d)
		ret = FZ_SKIPPED;
	else if (fz_chance(&t->rng, 50))
		ret = fz_cfg_write(d, off, len, fz_next(&t->rng));
	else
		ret = fz_cfg_read(d, off, len, &val);
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

static const unsigned int registers[] = {
	REFMDEV_REG_CONTROL, REFMDEV_REG_INT_STATUS, REFMDEV_REG_INT_MASK,
	REFMDEV_REG_INT_RAISE, REFMDEV_REG_SCRATCH, REFMDEV_REG_SCRATCH64,
	REFMDEV_REG_DMA_RING_BASE, REFMDEV_REG_DMA_RING_SIZE,
	REFMDEV_REG_DMA_TAIL, REFMDEV_REG_DMA_CONTROL, REFMDEV_REG_DMA_HEAD,
};

int fz_op_bar0_write(struct fz_thread *t)
{
	unsigned int reg = registers[fz_below(&t->rng, ARRAY_SIZE(registers))];
	unsigned int len = 1u << fz_below(&t->rng, 4);
	struct fz_dev *d;
	int ret;

	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	if (d) {
		pthread_mutex_lock(&d->ring_lock);
		ret = fz_reg_write(d, reg, len, fz_size(&t->rng, 4096));
		pthread_mutex_unlock(&d->ring_lock);
	} else {
		ret = FZ_SKIPPED;
	}
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

int fz_op_reset(struct fz_thread *t)
{
	struct fz_dev *d;
	int ret;

	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	if (!d)
		ret = FZ_SKIPPED;
	else if (fz_chance(&t->rng, 50))
		ret = ioctl(d->v.device, VFIO_DEVICE_RESET) ? -errno : 0;
	else
		ret = fz_reg_write(d, REFMDEV_REG_CONTROL, 4, REFMDEV_CTRL_RESET);
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

/* A read-modify-write of a 16-bit config register: set @set, flip @flip. */
static int config_update(struct fz_thread *t, unsigned int off, __u16 set,
			 __u16 flip)
{
	struct fz_dev *d;
	__u64 val;
	int ret;

	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	ret = d ? fz_cfg_read(d, off, 2, &val) : FZ_SKIPPED;
	if (!ret)
		ret = fz_cfg_write(d, off, 2, (val | set) ^ flip);
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

int fz_op_flr(struct fz_thread *t)
{
	return config_update(t, REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCTL,
			     PCI_EXP_DEVCTL_BCR_FLR, 0);
}

int fz_op_decode(struct fz_thread *t)
{
	return config_update(t, PCI_COMMAND, 0, PCI_COMMAND_MEMORY);
}

int fz_op_master(struct fz_thread *t)
{
	return config_update(t, PCI_COMMAND, 0,
			     fz_chance(&t->rng, 80) ? PCI_COMMAND_MASTER :
						      PCI_COMMAND_INTX_DISABLE);
}

/* SET_IRQS with every action and data type; the eventfds made here are
 * closed right away: the kernel keeps its own references.
 */
int fz_op_irq(struct fz_thread *t)
{
	static const __u32 actions[] = {
		VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_MASK,
		VFIO_IRQ_SET_ACTION_UNMASK,
	};
	static const __u32 data[] = {
		VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL,
		VFIO_IRQ_SET_DATA_EVENTFD,
	};
	struct {
		struct vfio_irq_set set;
		__s32 fds[4];
	} a = { 0 };
	bool made[4] = { false };
	struct fz_dev *d;
	int i, ret;

	a.set.index = fz_chance(&t->rng, 90) ? fz_below(&t->rng, 5) :
					       fz_next(&t->rng);
	a.set.flags = actions[fz_below(&t->rng, ARRAY_SIZE(actions))] |
		      data[fz_below(&t->rng, ARRAY_SIZE(data))];
	if (fz_chance(&t->rng, 5))
		a.set.flags = fz_next(&t->rng);
	a.set.start = fz_chance(&t->rng, 90) ? 0 : fz_below(&t->rng, 4);
	a.set.count = fz_chance(&t->rng, 80) ? 1 : fz_size(&t->rng, 4);
	a.set.argsz = fz_chance(&t->rng, 90) ? sizeof(a) :
					       fz_size(&t->rng, sizeof(a));
	for (i = 0; i < 4; i++) {
		switch (fz_below(&t->rng, 4)) {
		case 0:
			a.fds[i] = -1;
			break;
		case 1:
			a.fds[i] = fz_next(&t->rng);
			break;
		default:
			a.fds[i] = eventfd(0, EFD_CLOEXEC);
			made[i] = a.fds[i] >= 0;
			break;
		}
	}
	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	ret = !d ? FZ_SKIPPED :
	      ioctl(d->v.device, VFIO_DEVICE_SET_IRQS, &a) ? -errno : 0;
	pthread_rwlock_unlock(&t->p->lock);
	for (i = 0; i < 4; i++)
		if (made[i])
			close(a.fds[i]);
	return ret;
}
