// SPDX-License-Identifier: GPL-2.0
/*
 * Isolation between users: nothing one VFIO user does to its own device,
 * however hostile, may hold up a device of another user (another
 * process, its own container and fds).
 *
 * Each test starts a neighbour: a process of its own with its own mdev
 * and container, streaming 4 KiB copies and timing each one. Then this
 * process, as the hostile user with a device of its own, pulls one lever
 * that holds something in the kernel open for as long as it likes, and
 * the neighbour's copies are timed while it is held: the slowest must
 * stay under NEIGHBOUR_BOUND_MS (the bound under TCG). Then the
 * lever is let go and the hostile device's own outcome is checked
 * exactly.
 *
 * Levers: the engine's status write held by a userfaultfd write-protect
 * while the user unmaps the pages the engine has pinned; a fence another
 * fd holder put on a dma-buf the engine reaches through a P2P window,
 * while the user unmaps what the engine would pin; the reply of a window
 * ATTACH held by a userfaultfd while the engine uses another window. And
 * the unmap barrier's own promise: one notification round per unmap,
 * even when the unmapping thread hardly gets the CPU.
 *
 * The tests whose levers involve the engine's pins run with the pin
 * cache off and on (isolation.cache.off.<test>, isolation.cache.on.<test>),
 * for the hostile device and the neighbour alike: cached pins must not
 * let a lever reach further, nor an unmap wait longer.
 */
#include <linux/pci_regs.h>
#include <linux/userfaultfd.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dma_util.h"
#include "dmabuf_util.h"
#include "fuse_stall.h"
#include "importer_util.h"
#include "ktap.h"
#include "p2p_util.h"
#include "pin_cache_fixture.h"
#include "pin_cache_util.h"
#include "vfio_backend.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define PAGE			4096ull
#define SZ_1M			0x100000ull
#define SRC_IOVA		0x10000000ull
#define DST_IOVA		0x20000000ull
#define WIN_IOVA		0x40000000ull
#define WIN2_IOVA		0x50000000ull
#define NEIGHBOUR_BOUND_MS	100
#define HOLD_MS			1500
#define COPY			REFMDEV_DMA_OP_COPY

/*
 * What the neighbour reports, in memory shared between the processes;
 * every field is read and written with __atomic builtins.
 */
struct neighbour {
	int phase;
	int ready;
	long max_us;		/* slowest copy while measuring */
	long copies;		/* copies completed while measuring */
	long seq;		/* copies completed in all */
};

/* The neighbour's pid, in the parent only (fork writes 0 in the child). */
static pid_t neighbour_pid;

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

enum { NB_RUN, NB_MEASURE, NB_STOP };

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void neighbour_loop(struct neighbour *nb)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(d, 16);
	struct guest_mem *m = guest_mem_map(d, SRC_IOVA, 2 * PAGE,
					    VFIO_DMA_MAP_FLAG_READ |
					    VFIO_DMA_MAP_FLAG_WRITE);
	unsigned int n = 0;

	while (LOAD(nb->phase) != NB_STOP) {
		bool measured = LOAD(nb->phase) == NB_MEASURE;
		long start = now_us(), took;
		__u32 st;

		memset(m->va, n++, PAGE);
		st = dma_run(r, SRC_IOVA, SRC_IOVA + PAGE, PAGE, COPY);
		took = now_us() - start;
		if (st != REFMDEV_DMA_ST_OK)
			FAIL("neighbour: copy status 0x%x", st);
		if (memcmp(m->va, (char *)m->va + PAGE, PAGE))
			FAIL("neighbour: copy did not land");
		/* Counted if it started in the window: a stall may end later. */
		if (measured) {
			if (took > LOAD(nb->max_us))
				STORE(nb->max_us, took);
			STORE(nb->copies, LOAD(nb->copies) + 1);
		}
		STORE(nb->seq, LOAD(nb->seq) + 1);
		STORE(nb->ready, 1);
	}
	ktap_finish(0);
}

static void neighbour_stop(void *arg)
{
	struct neighbour *nb = arg;
	int status;

	if (!neighbour_pid)
		return;
	STORE(nb->phase, NB_STOP);
	if (waitpid(neighbour_pid, &status, 0) != neighbour_pid)
		FAIL("waitpid: %s", strerror(errno));
	neighbour_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		FAIL("the neighbour failed (status 0x%x)", status);
}

