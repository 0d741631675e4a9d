// SPDX-License-Identifier: GPL-2.0
/*
 * refmdev-p2p: peer-to-peer DMA between two refmdevs, and revocation.
 *
 * This is reference code for a VMM that gives one device access to
 * another's memory. Device A exports part of its BAR2 (device memory) as
 * a dma-buf with VFIO_DEVICE_FEATURE_DMA_BUF; device B attaches that
 * dma-buf as P2P window 0 at an IOVA, and B's DMA engine then reaches A's
 * memory there without anything being pinned. The program then shows
 * what an exporter may do to an importer at any time:
 *
 *   1. export, and the dma-buf as the rest of the system sees it (its
 *      size, its line in /sys/kernel/debug/dma_buf/bufinfo);
 *   2. B copies guest memory into the window and back, timed; the bytes
 *      are read in A's BAR2 through A's VFIO region and through a CPU
 *      mapping of the dma-buf;
 *   3. A stops decoding memory (PCI_COMMAND_MEMORY off): the dma-buf is
 *      revoked before the config write returns, B's next descriptor
 *      completes with REFMDEV_DMA_ST_PEER_REVOKED having written
 *      nothing, the window says REVOKED, and the CPU mapping faults
 *      (SIGBUS); decoding on again brings back the same memory;
 *   4. VFIO_DEVICE_RESET of A: new, zeroed memory, and the window
 *      follows it;
 *   5. the other way to the same memory, without dma-bufs: A's BAR2
 *      mmap mapped into B's container with VFIO_IOMMU_MAP_DMA, where
 *      B's engine pins it like any guest memory.
 *
 * Register access, guest memory and B's descriptor ring are shared with
 * refmdev-dma: samples/lib/device_io.c, guest_mem.c and dma_ring.c.
 *
 * Usage: refmdev-p2p UUID_A UUID_B
 *
 * Both UUIDs name existing refmdevs, /sys/bus/mdev/devices/UUID; A
 * exports, B imports. Any unexpected result prints
 * "refmdev-p2p: <step>: <reason>" and exits with 1.
 */

/* Region offsets lie above 4 GiB; keep off_t 64-bit on 32-bit hosts too. */
#define _FILE_OFFSET_BITS 64

#include <ctype.h>
#include <endian.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/pci_regs.h>
#include <linux/refmdev.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "device_io.h"
#include "dma_ring.h"
#include "fail.h"
#include "guest_mem.h"

#define KIB			1024u
#define MIB			(1024u * 1024u)
/* The timed copies: 1 MiB, or the window if it is smaller. */
#define TIMED_LEN		MIB
/* After the reset: a small copy, at an offset, to see where it lands. */
#define RESET_LEN		(64 * KIB)
#define RESET_WOFF		(12 * KIB)

/*
 * B's IOVA layout: guest memory for the ring, sources and destinations,
 * the window, and A's BAR2 mapped through type1. Any addresses do if
 * nothing overlaps.
 */
#define RING_IOVA		0x00100000ull
#define SRC_IOVA		0x10000000ull
#define DST_IOVA		0x20000000ull
#define WIN_IOVA		0x40000000ull
#define TYPE1_IOVA		0x80000000ull
#define GUEST_LEN		MIB
#define RING_ENTRIES		16	/* one descriptor at a time */

/* The engine runs under QEMU's TCG in the demo: be generous. */
#define DMA_TIMEOUT_NS		60000000000ull
#define POLL_US			20

#define BUFINFO			"/sys/kernel/debug/dma_buf/bufinfo"
/* How many bytes of a transfer to print. */
#define SHOW_LEN		32

