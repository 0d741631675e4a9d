// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA engine's use of the external-pin API: locked-memory accounting
 * that always returns to its baseline, RLIMIT_MEMLOCK honoured, .dma_unmap
 * as a synchronous barrier (nothing written after VFIO_IOMMU_UNMAP_DMA
 * returns), and reset, close and removal with DMA in flight.
 *
 * Every test runs with the pin cache off (pin_cache_pages=0: pin and
 * unpin per descriptor) and on (the default bound), as
 * dma_pinning.cache.off.<test> and dma_pinning.cache.on.<test>: the
 * promises are the same; only what is held between descriptors differs,
 * and that is exactly what the device's pinned_pages says and what the
 * process is charged beyond its baseline (ASSERT_VM_CHARGE_CACHED).
 * selftests/pin_cache.c tests the cache itself.
 */
#include <linux/capability.h>
#include <linux/pci_regs.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dma_util.h"
#include "ktap.h"
#include "pin_cache_fixture.h"
#include "pin_cache_util.h"
#include "vfio_backend.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define SRC_IOVA	0x10000000ull
#define DST_IOVA	0x40000000ull
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define COPY		REFMDEV_DMA_OP_COPY
#define PAGES(len)	((long)(((len) + 4095) / 4096))

TEST_F(cache, locked_memory_returns_to_baseline)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	struct dma_ring *r = dma_ring_setup(d, 16);
	struct vm_charge base = vm_charge_now();
	struct guest_mem *src = guest_mem_map(d, SRC_IOVA, 16 << 20, RW);
	struct guest_mem *dst = guest_mem_map(d, DST_IOVA, (16 << 20) + 4096, RW);
	static const __u32 lens[] = { 1, 4096, 4097, 1 << 20, 16 << 20 };
	unsigned int i;

	/* Mapping pins nothing in an mdev-only container. */
	ASSERT_VM_CHARGE(base);
	ASSERT_EQ(dev_pinned_pages(d), 0);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		/* i + 1: seeds 0 and 1 would give the same bytes. */
		fill_random(src->va, lens[i], i + 1);
		ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA + 1, lens[i], COPY),
			  REFMDEV_DMA_ST_OK);
		ASSERT_EQ(memcmp((__u8 *)dst->va + 1, src->va, lens[i]), 0);
		ASSERT_VM_CHARGE_CACHED(base, d);
	}
	/* Failures too leave nothing pinned but what the cache holds. */
	ASSERT_EQ(dma_run(r, SRC_IOVA + (15 << 20), DST_IOVA, 2 << 20, COPY),
		  REFMDEV_DMA_ST_UNMAPPED);
	ASSERT_VM_CHARGE_CACHED(base, d);
	/* Device memory is the device's own: never pinned, never charged. */
	ASSERT_EQ(dma_run(r, SRC_IOVA, 0, 16 << 20,
			  COPY | REFMDEV_DMA_F_DST_DEVMEM), REFMDEV_DMA_ST_OK);
	ASSERT_VM_CHARGE_CACHED(base, d);

	/* Unmapping a side gives back what the cache held of it... */
	guest_mem_unmap(dst);
	ASSERT_PINNED_AT_MOST(d, PAGES(16 << 20));
	ASSERT_VM_CHARGE_CACHED(base, d);
	ASSERT_EQ(dma_run(r, SRC_IOVA, 0, 1 << 20,
			  COPY | REFMDEV_DMA_F_DST_DEVMEM), REFMDEV_DMA_ST_OK);
	ASSERT_VM_CHARGE_CACHED(base, d);
	/* ...and closing the device, mappings still there, all of it. */
	close(d->device);
	d->device = -1;
	ASSERT_EQ(dev_pinned_pages(d), 0);
	ASSERT_VM_CHARGE(base);
	guest_mem_unmap(src);
	ASSERT_VM_CHARGE(base);
}

/* Without CAP_IPC_LOCK, type1 holds mappings made from now on to the rlimit. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		FAIL("capget: %s", strerror(errno));
	data[0].effective &= ~(1u << CAP_IPC_LOCK);
	data[0].permitted &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &hdr, data))
		FAIL("capset: %s", strerror(errno));
}

/*
 * With the cache on, what it holds counts against the limit like any
 * pin; a pin refused for the limit makes the engine evict what is idle
 * and try once more, so a working set that fits alone succeeds even when
 * the cache is full of an earlier one.
 */
