// SPDX-License-Identifier: GPL-2.0
/*
 * dma_bench - how fast is the refmdev DMA engine, next to the CPU doing the
 * same work in the same VM at the same time?
 *
 * Runs in the VM as root with refmdev loaded, acting as the VMM: refmdev-16M
 * mdevs opened through VFIO, guest memory mapped with VFIO_IOMMU_MAP_DMA,
 * a 64-slot ring each. Every number is reported next to a baseline
 * measured in this same run, and as their ratio, because absolute figures
 * from an emulated machine mean little: only the ratios carry over from
 * one host to another.
 *
 * Cold and warm: the engine may keep guest pages pinned between
 * descriptors, up to the module parameter pin_cache_pages per device,
 * read when the device is opened. Every copy path is measured on two
 * devices that share the same guest memory: "cold", opened with
 * pin_cache_pages=0, which pins and unpins every page of every
 * descriptor, and "warm", opened with the parameter as it was found (the
 * driver's default), measured after one untimed pass over the buffers.
 * Rows are named <path>_cold and <path>_warm. A driver without the
 * parameter has no cache: it is all cold, so only cold rows are reported
 * and the goals are checked on them (see pin_cache_start()). The
 * parameter is put back as it was found before anything else is opened.
 *
 * Copy paths: guest to guest (4 KiB to 16 MiB per descriptor); the P2P
 * window, where a second mdev, A (refmdev-1M), exports its BAR2 as a
 * dma-buf that each bench device attaches as a window, written and read;
 * and the type1 path, A's BAR2 mmap mapped into each bench device's
 * container, written and read. Each against memcpy() between the same
 * memories. Then BAR2 to BAR2 on the cold device, which pins nothing:
 * the engine's own ceiling, and with the guest-to-guest time the cost of
 * pinning a page.
 *
 * Revocation latency: A exports 1, 16 and 256 one-page dma-bufs, each
 * attached and mapped by the test importer (selftests/importer,
 * /dev/refmdev_test_importer), and the time VFIO_DEVICE_RESET, or
 * clearing PCI_COMMAND_MEMORY, takes to return with all of them revoked,
 * against the same call with no dma-buf. Check rows say whether that
 * time grows at most linearly, and whether a reset with 256 of them
 * returns within the goal.
 *
 * Lifecycle: how many times per second a refmdev-1M can be created,
 * opened through a type1 container, closed and removed.
 *
 * The goals of issue 13 are check rows: the warm guest-to-guest copies of
 * 1 and 16 MiB and the warm type1 copies reach 0.7 of memcpy(), the warm
 * window copies 0.9; the reset with 256 dma-bufs takes under 0.5 ms; and
 * at least 100 lifecycles a second.
 *
 * Output: an aligned table, and the same rows as a JSON list between the
 * lines @@BENCH-JSON-BEGIN and @@BENCH-JSON-END, for scripts/make-bench.sh.
 * A copy that does not complete with REFMDEV_DMA_ST_OK, or whose data is
 * wrong, fails the run: no number is reported for broken copies. So does
 * a revocation that leaves an importer mapped. A failed check does not:
 * its row says FAIL (a "check" member in the JSON, with the "goal" it
 * missed) and the run goes on.
 *
 * Sections: copy (guest and BAR2 copies, pinning, descriptor round trip),
 * p2p, revoke and lifecycle. The environment variable BENCH_ONLY, a list
 * of section names separated by spaces or commas, runs only those (the
 * devices the P2P and revocation rows need are set up regardless); unset
 * or empty, all of them run.
 */
#include <linux/pci_regs.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../importer/refmdev_test_importer.h"
#include "dma_util.h"
#include "ktap.h"
#include "p2p_util.h"

#define SRC_IOVA	0x40000000ull
#define DST_IOVA	0x80000000ull
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define COPY		REFMDEV_DMA_OP_COPY
#define DEVMEM_COPY	(COPY | REFMDEV_DMA_F_SRC_DEVMEM | \
			 REFMDEV_DMA_F_DST_DEVMEM)

/* As large as the largest copy, and as the device memory of the type. */
#define BUF_SIZE	(16u << 20)
#define DEVMEM_HALF	(BUF_SIZE / 2)
#define RING_SLOTS	64
/* Post more once this many slots are free: fewer doorbells, no stalls. */
#define REFILL_SLOTS	(RING_SLOTS / 4)
#define BATCH_BYTES	(64ull << 20)
#define MIN_BATCH	8
#define REPEATS		3
#define RTT_SAMPLES	200
#define IRQ_TIMEOUT_MS	5000
#define REAP_POLL_US	200
#define REAP_TIMEOUT_NS	60000000000ull
#define MIB		(1024.0 * 1024.0)

/*
 * P2P: where the bench devices see A's BAR2, through the window and
 * through type1. A is a refmdev-1M; every P2P copy moves all of it.
 */
#define WIN_IOVA	0xc0000000ull
#define TYPE1_IOVA	0xd0000000ull
#define P2P_LEN		0x100000u	/* 1 MiB */

/*
 * Revocation latency: one-page dma-bufs of A, each with one importer
 * handle, spread over importer files of 64 handles (any split would do;
 * several files show that it does not matter whose the handles are).
 */
#define PAGE_SIZE	4096u
#define MAX_BUFS	256u
#define HANDLES_PER_FILE 64u
#define LAT_ROUNDS	3	/* set up from scratch each round */
#define LAT_TRIGGERS	5	/* triggers per round and buffer count */
#define LAT_SAMPLES	(LAT_ROUNDS * LAT_TRIGGERS)
/* Linear growth from 16 to 256 buffers is a factor 16; allow twice that. */
#define SCALING_SLACK	2.0

/*
 * The pin cache's bound, and the engine's counters of what it pins
 * (mdev/debugfs.c). Neither exists in a driver without the cache.
 */
#define PIN_CACHE_PARAM	"/sys/module/refmdev/parameters/pin_cache_pages"
#define PIN_CACHE_TYPE1	"/sys/module/refmdev/parameters/pin_cache_type1"
#define REFMDEV_DEBUGFS	"/sys/kernel/debug/refmdev"

/* Issue 13's goals, checked on the warm rows. */
#define GOAL_ENGINE_RATIO	0.7
#define GOAL_WINDOW_RATIO	0.9
#define GOAL_TYPE1_RATIO	0.7
#define GOAL_REVOKE_MS		0.5
#define GOAL_LIFECYCLE_PER_S	100.0

/*
 * Lifecycles: for about two seconds (under TCG one takes some 10 ms),
 * but at least a few even if each takes long, and not without end if
 * they are fast.
 */
#define LIFECYCLE_NS	2000000000ull
#define LIFECYCLE_MIN	10u
#define LIFECYCLE_MAX	1000u

#define MAX_ROWS	64
#define GOAL_LEN	24

struct row {
	const char *name;
	double value;
	const char *unit;
	double baseline;
	const char *check;	/* NULL, or "PASS"/"FAIL" for check rows */
	char goal[GOAL_LEN];	/* for check rows: what PASS means */
};

static struct row rows[MAX_ROWS];
static unsigned int nrows;

