// SPDX-License-Identifier: GPL-2.0
/*
 * refmdev-guest-test: the inside half of the nested-VM test. It runs in a
 * guest that has refmdev mdevs assigned (QEMU -device
 * vfio-pci,sysfsdev=...) and refmdev_guest.ko loaded, drives the
 * functions through the driver's misc devices (samples/guest/
 * refmdev_guest.h) and prints one KTAP document. Exit status 0 if and
 * only if no test failed.
 *
 * Usage:
 *   refmdev-guest-test [--devices N] [--intx] [--full-bar2]
 *                      [--timeout-ms MS] [--watchdog S]
 *   refmdev-guest-test --stream
 *
 * The tests unbind and rebind the last function through sysfs (so the
 * driver must be named refmdev_guest there) and reset the first.
 *
 * --devices N   functions expected (default 2; P2P needs 2)
 * --intx        expect INTx rather than MSI (refmdev_guest force_intx=1)
 * --full-bar2   check every byte of large BAR2 transfers through the CPU
 *               (slow under TCG: the default checks large ones by DMA and
 *               samples them through the CPU)
 * --timeout-ms  per-batch DMA timeout passed to the driver (default 20000)
 * --watchdog S  give up (Bail out!) after S seconds (default 600)
 * --stream      copy in a loop until killed; prints "STREAMING" once the
 *               first round has succeeded. Used while the VMM is killed.
 *
 * Static and free of shared libraries: it runs from a busybox initramfs.
 * If /dev has no node for a misc device (no devtmpfs), one is made from
 * /sys/class/misc/refmdev_guestN/dev.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/refmdev.h>
#include <linux/types.h>

#include "fill_pattern.h"
#include "refmdev_guest.h"

#define KIB		1024ul
#define MIB		(1024ul * 1024ul)
#define MAX_DEVS	32
#define CPU_CHECK_MAX	(256 * KIB)	/* BAR2 checked in full up to this */
#define GUARD		0xa5
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct gdev {
	int fd;
	char path[96];
	struct refmdev_guest_info info;
};

static struct gdev devs[MAX_DEVS];
static int ndevs;

static int opt_devices = 2;
static bool opt_intx;
static bool opt_full_bar2;
static unsigned int opt_timeout_ms = 20000;
static unsigned int opt_watchdog = 600;

/* KTAP */

static int test_no;
static int nfailed;
static char skip_reason[160];
static bool no_flr;		/* the idle FLR test found none */

enum verdict { PASS, FAIL, SKIP };

static void ktap_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

static enum verdict skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	return SKIP;
}

static void report(enum verdict v, const char *name)
{
	test_no++;
	if (v == SKIP)
		printf("ok %d %s # SKIP %s\n", test_no, name, skip_reason);
	else
		printf("%s %d %s\n", v == PASS ? "ok" : "not ok", test_no,
		       name);
	if (v == FAIL)
		nfailed++;
	fflush(stdout);
}

static void on_alarm(int sig)
{
	static const char msg[] = "# watchdog expired\nBail out! watchdog\n";
	ssize_t r;

	(void)sig;
	r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	_exit(2);
}

/* Helpers */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p) {
		printf("Bail out! out of memory (%zu bytes)\n", len);
		exit(2);
	}
	return p;
}

/* Index of the first byte where @a and @b differ, or -1. */
static long first_diff(const void *a, const void *b, size_t len)
{
	const __u8 *x = a, *y = b;
	size_t i;

	if (!memcmp(a, b, len))
		return -1;
	for (i = 0; i < len && x[i] == y[i]; i++)
		;
	return (long)i;
}

static bool check_same(const char *what, const void *got, const void *want,
		       size_t len)
{
	long i = first_diff(got, want, len);

	if (i < 0)
		return true;
	ktap_info("%s: byte %ld of %zu is 0x%02x, expected 0x%02x", what, i, len,
		  ((const __u8 *)got)[i], ((const __u8 *)want)[i]);
	return false;
}

static bool check_pattern(const char *what, const __u8 *got, size_t len,
			  __u64 pattern)
{
	size_t k;

	for (k = 0; k < len; k++) {
		__u8 want = (__u8)(pattern >> (8 * (k % 8)));

		if (got[k] != want) {
			ktap_info("%s: byte %zu of %zu is 0x%02x, expected 0x%02x",
				  what, k, len, got[k], want);
			return false;
		}
	}
	return true;
}

static bool check_value(const char *what, const __u8 *got, size_t len,
			__u8 want)
{
	size_t k;

	for (k = 0; k < len; k++) {
		if (got[k] != want) {
			ktap_info("%s: byte %zu of %zu is 0x%02x, expected 0x%02x",
				  what, k, len, got[k], want);
			return false;
		}
	}
	return true;
}

static const char *st_name(__u32 st)
{
	switch (st) {
	case 0: return "none";
	case REFMDEV_DMA_ST_OK: return "OK";
	case REFMDEV_DMA_ST_BAD_DESC: return "BAD_DESC";
	case REFMDEV_DMA_ST_BAD_LEN: return "BAD_LEN";
	case REFMDEV_DMA_ST_OVERFLOW: return "OVERFLOW";
	case REFMDEV_DMA_ST_OVERLAP: return "OVERLAP";
	case REFMDEV_DMA_ST_DEVMEM_RANGE: return "DEVMEM_RANGE";
	case REFMDEV_DMA_ST_UNMAPPED: return "UNMAPPED";
	case REFMDEV_DMA_ST_READ_ONLY: return "READ_ONLY";
	case REFMDEV_DMA_ST_NO_MEMLOCK: return "NO_MEMLOCK";
	case REFMDEV_DMA_ST_FAULT: return "FAULT";
	case REFMDEV_DMA_ST_NO_OWNER: return "NO_OWNER";
	case REFMDEV_DMA_ST_NO_MEM: return "NO_MEM";
	case REFMDEV_DMA_ST_PEER_REVOKED: return "PEER_REVOKED";
	case REFMDEV_DMA_ST_PEER_RANGE: return "PEER_RANGE";
	case REFMDEV_DMA_ST_PEER_FAULT: return "PEER_FAULT";
	default: return "unknown";
	}
}

static const char *err_name(int err)
{
	switch (err) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case ECANCELED: return "ECANCELED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINTR: return "EINTR";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case ENODEV: return "ENODEV";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return strerror(err);
	}
}

static void result_str(__u32 res, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s",
		 res ? "" : "-",
		 res & REFMDEV_GUEST_RES_RESET ? "RESET " : "",
		 res & REFMDEV_GUEST_RES_TIMEOUT ? "TIMEOUT " : "",
		 res & REFMDEV_GUEST_RES_HALTED ? "HALTED " : "",
		 res & REFMDEV_GUEST_RES_POLLED ? "POLLED " : "",
		 res & REFMDEV_GUEST_RES_SIGNAL ? "SIGNAL " : "");
}