static struct neighbour *neighbour_start(void)
{
	struct neighbour *nb = mmap(NULL, sizeof(*nb), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long start = now_ms();

	ASSERT_TRUE(nb != MAP_FAILED);
	memset(nb, 0, sizeof(*nb));
	neighbour_pid = ktap_fork();
	if (!neighbour_pid)
		neighbour_loop(nb);
	ktap_defer(neighbour_stop, nb);
	while (!LOAD(nb->ready)) {
		if (now_ms() - start > 60000)
			FAIL("the neighbour did not start streaming");
		usleep(1000);
	}
	return nb;
}

/* Time the neighbour's copies for @ms; fail if one took too long. */
static void neighbour_assert_unhindered(struct neighbour *nb, long ms,
					const char *while_what)
{
	long copies, max_us, seq, start;

	STORE(nb->max_us, 0);
	STORE(nb->copies, 0);
	STORE(nb->phase, NB_MEASURE);
	usleep(ms * 1000);
	STORE(nb->phase, NB_RUN);
	/* The copy in flight at the end counts too: wait for the next one. */
	seq = LOAD(nb->seq);
	start = now_ms();
	while (LOAD(nb->seq) < seq + 2 && now_ms() - start < 60000)
		usleep(1000);
	copies = LOAD(nb->copies);
	max_us = LOAD(nb->max_us);
	ktap_info("neighbour while %s: %ld copies, slowest %ld us", while_what,
		  copies, max_us);
	if (!copies)
		FAIL("the neighbour completed no copy in %ld ms while %s", ms,
		     while_what);
	if (max_us > NEIGHBOUR_BOUND_MS * 1000)
		FAIL("a neighbour's copy took %ld ms while %s (bound %d ms)",
		     max_us / 1000, while_what, NEIGHBOUR_BOUND_MS);
}

/* A userfaultfd tracking writes to [@addr, +@len); skips without one. */
static int uffd_wp_register(void *addr, size_t len)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP,
	};
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		ktap_skip("userfaultfd: %s", strerror(errno));
	ktap_defer(close_fd, (void *)(long)fd);
	if (ioctl(fd, UFFDIO_API, &api))
		ktap_skip("userfaultfd write-protect: %s", strerror(errno));
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		FAIL("UFFDIO_REGISTER: %s", strerror(errno));
	return fd;
}

static void uffd_protect(int fd, void *addr, size_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp))
		FAIL("UFFDIO_WRITEPROTECT(%d): %s", protect, strerror(errno));
}

/* The next event must be a write-protect fault on the page of @addr. */
static void uffd_expect_wp_fault(int fd, void *addr, const char *who)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&p, 1, 30000) != 1)
		FAIL("%s never wrote to the write-protected page", who);
	ASSERT_EQ(read(fd, &msg, sizeof(msg)), sizeof(msg));
	ASSERT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
	if (!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ||
	    (msg.arg.pagefault.address & ~(PAGE - 1)) !=
	    ((unsigned long)addr & ~(PAGE - 1)))
		FAIL("unexpected fault 0x%llx at 0x%llx",
		     (unsigned long long)msg.arg.pagefault.flags,
		     (unsigned long long)msg.arg.pagefault.address);
}

struct unmap_arg {
	struct vfio_dev *d;
	__u64 iova;
	__u64 size;
	int start;		/* 0 at once; 1 wait until it is 2 */
	int ret;
	long took_ms;
};

static void *unmap_thread(void *p)
{
	struct unmap_arg *a = p;
	long start;

	while (LOAD(a->start) == 1)
		usleep(1000);
	start = now_ms();
	a->ret = dma_unmap_raw(a->d, a->iova, a->size, 0);
	a->took_ms = now_ms() - start;
	return NULL;
}

#define RW	(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/*
 * The engine copies 8 MiB; while it holds the pins the user unmaps the
 * destination (pinned first), and the descriptor's status write (after the copy) hits a
 * write-protected ring page, which the user does not release. The unmap
 * must not wait for that write (it may wait for type1's own lock, which
 * the write holds: that only stops this user), and the neighbour must
 * not notice any of it.
 */