static void add_row(const char *name, double value, const char *unit,
		    double baseline)
{
	if (nrows == MAX_ROWS)
		FAIL("too many result rows");
	/* A ratio against nothing would print as inf, which is not JSON. */
	if (!(baseline > 0))
		FAIL("%s: baseline %g is not positive", name, baseline);
	rows[nrows].name = name;
	rows[nrows].value = value;
	rows[nrows].unit = unit;
	rows[nrows].baseline = baseline;
	rows[nrows].check = NULL;
	rows[nrows].goal[0] = '\0';
	nrows++;
}

static void add_check_row(const char *name, double value, const char *unit,
			  double baseline, bool pass, const char *goal)
{
	add_row(name, value, unit, baseline);
	rows[nrows - 1].check = pass ? "PASS" : "FAIL";
	snprintf(rows[nrows - 1].goal, GOAL_LEN, "%s", goal);
}

/* A goal on the ratio to the baseline: at least @min. */
static void add_ratio_goal_row(const char *name, double value,
			       const char *unit, double baseline, double min)
{
	char goal[GOAL_LEN];

	snprintf(goal, sizeof(goal), "ratio >= %.2g", min);
	add_check_row(name, value, unit, baseline, value / baseline >= min,
		      goal);
}

/*
 * Row names are built at run time (path and temperature) and live as
 * long as the table: never freed.
 */
static const char *row_name(const char *path, const char *suffix)
{
	char *name;

	if (asprintf(&name, "%s_%s", path, suffix) < 0)
		FAIL("out of memory");
	return name;
}

/* One bench device: cold (no pin cache) or warm (the default cache). */
struct bench {
	struct vfio_dev *d;
	struct dma_ring *ring;
	const char *temp;	/* "cold" or "warm": the rows' suffix */
};

#define NR_TEMPS	2

/*
 * The bench devices, cold first, and the guest memory they all see at
 * SRC_IOVA and DST_IOVA: the same pages, so that the cold and the warm
 * rows copy exactly the same bytes.
 */
struct benches {
	struct bench dev[NR_TEMPS];
	unsigned int n;		/* 2, or 1 (cold only) without a cache */
	struct guest_mem *src, *dst;
};

/* The device whose rows carry the goals: the warm one if there is one. */
static bool goal_device(const struct benches *bs, unsigned int k)
{
	return k == bs->n - 1;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * The pin cache's parameter as found, put back by pin_cache_restore():
 * the bench may run on a machine whose owner chose a bound.
 */
static char pin_cache_orig[32], pin_cache_type1_orig[8];

static void pin_cache_set(const char *val)
{
	int ret = sysfs_write(PIN_CACHE_PARAM, val);

	if (ret)
		FAIL("set %s to %s: %s", PIN_CACHE_PARAM, val, strerror(-ret));
}

static void pin_cache_restore(void *arg)
{
	int ret;

	(void)arg;
	ret = sysfs_write(PIN_CACHE_PARAM, pin_cache_orig);
	if (ret)
		printf("# cleanup: restore %s to %s: %s\n", PIN_CACHE_PARAM,
		       pin_cache_orig, strerror(-ret));
	if (pin_cache_type1_orig[0] &&
	    sysfs_write(PIN_CACHE_TYPE1, pin_cache_type1_orig))
		printf("# cleanup: restore %s to %s\n", PIN_CACHE_TYPE1,
		       pin_cache_type1_orig);
}

/*
 * Whether there is a warm device to measure, and if so set the parameter
 * to 0 for the cold device, which is opened next. The original value is
 * restored as soon as the cold device is open (pin_cache_warm()), and on
 * any failure before that.
 *
 * Without the parameter (a driver from before the cache) every device
 * pins per descriptor: warm rows would measure the cold path a second
 * time under another name, and a reader comparing runs would take them
 * for a cache that does nothing. So only the cold rows are reported,
 * and the goals are checked on them: they are what that driver gives.
 * The same if the module was loaded with pin_cache_pages=0: the owner
 * turned the cache off, and there is nothing warm to measure.
 */
static unsigned int pin_cache_start(void)
{
	char *end;
	int ret;

	if (!path_exists(PIN_CACHE_PARAM)) {
		ktap_info("pin cache: no %s: the driver pins per descriptor, so there are cold rows only and the goals are checked on them",
			  PIN_CACHE_PARAM);
		return 1;
	}
	ret = sysfs_read(PIN_CACHE_PARAM, pin_cache_orig,
			 sizeof(pin_cache_orig));
	if (ret)
		FAIL("read %s: %s", PIN_CACHE_PARAM, strerror(-ret));
	if (!strtoul(pin_cache_orig, &end, 0) && end != pin_cache_orig) {
		ktap_info("pin cache: pin_cache_pages is 0 (turned off): cold rows only, the goals are checked on them");
		return 1;
	}
	ktap_info("pin cache: cold device with pin_cache_pages=0, warm device with %s",
		  pin_cache_orig);
	if (path_exists(PIN_CACHE_TYPE1) &&
	    sysfs_read(PIN_CACHE_TYPE1, pin_cache_type1_orig,
		       sizeof(pin_cache_type1_orig)))
		FAIL("read %s", PIN_CACHE_TYPE1);
	ktap_defer(pin_cache_restore, NULL);
	pin_cache_set("0");
	return NR_TEMPS;
}

/*
 * The warm device: the bound as found, and the opt-in that type1
 * containers need (device.rst, "Pin cache"), which the bench may take:
 * it never unmaps from two threads at once.
 */
static void pin_cache_warm(void)
{
	pin_cache_set(pin_cache_orig);
	if (pin_cache_type1_orig[0] && sysfs_write(PIN_CACHE_TYPE1, "Y"))
		FAIL("set %s", PIN_CACHE_TYPE1);
}

/* A counter of the device's debugfs directory, or -1 if it has none. */
static long dev_counter(const struct bench *b, const char *file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), REFMDEV_DEBUGFS "/%s/%s", b->d->uuid,
		 file);
	if (!path_exists(path))
		return -1;
	return sysfs_read_long(path);
}

/*
 * The pin calls a device made since @before, per descriptor, as text for
 * the progress lines: it shows that a warm row was warm (no calls) and
 * what a cold one paid. Empty without the counter.
 */
static const char *pin_calls_note(const struct bench *b, long before,
				  unsigned int descs)
{
	static char note[96];
	long after = dev_counter(b, "pin_calls");
	long pinned = dev_counter(b, "pinned_pages");

	if (before < 0 || after < 0) {
		note[0] = '\0';
		return note;
	}
	snprintf(note, sizeof(note),
		 "; %.2f pin calls per descriptor, %ld pages held pinned",
		 (double)(after - before) / descs, pinned);
	return note;
}

static unsigned int batch_count(__u32 len)
{
	__u64 n = BATCH_BYTES / len;

	return n < MIN_BATCH ? MIN_BATCH : n;
}

/*
 * Copy number i of a batch moves the @len bytes at offset (i * len) %
 * @span, source to destination. Walking the buffers rather than copying
 * one spot over and over keeps small copies from running out of a warm
 * cache, for the engine and for memcpy() alike.
 */