/* DMA through the driver */

struct side {
	__u32 kind;
	void *buf;		/* MEM */
	__u64 offset;
	__u32 peer;		/* PEER: index, or BDF with @bdf */
	bool bdf;
};

static struct side mem(void *buf, __u64 offset)
{
	return (struct side){ .kind = REFMDEV_GUEST_KIND_MEM, .buf = buf,
			      .offset = offset };
}

static struct side devmem(__u64 offset)
{
	return (struct side){ .kind = REFMDEV_GUEST_KIND_DEVMEM,
			      .offset = offset };
}

static struct side peer(const struct gdev *p, __u64 offset)
{
	return (struct side){ .kind = REFMDEV_GUEST_KIND_PEER,
			      .offset = offset, .peer = p->info.index };
}

static struct side peer_bdf(const struct gdev *p, __u64 offset)
{
	return (struct side){ .kind = REFMDEV_GUEST_KIND_PEER,
			      .offset = offset, .bdf = true,
			      .peer = REFMDEV_GUEST_BDF(p->info.domain,
							p->info.bus,
							p->info.slot << 3 |
							p->info.func) };
}

static const char *kind_name(const struct side *s)
{
	switch (s->kind) {
	case REFMDEV_GUEST_KIND_MEM: return "mem";
	case REFMDEV_GUEST_KIND_DEVMEM: return "devmem";
	case REFMDEV_GUEST_KIND_PEER: return "peer";
	default: return "?";
	}
}

static void set_side(const struct side *s, __u32 *kind, __u64 *addr,
		     __u64 *offset, __u32 *peerp, __u32 *flags,
		     __u32 bdf_flag)
{
	*kind = s->kind;
	*addr = (uintptr_t)s->buf;
	*offset = s->offset;
	*peerp = s->peer;
	if (s->bdf)
		*flags |= bdf_flag;
}

/*
 * One COPY (@src given) or FILL (@src NULL) ioctl; returns 0 or the
 * errno. @x gets the driver's answer.
 */
static int dma(const struct gdev *d, const struct side *src,
	       const struct side *dst, size_t len, __u64 pattern,
	       __u32 flags, struct refmdev_guest_xfer *x)
{
	memset(x, 0, sizeof(*x));
	x->len = len;
	x->pattern = pattern;
	x->flags = flags;
	x->timeout_ms = opt_timeout_ms;
	set_side(dst, &x->dst_kind, &x->dst_addr, &x->dst_offset,
		 &x->dst_peer, &x->flags, REFMDEV_GUEST_XFER_DST_PEER_BDF);
	if (src)
		set_side(src, &x->src_kind, &x->src_addr, &x->src_offset,
			 &x->src_peer, &x->flags,
			 REFMDEV_GUEST_XFER_SRC_PEER_BDF);
	if (ioctl(d->fd, src ? REFMDEV_GUEST_IOC_COPY : REFMDEV_GUEST_IOC_FILL,
		  x))
		return errno;
	return 0;
}

static void dma_diag(const struct gdev *d, const char *what, int err,
		     const struct refmdev_guest_xfer *x)
{
	char res[64];

	result_str(x->result, res, sizeof(res));
	ktap_info("dev%u %s: %s, status %s (0x%x), result %s, %u/%u descriptors OK, %llu bytes",
		  d->info.index, what, err_name(err), st_name(x->status),
		  x->status, res, x->ndone, x->ndesc,
		  (unsigned long long)x->done_bytes);
}

/* A transfer that must succeed; says what went wrong if it did not. */
static bool dma_ok(const struct gdev *d, const struct side *src,
		   const struct side *dst, size_t len, __u64 pattern)
{
	struct refmdev_guest_xfer x;
	char what[128];
	int err;

	err = dma(d, src, dst, len, pattern, 0, &x);
	if (!err && x.status == REFMDEV_DMA_ST_OK)
		return true;
	snprintf(what, sizeof(what), "%s %s+%llu -> %s+%llu, %zu bytes",
		 src ? "COPY" : "FILL", src ? kind_name(src) : "pattern",
		 src ? (unsigned long long)src->offset : 0ull, kind_name(dst),
		 (unsigned long long)dst->offset, len);
	dma_diag(d, what, err, &x);
	return false;
}

static bool copy_ok(const struct gdev *d, struct side src, struct side dst,
		    size_t len)
{
	return dma_ok(d, &src, &dst, len, 0);
}

static bool fill_ok(const struct gdev *d, struct side dst, size_t len,
		    __u64 pattern)
{
	return dma_ok(d, NULL, &dst, len, pattern);
}

static int bar2_io(const struct gdev *d, bool write, __u64 off, void *buf,
		   size_t len)
{
	struct refmdev_guest_bar2_io io = {
		.offset = off, .len = len, .buf = (uintptr_t)buf,
	};

	if (ioctl(d->fd, write ? REFMDEV_GUEST_IOC_WRITE_BAR2 :
				 REFMDEV_GUEST_IOC_READ_BAR2, &io))
		return errno;
	return 0;
}

static bool bar2_read_ok(const struct gdev *d, __u64 off, void *buf,
			 size_t len)
{
	int err = bar2_io(d, false, off, buf, len);

	if (err)
		ktap_info("dev%u READ_BAR2 %zu bytes at %llu: %s", d->info.index,
			  len, (unsigned long long)off, err_name(err));
	return !err;
}

static bool bar2_write_ok(const struct gdev *d, __u64 off, const void *buf,
			  size_t len)
{
	int err = bar2_io(d, true, off, (void *)buf, len);

	if (err)
		ktap_info("dev%u WRITE_BAR2 %zu bytes at %llu: %s", d->info.index,
			  len, (unsigned long long)off, err_name(err));
	return !err;
}

/*
 * Check BAR2 [off, off + len) against @want through the CPU: all of it up
 * to CPU_CHECK_MAX (or with --full-bar2), else head, tail and four
 * windows in between.
 */
static bool bar2_check(const struct gdev *d, __u64 off, const void *want,
		       size_t len, const char *what)
{
	const size_t win = 4 * KIB;
	__u8 *got;
	char label[160];
	bool ok = true;
	size_t i;

	if (len <= CPU_CHECK_MAX || opt_full_bar2) {
		got = xmalloc(len);
		ok = bar2_read_ok(d, off, got, len) &&
		     check_same(what, got, want, len);
		free(got);
		return ok;
	}
	got = xmalloc(win);
	for (i = 0; i < 6 && ok; i++) {
		size_t at = i == 5 ? len - win : (len - win) / 5 * i;

		snprintf(label, sizeof(label), "%s (sample at %zu)", what, at);
		ok = bar2_read_ok(d, off + at, got, win) &&
		     check_same(label, got, (const __u8 *)want + at, win);
	}
	free(got);
	return ok;
}