TEST_F(cache, status_write_held_by_userfaultfd)
{
	const __u64 size = 8 * SZ_1M;
	struct neighbour *nb = neighbour_start();
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(a, 16);
	struct guest_mem *src = guest_mem_map(a, SRC_IOVA, size, RW);
	struct guest_mem *dst = guest_mem_map(a, DST_IOVA, size, RW);
	int uffd = uffd_wp_register(r->desc, PAGE);
	struct unmap_arg u = { .d = a, .iova = DST_IOVA, .size = size };
	struct refmdev_dma_desc *desc;
	struct vm_charge before = vm_charge_now(), held;
	long base = vm_charged_kib(), start;
	pthread_t t;
	int attempt;

	fill_random(src->va, size, 7);
	for (attempt = 0;; attempt++) {
		desc = dma_post(r, SRC_IOVA, DST_IOVA, size, COPY);
		uffd_protect(uffd, r->desc, PAGE, true);
		dma_doorbell(r);
		/* The pins are taken: unmap now, from another thread. */
		start = now_ms();
		while (vm_charged_kib() == base && now_ms() - start < 5000)
			;
		if (vm_charged_kib() != base)
			break;
		/* Missed it (the copy was done first): release and retry. */
		uffd_expect_wp_fault(uffd, r->desc, "the engine");
		uffd_protect(uffd, r->desc, PAGE, false);
		ASSERT_EQ(dma_wait(r, desc), REFMDEV_DMA_ST_OK);
		if (attempt == 20)
			FAIL("never saw the engine's pins in 20 attempts");
		/*
		 * The cache may keep them: unmapping the destination drops
		 * its part, so the next attempt's pins show again.
		 */
		ASSERT_OK(dma_unmap_raw(a, DST_IOVA, size, 0));
		ASSERT_OK(dma_map_raw(a, dst->va, DST_IOVA, size, RW));
		base = vm_charged_kib();
	}
	/*
	 * What the pins are charged to (see device.rst): type1 charges
	 * VmLck; iommufd charges VmPin, and VmLck only without
	 * CAP_IPC_LOCK, which this test (root) has.
	 */
	held = vm_charge_now();
	if (backend_is_iommufd()) {
		ASSERT_TRUE(held.pinned_kib > before.pinned_kib);
		ASSERT_EQ(held.locked_kib, before.locked_kib);
	} else {
		ASSERT_TRUE(held.locked_kib > before.locked_kib);
		ASSERT_EQ(held.pinned_kib, before.pinned_kib);
	}
	ASSERT_EQ(pthread_create(&t, NULL, unmap_thread, &u), 0);
	uffd_expect_wp_fault(uffd, r->desc, "the engine");

	neighbour_assert_unhindered(nb, HOLD_MS,
				    "a status write is held by userfaultfd");

	uffd_protect(uffd, r->desc, PAGE, false);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(u.ret, 0);
	dst->mapped = false;
	/* The copy ran to its end before the unmap returned, as promised. */
	ASSERT_EQ(dma_wait(r, desc), REFMDEV_DMA_ST_OK);
	ASSERT_EQ(memcmp(src->va, dst->va, size), 0);
	/* Nothing of the destination is left: the source's cache at most. */
	ASSERT_PINNED_AT_MOST(a, (long)(size / PAGE));
	ASSERT_VM_CHARGE_CACHED(before, a);
}

static void fuse_release(void *arg)
{
	fuse_stall_hold(arg, false);
}

/*
 * The one wait a pin section cannot avoid: pinning the user's memory.
 * The source is a mapping of a file on a FUSE server that holds its
 * reads, so the engine's GUP waits inside its pin section, with the
 * destination already pinned; the user unmaps the destination, and that
 * unmap waits for the section (the user's own doing). The neighbour's
 * device is in another container and must not notice.
 */