struct p2p {
	struct sample_dev a, b;
	/* B's engine and its guest memory. */
	struct dma_ring ring;
	struct guest_buf src, dst;
	/* The export: [bar_off, bar_off + size) of A's BAR2. */
	int dmabuf;
	__u64 bar_off;
	__u64 size;
	__u8 *map;			/* CPU mapping of the dma-buf */
	__u32 copy_len;			/* the timed copies */
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static double mib_per_s(size_t len, __u64 ns)
{
	return ns ? (double)len / MIB / ((double)ns / 1e9) : 0;
}

/*
 * Open a refmdev with P2P support and reset it, so that nothing an
 * earlier user left (an enabled engine, old memory contents) shows up.
 */
static void open_device(struct sample_dev *d, const char *name,
			const char *uuid)
{
	const char *step = "open";
	struct vfio_device_info info;
	__u32 features;
	int err;

	d->name = name;
	d->uuid = uuid;
	err = vfio_mdev_open(&d->vm, uuid);
	if (err)
		fail(step, "%s %s: %s: %s", name, uuid, d->vm.failed,
		     strerror(err));

	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	if (ioctl(d->vm.device, VFIO_DEVICE_GET_INFO, &info))
		fail(step, "%s: VFIO_DEVICE_GET_INFO: %s", name,
		     strerror(errno));
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    !(info.flags & VFIO_DEVICE_FLAGS_RESET))
		fail(step, "%s: not a PCI device with VFIO_DEVICE_RESET", name);
	get_region(d, VFIO_PCI_CONFIG_REGION_INDEX, &d->config, step);
	get_region(d, VFIO_PCI_BAR0_REGION_INDEX, &d->bar0, step);
	get_region(d, VFIO_PCI_BAR2_REGION_INDEX, &d->bar2, step);

	if (cfg_read16(d, PCI_VENDOR_ID) != REFMDEV_PCI_VENDOR_ID ||
	    cfg_read16(d, PCI_DEVICE_ID) != REFMDEV_PCI_DEVICE_ID ||
	    reg_read32(d, REFMDEV_REG_ID, step) != REFMDEV_ID_MAGIC)
		fail(step, "%s: not a refmdev", name);
	features = reg_read32(d, REFMDEV_REG_FEATURES, step);
	if ((features & (REFMDEV_FEATURE_DMA | REFMDEV_FEATURE_P2P)) !=
	    (REFMDEV_FEATURE_DMA | REFMDEV_FEATURE_P2P))
		fail(step, "%s: FEATURES 0x%x: no DMA engine or no P2P", name,
		     features);
	if (ioctl(d->vm.device, VFIO_DEVICE_RESET))
		fail(step, "%s: VFIO_DEVICE_RESET: %s", name, strerror(errno));
	printf("%s: %s %s, IOMMU group %lu, %llu KiB of device memory\n",
	       step, name, uuid, d->vm.group_id,
	       (unsigned long long)d->bar2.size / KIB);
}

/*
 * B's engine: ring and guest memory mapped before the device hears of
 * them, bus mastering on before the engine is enabled. Completion is
 * seen by polling the descriptor's status; refmdev-dma shows MSI.
 */