static bool get_info(struct gdev *d)
{
	if (ioctl(d->fd, REFMDEV_GUEST_IOC_INFO, &d->info)) {
		ktap_info("%s: INFO: %s", d->path, strerror(errno));
		return false;
	}
	return true;
}

static int reset(const struct gdev *d, __u32 method,
		 struct refmdev_guest_reset *r)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	if (ioctl(d->fd, REFMDEV_GUEST_IOC_RESET, r))
		return errno;
	return 0;
}

static const char *method_name(__u32 method)
{
	return method == REFMDEV_GUEST_RESET_FLR ? "FLR" : "CONTROL.RESET";
}

/* Finding the functions */

/* The device number sysfs gives for misc device @name, or 0. */
static dev_t misc_devt(const char *name)
{
	unsigned int maj, min;
	char sys[128], buf[32];
	FILE *f;
	bool ok;

	snprintf(sys, sizeof(sys), "/sys/class/misc/%s/dev", name);
	f = fopen(sys, "re");
	if (!f)
		return 0;
	ok = fgets(buf, sizeof(buf), f) &&
	     sscanf(buf, "%u:%u", &maj, &min) == 2;
	fclose(f);
	return ok ? makedev(maj, min) : 0;
}

/* Is @path a character device node for @devt (any, if @devt is 0)? */
static bool node_ok(const char *path, dev_t devt)
{
	struct stat st;

	return !stat(path, &st) && S_ISCHR(st.st_mode) &&
	       (!devt || st.st_rdev == devt);
}

/*
 * Open /dev/NAME. Without devtmpfs there may be no node, or one made by
 * an earlier run for a minor number that has changed since (a rebind):
 * then make it from sysfs, in /dev or else in /tmp.
 */
static int open_misc(const char *name, char *path, size_t len)
{
	dev_t devt = misc_devt(name);
	static const char * const dir[] = { "/dev", "/tmp" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dir); i++) {
		snprintf(path, len, "%s/%s", dir[i], name);
		if (node_ok(path, devt))
			return open(path, O_RDWR | O_CLOEXEC);
		if (!devt)
			continue;
		unlink(path);
		if (!mknod(path, S_IFCHR | 0600, devt))
			return open(path, O_RDWR | O_CLOEXEC);
	}
	errno = ENOENT;
	return -1;
}

static bool misc_exists(int n)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/class/misc/%s%d", REFMDEV_GUEST_NAME, n);
	if (!access(p, F_OK))
		return true;
	snprintf(p, sizeof(p), "/dev/%s%d", REFMDEV_GUEST_NAME, n);
	return !access(p, F_OK);
}

static void find_devices(void)
{
	char name[64];
	int n;

	for (n = 0; n < MAX_DEVS && ndevs < MAX_DEVS; n++) {
		struct gdev *d = &devs[ndevs];

		if (!misc_exists(n))
			continue;
		snprintf(name, sizeof(name), "%s%d", REFMDEV_GUEST_NAME, n);
		d->fd = open_misc(name, d->path, sizeof(d->path));
		if (d->fd < 0) {
			ktap_info("%s: %s", name, strerror(errno));
			continue;
		}
		if (!get_info(d)) {
			close(d->fd);
			continue;
		}
		ndevs++;
	}
}

static __u64 bar2_of(const struct gdev *d)
{
	return d->info.devmem_size;
}

/* Tests */

static enum verdict t_probe(void)
{
	int i;

	for (i = 0; i < ndevs; i++) {
		const struct refmdev_guest_info *in = &devs[i].info;

		ktap_info("dev%u %s: %s, refmdev %u.%u, BAR0 %#llx, BAR2 %#llx (%llu KiB), %s IRQ %u",
			  in->index, devs[i].path, in->bdf, in->version >> 16,
			  in->version & 0xffff,
			  (unsigned long long)in->bar0_bus,
			  (unsigned long long)in->bar2_bus,
			  (unsigned long long)in->bar2_size / KIB,
			  in->irq_mode == REFMDEV_GUEST_IRQ_MSI ? "MSI" : "INTx",
			  in->irq);
	}
	if (ndevs < opt_devices) {
		ktap_info("%d refmdev_guest device(s), expected %d", ndevs,
			  opt_devices);
		return FAIL;
	}
	return PASS;
}

static enum verdict t_irq_mode(void)
{
	__u32 want = opt_intx ? REFMDEV_GUEST_IRQ_INTX :
				   REFMDEV_GUEST_IRQ_MSI;
	enum verdict v = PASS;
	int i;

	if (!ndevs)
		return skip("no device");
	for (i = 0; i < ndevs; i++) {
		bool msi = devs[i].info.irq_mode == REFMDEV_GUEST_IRQ_MSI;

		ktap_info("dev%u: irq mode %s", devs[i].info.index,
			  msi ? "MSI" : "INTx");
		if (devs[i].info.irq_mode != want)
			v = FAIL;
	}
	if (v == FAIL)
		ktap_info("expected %s", opt_intx ? "INTx" : "MSI");
	return v;
}

struct size_case {
	size_t len;
	__u64 soff;		/* source offset */
	__u64 doff;		/* destination offset */
};

static enum verdict t_copy_mem_to_mem(void)
{
	static const struct size_case cases[] = {
		{ 1, 0, 0 },
		{ 3, 1, 5 },
		{ 511, 7, 3 },			/* odd */
		{ 4 * KIB, 0, 0 },
		{ 4 * KIB, 2048, 100 },		/* page-crossing */
		{ 8 * KIB - 1, 4095, 1 },	/* page-crossing, odd */
		{ 64 * KIB, 0, 0 },
		{ 64 * KIB + 1, 100, 4093 },
		{ 1 * MIB, 0, 0 },
		{ 1 * MIB + 13, 4091, 7 },
		{ 4 * MIB, 0, 0 },
	};
	size_t max = 4 * MIB + 13;
	__u8 *src, *dst;
	enum verdict v = PASS;
	char what[96];
	size_t i;
	int d;