static __u64 batch_offset(unsigned int i, __u32 len, __u32 span)
{
	return (__u64)i * len % span;
}

/*
 * Like dma_wait(), but waking up less often: on a small (or emulated)
 * machine every wake-up is CPU time the engine's worker may be waiting
 * for, and with up to a ring's worth of work queued the engine does not
 * run dry in the meantime.
 */
static __u32 reap_wait(struct dma_ring *r, struct refmdev_dma_desc *desc)
{
	__u64 deadline = now_ns() + REAP_TIMEOUT_NS;
	__u32 st;

	while (!(st = le32toh(__atomic_load_n(&desc->status,
					      __ATOMIC_ACQUIRE)))) {
		if (now_ns() > deadline)
			FAIL("descriptor not completed in %llu s (HEAD %llu TAIL %u STATUS 0x%llx)",
			     REAP_TIMEOUT_NS / 1000000000ull,
			     bar0_read(r->dev, REFMDEV_REG_DMA_HEAD, 4), r->tail,
			     bar0_read(r->dev, REFMDEV_REG_DMA_STATUS, 4));
		usleep(REAP_POLL_US);
	}
	return st;
}

/*
 * Run @n copies through the engine, keeping the ring as full as it goes,
 * and return the time from the first doorbell to the last completion.
 * Every descriptor's status is checked as it is reaped, before its slot
 * is used again.
 */
static __u64 engine_batch(struct bench *b, __u64 src, __u64 dst, __u32 len,
			  __u32 span, unsigned int n, __u32 flags)
{
	struct dma_ring *r = b->ring;
	unsigned int posted = 0, reaped = 0;
	__u32 first = r->tail;
	__u64 start = 0;

	while (reaped < n) {
		unsigned int room = r->size - (posted - reaped);
		struct refmdev_dma_desc *desc;
		__u32 st;

		if (posted < n && (room >= REFILL_SLOTS || n - posted <= room)) {
			while (posted < n && posted - reaped < r->size) {
				__u64 off = batch_offset(posted, len, span);

				dma_post(r, src + off, dst + off, len, flags);
				posted++;
			}
			if (!start)
				start = now_ns();
			dma_doorbell(r);
		}
		desc = &r->desc[(first + reaped) % r->size];
		st = reap_wait(r, desc);
		if (st != REFMDEV_DMA_ST_OK)
			FAIL("%s: copy %u of %u (%u bytes, flags 0x%x): status 0x%x",
			     b->temp, reaped, n, len, flags, st);
		reaped++;
	}
	return now_ns() - start;
}

/* The CPU's version of engine_batch(): same sizes, same offsets. */
static __u64 memcpy_batch(struct benches *bs, __u32 len, __u32 span,
			  unsigned int n)
{
	__u8 *src = bs->src->va, *dst = bs->dst->va;
	__u64 start = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		__u64 off = batch_offset(i, len, span);

		memcpy(dst + off, src + off, len);
		/* Each copy must happen: none merged, none dropped. */
		asm volatile("" : : "r"(dst) : "memory");
	}
	return now_ns() - start;
}

static double mib_per_s(__u32 len, unsigned int n, __u64 ns)
{
	return (double)len * n / MIB / (ns / 1e9);
}

/*
 * One row of a copy path per bench device, against the shared memcpy()
 * time; the goal (0 for none) on the goal device's row.
 */
static void copy_rows(struct benches *bs, const char *path, __u32 len,
		      unsigned int n, const __u64 *engine, __u64 cpu,
		      const long *calls, double goal)
{
	unsigned int k;

	for (k = 0; k < bs->n; k++) {
		struct bench *b = &bs->dev[k];
		const char *name = row_name(path, b->temp);
		double value = mib_per_s(len, n, engine[k]);
		double base = mib_per_s(len, n, cpu);

		ktap_info("%s: %u copies, best of %d: engine %llu us, memcpy %llu us%s",
			  name, n, REPEATS, engine[k] / 1000, cpu / 1000,
			  pin_calls_note(b, calls[k], REPEATS * n));
		if (goal > 0 && goal_device(bs, k))
			add_ratio_goal_row(name, value, "MiB/s", base, goal);
		else
			add_row(name, value, "MiB/s", base);
	}
}

struct copy_result {
	unsigned int n;		/* copies per batch */
	__u64 memcpy_ns;	/* best batch */
};

/*
 * Guest-to-guest copies of @len bytes on every bench device. Each
 * device's first batch is untimed: it starts from a cleared destination
 * and is checked in full, so that only a real copy can produce the
 * numbers, and it is the warm-up pass that fills a pin cache. Then the
 * devices and memcpy() take turns, so that a disturbance of the host
 * does not fall on one side only.
 */
static void bench_copy(struct benches *bs, __u32 len, const char *path,
		       double goal, struct copy_result *res)
{
	unsigned int n = batch_count(len), i, k;
	size_t covered = (__u64)n * len < BUF_SIZE ? (size_t)n * len : BUF_SIZE;
	__u64 engine[NR_TEMPS], ns;
	long calls[NR_TEMPS];

	res->n = n;
	res->memcpy_ns = ~0ull;
	for (k = 0; k < bs->n; k++) {
		memset(bs->dst->va, 0, covered);
		engine_batch(&bs->dev[k], SRC_IOVA, DST_IOVA, len, BUF_SIZE, n,
			     COPY);
		if (memcmp(bs->dst->va, bs->src->va, covered))
			FAIL("%s_%s: the engine's copies differ from the source",
			     path, bs->dev[k].temp);
		engine[k] = ~0ull;
		calls[k] = dev_counter(&bs->dev[k], "pin_calls");
	}
	for (i = 0; i < REPEATS; i++) {
		for (k = 0; k < bs->n; k++) {
			ns = engine_batch(&bs->dev[k], SRC_IOVA, DST_IOVA, len,
					  BUF_SIZE, n, COPY);
			if (ns < engine[k])
				engine[k] = ns;
		}
		ns = memcpy_batch(bs, len, BUF_SIZE, n);
		if (ns < res->memcpy_ns)
			res->memcpy_ns = ns;
	}
	copy_rows(bs, path, len, n, engine, res->memcpy_ns, calls, goal);
}

/*
 * BAR2 to BAR2 on the cold device: the engine with nothing to pin, only
 * references on BAR2's own pages to take, so the most it can do. Copies
 * walk the lower half of BAR2 into the upper half: source and
 * destination of one descriptor may not overlap, so 8 MiB, half of the
 * largest type's BAR2, is the largest such copy there is. Against
 * memcpy() of the same sizes and offsets in guest memory.
 *
 * With @guest set, the same copies guest to guest over the same 8 MiB
 * take turns with them, for pin_unpin_per_page_ns; *@guest and the
 * return value are best batch times.
 */
