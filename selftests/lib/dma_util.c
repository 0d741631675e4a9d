// SPDX-License-Identifier: GPL-2.0
/*
 * DMA engine helpers for the selftests; see dma_util.h.
 */
#include <linux/pci_regs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dma_util.h"
#include "vfio_backend.h"
#include "ktap.h"

/* Generous for TCG: a 64 MiB copy under KASAN takes seconds. */
#define DMA_TIMEOUT_MS	60000

int dma_map_raw(struct vfio_dev *d, void *va, __u64 iova, size_t size,
		__u32 flags)
{
	return backend_map(d, va, iova, size, flags);
}

int dma_unmap_raw(struct vfio_dev *d, __u64 iova, size_t size, __u32 flags)
{
	return backend_unmap(d, iova, size, flags);
}

void guest_mem_unmap(struct guest_mem *m)
{
	if (m->mapped && dma_unmap_raw(m->dev, m->iova, m->size, 0))
		printf("# unmap iova 0x%llx: %s\n", m->iova, strerror(errno));
	m->mapped = false;
}

static void guest_mem_deferred(void *arg)
{
	struct guest_mem *m = arg;

	guest_mem_unmap(m);
	munmap(m->va, m->size);
	free(m);
}

struct guest_mem *guest_mem_map(struct vfio_dev *d, __u64 iova, size_t size,
				__u32 flags)
{
	struct guest_mem *m = calloc(1, sizeof(*m));

	if (!m)
		FAIL("out of memory");
	m->va = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m->va == MAP_FAILED)
		FAIL("mmap %zu bytes: %s", size, strerror(errno));
	m->iova = iova;
	m->size = size;
	m->dev = d;
	if (dma_map_raw(d, m->va, iova, size, flags))
		FAIL("MAP_DMA iova 0x%llx size %zu: %s", iova, size,
		     strerror(errno));
	m->mapped = true;
	ktap_defer(guest_mem_deferred, m);
	return m;
}

struct dma_ring *dma_ring_setup(struct vfio_dev *d, __u32 size)
{
	return dma_ring_setup_at(d, size, RING_IOVA);
}

/* A ring at @iova: devices sharing a container need rings apart. */
struct dma_ring *dma_ring_setup_at(struct vfio_dev *d, __u32 size,
				   __u64 iova)
{
	struct dma_ring *r = calloc(1, sizeof(*r));

	if (!r)
		FAIL("out of memory");
	r->dev = d;
	r->size = size;
	r->mem = guest_mem_map(d, iova, 1 << 20,
			       VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	r->desc = r->mem->va;
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	bar0_write(d, REFMDEV_REG_DMA_RING_BASE, 8, iova);
	bar0_write(d, REFMDEV_REG_DMA_RING_SIZE, 4, size);
	bar0_write(d, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
	return r;
}

struct refmdev_dma_desc *dma_post(struct dma_ring *r, __u64 src, __u64 dst,
				  __u32 len, __u32 flags)
{
	struct refmdev_dma_desc *desc = &r->desc[r->tail % r->size];

	desc->src = htole64(src);
	desc->dst = htole64(dst);
	desc->len = htole32(len);
	desc->flags = htole32(flags);
	desc->reserved = 0;
	__atomic_store_n(&desc->status, 0, __ATOMIC_RELEASE);
	r->tail++;
	return desc;
}

void dma_doorbell(struct dma_ring *r)
{
	bar0_write(r->dev, REFMDEV_REG_DMA_TAIL, 4, r->tail);
}

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The descriptor's status once the device wrote it; fails on timeout. */
__u32 dma_wait(struct dma_ring *r, struct refmdev_dma_desc *desc)
{
	long deadline = now_ms() + DMA_TIMEOUT_MS;
	__u32 st;

	while (!(st = le32toh(__atomic_load_n(&desc->status, __ATOMIC_ACQUIRE)))) {
		if (now_ms() > deadline)
			FAIL("descriptor not completed in %d ms (HEAD %llu TAIL %u STATUS 0x%llx)",
			     DMA_TIMEOUT_MS,
			     bar0_read(r->dev, REFMDEV_REG_DMA_HEAD, 4), r->tail,
			     bar0_read(r->dev, REFMDEV_REG_DMA_STATUS, 4));
		usleep(50);
	}
	return st;
}

__u32 dma_run(struct dma_ring *r, __u64 src, __u64 dst, __u32 len,
	      __u32 flags)
{
	struct refmdev_dma_desc *desc = dma_post(r, src, dst, len, flags);

	dma_doorbell(r);
	return dma_wait(r, desc);
}

/* Until the engine has consumed everything posted, or halted. */
void dma_wait_idle(struct dma_ring *r)
{
	long deadline = now_ms() + DMA_TIMEOUT_MS;

	while (bar0_read(r->dev, REFMDEV_REG_DMA_HEAD, 4) != r->tail &&
	       !(bar0_read(r->dev, REFMDEV_REG_DMA_STATUS, 4) &
		 REFMDEV_DMA_STATUS_HALTED)) {
		if (now_ms() > deadline)
			FAIL("engine not idle in %d ms", DMA_TIMEOUT_MS);
		usleep(100);
	}
}

/* This process's locked memory (what type1 charges pins to), in KiB. */
/* The kB figure of the /proc/self/status line that starts with @field. */
static long status_kib(const char *field)
{
	size_t n = strlen(field);
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		FAIL("/proc/self/status: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) &&
		    sscanf(line + n, " %ld kB", &kib) == 1)
			break;
	fclose(f);
	if (kib < 0)
		FAIL("no %s in /proc/self/status", field);
	return kib;
}

long vm_locked_kib(void)
{
	return status_kib("VmLck:");
}

long vm_pinned_kib(void)
{
	return status_kib("VmPin:");
}

long vm_charged_kib(void)
{
	return vm_locked_kib() + vm_pinned_kib();
}

struct vm_charge vm_charge_now(void)
{
	return (struct vm_charge){ vm_locked_kib(), vm_pinned_kib() };
}