	if (!ndevs)
		return skip("no device");
	src = xmalloc(max);
	dst = xmalloc(max);
	for (d = 0; d < ndevs && d < 2 && v == PASS; d++) {
		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			const struct size_case *c = &cases[i];
			double t;

			/* The second function gets the smaller sizes only. */
			if (d && c->len > 64 * KIB)
				continue;
			fill_random(src, c->len, 0x1000 + i);
			memset(dst, GUARD, c->len);
			t = now_s();
			if (!copy_ok(&devs[d], mem(src, c->soff),
				     mem(dst, c->doff), c->len)) {
				v = FAIL;
				break;
			}
			t = now_s() - t;
			snprintf(what, sizeof(what),
				 "dev%d mem+%llu -> mem+%llu, %zu bytes", d,
				 (unsigned long long)c->soff,
				 (unsigned long long)c->doff, c->len);
			if (!check_same(what, dst, src, c->len)) {
				v = FAIL;
				break;
			}
			if (c->len >= MIB)
				ktap_info("%s: OK, %.3f s", what, t);
		}
	}
	free(src);
	free(dst);
	return v;
}

static const struct size_case devmem_cases[] = {
	{ 1, 0, 0 },
	{ 3, 1, 4095 },			/* crosses a page of BAR2 */
	{ 511, 7, 1001 },
	{ 4 * KIB, 0, 4 * KIB },
	{ 8 * KIB - 1, 4095, 2049 },
	{ 64 * KIB, 0, 64 * KIB },
	{ 64 * KIB + 1, 100, 4093 },
	{ 1 * MIB, 0, 0 },
};

#define NR_DEVMEM_CASES	(ARRAY_SIZE(devmem_cases))

static enum verdict t_copy_mem_to_devmem(void)
{
	const struct gdev *d = &devs[0];
	__u8 *src;
	enum verdict v = PASS;
	char what[96];
	size_t i;

	if (!ndevs)
		return skip("no device");
	src = xmalloc(MIB);
	for (i = 0; i < NR_DEVMEM_CASES; i++) {
		const struct size_case *c = &devmem_cases[i];
		double t;

		if (c->doff + c->len > bar2_of(d))
			continue;
		fill_random(src, c->len, 0x2000 + i);
		if (!copy_ok(d, mem(src, c->soff), devmem(c->doff), c->len)) {
			v = FAIL;
			break;
		}
		snprintf(what, sizeof(what), "mem+%llu -> BAR2+%llu, %zu bytes",
			 (unsigned long long)c->soff,
			 (unsigned long long)c->doff, c->len);
		t = now_s();
		if (!bar2_check(d, c->doff, src, c->len, what)) {
			v = FAIL;
			break;
		}
		if (c->len >= MIB)
			ktap_info("%s: OK, CPU check %.3f s", what, now_s() - t);
	}
	free(src);
	return v;
}

static enum verdict t_copy_devmem_to_mem(void)
{
	const struct gdev *d = &devs[0];
	__u8 *want, *dst;
	enum verdict v = PASS;
	char what[96];
	size_t i;

	if (!ndevs)
		return skip("no device");
	want = xmalloc(MIB);
	dst = xmalloc(MIB + 64 * KIB);
	for (i = 0; i < NR_DEVMEM_CASES; i++) {
		const struct size_case *c = &devmem_cases[i];

		if (c->doff + c->len > bar2_of(d))
			continue;
		fill_random(want, c->len, 0x3000 + i);
		/*
		 * Small ones are put into BAR2 by the CPU; large ones by DMA,
		 * already checked by the previous test's method.
		 */
		if (c->len <= CPU_CHECK_MAX) {
			if (!bar2_write_ok(d, c->doff, want, c->len)) {
				v = FAIL;
				break;
			}
		} else if (!copy_ok(d, mem(want, 0), devmem(c->doff), c->len)) {
			v = FAIL;
			break;
		}
		memset(dst, GUARD, c->len);
		if (!copy_ok(d, devmem(c->doff), mem(dst, c->soff), c->len)) {
			v = FAIL;
			break;
		}
		snprintf(what, sizeof(what), "BAR2+%llu -> mem+%llu, %zu bytes",
			 (unsigned long long)c->doff,
			 (unsigned long long)c->soff, c->len);
		if (!check_same(what, dst, want, c->len)) {
			v = FAIL;
			break;
		}
	}
	free(want);
	free(dst);
	return v;
}

static enum verdict t_copy_devmem_to_devmem(void)
{
	const struct gdev *d = &devs[0];
	const size_t len = 64 * KIB + 3;
	const __u64 from = 5, to = 192 * KIB + 1;
	__u8 *want;
	enum verdict v = PASS;

	if (!ndevs)
		return skip("no device");
	if (to + len > bar2_of(d))
		return skip("BAR2 too small");
	want = xmalloc(len);
	fill_random(want, len, 0x4000);
	if (!bar2_write_ok(d, from, want, len) ||
	    !copy_ok(d, devmem(from), devmem(to), len) ||
	    !bar2_check(d, to, want, len, "BAR2+5 -> BAR2+196609"))
		v = FAIL;
	free(want);
	return v;
}

static enum verdict t_fill(void)
{
	static const struct size_case mem_cases[] = {
		{ 1, 0, 0 },
		{ 7, 0, 3 },
		{ 4 * KIB + 5, 0, 4093 },	/* page-crossing */
		{ 64 * KIB, 0, 0 },
		{ 1 * MIB + 5, 0, 1 },
	};
	static const struct size_case devmem_fill[] = {
		{ 1, 0, 5 },
		{ 4 * KIB + 3, 0, 4093 },
		{ 64 * KIB, 0, 128 * KIB },
	};
	const struct gdev *d = &devs[0];
	const __u64 pattern = 0x0123456789abcdefull;
	__u8 *buf;
	enum verdict v = PASS;
	char what[96];
	size_t i;

	if (!ndevs)
		return skip("no device");
	buf = xmalloc(MIB + 8);
	for (i = 0; i < ARRAY_SIZE(mem_cases) && v == PASS;
	     i++) {
		const struct size_case *c = &mem_cases[i];
		__u64 pat = pattern ^ (0x1111111111111111ull * i);

		memset(buf, GUARD, c->len);
		snprintf(what, sizeof(what), "FILL mem+%llu, %zu bytes",
			 (unsigned long long)c->doff, c->len);
		if (!fill_ok(d, mem(buf, c->doff), c->len, pat) ||
		    !check_pattern(what, buf, c->len, pat))
			v = FAIL;
	}
	for (i = 0; i < ARRAY_SIZE(devmem_fill) &&
	     v == PASS; i++) {
		const struct size_case *c = &devmem_fill[i];
		__u64 pat = ~pattern + i;

		if (c->doff + c->len > bar2_of(d))
			continue;
		snprintf(what, sizeof(what), "FILL BAR2+%llu, %zu bytes",
			 (unsigned long long)c->doff, c->len);
		if (!fill_ok(d, devmem(c->doff), c->len, pat) ||
		    !bar2_read_ok(d, c->doff, buf, c->len) ||
		    !check_pattern(what, buf, c->len, pat))
			v = FAIL;
	}
	free(buf);
	return v;
}