TEST_F(cache, gup_held_by_fuse_server)
{
	struct neighbour *nb = neighbour_start();
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(a, 16);
	struct guest_mem *dst = guest_mem_map(a, DST_IOVA, SZ_1M, RW);
	struct unmap_arg u = { .d = a, .iova = DST_IOVA, .size = SZ_1M };
	struct refmdev_dma_desc *desc;
	struct fuse_stall *fs;
	char dir[64], path[96];
	__u8 *va;
	pthread_t t;
	size_t i;
	__u32 st;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/refmdev-fuse-%d", getpid());
	fs = fuse_stall_mount(dir, SZ_1M);
	snprintf(path, sizeof(path), "%s/data", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		FAIL("open %s: %s", path, strerror(errno));
	ktap_defer(close_fd, (void *)(long)fd);
	va = mmap_defer(SZ_1M, PROT_READ, MAP_SHARED, fd, 0);
	/* An mdev-only container records the mapping; nothing is read yet. */
	ASSERT_OK(dma_map_raw(a, va, SRC_IOVA, SZ_1M, VFIO_DMA_MAP_FLAG_READ));
	/*
	 * While the engine's GUP waits, it holds this process's mmap_lock:
	 * from here until the server lets go, this process must not map
	 * memory (no thread creation, no growing the heap).
	 */
	u.start = 1;
	ASSERT_EQ(pthread_create(&t, NULL, unmap_thread, &u), 0);
	ktap_info("holding the FUSE server's reads");

	/*
	 * Registered last, run first: a failure while the server holds
	 * the engine's GUP must let it go before any cleanup that needs
	 * type1's lock or this process's mmap_lock, or the cleanup waits
	 * for ever.
	 */
	ktap_defer(fuse_release, fs);
	fuse_stall_hold(fs, true);
	desc = dma_post(r, SRC_IOVA, DST_IOVA, SZ_1M, COPY);
	dma_doorbell(r);
	if (!fuse_stall_wait_read(fs, 30000)) {
		fuse_stall_hold(fs, false);
		FAIL("the engine never read the FUSE file");
	}
	STORE(u.start, 2);	/* unmap the pinned destination */
	neighbour_assert_unhindered(nb, HOLD_MS,
				    "a pin waits for a FUSE server");
	fuse_stall_hold(fs, false);

	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(u.ret, 0);
	dst->mapped = false;
	ktap_info("the user's own unmap waited %ld ms for its section",
		  u.took_ms);
	/*
	 * The descriptor was over before the unmap returned. Whether type1
	 * may pin a FUSE file's page for long is the kernel's call (6.12
	 * refuses: FAULT); if it pinned, the data is the file's.
	 */
	st = dma_wait(r, desc);
	ktap_info("descriptor status 0x%x", st);
	if (st != REFMDEV_DMA_ST_OK && st != REFMDEV_DMA_ST_FAULT)
		FAIL("status 0x%x after the FUSE server let go", st);
	for (i = 0; st == REFMDEV_DMA_ST_OK && i < SZ_1M; i++)
		if (((__u8 *)dst->va)[i] != fuse_stall_byte(i))
			FAIL("byte 0x%zx: 0x%02x, the file has 0x%02x", i,
			     ((__u8 *)dst->va)[i], fuse_stall_byte(i));
	ASSERT_OK(dma_unmap_raw(a, SRC_IOVA, SZ_1M, 0));
}

/*
 * A fence another fd holder put on the dma-buf behind a P2P window: the
 * engine waits for it (bounded) before it pins anything, so an unmap of
 * what the descriptor would pin finishes at once, and the neighbour,
 * whose unmaps and pins have nothing to do with either, never waits.
 */
TEST_F(cache, fence_on_a_window_before_pinning)
{
	struct neighbour *nb = neighbour_start();
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(a, 16);
	struct guest_mem *src = guest_mem_map(a, SRC_IOVA, 16 * PAGE, RW);
	int buf = dmabuf_export(a, 0, 16 * PAGE);
	int imp = importer_open();
	__u32 h = imp_attach(imp, buf);
	struct unmap_arg u = { .d = a, .iova = SRC_IOVA, .size = 16 * PAGE };
	struct refmdev_dma_desc *desc;
	__u8 *back = malloc(16 * PAGE);
	pthread_t t;

	ASSERT_TRUE(back);
	ASSERT_EQ(window_attach_raw(a, 0, buf, WIN_IOVA, NULL), 0);
	fill_random(src->va, 16 * PAGE, 9);
	/* The window works before the fence. */
	ASSERT_EQ(dma_run(r, SRC_IOVA, WIN_IOVA, 16 * PAGE, COPY),
		  REFMDEV_DMA_ST_OK);
	bar2_read(a, back, 16 * PAGE, 0);
	ASSERT_EQ(memcmp(back, src->va, 16 * PAGE), 0);

	ASSERT_EQ(imp_op(imp, REFMDEV_TI_FENCE, h), 0);
	ASSERT_EQ(imp_op(imp, REFMDEV_TI_FENCE, h), -EBUSY);
	desc = dma_post(r, SRC_IOVA, WIN_IOVA, 16 * PAGE, COPY);
	dma_doorbell(r);
	usleep(200000);		/* the engine is waiting for the fence */
	ASSERT_EQ(pthread_create(&t, NULL, unmap_thread, &u), 0);
	neighbour_assert_unhindered(nb, HOLD_MS,
				    "a window's fence holds a descriptor");
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(u.ret, 0);
	src->mapped = false;
	ktap_info("unmap under the fenced descriptor took %ld ms", u.took_ms);
	if (u.took_ms > 1000)
		FAIL("the unmap waited %ld ms for a descriptor held by a fence",
		     u.took_ms);
	ASSERT_EQ(__atomic_load_n(&desc->status, __ATOMIC_ACQUIRE), 0);

	/* Signaled: the descriptor goes on, and finds its source gone. */
	ASSERT_EQ(imp_op(imp, REFMDEV_TI_SIGNAL, h), 0);
	ASSERT_EQ(imp_op(imp, REFMDEV_TI_SIGNAL, h), -ENODATA);
	ASSERT_EQ(dma_wait(r, desc), REFMDEV_DMA_ST_UNMAPPED);
	free(back);
}

struct attach_arg {
	struct vfio_dev *d;
	struct refmdev_p2p_window *req;
	int ret;
};

static void *attach_thread(void *p)
{
	struct attach_arg *a = p;

	a->ret = ioctl(a->d->device, REFMDEV_P2P_WINDOW_ATTACH, a->req) ?
		 -errno : 0;
	return NULL;
}

/*
 * A window ATTACH whose reply lands on a write-protected page: the
 * caller is held in the kernel for as long as the user likes, but the
 * window slots are not, so the engine keeps using its other window.
 */
TEST(attach_reply_held_by_userfaultfd)
{
	struct neighbour *nb = neighbour_start();
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(a, 16);
	struct guest_mem *src = guest_mem_map(a, SRC_IOVA, PAGE, RW);
	int first = dmabuf_export(a, 0, PAGE);
	int second = dmabuf_export(a, PAGE, PAGE);
	struct refmdev_p2p_window *req, q;
	struct attach_arg at = { .d = a };
	long start;
	pthread_t t;
	__u8 back[64];
	int uffd;

	req = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(req != MAP_FAILED);
	memset(req, 0, PAGE);
	req->argsz = sizeof(*req);
	req->index = 1;
	req->dmabuf_fd = second;
	req->iova = WIN2_IOVA;
	at.req = req;
	ASSERT_EQ(window_attach_raw(a, 0, first, WIN_IOVA, NULL), 0);
	uffd = uffd_wp_register(req, PAGE);
	uffd_protect(uffd, req, PAGE, true);
	ASSERT_EQ(pthread_create(&t, NULL, attach_thread, &at), 0);
	uffd_expect_wp_fault(uffd, req, "ATTACH");

	/* The engine reaches window 0 meanwhile. */
	memset(src->va, 0x5a, PAGE);
	start = now_ms();
	ASSERT_EQ(dma_run(r, SRC_IOVA, WIN_IOVA, 64, COPY), REFMDEV_DMA_ST_OK);
	if (now_ms() - start > 1000)
		FAIL("a window descriptor took %ld ms behind a held ATTACH",
		     now_ms() - start);
	bar2_read(a, back, sizeof(back), 0);
	ASSERT_EQ(memcmp(back, src->va, sizeof(back)), 0);
	/*
	 * So does QUERY; window 1 does not exist yet: the reply is written
	 * before the window is published, so a reply that never completes
	 * leaves nothing attached.
	 */
	ASSERT_EQ(window_query_raw(a, 1, &q), 0);
	ASSERT_EQ(q.state, REFMDEV_P2P_WINDOW_EMPTY);
	neighbour_assert_unhindered(nb, HOLD_MS,
				    "an ATTACH reply is held by userfaultfd");

	uffd_protect(uffd, req, PAGE, false);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_EQ(at.ret, 0);
	ASSERT_EQ(req->size, PAGE);
	ASSERT_EQ(window_query_raw(a, 1, &q), 0);
	ASSERT_EQ(q.state, REFMDEV_P2P_WINDOW_UNMAPPED);
	ASSERT_EQ(q.iova, WIN2_IOVA);
	munmap(req, PAGE);
}

static long device_unmap_calls(struct vfio_dev *d)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/refmdev/%s/unmap_calls",
		 d->uuid);
	if (!path_exists(path))
		ktap_skip("%s missing (no debugfs)", path);
	return sysfs_read_long(path);
}