TEST_F(cache, memlock_limit)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct rlimit lim = { .rlim_cur = 1 << 20, .rlim_max = 1 << 20 };
	struct guest_mem *src, *dst;
	struct dma_ring *r;
	struct vm_charge base;
	size_t i;

	drop_ipc_lock();
	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &lim));
	r = dma_ring_setup(d, 16);
	src = guest_mem_map(d, SRC_IOVA, 4 << 20, RW);
	dst = guest_mem_map(d, DST_IOVA, 4 << 20, RW);
	base = vm_charge_now();

	/* 128 + 128 pages pinned at once: the whole 1 MiB limit. */
	fill_random(src->va, 512 << 10, 1);
	ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, 512 << 10, COPY),
		  REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(src->va, dst->va, 512 << 10), 0);
	ASSERT_VM_CHARGE_CACHED(base, d);

	/*
	 * Another 128 + 128 pages: with the cache full of the first set,
	 * this fits only once the engine has evicted it.
	 */
	fill_random((__u8 *)src->va + (2 << 20), 512 << 10, 2);
	ASSERT_EQ(dma_run(r, SRC_IOVA + (2 << 20), DST_IOVA + (2 << 20),
			  512 << 10, COPY), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp((__u8 *)src->va + (2 << 20),
			 (__u8 *)dst->va + (2 << 20), 512 << 10), 0);
	ASSERT_VM_CHARGE_CACHED(base, d);

	/* 2 MiB each side: over it. Fails whole, writes nothing. */
	memset(dst->va, 0x5a, 4 << 20);
	ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, 2 << 20, COPY),
		  REFMDEV_DMA_ST_NO_MEMLOCK);
	for (i = 0; i < 4 << 20; i++)
		if (((__u8 *)dst->va)[i] != 0x5a)
			FAIL("byte %zu written by a descriptor over the limit", i);
	ASSERT_VM_CHARGE_CACHED(base, d);
	/* And the engine goes on within the limit. */
	ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, 4096, COPY), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(src->va, dst->va, 4096), 0);
	ASSERT_VM_CHARGE_CACHED(base, d);
	guest_mem_unmap(src);
	guest_mem_unmap(dst);
	ASSERT_EQ(dev_pinned_pages(d), 0);
	ASSERT_VM_CHARGE(base);
}

/* After a reset: the ring programmed again, empty. */
static void ring_restart(struct dma_ring *r)
{
	ASSERT_OK(ioctl(r->dev->device, VFIO_DEVICE_RESET));
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_BASE, 8, r->mem->iova);
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_SIZE, 4, r->size);
	bar0_write(r->dev, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
	r->tail = 0;
}

/*
 * iommufd: detaching the device from its IOAS calls .dma_unmap for the
 * whole address space, (0, ULONG_MAX), and that is a barrier like an
 * unmap: when VFIO_DEVICE_DETACH_IOMMUFD_PT returns, nothing is pinned
 * and nothing more is written, and a copy in flight was either done
 * whole before it or not at all. Attached again (the IOAS kept its
 * mappings) and reset, the device copies again.
 */