static __u64 bench_bar2(struct benches *bs, __u32 len, const char *name,
			__u64 *guest)
{
	struct bench *b = &bs->dev[0];
	unsigned int n = batch_count(len), i;
	__u64 devmem = ~0ull, cpu = ~0ull, ns;
	ssize_t ret;

	/* Known contents below, zeros above: only copies can match. */
	ret = region_pwrite(b->d, REFMDEV_DEVMEM_BAR, bs->src->va, DEVMEM_HALF,
			    0);
	if (ret == DEVMEM_HALF) {
		memset(bs->dst->va, 0, DEVMEM_HALF);
		ret = region_pwrite(b->d, REFMDEV_DEVMEM_BAR, bs->dst->va,
				    DEVMEM_HALF, DEVMEM_HALF);
	}
	if (ret != DEVMEM_HALF)
		FAIL("write BAR2: %s", ret < 0 ? strerror(errno) : "short");
	if (guest)
		*guest = ~0ull;
	for (i = 0; i < REPEATS; i++) {
		ns = engine_batch(b, 0, DEVMEM_HALF, len, DEVMEM_HALF, n,
				  DEVMEM_COPY);
		if (ns < devmem)
			devmem = ns;
		if (guest) {
			ns = engine_batch(b, SRC_IOVA, DST_IOVA, len,
					  DEVMEM_HALF, n, COPY);
			if (ns < *guest)
				*guest = ns;
		}
		ns = memcpy_batch(bs, len, DEVMEM_HALF, n);
		if (ns < cpu)
			cpu = ns;
	}
	ret = region_pread(b->d, REFMDEV_DEVMEM_BAR, bs->dst->va, DEVMEM_HALF,
			   DEVMEM_HALF);
	if (ret != DEVMEM_HALF)
		FAIL("read BAR2: %s", ret < 0 ? strerror(errno) : "short");
	if (memcmp(bs->dst->va, bs->src->va, DEVMEM_HALF))
		FAIL("%s: device memory copies differ from the source", name);
	ktap_info("%s: %u copies, best of %d: engine %llu us, memcpy %llu us",
		  name, n, REPEATS, devmem / 1000, cpu / 1000);
	if (guest)
		ktap_info("pin cost: the same copies guest to guest on the cold device: %llu us",
			  *guest / 1000);
	add_row(name, mib_per_s(len, n, devmem), "MiB/s",
		mib_per_s(len, n, cpu));
	return devmem;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static double median_ns(__u64 *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/*
 * Doorbell to interrupt: the TAIL write of a 1-byte copy with F_IRQ until
 * poll() sees the MSI's eventfd. INT_STATUS is cleared after each one, as
 * a driver would: MSI is an edge, sent only when nothing was pending.
 */
static double descriptor_roundtrip_ns(struct benches *bs, struct bench *b)
{
	__u8 *src = bs->src->va, *dst = bs->dst->va;
	struct pollfd pfd = { .events = POLLIN };
	__u64 samples[RTT_SAMPLES], t0, val;
	struct refmdev_dma_desc *desc;
	unsigned int i;
	__u32 st;
	int efd;

	efd = new_eventfd();
	pfd.fd = efd;
	if (irq_set_eventfd(b->d, VFIO_PCI_MSI_IRQ_INDEX, efd))
		FAIL("MSI eventfd: %s", strerror(errno));
	bar0_write(b->d, REFMDEV_REG_INT_STATUS, 4, REFMDEV_INT_ALL);
	bar0_write(b->d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_DMA_DONE);

	for (i = 0; i < RTT_SAMPLES; i++) {
		/* A different byte every time, so each copy is seen landing. */
		src[i] = i ^ 0xa5;
		dst[i] = ~src[i];
		desc = dma_post(b->ring, SRC_IOVA + i, DST_IOVA + i, 1,
				COPY | REFMDEV_DMA_F_IRQ);
		t0 = now_ns();
		dma_doorbell(b->ring);
		if (poll(&pfd, 1, IRQ_TIMEOUT_MS) != 1)
			FAIL("no completion interrupt within %d ms",
			     IRQ_TIMEOUT_MS);
		samples[i] = now_ns() - t0;

		if (read(efd, &val, sizeof(val)) != sizeof(val))
			FAIL("read MSI eventfd: %s", strerror(errno));
		/* The device writes the status before it interrupts. */
		st = le32toh(__atomic_load_n(&desc->status, __ATOMIC_ACQUIRE));
		if (st != REFMDEV_DMA_ST_OK)
			FAIL("1-byte copy %u: status 0x%x", i, st);
		if (dst[i] != src[i])
			FAIL("1-byte copy %u did not land", i);
		bar0_write(b->d, REFMDEV_REG_INT_STATUS, 4,
			   REFMDEV_INT_DMA_DONE);
	}

	bar0_write(b->d, REFMDEV_REG_INT_MASK, 4, 0);
	if (irq_set_eventfd(b->d, VFIO_PCI_MSI_IRQ_INDEX, -1))
		FAIL("MSI off: %s", strerror(errno));
	close(efd);
	return median_ns(samples, RTT_SAMPLES);
}

/* Blocking eventfds: the ping-pong is about sleeping and waking up. */
struct pingpong {
	int ping, pong;
};

static void efd_write(int fd)
{
	__u64 one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		FAIL("eventfd write: %s", strerror(errno));
}

static void efd_read(int fd)
{
	__u64 val;

	if (read(fd, &val, sizeof(val)) != sizeof(val))
		FAIL("eventfd read: %s", strerror(errno));
}

static void *pong_thread(void *arg)
{
	struct pingpong *pp = arg;
	unsigned int i;

	for (i = 0; i < RTT_SAMPLES; i++) {
		efd_read(pp->ping);
		efd_write(pp->pong);
	}
	return NULL;
}

/*
 * The baseline for the interrupt round trip: one thread wakes another
 * through an eventfd and is woken back through a second one. That is the
 * least any eventfd-based completion can cost in this VM.
 */
static double eventfd_pingpong_ns(void)
{
	__u64 samples[RTT_SAMPLES], t0;
	struct pingpong pp;
	pthread_t thread;
	unsigned int i;
	int err;

	pp.ping = eventfd(0, EFD_CLOEXEC);
	pp.pong = eventfd(0, EFD_CLOEXEC);
	if (pp.ping < 0 || pp.pong < 0)
		FAIL("eventfd: %s", strerror(errno));
	err = pthread_create(&thread, NULL, pong_thread, &pp);
	if (err)
		FAIL("pthread_create: %s", strerror(err));
	for (i = 0; i < RTT_SAMPLES; i++) {
		t0 = now_ns();
		efd_write(pp.ping);
		efd_read(pp.pong);
		samples[i] = now_ns() - t0;
	}
	pthread_join(thread, NULL);
	close(pp.ping);
	close(pp.pong);
	return median_ns(samples, RTT_SAMPLES);
}

/*
 * The exporter for the P2P rows: A, its BAR2 exported whole as a dma-buf
 * and attached as window 0 of every bench device, the dma-buf's CPU
 * mapping, and A's BAR2 mmap mapped into every bench device's container.
 */
struct peer {
	struct vfio_dev *a;
	int dmabuf;
	__u8 *map;		/* CPU mapping of the dma-buf: all of BAR2 */
	__u8 *bar;		/* A's BAR2 through the device fd */
};

static void peer_setup(struct benches *bs, struct peer *p)
{
	struct vfio_region_dma_range r = { .offset = 0, .length = P2P_LEN };
	unsigned int k;
	__u64 size;
	int ret;

	if (mdev_available(TYPE_1M) < 1)
		FAIL("no %s instance available for the exporter", TYPE_1M);
	p->a = vfio_open(mdev_create(TYPE_1M));
	if (p->a->size[REFMDEV_DEVMEM_BAR] != P2P_LEN)
		FAIL("A's BAR2 is %llu bytes, expected %u",
		     p->a->size[REFMDEV_DEVMEM_BAR], P2P_LEN);
	/* A only decodes; its own engine stays idle. */
	cfg_write(p->a, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);

	p->dmabuf = dmabuf_export_raw(p->a, REFMDEV_DEVMEM_BAR,
				      O_RDWR | O_CLOEXEC, 0, &r, 1, 0);
	if (p->dmabuf < 0)
		FAIL("export of A's BAR2: %s", strerror(-p->dmabuf));
	p->map = mmap(NULL, P2P_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->dmabuf, 0);
	if (p->map == MAP_FAILED)
		FAIL("mmap of the dma-buf: %s", strerror(errno));
	p->bar = mmap(NULL, P2P_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->a->device, p->a->offset[REFMDEV_DEVMEM_BAR]);
	if (p->bar == MAP_FAILED)
		FAIL("mmap of A's BAR2: %s", strerror(errno));

	for (k = 0; k < bs->n; k++) {
		struct bench *b = &bs->dev[k];

		size = 0;
		ret = window_attach_raw(b->d, 0, p->dmabuf, WIN_IOVA, &size);
		if (ret || size != P2P_LEN)
			FAIL("%s: window attach: %s, size %llu", b->temp,
			     strerror(-ret), size);
		if (dma_map_raw(b->d, p->bar, TYPE1_IOVA, P2P_LEN, RW))
			FAIL("%s: MAP_DMA of A's BAR2 mmap: %s", b->temp,
			     strerror(errno));
	}
}

/*
 * Undo all of it but A itself, so that nothing but the dma-bufs under
 * test is left for A's revocations to deal with. The unmap is also the
 * barrier that makes a warm device give back its pins of A's pages.
 */
static void peer_teardown(struct benches *bs, struct peer *p)
{
	unsigned int k;
	int ret;

	for (k = 0; k < bs->n; k++) {
		struct bench *b = &bs->dev[k];

		if (dma_unmap_raw(b->d, TYPE1_IOVA, P2P_LEN, 0))
			FAIL("%s: UNMAP_DMA of A's BAR2 mmap: %s", b->temp,
			     strerror(errno));
		ret = window_detach_raw(b->d, 0);
		if (ret)
			FAIL("%s: window detach: %s", b->temp, strerror(-ret));
	}
	munmap(p->bar, P2P_LEN);
	munmap(p->map, P2P_LEN);
	close(p->dmabuf);
}

/* memcpy() of the same @len bytes @n times, as the P2P batches do. */
static __u64 memcpy_repeat(void *dst, const void *src, __u32 len,
			   unsigned int n)
{
	__u64 start = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		memcpy(dst, src, len);
		asm volatile("" : : "r"(dst) : "memory");
	}
	return now_ns() - start;
}

/*
 * One P2P path: batches of P2P_LEN copies from IOVA @src to @dst on
 * every bench device's engine, which the CPU sees at @src_va and
 * @dst_va, against memcpy() between those same two memories. As in
 * bench_copy(), each device's first batch is an untimed, checked warm-up
 * into a cleared destination.
 */
static void bench_p2p_copy(struct benches *bs, const char *path, __u64 src,
			   __u64 dst, const void *src_va, void *dst_va,
			   double goal)
{
	unsigned int n = batch_count(P2P_LEN), i, k;
	__u64 engine[NR_TEMPS], cpu = ~0ull, ns;
	long calls[NR_TEMPS];

	for (k = 0; k < bs->n; k++) {
		memset(dst_va, 0, P2P_LEN);
		engine_batch(&bs->dev[k], src, dst, P2P_LEN, P2P_LEN, n, COPY);
		if (memcmp(dst_va, src_va, P2P_LEN))
			FAIL("%s_%s: the engine's copies differ from the source",
			     path, bs->dev[k].temp);
		engine[k] = ~0ull;
		calls[k] = dev_counter(&bs->dev[k], "pin_calls");
	}
	for (i = 0; i < REPEATS; i++) {
		for (k = 0; k < bs->n; k++) {
			ns = engine_batch(&bs->dev[k], src, dst, P2P_LEN,
					  P2P_LEN, n, COPY);
			if (ns < engine[k])
				engine[k] = ns;
		}
		ns = memcpy_repeat(dst_va, src_va, P2P_LEN, n);
		if (ns < cpu)
			cpu = ns;
	}
	copy_rows(bs, path, P2P_LEN, n, engine, cpu, calls, goal);
}

static void bench_p2p(struct benches *bs, struct peer *p)
{
	struct refmdev_p2p_window w;
	unsigned int k;

	/* Writes first, so that the reads copy random bytes, not zeros. */
	bench_p2p_copy(bs, "p2p_window_write_1MiB", SRC_IOVA, WIN_IOVA,
		       bs->src->va, p->map, GOAL_WINDOW_RATIO);
	bench_p2p_copy(bs, "p2p_window_read_1MiB", WIN_IOVA, DST_IOVA, p->map,
		       bs->dst->va, GOAL_WINDOW_RATIO);
	for (k = 0; k < bs->n; k++)
		if (window_query_raw(bs->dev[k].d, 0, &w) ||
		    w.state != REFMDEV_P2P_WINDOW_MAPPED || w.notifications)
			FAIL("%s: window 0: state %u, %u notifications; expected MAPPED, 0",
			     bs->dev[k].temp, w.state, w.notifications);
	bench_p2p_copy(bs, "p2p_type1_write_1MiB", SRC_IOVA, TYPE1_IOVA,
		       bs->src->va, p->bar, GOAL_TYPE1_RATIO);
	bench_p2p_copy(bs, "p2p_type1_read_1MiB", TYPE1_IOVA, DST_IOVA, p->bar,
		       bs->dst->va, GOAL_TYPE1_RATIO);
}

/* A's dma-bufs for the revocation rows, and their importer handles. */
struct revoke_set {
	unsigned int n;
	int fd[MAX_BUFS];
	int imp[MAX_BUFS / HANDLES_PER_FILE];
	__u32 handle[MAX_BUFS];
};

static int importer_ioctl(int imp, unsigned long cmd, void *arg)
{
	return ioctl(imp, cmd, arg) < 0 ? -errno : 0;
}

/* @n one-page dma-bufs of A, each attached (dynamic) by one handle. */
static void revoke_setup(struct vfio_dev *a, struct revoke_set *s,
			 unsigned int n)
{
	unsigned int pages = a->size[REFMDEV_DEVMEM_BAR] / PAGE_SIZE, i;
	int ret;

	s->n = n;
	for (i = 0; i < n; i++) {
		struct vfio_region_dma_range r = {
			.offset = (__u64)(i % pages) * PAGE_SIZE,
			.length = PAGE_SIZE,
		};
		struct refmdev_ti_attach at = {
			.flags = REFMDEV_TI_ATTACH_DYNAMIC,
		};
		int *imp = &s->imp[i / HANDLES_PER_FILE];

		s->fd[i] = dmabuf_export_raw(a, REFMDEV_DEVMEM_BAR,
					     O_RDWR | O_CLOEXEC, 0, &r, 1, 0);
		if (s->fd[i] < 0)
			FAIL("export of dma-buf %u: %s", i, strerror(-s->fd[i]));
		if (!(i % HANDLES_PER_FILE)) {
			*imp = open(REFMDEV_TI_DEVICE, O_RDWR | O_CLOEXEC);
			if (*imp < 0)
				FAIL("open %s: %s", REFMDEV_TI_DEVICE,
				     strerror(errno));
		}
		at.dmabuf_fd = s->fd[i];
		ret = importer_ioctl(*imp, REFMDEV_TI_ATTACH, &at);
		if (ret)
			FAIL("importer attach of dma-buf %u: %s", i,
			     strerror(-ret));
		s->handle[i] = at.handle;
	}
}

/* Closing an importer file detaches its handles; then the dma-bufs go. */
static void revoke_teardown(struct revoke_set *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i += HANDLES_PER_FILE)
		close(s->imp[i / HANDLES_PER_FILE]);
	for (i = 0; i < s->n; i++)
		close(s->fd[i]);
	s->n = 0;
}