struct spin_arg {
	int stop;
};

/*
 * Keeps its CPU busy, but for a short break now and then, in which a
 * SCHED_IDLE thread there gets to run at all; once that thread sleeps
 * (waiting for a pin section) it waits for the next break.
 */
static void *spin_thread(void *p)
{
	struct spin_arg *s = p;

	while (!LOAD(s->stop)) {
		long until = now_us() + 20000;

		while (now_us() < until)
			;
		usleep(1000);
	}
	return NULL;
}

static void pin_to_cpu0(pthread_t t)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ASSERT_EQ(pthread_setaffinity_np(t, sizeof(set), &set), 0);
}

/* Copies out of the range being unmapped, over and over. */
struct feeder_arg {
	struct dma_ring *r;
	__u64 dst;
	int stop;
	int done;		/* copies that completed */
	__u32 bad;		/* a status other than OK or UNMAPPED */
};

static void *feeder_thread(void *p)
{
	struct feeder_arg *f = p;

	while (!LOAD(f->stop)) {
		__u32 st = dma_run(f->r, SRC_IOVA, f->dst, SZ_1M, COPY);

		if (st == REFMDEV_DMA_ST_OK)
			f->done++;
		else if (st != REFMDEV_DMA_ST_UNMAPPED)
			f->bad = st;
	}
	return NULL;
}