TEST_F_BACKEND(cache, detach_during_dma_is_a_barrier, KTAP_IOMMUFD)
{
	const size_t len = 256 << 10;
	const int rounds = 40;
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct guest_mem *src, *dst;
	struct vm_charge base;
	struct vfio_dev *d;
	struct dma_ring *r;
	__u8 *snap;
	int i, done = 0;

	d = vfio_open(mdev_create(TYPE_1M));
	r = dma_ring_setup(d, 64);
	src = guest_mem_map(d, SRC_IOVA, len, RW);
	dst = guest_mem_map(d, DST_IOVA, len, RW);
	attach.pt_id = d->ioas;
	base = vm_charge_now();
	snap = malloc(len);
	ASSERT_TRUE(snap);
	fill_random(src->va, len, 5);
	for (i = 0; i < rounds; i++) {
		memset(dst->va, i, len);
		dma_post(r, SRC_IOVA, DST_IOVA, len, COPY);
		dma_doorbell(r);
		usleep((i % 8) * 250);
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_DETACH_IOMMUFD_PT,
				&detach));
		ASSERT_EQ(dev_pinned_pages(d), 0);
		ASSERT_VM_CHARGE(base);
		memcpy(snap, dst->va, len);
		usleep(20000);
		if (memcmp(snap, dst->va, len))
			FAIL("round %d: written after the detach returned", i);
		if (!memcmp(dst->va, src->va, len))
			done++;
		else if (((__u8 *)dst->va)[0] != (__u8)i ||
			 ((__u8 *)dst->va)[len - 1] != (__u8)i)
			FAIL("round %d: a copy cut short by the detach", i);
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
				&attach));
		ring_restart(r);
	}
	/* Attached again, the engine works. */
	memset(dst->va, 0, len);
	ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, len, COPY), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(dst->va, src->va, len), 0);
	ktap_info("%d of %d copies done before the detach", done, rounds);
	ASSERT_VM_CHARGE_CACHED(base, d);
	free(snap);
}

/*
 * Unmap the destination while copies into it are in flight, many times.
 * Whatever the race's outcome, nothing may land after the unmap returns,
 * and a copy reported complete must be complete. Each round maps the
 * IOVA to the other of two buffers: a pin of the last round's buffer
 * that outlived its unmap (in the cache, say) would write there, and
 * leave this round's buffer short.
 */
TEST_F(cache, unmap_during_dma_is_a_barrier)
{
	const size_t len = 64 << 10;
	const int rounds = 2000;
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(d, 64);
	struct guest_mem *src = guest_mem_map(d, SRC_IOVA, len, RW);
	__u8 *buf[2] = { aligned_alloc(4096, len), aligned_alloc(4096, len) };
	__u8 *snap[2] = { malloc(len), malloc(len) };
	struct vm_charge base = vm_charge_now();
	int i, ok = 0, unmapped = 0;

	ASSERT_TRUE(buf[0] && buf[1] && snap[0] && snap[1]);
	fill_random(src->va, len, 77);
	for (i = 0; i < rounds; i++) {
		__u8 *dst = buf[i & 1], *old = buf[~i & 1];
		struct refmdev_dma_desc *desc;
		__u32 st;

		memset(dst, i, len);
		ASSERT_OK(dma_map_raw(d, dst, DST_IOVA, len, RW));
		desc = dma_post(r, SRC_IOVA, DST_IOVA, len, COPY);
		dma_doorbell(r);
		if (i & 1)
			usleep(i % 200);
		ASSERT_OK(dma_unmap_raw(d, DST_IOVA, len, 0));
		memcpy(snap[i & 1], dst, len);
		st = dma_wait(r, desc);
		/*
		 * Idle (the count is exact only then): nothing of the
		 * destination stays pinned, the source's cache at most.
		 */
		ASSERT_PINNED_AT_MOST(d, PAGES(len));
		if (memcmp(snap[i & 1], dst, len))
			FAIL("round %d: written after VFIO_IOMMU_UNMAP_DMA returned", i);
		if (i && memcmp(snap[~i & 1], old, len))
			FAIL("round %d: last round's buffer written through a stale pin", i);
		if (st == REFMDEV_DMA_ST_OK) {
			ok++;
			if (memcmp(dst, src->va, len))
				FAIL("round %d: reported done but incomplete", i);
		} else if (st == REFMDEV_DMA_ST_UNMAPPED) {
			unmapped++;
			if (dst[0] != (__u8)i || dst[len - 1] != (__u8)i)
				FAIL("round %d: failed copy wrote data", i);
		} else {
			FAIL("round %d: status 0x%x", i, st);
		}
	}
	ktap_info("%d copies completed before the unmap, %d refused after it",
		  ok, unmapped);
	ASSERT_VM_CHARGE_CACHED(base, d);
	guest_mem_unmap(src);
	ASSERT_EQ(dev_pinned_pages(d), 0);
	ASSERT_VM_CHARGE(base);
	free(buf[0]);
	free(buf[1]);
	free(snap[0]);
	free(snap[1]);
}