static void setup_engine(struct p2p *p)
{
	const char *step = "setup";
	const struct sample_dev *b = &p->b;

	dma_ring_map(b->vm.container, &p->ring, RING_IOVA, 4096, RING_ENTRIES,
		     step);
	guest_buf_map(b->vm.container, &p->src, SRC_IOVA, GUEST_LEN, step);
	guest_buf_map(b->vm.container, &p->dst, DST_IOVA, GUEST_LEN, step);

	cmd_update(b, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
	dma_ring_start(b, &p->ring, step);

	/* A only needs to decode memory: its own engine stays idle. */
	cmd_update(&p->a, PCI_COMMAND_MEMORY, 0);
	printf("%s: B's engine: ring at IOVA 0x%llx, %u KiB of guest memory at 0x%llx and 0x%llx\n",
	       step, RING_IOVA, GUEST_LEN / KIB, SRC_IOVA, DST_IOVA);
}

/*
 * One descriptor on B's engine, waited for. Returns its status; @ns, if
 * given, gets the time from the doorbell until the status was seen.
 */
static __u32 dma_run(struct p2p *p, __u64 src, __u64 dst, __u32 len,
		     __u64 *ns, const char *step)
{
	struct refmdev_dma_desc *desc;
	__u64 start, deadline;
	__u32 status;

	desc = dma_ring_post(&p->ring, src, dst, len, REFMDEV_DMA_OP_COPY);
	start = now_ns();
	dma_ring_doorbell(&p->b, &p->ring, step);
	deadline = start + DMA_TIMEOUT_NS;
	/* The device writes the status after the data: read it first. */
	while (!(status = le32toh(__atomic_load_n(&desc->status,
						  __ATOMIC_ACQUIRE)))) {
		if (now_ns() > deadline)
			fail(step, "descriptor not done in %llu s (DMA_STATUS 0x%x)",
			     DMA_TIMEOUT_NS / 1000000000ull,
			     reg_read32(&p->b, REFMDEV_REG_DMA_STATUS, step));
		usleep(POLL_US);
	}
	if (ns)
		*ns = now_ns() - start;
	return status;
}

static void expect_status(__u32 got, __u32 want, const char *step)
{
	if (got != want)
		fail(step, "descriptor status %s (0x%x), expected %s (0x%x)",
		     dma_status_name(got), got, dma_status_name(want), want);
}

static const char *window_state_name(__u32 state)
{
	switch (state) {
	case REFMDEV_P2P_WINDOW_EMPTY:
		return "EMPTY";
	case REFMDEV_P2P_WINDOW_UNMAPPED:
		return "UNMAPPED";
	case REFMDEV_P2P_WINDOW_MAPPED:
		return "MAPPED";
	case REFMDEV_P2P_WINDOW_REVOKED:
		return "REVOKED";
	default:
		return "unknown";
	}
}

static struct refmdev_p2p_window window_query(struct p2p *p, const char *step)
{
	struct refmdev_p2p_window w;

	memset(&w, 0, sizeof(w));
	w.argsz = sizeof(w);
	w.index = 0;
	if (ioctl(p->b.vm.device, REFMDEV_P2P_WINDOW_QUERY, &w))
		fail(step, "REFMDEV_P2P_WINDOW_QUERY: %s", strerror(errno));
	return w;
}

/* Window 0 must be in @state with @notifications; says so. */
static void expect_window(struct p2p *p, __u32 state, __u32 notifications,
			  const char *step)
{
	struct refmdev_p2p_window w = window_query(p, step);

	if (w.state != state || w.notifications != notifications)
		fail(step, "window 0 is %s with %u notifications, expected %s with %u",
		     window_state_name(w.state), w.notifications,
		     window_state_name(state), notifications);
	printf("%s: window 0 is %s, %u notification%s from A so far\n", step,
	       window_state_name(w.state), w.notifications,
	       w.notifications == 1 ? "" : "s");
}

/*
 * A pattern one can recognise when printed: 16-byte records naming the
 * round and their offset, "P2P-1 @00000010 ". A different round gives
 * different bytes everywhere, so stale data cannot pass for new.
 */
static void fill_pattern(void *buf, size_t len, unsigned int round)
{
	char rec[17];
	__u8 *p = buf;
	size_t off;

	for (off = 0; off < len; off += 16) {
		snprintf(rec, sizeof(rec), "P2P-%u @%08zx ", round % 10, off);
		memcpy(p + off, rec, len - off < 16 ? len - off : 16);
	}
}

/* The first SHOW_LEN bytes, as text where printable. */
static void show_bytes(const char *step, const char *where, const __u8 *buf)
{
	char text[SHOW_LEN + 1];
	unsigned int i;

	for (i = 0; i < SHOW_LEN; i++)
		text[i] = isprint(buf[i]) ? (char)buf[i] : '.';
	text[SHOW_LEN] = '\0';
	printf("%s:   %-34s \"%s\"\n", step, where, text);
}

static void check_bytes(const __u8 *got, const __u8 *want, size_t len,
			const char *what, const char *step)
{
	size_t i;

	if (!memcmp(got, want, len))
		return;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	fail(step, "%s: byte 0x%zx is 0x%02x, expected 0x%02x", what, i,
	     got[i], want[i]);
}

static void check_zero(const __u8 *buf, size_t len, const char *what,
		       const char *step)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			fail(step, "%s: byte 0x%zx is 0x%02x, expected 0", what,
			     i, buf[i]);
}

/*
 * CPU access to a mapping that may be revoked: a load that raises
 * SIGBUS jumps back here instead of killing the program.
 */
static sigjmp_buf fault_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(fault_jmp, sig);
}

static bool load_faults(const __u8 *addr)
{
	struct sigaction sa, old;
	bool faulted;
	__u8 val;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		fail_errno("sigaction", errno);
	/*
	 * @faulted is set only after sigsetjmp() returns, on either path,
	 * so the jump cannot leave it with a stale value. The atomic load
	 * is one the compiler may not drop or move.
	 */
	if (sigsetjmp(fault_jmp, 1)) {
		faulted = true;
	} else {
		val = __atomic_load_n(addr, __ATOMIC_RELAXED);
		asm volatile("" : : "r"(val));
		faulted = false;
	}
	sigaction(SIGBUS, &old, NULL);
	return faulted;
}