static void revoke_map_all(struct revoke_set *s)
{
	unsigned int i;
	int ret;

	for (i = 0; i < s->n; i++) {
		struct refmdev_ti_handle h = { .handle = s->handle[i] };

		ret = importer_ioctl(s->imp[i / HANDLES_PER_FILE],
				     REFMDEV_TI_MAP, &h);
		if (ret)
			FAIL("importer map of dma-buf %u: %s", i,
			     strerror(-ret));
	}
}

/*
 * When the trigger has returned, every importer must have been told and
 * have unmapped: otherwise the number measured is not a revocation.
 */
static void revoke_check_unmapped(struct revoke_set *s, const char *what)
{
	unsigned int i;
	int ret;

	for (i = 0; i < s->n; i++) {
		struct refmdev_ti_query q = { .handle = s->handle[i] };

		ret = importer_ioctl(s->imp[i / HANDLES_PER_FILE],
				     REFMDEV_TI_QUERY, &q);
		if (ret)
			FAIL("importer query of dma-buf %u: %s", i,
			     strerror(-ret));
		if (q.mapped)
			FAIL("%s returned with dma-buf %u of %u still mapped by its importer",
			     what, i, s->n);
	}
}

static __u64 trigger_reset(struct vfio_dev *a)
{
	__u64 t0 = now_ns();

	if (ioctl(a->device, VFIO_DEVICE_RESET))
		FAIL("VFIO_DEVICE_RESET of A: %s", strerror(errno));
	return now_ns() - t0;
}