static enum verdict t_interrupts(void)
{
	const int rounds = 8;
	enum verdict v = PASS;
	__u8 src[256], dst[256];
	int d, i;

	if (!ndevs)
		return skip("no device");
	fill_random(src, sizeof(src), 0x5000);
	for (d = 0; d < ndevs && d < 2; d++) {
		struct gdev *g = &devs[d];
		struct refmdev_guest_info before, after;

		if (!get_info(g))
			return FAIL;
		before = g->info;
		for (i = 0; i < rounds; i++) {
			if (!copy_ok(g, mem(src, 0), mem(dst, 0), sizeof(src)))
				return FAIL;
		}
		if (!get_info(g))
			return FAIL;
		after = g->info;
		ktap_info("dev%u: %s, %d transfers: %llu interrupts (%llu DMA_DONE, %llu DMA_ERROR)",
			  g->info.index,
			  after.irq_mode == REFMDEV_GUEST_IRQ_MSI ? "MSI" : "INTx",
			  rounds,
			  (unsigned long long)(after.irqs - before.irqs),
			  (unsigned long long)(after.irqs_done - before.irqs_done),
			  (unsigned long long)(after.irqs_error - before.irqs_error));
		ktap_info("dev%u: %llu handler calls not ours, %llu polled; since probe %llu interrupts, %llu timeouts",
			  g->info.index,
			  (unsigned long long)(after.irqs_none - before.irqs_none),
			  (unsigned long long)(after.polled - before.polled),
			  (unsigned long long)after.irqs,
			  (unsigned long long)after.timeouts);
		if (after.irqs_done - before.irqs_done < (unsigned int)rounds ||
		    after.polled != before.polled) {
			ktap_info("dev%u: expected one DMA_DONE interrupt per transfer, none polled",
				  g->info.index);
			v = FAIL;
		}
	}
	return v;
}

/* Errors the device reports, and arguments the driver refuses. */
static enum verdict t_device_errors(void)
{
	const struct gdev *d = &devs[0];
	struct refmdev_guest_xfer x;
	__u8 src[4096], buf[4096], tail[100];
	struct side s, t;
	enum verdict v = PASS;
	__u64 size;
	int err;

	if (!ndevs)
		return skip("no device");
	size = bar2_of(d);
	fill_random(src, sizeof(src), 0x6000);

	/* Runs past the end of BAR2: DEVMEM_RANGE, nothing written. */
	memset(tail, GUARD, sizeof(tail));
	if (!bar2_write_ok(d, size - sizeof(tail), tail, sizeof(tail)))
		return FAIL;
	s = mem(src, 0);
	t = devmem(size - sizeof(tail));
	err = dma(d, &s, &t, sizeof(src), 0, REFMDEV_GUEST_XFER_NO_RANGE_CHECK,
		  &x);
	if (err != EIO || x.status != REFMDEV_DMA_ST_DEVMEM_RANGE) {
		dma_diag(d, "COPY past the end of BAR2 (expected EIO, DEVMEM_RANGE)",
			 err, &x);
		v = FAIL;
	}
	if (!bar2_read_ok(d, size - sizeof(tail), buf, sizeof(tail)) ||
	    !check_value("BAR2 tail after a failed copy", buf, sizeof(tail),
			 GUARD))
		v = FAIL;

	/* Overlap inside BAR2. */
	s = devmem(0);
	t = devmem(100);
	err = dma(d, &s, &t, 4096, 0, 0, &x);
	if (err != EIO || x.status != REFMDEV_DMA_ST_OVERLAP) {
		dma_diag(d, "overlapping COPY (expected EIO, OVERLAP)", err, &x);
		v = FAIL;
	}

	/* Refused by the driver, before anything is posted. */
	s = mem(src, 0);
	t = mem(buf, 0);
	err = dma(d, &s, &t, 0, 0, 0, &x);
	if (err != EINVAL) {
		ktap_info("COPY of 0 bytes: %s, expected EINVAL", err_name(err));
		v = FAIL;
	}
	t = devmem(size - 10);
	err = dma(d, &s, &t, 4096, 0, 0, &x);
	if (err != EINVAL) {
		ktap_info("COPY past BAR2, checked: %s, expected EINVAL",
			  err_name(err));
		v = FAIL;
	}
	t = peer(d, 0);
	t.peer = 1000;
	err = dma(d, &s, &t, 16, 0, 0, &x);
	if (err != EINVAL) {
		ktap_info("COPY to peer 1000: %s, expected EINVAL", err_name(err));
		v = FAIL;
	}
	t = mem(buf, REFMDEV_GUEST_MAX_MEM_OFFSET);
	err = dma(d, &s, &t, 16, 0, 0, &x);
	if (err != EINVAL) {
		ktap_info("COPY to mem+MAX_MEM_OFFSET: %s, expected EINVAL",
			  err_name(err));
		v = FAIL;
	}
	t = mem(buf, 0);
	t.kind = 9;
	err = dma(d, &s, &t, 16, 0, 0, &x);
	if (err != EINVAL) {
		ktap_info("COPY to kind 9: %s, expected EINVAL", err_name(err));
		v = FAIL;
	}
	err = bar2_io(d, false, size - 1, buf, 2);
	if (err != EINVAL) {
		ktap_info("READ_BAR2 past the end: %s, expected EINVAL",
			  err_name(err));
		v = FAIL;
	}

	/* And the engine still works. */
	memset(buf, 0, sizeof(buf));
	if (!copy_ok(d, mem(src, 0), mem(buf, 0), sizeof(src)) ||
	    !check_same("copy after errors", buf, src, sizeof(src)))
		v = FAIL;
	return v;
}

static const struct size_case p2p_cases[] = {
	{ 1, 0, 3 },
	{ 4 * KIB + 1, 5, 4093 },
	{ 64 * KIB, 0, 128 * KIB },
};

#define NR_P2P_CASES	(ARRAY_SIZE(p2p_cases))