/* The dma-buf's line in debugfs, found by the inode of its file. */
static void show_bufinfo(struct p2p *p, const char *step)
{
	char line[512], exp_name[64], name[128], want[128];
	unsigned long long size;
	unsigned long ino;
	unsigned int flags, mode;
	struct stat st;
	long count;
	bool found = false;
	FILE *f;
	char *c;

	if (fstat(p->dmabuf, &st))
		fail_errno(step, errno);
	f = fopen(BUFINFO, "re");
	if (!f) {
		/* Needs debugfs; its absence says nothing about the device. */
		printf("%s: no %s (%s), not shown\n", step, BUFINFO,
		       strerror(errno));
		return;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llu %x %x %ld %63s %lu %127s", &size, &flags,
			   &mode, &count, exp_name, &ino, name) != 7 ||
		    ino != (unsigned long)st.st_ino)
			continue;
		found = true;
		for (c = line; *c; c++)
			if (*c == '\t' || *c == '\n')
				*c = *c == '\t' ? ' ' : '\0';
	}
	fclose(f);
	if (!found)
		fail(step, "dma-buf inode %lu is not in %s",
		     (unsigned long)st.st_ino, BUFINFO);
	snprintf(want, sizeof(want), "%s:bar%d", p->a.uuid, REFMDEV_DEVMEM_BAR);
	if (strcmp(exp_name, "refmdev") || strcmp(name, want) || size != p->size)
		fail(step, "bufinfo says exporter %s, name %s, size %llu", exp_name,
		     name, size);
	printf("%s: bufinfo: %s\n", step, line);
}

/* Step 1: [BAR2 size / 4, + BAR2 size / 2) of A as a dma-buf. */
static void export_bar(struct p2p *p)
{
	const char *step = "export";
	size_t argsz = sizeof(struct vfio_device_feature) +
		       sizeof(struct vfio_device_feature_dma_buf) +
		       sizeof(struct vfio_region_dma_range);
	struct vfio_device_feature_dma_buf *get;
	struct vfio_device_feature *feat;
	off_t size;

	p->bar_off = p->a.bar2.size / 4;
	p->size = p->a.bar2.size / 2;
	feat = calloc(1, argsz);
	if (!feat)
		fail_errno(step, ENOMEM);
	feat->argsz = argsz;
	feat->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	get = (void *)feat->data;
	get->region_index = VFIO_PCI_BAR2_REGION_INDEX;
	get->open_flags = O_RDWR | O_CLOEXEC;
	get->nr_ranges = 1;
	get->dma_ranges[0].offset = p->bar_off;
	get->dma_ranges[0].length = p->size;
	/* The new dma-buf's fd is the ioctl's return value. */
	p->dmabuf = ioctl(p->a.vm.device, VFIO_DEVICE_FEATURE, feat);
	if (p->dmabuf < 0)
		fail(step, "VFIO_DEVICE_FEATURE(GET | DMA_BUF): %s",
		     strerror(errno));
	free(feat);

	size = lseek(p->dmabuf, 0, SEEK_END);
	if (size < 0)
		fail(step, "lseek: %s", strerror(errno));
	if ((__u64)size != p->size)
		fail(step, "dma-buf size %lld, expected %llu", (long long)size,
		     (unsigned long long)p->size);
	printf("%s: A's BAR2 [0x%llx, 0x%llx) is dma-buf fd %d, %llu KiB\n",
	       step, (unsigned long long)p->bar_off,
	       (unsigned long long)(p->bar_off + p->size), p->dmabuf,
	       (unsigned long long)p->size / KIB);
	show_bufinfo(p, step);

	/* What the CPU sees of it: the same memory, mapped shared. */
	p->map = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->dmabuf, 0);
	if (p->map == MAP_FAILED)
		fail(step, "mmap of the dma-buf: %s", strerror(errno));
	p->copy_len = p->size < TIMED_LEN ? (__u32)p->size : TIMED_LEN;
}