struct unmapper_arg {
	struct vfio_dev *dev[2];
	void *va;
	int rounds;
	bool fail_sweep;	/* fail an allocation of each unmap */
	int done;		/* unmaps made */
	int notified;		/* notifications, over all unmaps and devices */
	int repeated;		/* unmaps that notified a device twice */
	int injected;		/* unmaps whose allocation failed */
	int err;
};

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FAILSLAB	"/sys/kernel/debug/failslab/"

/*
 * Make the @nth slab allocation of this thread's next system call fail
 * (0: none), through @fd, the thread's fail-nth opened beforehand: the
 * open, like anything else, would allocate. Counted from the call: the
 * unmap allocates nothing of its own before it notifies the devices, so
 * 1 is the gate's record, then the dentry and the file of its anonymous
 * file, then a device's link. Returns 0 or an errno.
 */
static int fail_nth(int fd, int nth)
{
	char val[16];
	int len = snprintf(val, sizeof(val), "%d", nth);

	return pwrite(fd, val, len, 0) == len ? 0 : errno ?: EIO;
}

/* True if the failure fail_nth() asked for happened (the count is 0). */
static bool fail_nth_injected(int fd)
{
	char val[16] = "";

	return pread(fd, val, sizeof(val) - 1, 0) > 0 && atoi(val) == 0;
}

/*
 * MAP and UNMAP the engines' source over and over, at SCHED_IDLE on a CPU
 * another thread keeps busy, so that whenever this thread sleeps (for a
 * device's pin section to close) it waits long for the CPU again.
 */
static void *unmapper_thread(void *p)
{
	struct unmapper_arg *a = p;
	struct sched_param sp = { 0 };
	long before[2], after, start = now_ms();
	int k, nth_fd = -1;

	if (sched_setscheduler(0, SCHED_IDLE, &sp)) {
		a->err = errno;
		return NULL;
	}
	if (a->fail_sweep) {
		nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
		if (nth_fd < 0) {
			a->err = errno;
			return NULL;
		}
	}
	/* Bounded in time too: a starved thread is slow by design. */
	for (a->done = 0; a->done < a->rounds && now_ms() - start < 40000;
	     a->done++) {
		a->err = dma_map_raw(a->dev[0], a->va, SRC_IOVA, SZ_1M, RW) ? errno : 0;
		if (a->err)
			break;
		usleep(2000);
		for (k = 0; k < 2; k++)
			before[k] = device_unmap_calls(a->dev[k]);
		if (a->fail_sweep)
			a->err = fail_nth(nth_fd, 1 + a->done % 4);
		if (!a->err)
			a->err = dma_unmap_raw(a->dev[0], SRC_IOVA, SZ_1M, 0) ?
				 errno : 0;
		/* Disarmed at once, or the next call would take the failure. */
		if (a->fail_sweep) {
			a->injected += fail_nth_injected(nth_fd);
			if (fail_nth(nth_fd, 0) && !a->err)
				a->err = EIO;
		}
		if (a->err)
			break;
		for (k = 0; k < 2; k++) {
			after = device_unmap_calls(a->dev[k]);
			a->notified += after - before[k];
			a->repeated += after - before[k] > 1;
		}
	}
	if (nth_fd >= 0)
		close(nth_fd);
	return NULL;
}

