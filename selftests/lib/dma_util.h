/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for driving the refmdev DMA engine from a selftest acting as
 * the VMM: guest memory (anonymous mappings made visible to the device
 * with VFIO_IOMMU_MAP_DMA), a descriptor ring in that memory, and
 * submission with a bounded wait for completion.
 */
#ifndef DMA_UTIL_H
#define DMA_UTIL_H

#include "mdev_util.h"

/* A piece of "guest memory": user memory mapped at an IOVA. */
struct guest_mem {
	void *va;
	__u64 iova;
	size_t size;
	struct vfio_dev *dev;
	bool mapped;
};

int dma_map_raw(struct vfio_dev *d, void *va, __u64 iova, size_t size,
		__u32 flags);
int dma_unmap_raw(struct vfio_dev *d, __u64 iova, size_t size, __u32 flags);
struct guest_mem *guest_mem_map(struct vfio_dev *d, __u64 iova, size_t size,
				__u32 flags);
void guest_mem_unmap(struct guest_mem *m);

struct dma_ring {
	struct vfio_dev *dev;
	struct guest_mem *mem;
	struct refmdev_dma_desc *desc;
	__u32 size;
	__u32 tail;
};

#define RING_IOVA	0x100000000ull	/* 4 GiB: out of the way */

struct dma_ring *dma_ring_setup(struct vfio_dev *d, __u32 size);
struct dma_ring *dma_ring_setup_at(struct vfio_dev *d, __u32 size,
				   __u64 iova);
struct refmdev_dma_desc *dma_post(struct dma_ring *r, __u64 src, __u64 dst,
				  __u32 len, __u32 flags);
void dma_doorbell(struct dma_ring *r);
__u32 dma_wait(struct dma_ring *r, struct refmdev_dma_desc *desc);
__u32 dma_run(struct dma_ring *r, __u64 src, __u64 dst, __u32 len,
	      __u32 flags);
void dma_wait_idle(struct dma_ring *r);
/*
 * What pinning charges to this process (/proc/self/status). type1
 * charges a pin to VmLck (locked_vm), also for CAP_IPC_LOCK, which only
 * lifts the limit. iommufd charges it to VmPin (pinned_vm) always, and
 * to VmLck in the process accounting mode the selftests set
 * (vfio_backend.c) unless the mapping was made with CAP_IPC_LOCK.
 * vm_charged_kib() is the sum: whether anything is pinned, either way.
 */
long vm_locked_kib(void);
long vm_pinned_kib(void);
long vm_charged_kib(void);

struct vm_charge {
	long locked_kib, pinned_kib;
};

struct vm_charge vm_charge_now(void);

/* VmLck and VmPin are each back at (or still at) @base. */
#define ASSERT_VM_CHARGE(base) do {					\
	struct vm_charge base_ = (base), now_ = vm_charge_now();	\
	ASSERT_EQ(now_.locked_kib, base_.locked_kib);			\
	ASSERT_EQ(now_.pinned_kib, base_.pinned_kib);			\
} while (0)

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long now_ms(void);

#endif /* DMA_UTIL_H */