static void attach(struct p2p *p)
{
	const char *step = "attach";
	struct refmdev_p2p_window w;

	memset(&w, 0, sizeof(w));
	w.argsz = sizeof(w);
	w.index = 0;
	w.dmabuf_fd = p->dmabuf;
	w.iova = WIN_IOVA;
	if (ioctl(p->b.vm.device, REFMDEV_P2P_WINDOW_ATTACH, &w))
		fail(step, "REFMDEV_P2P_WINDOW_ATTACH: %s", strerror(errno));
	if (w.size != p->size)
		fail(step, "window size %llu, expected %llu",
		     (unsigned long long)w.size, (unsigned long long)p->size);
	printf("%s: the dma-buf is B's window 0 at IOVA [0x%llx, 0x%llx)\n",
	       step, WIN_IOVA, WIN_IOVA + p->size);
	expect_window(p, REFMDEV_P2P_WINDOW_UNMAPPED, 0, step);
}

/*
 * A's BAR2 at @bar_off must hold @want[0..len): through A's VFIO region,
 * and through the dma-buf's CPU mapping (at @woff) unless @woff < 0.
 */
static void expect_in_a(struct p2p *p, __u64 bar_off, long long woff,
			const __u8 *want, size_t len, const char *step)
{
	__u8 *got = malloc(len);

	if (!got)
		fail_errno(step, ENOMEM);
	region_read_or_fail(&p->a, &p->a.bar2, bar_off, got, len, step);
	show_bytes(step, "A's BAR2, VFIO region read:", got);
	check_bytes(got, want, len, "A's BAR2 region", step);
	if (woff >= 0) {
		show_bytes(step, "A's BAR2, dma-buf CPU mapping:",
			   p->map + woff);
		check_bytes(p->map + woff, want, len, "dma-buf mapping", step);
	}
	free(got);
}

/* Step 2: guest memory -> window -> guest memory, timed. */
static void copy_through_window(struct p2p *p)
{
	const char *step = "copy";
	__u32 len = p->copy_len;
	__u64 ns, cpu_ns;

	fill_pattern(p->src.va, len, 1);
	show_bytes(step, "B's guest memory, source:", p->src.va);
	expect_status(dma_run(p, SRC_IOVA, WIN_IOVA, len, &ns, step),
		      REFMDEV_DMA_ST_OK, step);
	/* The first use maps the whole window: that is in this time. */
	printf("%s: B copied %u KiB guest memory -> window: OK in %.2f ms, %.1f MiB/s ",
	       step, len / KIB, ns / 1e6, mib_per_s(len, ns));
	printf("(first use)\n");
	expect_in_a(p, p->bar_off, 0, p->src.va, len, step);
	expect_window(p, REFMDEV_P2P_WINDOW_MAPPED, 0, step);

	memset(p->dst.va, 0, len);
	expect_status(dma_run(p, WIN_IOVA, DST_IOVA, len, &ns, step),
		      REFMDEV_DMA_ST_OK, step);
	check_bytes(p->dst.va, p->src.va, len, "B's guest memory", step);
	printf("%s: B copied %u KiB window -> guest memory: OK in %.2f ms, %.1f MiB/s, ",
	       step, len / KIB, ns / 1e6, mib_per_s(len, ns));
	printf("all bytes checked\n");

	/* For scale: the CPU doing the same, into the same memory. */
	cpu_ns = now_ns();
	memcpy(p->map, p->src.va, len);
	cpu_ns = now_ns() - cpu_ns;
	printf("%s: for comparison, memcpy() of %u KiB into the dma-buf mapping: %.1f MiB/s\n",
	       step, len / KIB, mib_per_s(len, cpu_ns));
}