/*
 * Two devices in one container stream copies out of a range the user
 * maps and unmaps in a loop. type1 notifies them in turn; a device
 * notified first must not pin the range again while the other is being
 * notified, or the unmap goes round again (and type1 BUGs after ten
 * rounds). Every unmap must notify each device at most once, even with
 * the unmapping thread starved of CPU between the notifications, and
 * (@fail_sweep) when the gate cannot allocate what it uses.
 */
static void notification_rounds(bool fail_sweep)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_join_container(a, mdev_create(TYPE_1M));
	struct feeder_arg fa = {
		.r = dma_ring_setup(a, 64), .dst = DST_IOVA,
	};
	struct feeder_arg fb = {
		.r = dma_ring_setup_at(b, 64, RING_IOVA + SZ_1M),
		.dst = DST_IOVA + SZ_1M,
	};
	void *va = mmap(NULL, SZ_1M, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	struct unmapper_arg u = {
		.dev = { a, b }, .va = va, .rounds = 100,
		.fail_sweep = fail_sweep,
	};
	struct spin_arg spin = { 0 };
	pthread_t st, ut, ta, tb;

	ASSERT_TRUE(va != MAP_FAILED);
	guest_mem_map(a, DST_IOVA, 2 * SZ_1M, RW);
	device_unmap_calls(a);		/* skips without debugfs */

	ASSERT_EQ(pthread_create(&st, NULL, spin_thread, &spin), 0);
	pin_to_cpu0(st);
	ASSERT_EQ(pthread_create(&ta, NULL, feeder_thread, &fa), 0);
	ASSERT_EQ(pthread_create(&tb, NULL, feeder_thread, &fb), 0);
	ASSERT_EQ(pthread_create(&ut, NULL, unmapper_thread, &u), 0);
	pin_to_cpu0(ut);
	ASSERT_EQ(pthread_join(ut, NULL), 0);
	STORE(fa.stop, 1);
	STORE(fb.stop, 1);
	STORE(spin.stop, 1);
	ASSERT_EQ(pthread_join(ta, NULL), 0);
	ASSERT_EQ(pthread_join(tb, NULL), 0);
	ASSERT_EQ(pthread_join(st, NULL), 0);
	if (u.err)
		FAIL("the unmapper: %s", strerror(u.err));
	if (fa.bad || fb.bad)
		FAIL("copy status 0x%x / 0x%x", fa.bad, fb.bad);
	ktap_info("%d unmaps (%d with a failed allocation): %d notifications, %d repeated; %d + %d copies done",
		  u.done, u.injected, u.notified, u.repeated, fa.done, fb.done);
	if (!u.notified)
		FAIL("no unmap found an engine's pins: nothing was tested");
	if (fail_sweep && !u.injected)
		FAIL("no allocation failed: nothing was tested");
	if (u.repeated)
		FAIL("%d of %d unmaps notified a device more than once",
		     u.repeated, u.done);
	munmap(va, SZ_1M);
}

TEST_F(cache, one_notification_round_per_unmap)
{
	notification_rounds(false);
}

static void failslab_restore(void *arg)
{
	sysfs_write(FAILSLAB "ignore-gfp-wait", arg);
	sysfs_write(FAILSLAB "verbose", "2");
}

/*
 * The gate's record, its anonymous file and a device's link are
 * allocated by the unmap's first notification; the system's file limit
 * or a short allocation must not turn the gate off. Each unmap has one
 * of the four allocations fail (fail-nth, fault-injection.rst).
 */