/*
 * Two devices in one container, both copying into the range being
 * unmapped. type1 notifies them in turn; neither may pin the range again
 * while the other is being notified, or the unmap goes round and round
 * (and type1 BUGs after ten rounds). As above, the IOVA alternates
 * between two buffers.
 */
TEST_F(cache, unmap_with_two_devices_in_one_container)
{
	const size_t len = 64 << 10;
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_join_container(a, mdev_create(TYPE_1M));
	struct dma_ring *ra = dma_ring_setup(a, 64);
	struct dma_ring *rb = dma_ring_setup_at(b, 64, RING_IOVA + (1 << 20));
	struct vm_charge base = vm_charge_now();
	struct guest_mem *src = guest_mem_map(a, SRC_IOVA, len, RW);
	__u8 *buf[2] = { aligned_alloc(4096, len), aligned_alloc(4096, len) };
	__u8 *snap[2] = { malloc(len), malloc(len) };
	int i, j;

	ASSERT_TRUE(buf[0] && buf[1] && snap[0] && snap[1]);
	fill_random(src->va, len, 5);
	for (i = 0; i < 500; i++) {
		__u8 *dst = buf[i & 1], *old = buf[~i & 1];
		struct refmdev_dma_desc *da[4], *db[4];

		memset(dst, 0, len);
		ASSERT_OK(dma_map_raw(a, dst, DST_IOVA, len, RW));
		for (j = 0; j < 4; j++) {
			da[j] = dma_post(ra, SRC_IOVA, DST_IOVA, len, COPY);
			db[j] = dma_post(rb, SRC_IOVA, DST_IOVA, len, COPY);
		}
		dma_doorbell(ra);
		dma_doorbell(rb);
		usleep(i % 300);
		ASSERT_OK(dma_unmap_raw(a, DST_IOVA, len, 0));
		memcpy(snap[i & 1], dst, len);
		for (j = 0; j < 4; j++) {
			__u32 sa = dma_wait(ra, da[j]), sb = dma_wait(rb, db[j]);

			ASSERT_TRUE(sa == REFMDEV_DMA_ST_OK ||
				    sa == REFMDEV_DMA_ST_UNMAPPED);
			ASSERT_TRUE(sb == REFMDEV_DMA_ST_OK ||
				    sb == REFMDEV_DMA_ST_UNMAPPED);
		}
		/* Both idle: neither keeps a pin of the destination. */
		ASSERT_PINNED_AT_MOST(a, PAGES(len));
		ASSERT_PINNED_AT_MOST(b, PAGES(len));
		if (memcmp(snap[i & 1], dst, len))
			FAIL("round %d: written after VFIO_IOMMU_UNMAP_DMA returned", i);
		if (i && memcmp(snap[~i & 1], old, len))
			FAIL("round %d: last round's buffer written through a stale pin", i);
	}
	/* Both devices' caches let go of the source with its unmap. */
	guest_mem_unmap(src);
	ASSERT_EQ(dev_pinned_pages(a), 0);
	ASSERT_EQ(dev_pinned_pages(b), 0);
	ASSERT_VM_CHARGE(base);
	free(buf[0]);
	free(buf[1]);
	free(snap[0]);
	free(snap[1]);
}

/* Post @n copies of @len bytes each without waiting. */
static void post_many(struct dma_ring *r, int n, __u32 len)
{
	int i;

	for (i = 0; i < n; i++)
		dma_post(r, SRC_IOVA, DST_IOVA, len, COPY);
	dma_doorbell(r);
}

TEST_F(cache, reset_with_dma_in_flight)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(d, 64);
	struct vm_charge base = vm_charge_now();
	int round;

	guest_mem_map(d, SRC_IOVA, 8 << 20, RW);
	guest_mem_map(d, DST_IOVA, 8 << 20, RW);
	for (round = 0; round < 20; round++) {
		post_many(r, 32, 8 << 20);
		usleep(round * 1000);
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
		/* Engine back at power-on, nothing pinned. */
		ASSERT_EQ(bar0_read(d, REFMDEV_REG_DMA_HEAD, 4), 0);
		ASSERT_EQ(bar0_read(d, REFMDEV_REG_DMA_CONTROL, 4), 0);
		ASSERT_EQ(dev_pinned_pages(d), 0);
		ASSERT_VM_CHARGE(base);
		/* And usable again. */
		bar0_write(d, REFMDEV_REG_DMA_RING_BASE, 8, RING_IOVA);
		bar0_write(d, REFMDEV_REG_DMA_RING_SIZE, 4, 64);
		bar0_write(d, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
		r->tail = 0;
		ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, 4096, COPY),
			  REFMDEV_DMA_ST_OK);
		ASSERT_VM_CHARGE_CACHED(base, d);
	}
}