/* Function @a copies into @b's BAR2 by bus address; @b reads it back. */
static bool p2p_into(const struct gdev *a, const struct gdev *b,
		     __u64 seed)
{
	__u8 *src = xmalloc(64 * KIB);
	char what[128];
	bool ok = true;
	size_t i;

	for (i = 0; i < NR_P2P_CASES && ok; i++) {
		const struct size_case *c = &p2p_cases[i];

		if (c->doff + c->len > bar2_of(b))
			continue;
		fill_random(src, c->len, seed + i);
		snprintf(what, sizeof(what),
			 "dev%u mem -> dev%u BAR2+%llu (bus %#llx), %zu bytes",
			 a->info.index, b->info.index,
			 (unsigned long long)c->doff,
			 (unsigned long long)(b->info.bar2_bus + c->doff),
			 c->len);
		ok = copy_ok(a, mem(src, c->soff), peer(b, c->doff), c->len) &&
		     bar2_check(b, c->doff, src, c->len, what);
	}
	free(src);
	return ok;
}

static enum verdict t_p2p_to_peer(void)
{
	const struct gdev *a = &devs[0], *b = &devs[1];
	const size_t len = 16 * KIB;
	__u8 *want;
	bool ok;

	if (ndevs < 2)
		return skip("needs 2 functions");
	ktap_info("dev%u BAR2 at bus %#llx, dev%u BAR2 at bus %#llx",
		  a->info.index, (unsigned long long)a->info.bar2_bus,
		  b->info.index, (unsigned long long)b->info.bar2_bus);
	if (!p2p_into(a, b, 0x7000))
		return FAIL;
	if (len > bar2_of(a) || 256 * KIB + len > bar2_of(b))
		return PASS;

	/* Own BAR2 to the peer's: device memory to device memory. */
	want = xmalloc(len);
	fill_random(want, len, 0x7100);
	ok = bar2_write_ok(a, 0, want, len) &&
	     copy_ok(a, devmem(0), peer(b, 256 * KIB), len) &&
	     bar2_check(b, 256 * KIB, want, len, "dev0 BAR2 -> dev1 BAR2");
	free(want);
	return ok ? PASS : FAIL;
}

static enum verdict t_p2p_from_peer(void)
{
	const struct gdev *a = &devs[0], *b = &devs[1];
	const size_t len = 64 * KIB + 7;
	__u8 *want, *dst;
	enum verdict v = PASS;

	if (ndevs < 2)
		return skip("needs 2 functions");
	want = xmalloc(len);
	dst = xmalloc(len);

	/* dev0 reads dev1's BAR2 by bus address. */
	fill_random(want, len, 0x8000);
	memset(dst, GUARD, len);
	if (!bar2_write_ok(b, 3, want, len) ||
	    !copy_ok(a, peer(b, 3), mem(dst, 1), len) ||
	    !check_same("dev1 BAR2 -> dev0 mem", dst, want, len))
		v = FAIL;

	/* The other way round: dev1 writes dev0's BAR2. */
	if (v == PASS && !p2p_into(b, a, 0x8100))
		v = FAIL;

	/* Peer named by BDF rather than by index. */
	fill_random(want, len, 0x8200);
	memset(dst, GUARD, len);
	if (v == PASS &&
	    (!bar2_write_ok(a, 8 * KIB, want, len) ||
	     !copy_ok(b, peer_bdf(a, 8 * KIB), mem(dst, 0), len) ||
	     !check_same("dev0 BAR2 (by BDF) -> dev1 mem", dst, want, len)))
		v = FAIL;
	free(want);
	free(dst);
	return v;
}

/* mem -> mem and mem -> BAR2 on @d, checked: is the function usable? */
static bool works(const struct gdev *d, const char *when)
{
	const size_t len = 64 * KIB + 5;
	__u8 *src = xmalloc(len), *dst = xmalloc(len);
	char what[128];
	bool ok;

	fill_random(src, len, 0x9000 + d->info.index);
	memset(dst, GUARD, len);
	snprintf(what, sizeof(what), "dev%u %s: mem -> mem", d->info.index,
		 when);
	ok = copy_ok(d, mem(src, 3), mem(dst, 0), len) &&
	     check_same(what, dst, src, len);
	snprintf(what, sizeof(what), "dev%u %s: mem -> BAR2", d->info.index,
		 when);
	ok = ok && copy_ok(d, mem(src, 0), devmem(4 * KIB + 1), len) &&
	     bar2_check(d, 4 * KIB + 1, src, len, what);
	free(src);
	free(dst);
	return ok;
}

/* An idle reset: device memory replaced by zeroes, engine usable. */
static enum verdict reset_idle(__u32 method)
{
	struct gdev *d = &devs[0];
	struct refmdev_guest_reset r;
	const size_t len = 4 * KIB;
	__u64 irqs;
	__u8 buf[4096];
	int err;

	if (!ndevs)
		return skip("no device");
	memset(buf, 0x5a, len);
	if (!bar2_write_ok(d, 0, buf, len))
		return FAIL;
	err = reset(d, method, &r);
	if (err == EOPNOTSUPP && method == REFMDEV_GUEST_RESET_FLR) {
		no_flr = true;
		return skip("function offers no FLR");
	}
	if (err) {
		ktap_info("dev%u %s: %s", d->info.index, method_name(method),
			  err_name(err));
		return FAIL;
	}
	ktap_info("dev%u %s: %.3f s", d->info.index, method_name(method),
		  (double)r.elapsed_ns / 1e9);
	if (!bar2_read_ok(d, 0, buf, len) ||
	    !check_value("BAR2 after reset", buf, len, 0))
		return FAIL;
	if (!get_info(d))
		return FAIL;
	irqs = d->info.irqs_done;
	if (!works(d, "after reset") || !get_info(d))
		return FAIL;
	if (d->info.irqs_done == irqs) {
		ktap_info("dev%u: no DMA_DONE interrupt after the reset",
			  d->info.index);
		return FAIL;
	}
	return PASS;
}

static enum verdict t_reset_ctrl_idle(void)
{
	return reset_idle(REFMDEV_GUEST_RESET_CTRL);
}

static enum verdict t_reset_flr_idle(void)
{
	return reset_idle(REFMDEV_GUEST_RESET_FLR);
}

/*
 * Reset while a transfer is in flight: one thread copies in a loop,
 * another resets the function. To land a reset inside a transfer the
 * resetter watches the driver's counters (INFO): descs goes up when a
 * batch is posted, xfers when the wait for it ends; in between, the
 * batch is the engine's. Every other reset comes after a plain delay
 * instead, wherever that falls. Every copy must end (OK with the right
 * data, ECANCELED, or an error status or timeout the driver reports),
 * every reset must succeed, and the function must work afterwards. The
 * driver flags each copy that a reset hit while posted; if none was hit,
 * the point was not tested and the test says SKIP.
 */