TEST_F(cache, one_notification_round_per_unmap_when_the_gate_cannot_allocate)
{
	static char ignored[8];

	if (access(FAIL_NTH, W_OK) ||
	    sysfs_read(FAILSLAB "ignore-gfp-wait", ignored, sizeof(ignored)))
		SKIP("no fail-nth and failslab (CONFIG_FAILSLAB, debugfs)");
	/*
	 * The gate allocates with GFP_KERNEL, which failslab skips by
	 * default; and each failure would print a stack dump.
	 */
	ASSERT_OK(sysfs_write(FAILSLAB "ignore-gfp-wait", "N"));
	ktap_defer(failslab_restore, ignored);
	ASSERT_OK(sysfs_write(FAILSLAB "verbose", "0"));
	notification_rounds(true);
}

struct revoke_arg {
	struct vfio_dev *d;
	bool reset;		/* VFIO_DEVICE_RESET, or memory decoding off */
	int err;
	long took_ms;
};

static void *revoke_thread(void *p)
{
	struct revoke_arg *a = p;
	long start = now_ms();

	if (a->reset) {
		a->err = ioctl(a->d->device, VFIO_DEVICE_RESET) ? errno : 0;
	} else {
		__u16 cmd = PCI_COMMAND_MASTER;
		off_t off = a->d->offset[VFIO_PCI_CONFIG_REGION_INDEX] +
			    PCI_COMMAND;

		a->err = pwrite(a->d->device, &cmd, 2, off) == 2 ? 0 : EIO;
	}
	a->took_ms = now_ms() - start;
	return NULL;
}

/*
 * Config space, BAR0 and SET_IRQS of @d, all answered within @bound_ms.
 * BAR0 answers EIO while decoding is off, which is an answer too.
 */
static void assert_device_answers(struct vfio_dev *d, long bound_ms)
{
	long start = now_ms();
	int efd = new_eventfd();
	__u32 id;

	ASSERT_EQ(cfg_read(d, PCI_VENDOR_ID, 2), REFMDEV_PCI_VENDOR_ID);
	if (region_pread(d, VFIO_PCI_BAR0_REGION_INDEX, &id, 4,
			 REFMDEV_REG_ID) == 4)
		ASSERT_EQ(id, REFMDEV_ID_MAGIC);
	else
		ASSERT_EQ(errno, EIO);
	ASSERT_OK(irq_set_eventfd(d, VFIO_PCI_INTX_IRQ_INDEX, efd));
	ASSERT_OK(irq_set(d, VFIO_PCI_INTX_IRQ_INDEX,
			  VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_NONE,
			  0, 0, NULL, 0));
	if (now_ms() - start > bound_ms)
		FAIL("config, BAR0 and SET_IRQS took %ld ms during a revocation",
		     now_ms() - start);
}

/*
 * Any holder of a dma-buf's fd can put a fence on it, and a revocation
 * waits (up to 5 s) for the fences of what it revokes. That wait must
 * not hold the device's lock: its user still reads config space and
 * BAR0 and sets interrupts meanwhile.
 */
TEST(revocation_waiting_for_a_fence_blocks_no_register_access)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	int buf = dmabuf_export(a, 0, PAGE);
	int imp = importer_open();
	__u32 h = imp_attach(imp, buf);
	int round;

	for (round = 0; round < 2; round++) {
		struct revoke_arg r = { .d = a, .reset = round == 0 };
		pthread_t t;

		ASSERT_EQ(imp_op(imp, REFMDEV_TI_FENCE, h), 0);
		ASSERT_EQ(pthread_create(&t, NULL, revoke_thread, &r), 0);
		usleep(300000);		/* the revocation waits for the fence */
		assert_device_answers(a, 500);
		ASSERT_EQ(imp_op(imp, REFMDEV_TI_SIGNAL, h), 0);
		ASSERT_EQ(pthread_join(t, NULL), 0);
		ASSERT_EQ(r.err, 0);
		ktap_info("%s took %ld ms", r.reset ? "reset" : "decode off",
			  r.took_ms);
		/* It did wait for the fence, and no longer than for it. */
		if (r.took_ms < 250 || r.took_ms > 4500)
			FAIL("the revocation took %ld ms; the fence held it ~300 ms",
			     r.took_ms);
		if (!r.reset)
			set_memory_decode(a, true);
	}
}