/* A process that opens @uuid, starts a lot of DMA and then waits. */
static pid_t busy_user(const char *uuid, bool exit_at_once)
{
	pid_t pid = ktap_fork();

	if (!pid) {
		struct vfio_dev d;
		struct dma_ring *r;

		if (vfio_open_raw(uuid, &d))
			_exit(2);
		r = dma_ring_setup(&d, 64);
		guest_mem_map(&d, SRC_IOVA, 8 << 20, RW);
		guest_mem_map(&d, DST_IOVA, 8 << 20, RW);
		post_many(r, 64, 8 << 20);
		if (exit_at_once)
			_exit(0);
		pause();
		_exit(0);
	}
	return pid;
}

TEST_F(cache, close_with_dma_in_flight)
{
	const char *uuid = mdev_create(TYPE_1M);
	int i, status;

	for (i = 0; i < 10; i++) {
		pid_t pid = busy_user(uuid, true);

		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		/* The user's exit closed the device: nothing stays pinned. */
		ASSERT_EQ(uuid_pinned_pages(uuid), 0);
	}
	/* The device is free and works. */
	{
		struct vfio_dev *d = vfio_open(uuid);
		struct dma_ring *r = dma_ring_setup(d, 16);

		guest_mem_map(d, SRC_IOVA, 1 << 20, RW);
		guest_mem_map(d, DST_IOVA, 1 << 20, RW);
		ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, 1 << 20, COPY),
			  REFMDEV_DMA_ST_OK);
	}
}

TEST_F(cache, kill_and_remove_with_dma_in_flight)
{
	char uuid[UUID_LEN + 1];
	pid_t user, remover;
	int status;

	make_uuid(uuid);
	ASSERT_EQ(mdev_create_raw(TYPE_1M, uuid), 0);
	user = busy_user(uuid, false);
	usleep(300000);
	remover = ktap_fork();
	if (!remover)
		_exit(mdev_remove(uuid) ? 1 : 0);
	usleep(100000);
	/* The VMM dies with DMA running; removal then completes. */
	kill(user, SIGKILL);
	ASSERT_EQ(waitpid(user, &status, 0), user);
	ASSERT_EQ(waitpid(remover, &status, 0), remover);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(cache, parallel_devices_and_processes)
{
	const int nproc = 3;
	pid_t pids[3];
	int i, status, failed = 0;

	for (i = 0; i < nproc; i++) {
		pids[i] = ktap_fork();
		if (!pids[i]) {
			struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
			struct dma_ring *r = dma_ring_setup(d, 32);
			struct guest_mem *s = guest_mem_map(d, SRC_IOVA, 1 << 20, RW);
			struct guest_mem *t = guest_mem_map(d, DST_IOVA, 1 << 20, RW);
			struct vm_charge base = vm_charge_now();
			int n;

			/* Each process is charged for its own device's pins only. */
			for (n = 0; n < 40; n++) {
				__u32 len = 4096 * (n + 1) + i;

				fill_random(s->va, len, n * 10 + i);
				ASSERT_EQ(dma_run(r, SRC_IOVA, DST_IOVA, len, COPY),
					  REFMDEV_DMA_ST_OK);
				ASSERT_EQ(memcmp(s->va, t->va, len), 0);
				ASSERT_VM_CHARGE_CACHED(base, d);
			}
			guest_mem_unmap(s);
			guest_mem_unmap(t);
			ASSERT_EQ(dev_pinned_pages(d), 0);
			ASSERT_VM_CHARGE(base);
			ktap_finish(0);
		}
	}
	for (i = 0; i < nproc; i++) {
		ASSERT_EQ(waitpid(pids[i], &status, 0), pids[i]);
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	}
	ASSERT_EQ(failed, 0);
}