struct race {
	const struct gdev *d;
	size_t mem_len;		/* mem -> mem copies */
	size_t dev_len;		/* mem -> BAR2 copies */
	int stop;
	unsigned long started;	/* copies begun (release) */
	__u64 descs0;		/* INFO before the copy begun last */
	__u64 xfers0;
	unsigned long landed;	/* copies a reset hit while posted */
	/* written by the copier, read after the join */
	unsigned long ok, cancelled, timedout, failed, other, bad_data;
	int first_err;
	__u32 first_status;
};

static void *copier(void *arg)
{
	struct race *r = arg;
	__u8 *src = xmalloc(r->mem_len), *dst = xmalloc(r->mem_len);
	struct refmdev_guest_info in;
	struct refmdev_guest_xfer x;
	struct side s, t;
	unsigned long i = 0;
	int err;

	fill_random(src, r->mem_len, 0xa000);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		/* Alternately guest memory and device memory as target. */
		bool to_dev = i++ & 1;
		size_t len = to_dev ? r->dev_len : r->mem_len;

		memset(dst, 0, len);
		s = mem(src, 0);
		t = to_dev ? devmem(0) : mem(dst, 0);
		if (!ioctl(r->d->fd, REFMDEV_GUEST_IOC_INFO, &in)) {
			__atomic_store_n(&r->descs0, in.descs, __ATOMIC_RELAXED);
			__atomic_store_n(&r->xfers0, in.xfers, __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&r->started, 1, __ATOMIC_RELEASE);
		err = dma(r->d, &s, &t, len, 0, 0, &x);
		if (x.result & REFMDEV_GUEST_RES_RESET)
			__atomic_add_fetch(&r->landed, 1, __ATOMIC_RELEASE);
		switch (err) {
		case 0:
			r->ok++;
			if (!to_dev && memcmp(dst, src, len))
				r->bad_data++;
			continue;
		case ECANCELED:
			r->cancelled++;
			continue;
		case ETIMEDOUT:
			r->timedout++;
			break;
		case EIO:
			r->failed++;
			break;
		default:
			r->other++;
			break;
		}
		if (!r->first_err) {
			r->first_err = err;
			r->first_status = x.status;
		}
	}
	free(src);
	free(dst);
	return NULL;
}

/*
 * After the copier announced a copy: spin until the driver has posted
 * it. True if it is still in flight then, false if it was already done
 * (or never got posted within 5 s).
 */
static bool wait_posted(struct race *r)
{
	__u64 descs0 = __atomic_load_n(&r->descs0, __ATOMIC_RELAXED);
	__u64 xfers0 = __atomic_load_n(&r->xfers0, __ATOMIC_RELAXED);
	struct refmdev_guest_info in;
	double until = now_s() + 5;

	while (now_s() < until) {
		if (ioctl(r->d->fd, REFMDEV_GUEST_IOC_INFO, &in))
			return false;
		if (in.descs != descs0)
			return in.xfers == xfers0;
		sched_yield();
	}
	return false;
}

static enum verdict reset_race(__u32 method, int max_resets, int want_hits)
{
	static const unsigned int delay_us[] = { 0, 2000, 500, 10000, 5000 };
	struct race r = { .d = &devs[0], .mem_len = 4 * MIB,
			  .dev_len = 1 * MIB };
	struct refmdev_guest_reset rr;
	enum verdict v = PASS;
	unsigned long seen, landed;
	int i, err, resets = 0, cut = 0, early = 0;
	double t0 = now_s(), worst = 0;
	pthread_t th;

	if (!ndevs)
		return skip("no device");
	if (method == REFMDEV_GUEST_RESET_FLR && no_flr)
		return skip("function offers no FLR");
	if (r.dev_len > bar2_of(r.d))
		r.dev_len = bar2_of(r.d);

	if (pthread_create(&th, NULL, copier, &r)) {
		ktap_info("pthread_create failed");
		return FAIL;
	}
	for (i = 0; i < max_resets; i++) {
		if (__atomic_load_n(&r.landed, __ATOMIC_ACQUIRE) >=
		    (unsigned long)want_hits)
			break;
		/* Wait for the next copy to begin. */
		seen = __atomic_load_n(&r.started, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&r.started, __ATOMIC_ACQUIRE) == seen)
			usleep(100);
		if (!(i & 1)) {
			if (!wait_posted(&r))
				early++;
		} else {
			usleep(delay_us[(i / 2) % ARRAY_SIZE(delay_us)]);
		}
		err = reset(r.d, method, &rr);
		resets++;
		if (err) {
			ktap_info("%s %d: %s", method_name(method), i, err_name(err));
			v = FAIL;
			break;
		}
		cut += rr.cancelled;
		if ((double)rr.elapsed_ns / 1e9 > worst)
			worst = (double)rr.elapsed_ns / 1e9;
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	landed = r.landed;

	ktap_info("dev%u: %d %s (slowest %.3f s); %lu landed on a posted copy, %d of them cut it short; %.1f s in all",
		  r.d->info.index, resets, method_name(method), worst, landed,
		  cut, now_s() - t0);
	ktap_info("copies (%zu bytes to mem, %zu to BAR2): %lu OK, %lu ECANCELED, %lu ETIMEDOUT, %lu EIO, %lu other",
		  r.mem_len, r.dev_len, r.ok, r.cancelled, r.timedout,
		  r.failed, r.other);
	if (early)
		ktap_info("%d targeted resets found their copy already done",
			  early);
	if (r.first_err)
		ktap_info("first error: %s, status %s (0x%x)", err_name(r.first_err),
			  st_name(r.first_status), r.first_status);
	if (r.bad_data) {
		ktap_info("%lu copies reported OK with wrong data", r.bad_data);
		v = FAIL;
	}
	if (r.other) {
		ktap_info("copies ended with unexpected errors");
		v = FAIL;
	}
	if (!works(r.d, "after the resets"))
		v = FAIL;
	if (v == PASS && !landed)
		return skip("no reset landed on a transfer in flight (%d tries)",
			    resets);
	return v;
}

static enum verdict t_reset_ctrl_during_copy(void)
{
	return reset_race(REFMDEV_GUEST_RESET_CTRL, 12, 3);
}

static enum verdict t_reset_flr_during_copy(void)
{
	return reset_race(REFMDEV_GUEST_RESET_FLR, 8, 2);
}

static bool write_sysfs(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		ktap_info("%s: %s", path, strerror(errno));
		return false;
	}
	n = write(fd, val, strlen(val));
	if (n != (ssize_t)strlen(val))
		ktap_info("write %s to %s: %s", val, path,
			  n < 0 ? strerror(errno) : "short write");
	close(fd);
	return n == (ssize_t)strlen(val);
}

/*
 * Unbind the last function from the driver through sysfs, with its misc
 * device still open, and bind it again: the old file must answer ENODEV,
 * the new one must work.
 */