/* Step 3: decoding off revokes, decoding on restores the same memory. */
static void revoke_by_decode(struct p2p *p)
{
	const char *step = "revoke";
	struct dma_buf_sync sync = {
		.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW,
	};
	__u32 len = p->copy_len;
	struct refmdev_p2p_window w;
	__u8 byte;
	__u64 ns;
	int err, ret;

	ns = now_ns();
	cmd_update(&p->a, 0, PCI_COMMAND_MEMORY);
	ns = now_ns() - ns;
	printf("%s: A's PCI_COMMAND_MEMORY cleared; the config write returned in %.0f us\n",
	       step, ns / 1e3);
	/* Notified and unmapped already; refused when next used. */
	expect_window(p, REFMDEV_P2P_WINDOW_UNMAPPED, 1, step);

	fill_pattern(p->src.va, len, 2);
	expect_status(dma_run(p, SRC_IOVA, WIN_IOVA, len, NULL, step),
		      REFMDEV_DMA_ST_PEER_REVOKED, step);
	printf("%s: B's next descriptor into the window: REFMDEV_DMA_ST_PEER_REVOKED\n",
	       step);
	expect_window(p, REFMDEV_P2P_WINDOW_REVOKED, 1, step);

	if (!load_faults(p->map))
		fail(step, "a load through the dma-buf mapping did not fault");
	printf("%s: a load through the dma-buf's CPU mapping: SIGBUS (caught)\n",
	       step);
	err = region_read(&p->a, &p->a.bar2, p->bar_off, &byte, 1);
	if (err != EIO)
		fail(step, "read of A's BAR2 region: %s, expected EIO",
		     err ? strerror(err) : "succeeded");
	ret = ioctl(p->dmabuf, DMA_BUF_IOCTL_SYNC, &sync);
	if (ret != -1 || errno != ENODEV)
		fail(step, "DMA_BUF_IOCTL_SYNC: %s, expected ENODEV",
		     ret ? strerror(errno) : "succeeded");
	printf("%s: A's BAR2 region read: EIO; DMA_BUF_IOCTL_SYNC: ENODEV\n",
	       step);

	cmd_update(&p->a, PCI_COMMAND_MEMORY, 0);
	/*
	 * The restore is a notification too. The window's state is not
	 * checked here: it maps again only when a descriptor needs it.
	 */
	w = window_query(p, step);
	if (w.notifications != 2)
		fail(step, "window 0 has %u notifications, expected 2",
		     w.notifications);
	printf("%s: A's PCI_COMMAND_MEMORY set again; window 0 notified (%u so far)\n",
	       step, w.notifications);
	/* Round 1 is still there: the revoked descriptor wrote nothing. */
	fill_pattern(p->dst.va, len, 1);
	expect_in_a(p, p->bar_off, 0, p->dst.va, len, step);
	printf("%s: the same memory is back, and nothing of the revoked copy reached it\n",
	       step);

	expect_status(dma_run(p, SRC_IOVA, WIN_IOVA, len, &ns, step),
		      REFMDEV_DMA_ST_OK, step);
	printf("%s: B copied %u KiB guest memory -> window again: OK, %.1f MiB/s\n",
	       step, len / KIB, mib_per_s(len, ns));
	expect_in_a(p, p->bar_off, 0, p->src.va, len, step);
	expect_window(p, REFMDEV_P2P_WINDOW_MAPPED, 2, step);
}

/* Step 4: a reset of A gives it new, zeroed memory; the window follows. */
static void reset_exporter(struct p2p *p)
{
	const char *step = "reset";
	size_t bar = p->a.bar2.size;
	__u8 *want, *got;
	__u64 ns;

	ns = now_ns();
	if (ioctl(p->a.vm.device, VFIO_DEVICE_RESET))
		fail(step, "VFIO_DEVICE_RESET of A: %s", strerror(errno));
	ns = now_ns() - ns;
	printf("%s: VFIO_DEVICE_RESET of A returned in %.0f us (revoke, new memory, restore)\n",
	       step, ns / 1e3);
	expect_window(p, REFMDEV_P2P_WINDOW_UNMAPPED, 4, step);
	check_zero(p->map, p->size, "dma-buf mapping after the reset", step);
	printf("%s: the dma-buf's CPU mapping reads %llu KiB of zeros\n", step,
	       (unsigned long long)p->size / KIB);

	want = calloc(1, bar);
	got = malloc(bar);
	if (!want || !got)
		fail_errno(step, ENOMEM);
	fill_pattern(p->src.va, RESET_LEN, 3);
	expect_status(dma_run(p, SRC_IOVA, WIN_IOVA + RESET_WOFF, RESET_LEN,
			      NULL, step), REFMDEV_DMA_ST_OK, step);
	printf("%s: B copied %u KiB into window offset 0x%x: OK\n", step,
	       RESET_LEN / KIB, RESET_WOFF);
	expect_in_a(p, p->bar_off + RESET_WOFF, RESET_WOFF, p->src.va,
		    RESET_LEN, step);
	/* Everything else of A's new memory is still zero. */
	memcpy(want + p->bar_off + RESET_WOFF, p->src.va, RESET_LEN);
	region_read_or_fail(&p->a, &p->a.bar2, 0, got, bar, step);
	check_bytes(got, want, bar, "A's BAR2 after the reset", step);
	printf("%s: the copy is in A's new memory, the rest of its %zu KiB is zero\n",
	       step, bar / KIB);
	expect_window(p, REFMDEV_P2P_WINDOW_MAPPED, 4, step);
	free(want);
	free(got);
}