/* Only the clearing is timed; setting MEMORY again restores the bufs. */
static __u64 trigger_decode_off(struct vfio_dev *a)
{
	__u64 t0 = now_ns(), ns;

	cfg_write(a, PCI_COMMAND, 2, 0);
	ns = now_ns() - t0;
	cfg_write(a, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	return ns;
}

/* Buffer counts; the first is the baseline, the call with no dma-buf. */
static const unsigned int lat_counts[] = { 0, 1, 16, 256 };
#define LAT_1		1
#define LAT_16		2
#define LAT_256		3

struct trigger_rows {
	const char *buf_name[ARRAY_SIZE(lat_counts)];
	const char *slope_name;
	const char *scaling_name;
	const char *what;
};

/*
 * Rows for one trigger from the best times @t (ns, per buffer count):
 * the time with 1, 16 and 256 buffers and the slope per buffer, each
 * against the time with none, and the check: from 16 to 256 buffers
 * the time may grow by at most SCALING_SLACK times the factor 16 that
 * linear growth gives. Returns whether the check passed.
 */
static bool trigger_results(const struct trigger_rows *tr, const double *t)
{
	double linear = (double)lat_counts[LAT_256] / lat_counts[LAT_16];
	double slope = (t[LAT_256] - t[LAT_1]) /
		       (lat_counts[LAT_256] - lat_counts[LAT_1]);
	double growth = t[LAT_256] / t[LAT_16];
	bool pass = growth <= SCALING_SLACK * linear;
	char goal[GOAL_LEN];
	unsigned int i;

	for (i = LAT_1; i < ARRAY_SIZE(lat_counts); i++)
		add_row(tr->buf_name[i], t[i] / 1000, "us", t[0] / 1000);
	add_row(tr->slope_name, slope / 1000, "us", t[0] / 1000);
	snprintf(goal, sizeof(goal), "ratio <= %.2g", SCALING_SLACK);
	add_check_row(tr->scaling_name, growth, "x", linear, pass, goal);
	ktap_info("%s, best of %d: %.0f us with no dma-buf, %.0f / %.0f / %.0f us with 1 / 16 / 256, %.2f us per buffer",
		  tr->what, LAT_SAMPLES, t[0] / 1000, t[LAT_1] / 1000,
		  t[LAT_16] / 1000, t[LAT_256] / 1000, slope / 1000);
	ktap_info("%s: t(256)/t(16) = %.2f, linear growth is %.0f, the limit %.0f: %s",
		  tr->what, growth, linear, SCALING_SLACK * linear,
		  pass ? "PASS" : "FAIL");
	return pass;
}

/*
 * The best of @n times. Revocation takes from tens of microseconds to a
 * few milliseconds here, and under TCG on a busy host a call's time
 * varies by up to 10x from one call to the next (the vCPU thread loses
 * the host CPU), more often the longer the call: medians then grow with
 * the buffer count faster than the work does and would fail the
 * linearity check on host noise. The best time is the work itself, as
 * for the best-of-3 copy batches.
 */
static double min_ns(const __u64 *v, unsigned int n)
{
	__u64 best = v[0];
	unsigned int i;

	for (i = 1; i < n; i++)
		if (v[i] < best)
			best = v[i];
	return best;
}

/*
 * Revocation latency, as the VMM sees it: from the call that revokes
 * to its return, by which time every importer has been notified and has
 * unmapped (checked after every call). Each round sets up every buffer
 * count afresh, and each count is measured in every round, so that a
 * slow spell of the host does not land on one count only.
 */
static void bench_revoke(struct vfio_dev *a)
{
	static const struct trigger_rows reset_rows = {
		.buf_name = { NULL, "revoke_reset_1buf_us",
			      "revoke_reset_16bufs_us",
			      "revoke_reset_256bufs_us" },
		.slope_name = "revoke_reset_per_buf_us",
		.scaling_name = "revoke_reset_scaling",
		.what = "VFIO_DEVICE_RESET",
	};
	static const struct trigger_rows decode_rows = {
		.buf_name = { NULL, "revoke_decode_1buf_us",
			      "revoke_decode_16bufs_us",
			      "revoke_decode_256bufs_us" },
		.slope_name = "revoke_decode_per_buf_us",
		.scaling_name = "revoke_decode_scaling",
		.what = "PCI_COMMAND_MEMORY off",
	};
	static __u64 reset_ns[ARRAY_SIZE(lat_counts)][LAT_SAMPLES];
	static __u64 decode_ns[ARRAY_SIZE(lat_counts)][LAT_SAMPLES];
	double reset_t[ARRAY_SIZE(lat_counts)], decode_t[ARRAY_SIZE(lat_counts)];
	static struct revoke_set set;
	unsigned int round, c, k, sample;
	char goal[GOAL_LEN];
	double ms;
	bool pass;

	if (access(REFMDEV_TI_DEVICE, R_OK | W_OK)) {
		printf("# revocation latency: SKIPPED: %s: %s ",
		       REFMDEV_TI_DEVICE, strerror(errno));
		printf("(is refmdev_test_importer.ko loaded?)\n");
		return;
	}
	for (round = 0; round < LAT_ROUNDS; round++) {
		for (c = 0; c < ARRAY_SIZE(lat_counts); c++) {
			revoke_setup(a, &set, lat_counts[c]);
			for (k = 0; k < LAT_TRIGGERS; k++) {
				sample = round * LAT_TRIGGERS + k;
				revoke_map_all(&set);
				reset_ns[c][sample] = trigger_reset(a);
				revoke_check_unmapped(&set, "VFIO_DEVICE_RESET");
				revoke_map_all(&set);
				decode_ns[c][sample] = trigger_decode_off(a);
				revoke_check_unmapped(&set, "PCI_COMMAND_MEMORY off");
			}
			revoke_teardown(&set);
		}
	}
	for (c = 0; c < ARRAY_SIZE(lat_counts); c++) {
		reset_t[c] = min_ns(reset_ns[c], LAT_SAMPLES);
		decode_t[c] = min_ns(decode_ns[c], LAT_SAMPLES);
	}
	pass = trigger_results(&reset_rows, reset_t);
	pass &= trigger_results(&decode_rows, decode_t);
	if (!pass)
		printf("# revocation latency: FAIL: %s\n",
		       "grows faster than linearly with the number of dma-bufs");

	/*
	 * Issue 13's goal is on the whole call, as the VMM waits for it,
	 * the reset's own work (fresh device memory) included: the
	 * baseline, the same reset with no dma-buf, shows how much of the
	 * time that is.
	 */
	ms = reset_t[LAT_256] / 1e6;
	snprintf(goal, sizeof(goal), "< %.2g ms", GOAL_REVOKE_MS);
	add_check_row("revoke_reset_256bufs_under_0.5ms", ms, "ms",
		      reset_t[0] / 1e6, ms < GOAL_REVOKE_MS, goal);
}

/* The phases of one lifecycle, in order; see bench_lifecycle(). */
enum { LC_CREATE, LC_OPEN, LC_CLOSE, LC_REMOVE, LC_PHASES };

static void lc_fail(const char *uuid, const char *what, int err)
{
	int ret = mdev_remove(uuid);

	if (ret && ret != -ENOENT)
		printf("# cleanup: removing %s: %s\n", uuid, strerror(-ret));
	FAIL("lifecycle: %s %s: %s", what, uuid, strerror(-err));
}

/*
 * One open and close through a type1 container, as a VMM does it:
 * container, group, IOMMU model, device fd, region infos, all closed.
 */
static void lc_open_close(const char *uuid, __u64 *open_ns, __u64 *close_ns)
{
	struct vfio_dev d;
	__u64 t0 = now_ns(), t1;
	int ret;

	ret = vfio_open_raw(uuid, &d);
	if (ret)
		lc_fail(uuid, "open", ret);
	t1 = now_ns();
	vfio_close(&d);
	*open_ns += t1 - t0;
	*close_ns += now_ns() - t1;
}

/*
 * Create, open, close and remove a refmdev-1M (the smallest type: the
 * least device memory to allocate and free), over and over, as a rate.
 * Removal of an open device waits for its user; here each device is
 * closed first, as a VMM shutting down does.
 *
 * The baseline is the rate of open and close alone of a device that
 * already exists, measured in turns with the lifecycles so that both see
 * the same host: the ratio is the share of a lifecycle that is opening
 * and closing, and 1 - ratio what creating and removing add on top.
 * The goal is on the rate itself, as the issue sets it. Where the time
 * goes is in the progress line, per phase.
 */
static void bench_lifecycle(void)
{
	char uuid[UUID_LEN + 1];
	const char *kept;
	__u64 phase[LC_PHASES] = { 0 }, oc_open = 0, oc_close = 0;
	__u64 start = now_ns(), lc_ns, oc_ns, t0, t1;
	double rate, base;
	unsigned int n, i;
	char goal[GOAL_LEN];
	int ret;

	if (mdev_available(TYPE_1M) < 2)
		FAIL("lifecycle: %s: fewer than 2 instances available",
		     TYPE_1M);
	/* Removed by a deferred cleanup too, should anything fail. */
	kept = mdev_create(TYPE_1M);

	for (n = 0; n < LIFECYCLE_MAX &&
	     (n < LIFECYCLE_MIN || now_ns() - start < LIFECYCLE_NS); n++) {
		make_uuid(uuid);
		t0 = now_ns();
		ret = mdev_create_raw(TYPE_1M, uuid);
		if (ret)
			FAIL("lifecycle: create %s: %s", uuid, strerror(-ret));
		t1 = now_ns();
		phase[LC_CREATE] += t1 - t0;
		lc_open_close(uuid, &phase[LC_OPEN], &phase[LC_CLOSE]);
		t0 = now_ns();
		ret = mdev_remove(uuid);
		if (ret)
			lc_fail(uuid, "remove", ret);
		phase[LC_REMOVE] += now_ns() - t0;

		lc_open_close(kept, &oc_open, &oc_close);
	}
	ret = mdev_remove(kept);
	if (ret)
		FAIL("lifecycle: remove %s: %s", kept, strerror(-ret));

	lc_ns = 0;
	for (i = 0; i < LC_PHASES; i++)
		lc_ns += phase[i];
	oc_ns = oc_open + oc_close;
	rate = n / (lc_ns / 1e9);
	base = n / (oc_ns / 1e9);
	ktap_info("lifecycle: %u of %s, mean %.0f us: create %.0f, open %.0f, close %.0f, remove %.0f us",
		  n, TYPE_1M, lc_ns / 1e3 / n, phase[LC_CREATE] / 1e3 / n,
		  phase[LC_OPEN] / 1e3 / n, phase[LC_CLOSE] / 1e3 / n,
		  phase[LC_REMOVE] / 1e3 / n);
	ktap_info("lifecycle: open and close of an existing device, mean %.0f us: open %.0f, close %.0f us",
		  oc_ns / 1e3 / n, oc_open / 1e3 / n, oc_close / 1e3 / n);
	snprintf(goal, sizeof(goal), ">= %.0f /s", GOAL_LIFECYCLE_PER_S);
	add_check_row("mdev_lifecycle_per_s", rate, "/s", base,
		      rate >= GOAL_LIFECYCLE_PER_S, goal);
}

static void print_results(void)
{
	unsigned int i, passed = 0, failed = 0;

	printf("\n%-34s %12s %-6s %12s %8s\n", "name", "value", "unit",
	       "baseline", "ratio");
	for (i = 0; i < nrows; i++) {
		printf("%-34s %12.3f %-6s %12.3f %8.3f", rows[i].name,
		       rows[i].value, rows[i].unit, rows[i].baseline,
		       rows[i].value / rows[i].baseline);
		if (rows[i].check) {
			printf("  %s (%s)", rows[i].check, rows[i].goal);
			if (!strcmp(rows[i].check, "PASS"))
				passed++;
			else
				failed++;
		}
		printf("\n");
	}
	if (passed + failed)
		printf("checks: %u passed, %u FAILED\n", passed, failed);

	printf("@@BENCH-JSON-BEGIN\n[\n");
	for (i = 0; i < nrows; i++) {
		printf("{\"name\": \"%s\", \"value\": %.4f, \"unit\": \"%s\", ",
		       rows[i].name, rows[i].value, rows[i].unit);
		printf("\"baseline\": %.4f, \"ratio\": %.4f",
		       rows[i].baseline, rows[i].value / rows[i].baseline);
		if (rows[i].check)
			printf(", \"check\": \"%s\", \"goal\": \"%s\"",
			       rows[i].check, rows[i].goal);
		printf("}%s\n", i + 1 < nrows ? "," : "");
	}
	printf("]\n@@BENCH-JSON-END\n");
	fflush(stdout);
}

/*
 * A bench device of @temp, opened with whatever pin_cache_pages is now,
 * with its ring. Guest memory is mapped by the caller.
 */
static void bench_open(struct bench *b, const char *temp)
{
	b->temp = temp;
	b->d = vfio_open(mdev_create(TYPE_16M));
	if (b->d->size[REFMDEV_DEVMEM_BAR] < BUF_SIZE)
		FAIL("BAR2 is %llu bytes, expected at least %u",
		     b->d->size[REFMDEV_DEVMEM_BAR], BUF_SIZE);
	b->ring = dma_ring_setup(b->d, RING_SLOTS);
}

/*
 * Whether the section @name is to run: BENCH_ONLY unset or empty, or
 * naming it as one of its words.
 */
static bool section_on(const char *name)
{
	const char *only = getenv("BENCH_ONLY"), *p;
	size_t len = strlen(name), n;

	if (!only || !*only)
		return true;
	for (p = only; *p; p += n) {
		p += strspn(p, " ,");
		n = strcspn(p, " ,");
		if (n == len && !strncmp(p, name, len))
			return true;
	}
	return false;
}

/* The copy sizes, for the derived rows. */
#define SIZE_4KIB	0
#define SIZE_1MIB	2

static const struct {
	__u32 len;
	const char *path;
	double goal;
} sizes[] = {
	[SIZE_4KIB] = { 4u << 10, "engine_copy_4KiB", 0 },
	{ 64u << 10, "engine_copy_64KiB", 0 },
	[SIZE_1MIB] = { 1u << 20, "engine_copy_1MiB", GOAL_ENGINE_RATIO },
	{ 16u << 20, "engine_copy_16MiB", GOAL_ENGINE_RATIO },
};

/* The copy section: guest and BAR2 copies, pinning, the round trip. */
static void bench_copies(struct benches *bs)
{
	struct copy_result res[ARRAY_SIZE(sizes)];
	double guest_ns, devmem_ns, page_ns, pingpong_ns;
	unsigned int i, k, n_1mib;
	__u64 guest, devmem;

	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		bench_copy(bs, sizes[i].len, sizes[i].path, sizes[i].goal,
			   &res[i]);

	/*
	 * pin_unpin_per_page_ns is derived, not measured directly: pinning
	 * happens inside the engine's worker, out of reach of a timer here.
	 * On the cold device, a 1 MiB guest-to-guest copy and a 1 MiB
	 * BAR2-to-BAR2 copy do the same work (read the descriptor, allocate
	 * page arrays, copy 256 pages, write the status) except that the
	 * first pins and unpins 256 source and 256 destination pages
	 * through vfio_pin_pages() where the second takes plain page
	 * references. The difference per descriptor, over the 512 pages, is
	 * what pinning costs per page. It carries the noise of two
	 * measurements, so it is an estimate. The baseline is one 4 KiB
	 * memcpy() from engine_copy_4KiB's, so the ratio says how many page
	 * copies one pin and unpin is worth.
	 */
	n_1mib = res[SIZE_1MIB].n;
	devmem = bench_bar2(bs, 1u << 20, "engine_bar2_copy_1MiB", &guest);
	bench_bar2(bs, DEVMEM_HALF, "engine_bar2_copy_8MiB", NULL);
	guest_ns = (double)guest / n_1mib;
	devmem_ns = (double)devmem / n_1mib;
	page_ns = (double)res[SIZE_4KIB].memcpy_ns / res[SIZE_4KIB].n;
	add_row("pin_unpin_per_page_ns",
		(guest_ns - devmem_ns) / (2 * ((1 << 20) / 4096)), "ns",
		page_ns);

	pingpong_ns = eventfd_pingpong_ns();
	for (k = 0; k < bs->n; k++)
		add_row(row_name("descriptor_roundtrip_us", bs->dev[k].temp),
			descriptor_roundtrip_ns(bs, &bs->dev[k]) / 1000, "us",
			pingpong_ns / 1000);
}

int main(void)
{
	struct benches bs;
	struct peer peer;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!path_exists(REFMDEV_TYPES "/" TYPE_16M))
		SKIP("no %s mdev type: is refmdev loaded?", TYPE_16M);

	/*
	 * The cold device first, with the parameter at 0, then the warm one
	 * with the parameter as it was: it is read when a device is opened.
	 */
	memset(&bs, 0, sizeof(bs));
	bs.n = pin_cache_start();
	if (mdev_available(TYPE_16M) < bs.n)
		SKIP("fewer than %u %s instances available", bs.n, TYPE_16M);
	bench_open(&bs.dev[0], "cold");
	bs.src = guest_mem_map(bs.dev[0].d, SRC_IOVA, BUF_SIZE, RW);
	bs.dst = guest_mem_map(bs.dev[0].d, DST_IOVA, BUF_SIZE, RW);
	fill_random(bs.src->va, BUF_SIZE, 1);
	if (bs.n > 1) {
		pin_cache_warm();
		bench_open(&bs.dev[1], "warm");
		/* Unmapped when the container closes. */
		if (dma_map_raw(bs.dev[1].d, bs.src->va, SRC_IOVA, BUF_SIZE,
				RW) ||
		    dma_map_raw(bs.dev[1].d, bs.dst->va, DST_IOVA, BUF_SIZE,
				RW))
			FAIL("warm: MAP_DMA of the guest memory: %s",
			     strerror(errno));
	}

	if (section_on("copy"))
		bench_copies(&bs);
	if (section_on("p2p") || section_on("revoke")) {
		peer_setup(&bs, &peer);
		if (section_on("p2p"))
			bench_p2p(&bs, &peer);
		peer_teardown(&bs, &peer);
		if (section_on("revoke"))
			bench_revoke(peer.a);
	}
	if (section_on("lifecycle"))
		bench_lifecycle();

	print_results();
	ktap_finish(0);
}