static enum verdict t_unbind_rebind(void)
{
	static const char drv[] = "/sys/bus/pci/drivers/" REFMDEV_GUEST_NAME;
	struct gdev *d = &devs[ndevs - 1];
	struct refmdev_guest_info old;
	char path[160], name[64];
	unsigned int index;
	int fd, err;

	if (!ndevs)
		return skip("no device");
	index = d->info.index;
	snprintf(path, sizeof(path), "%s/unbind", drv);
	if (!write_sysfs(path, d->info.bdf))
		return FAIL;
	err = ioctl(d->fd, REFMDEV_GUEST_IOC_INFO, &old) ? errno : 0;
	if (err != ENODEV) {
		ktap_info("INFO on a file of the unbound function: %s, expected ENODEV",
			  err_name(err));
		return FAIL;
	}
	snprintf(path, sizeof(path), "%s/bind", drv);
	if (!write_sysfs(path, d->info.bdf))
		return FAIL;
	close(d->fd);
	d->fd = -1;

	/* The lowest free number: the same as before. */
	snprintf(name, sizeof(name), "%s%u", REFMDEV_GUEST_NAME, index);
	fd = open_misc(name, d->path, sizeof(d->path));
	if (fd < 0) {
		ktap_info("%s after rebind: %s", name, strerror(errno));
		return FAIL;
	}
	d->fd = fd;
	if (!get_info(d))
		return FAIL;
	ktap_info("%s rebound as %s", d->info.bdf, d->path);
	return works(d, "after rebind") ? PASS : FAIL;
}

static enum verdict t_after_resets(void)
{
	enum verdict v = PASS;
	int i;

	if (!ndevs)
		return skip("no device");
	for (i = 0; i < ndevs && i < 2; i++) {
		if (!works(&devs[i], "at the end"))
			v = FAIL;
	}
	if (v == PASS && ndevs >= 2 && !p2p_into(&devs[0], &devs[1], 0xb000))
		v = FAIL;
	for (i = 0; i < ndevs; i++) {
		const struct refmdev_guest_info *in = &devs[i].info;

		if (!get_info(&devs[i]))
			return FAIL;
		ktap_info("dev%u counters: %llu batches, %llu descriptors, %llu interrupts (%llu not ours)",
			  in->index, (unsigned long long)in->xfers,
			  (unsigned long long)in->descs,
			  (unsigned long long)in->irqs,
			  (unsigned long long)in->irqs_none);
		ktap_info("dev%u counters: %llu polled, %llu timeouts, %llu resets, %llu cancelled",
			  in->index, (unsigned long long)in->polled,
			  (unsigned long long)in->timeouts,
			  (unsigned long long)in->resets,
			  (unsigned long long)in->cancelled);
	}
	return v;
}

static const struct {
	const char *name;
	enum verdict (*fn)(void);
} tests[] = {
	{ "probe", t_probe },
	{ "irq_mode", t_irq_mode },
	{ "copy_mem_to_mem", t_copy_mem_to_mem },
	{ "copy_mem_to_devmem", t_copy_mem_to_devmem },
	{ "copy_devmem_to_mem", t_copy_devmem_to_mem },
	{ "copy_devmem_to_devmem", t_copy_devmem_to_devmem },
	{ "fill", t_fill },
	{ "interrupts", t_interrupts },
	{ "device_errors", t_device_errors },
	{ "p2p_to_peer", t_p2p_to_peer },
	{ "p2p_from_peer", t_p2p_from_peer },
	{ "reset_ctrl_idle", t_reset_ctrl_idle },
	{ "reset_flr_idle", t_reset_flr_idle },
	{ "reset_ctrl_during_copy", t_reset_ctrl_during_copy },
	{ "reset_flr_during_copy", t_reset_flr_during_copy },
	{ "unbind_rebind", t_unbind_rebind },
	{ "after_resets", t_after_resets },
};

/* --stream: DMA in a loop until killed. */
static int stream(void)
{
	const size_t len = 256 * KIB, dlen = 64 * KIB;
	__u8 *src = xmalloc(len), *dst = xmalloc(len);
	unsigned long round;

	if (!ndevs) {
		fprintf(stderr, "refmdev-guest-test: no refmdev_guest device\n");
		return 1;
	}
	fill_random(src, len, 0xc000);
	for (round = 0;; round++) {
		const struct gdev *d = &devs[round % (ndevs < 2 ? 1 : 2)];
		bool ok;

		memset(dst, 0, len);
		ok = copy_ok(d, mem(src, 0), mem(dst, 0), len) &&
		     !memcmp(dst, src, len) &&
		     copy_ok(d, mem(src, 0), devmem(0), dlen);
		if (ok && ndevs >= 2)
			ok = copy_ok(d, mem(src, 0),
				     peer(&devs[(round + 1) % 2], 64 * KIB),
				     dlen);
		if (!ok) {
			printf("STREAM FAILED in round %lu\n", round);
			fflush(stdout);
			return 1;
		}
		if (!round) {
			printf("STREAMING\n");
			fflush(stdout);
		}
	}
}

static void print_usage(void)
{
	fprintf(stderr,
		"usage: refmdev-guest-test [--devices N] [--intx] [--full-bar2]\n"
		"                          [--timeout-ms MS] [--watchdog S]\n"
		"       refmdev-guest-test --stream\n");
	exit(2);
}

int main(int argc, char **argv)
{
	bool streaming = false;
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--stream"))
			streaming = true;
		else if (!strcmp(argv[a], "--intx"))
			opt_intx = true;
		else if (!strcmp(argv[a], "--full-bar2"))
			opt_full_bar2 = true;
		else if (!strcmp(argv[a], "--devices") && a + 1 < argc)
			opt_devices = atoi(argv[++a]);
		else if (!strcmp(argv[a], "--timeout-ms") && a + 1 < argc)
			opt_timeout_ms = strtoul(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--watchdog") && a + 1 < argc)
			opt_watchdog = strtoul(argv[++a], NULL, 0);
		else
			print_usage();
	}

	find_devices();
	if (streaming)
		return stream();

	signal(SIGALRM, on_alarm);
	alarm(opt_watchdog);

	printf("KTAP version 1\n");
	printf("1..%zu\n", ARRAY_SIZE(tests));
	fflush(stdout);
	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		double t = now_s();
		enum verdict v;

		skip_reason[0] = '\0';
		v = tests[i].fn();
		ktap_info("%s: %.2f s", tests[i].name, now_s() - t);
		report(v, tests[i].name);
	}
	ktap_info("%d of %zu failed", nfailed, ARRAY_SIZE(tests));
	return nfailed ? 1 : 0;
}