/*
 * Step 5: no dma-buf. A's BAR2 mmap is user memory like any other, so
 * the VMM can map it into B's container; B's engine then pins its pages
 * per descriptor through this process's page tables, as it does guest
 * memory (BAR2 is ordinary pages, so a pin is safe). What this path
 * lacks is the exporter's say: A cannot revoke B's access, and a
 * descriptor holding pins across A's reset writes A's old pages.
 */
static void type1_path(struct p2p *p)
{
	const char *step = "type1";
	size_t bar = p->a.bar2.size;
	__u32 len = bar < TIMED_LEN ? (__u32)bar : TIMED_LEN;
	struct vfio_iommu_type1_dma_map map;
	__u8 *mem;
	__u64 ns;

	mem = mmap(NULL, bar, PROT_READ | PROT_WRITE, MAP_SHARED,
		   p->a.vm.device, (off_t)p->a.bar2.offset);
	if (mem == MAP_FAILED)
		fail(step, "mmap of A's BAR2: %s", strerror(errno));
	memset(&map, 0, sizeof(map));
	map.argsz = sizeof(map);
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (__u64)(unsigned long)mem;
	map.iova = TYPE1_IOVA;
	map.size = bar;
	if (ioctl(p->b.vm.container, VFIO_IOMMU_MAP_DMA, &map))
		fail(step, "VFIO_IOMMU_MAP_DMA of A's BAR2 mmap: %s",
		     strerror(errno));
	printf("%s: A's BAR2 mmap mapped into B's container at IOVA 0x%llx\n",
	       step, TYPE1_IOVA);

	fill_pattern(p->src.va, len, 4);
	expect_status(dma_run(p, SRC_IOVA, TYPE1_IOVA, len, &ns, step),
		      REFMDEV_DMA_ST_OK, step);
	printf("%s: B copied %u KiB guest memory -> A's BAR2: OK in %.2f ms, %.1f MiB/s\n",
	       step, len / KIB, ns / 1e6, mib_per_s(len, ns));
	expect_in_a(p, 0, -1, p->src.va, len, step);
	show_bytes(step, "A's BAR2, device fd mmap:", mem);
	check_bytes(mem, p->src.va, len, "A's BAR2 mmap", step);

	iova_unmap(p->b.vm.container, TYPE1_IOVA, bar, step);
	if (munmap(mem, bar))
		fail_errno(step, errno);
}

static void teardown(struct p2p *p)
{
	const char *step = "teardown";
	struct refmdev_p2p_window w;
	int err;

	memset(&w, 0, sizeof(w));
	w.argsz = sizeof(w);
	w.index = 0;
	if (ioctl(p->b.vm.device, REFMDEV_P2P_WINDOW_DETACH, &w))
		fail(step, "REFMDEV_P2P_WINDOW_DETACH: %s", strerror(errno));
	if (munmap(p->map, p->size) || close(p->dmabuf))
		fail_errno(step, errno);

	reg_write32(&p->b, REFMDEV_REG_DMA_CONTROL, 0, step);
	cmd_update(&p->b, 0, PCI_COMMAND_MASTER);
	guest_buf_unmap(p->b.vm.container, &p->dst, step);
	guest_buf_unmap(p->b.vm.container, &p->src, step);
	dma_ring_unmap(p->b.vm.container, &p->ring, step);
	err = vfio_mdev_close(&p->b.vm);
	if (!err)
		err = vfio_mdev_close(&p->a.vm);
	if (err)
		fail(step, "close: %s", strerror(err));
	printf("%s: window detached, dma-buf closed, engine off, devices closed\n",
	       step);
}

int main(int argc, char **argv)
{
	static struct p2p p;

	if (argc != 3) {
		fprintf(stderr, "usage: refmdev-p2p UUID_A UUID_B\n");
		return EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	p.dmabuf = -1;
	open_device(&p.a, "A", argv[1]);
	open_device(&p.b, "B", argv[2]);
	setup_engine(&p);
	export_bar(&p);
	attach(&p);
	copy_through_window(&p);
	revoke_by_decode(&p);
	reset_exporter(&p);
	type1_path(&p);
	teardown(&p);
	return EXIT_SUCCESS;
}
