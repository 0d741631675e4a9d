// SPDX-License-Identifier: GPL-2.0
/*
 * refmdev-dma: a userspace driver for the refmdev DMA engine.
 *
 * This is reference code for driving a DMA-capable mdev through VFIO.
 * The program plays both parts a virtual machine splits in two. As the
 * VMM it provides "guest memory": anonymous memory made visible to the
 * device with VFIO_IOMMU_MAP_DMA at IOVAs of its choosing. As the guest
 * driver it programs the engine: a descriptor ring in that memory, bus
 * mastering, and an MSI delivered on an eventfd. Then it runs:
 *
 *   1. a 16 MiB copy between guest buffers, one descriptor, timed from
 *      the doorbell to the completion interrupt, every byte checked;
 *   2. a fill of 1 MiB with a 64-bit pattern;
 *   3. a 1 MiB copy into the device's own memory (BAR2), read back
 *      through the BAR2 region;
 *   4. a copy whose destination runs past the end of its mapping, which
 *      must fail with REFMDEV_DMA_ST_UNMAPPED having written nothing;
 *
 * and takes everything down again in the reverse order.
 *
 * Register access, guest memory and the descriptor ring are shared with
 * refmdev-p2p: samples/lib/device_io.c, guest_mem.c and dma_ring.c.
 *
 * What a driver must get right, and where this code does it:
 *   - descriptors are little-endian, and are complete in memory before
 *     the doorbell (TAIL) moves: dma_ring_post(), dma_ring_doorbell()
 *     (samples/lib/dma_ring.c);
 *   - the device writes a descriptor's status after its data, so the
 *     status is read first and the data only after it: dma_wait();
 *   - MSI is an edge: every interrupt is acknowledged in INT_STATUS, or
 *     the next completion raises none: dma_wait();
 *   - the device may use guest memory only while bus mastering is on,
 *     and the memory must stay mapped until the device is stopped.
 *
 * Usage: refmdev-dma UUID
 *
 * UUID names an existing mdev, /sys/bus/mdev/devices/UUID (see
 * refmdev-info.c). Any failure prints "refmdev-dma: <step>: <reason>"
 * and exits with 1.
 */

/* Region offsets lie above 4 GiB; keep off_t 64-bit on 32-bit hosts too. */
#define _FILE_OFFSET_BITS 64

#include <endian.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/refmdev.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "device_io.h"
#include "dma_ring.h"
#include "fail.h"
#include "fill_pattern.h"
#include "guest_mem.h"

#define MIB			0x100000u
#define COPY_LEN		(16 * MIB)
#define FILL_LEN		(1 * MIB)
#define DEVMEM_LEN		(1 * MIB)
#define FILL_PATTERN		0x0123456789abcdefull
#define OVERRUN			4096	/* how far step 4 runs past the end */

/*
 * The IOVA layout of our "guest": any addresses will do as long as the
 * mappings do not overlap. Nothing is mapped above the destination, so
 * step 4 finds the end of its mapping there.
 */
#define RING_IOVA		0x00100000ull
#define SRC_IOVA		0x10000000ull
#define DST_IOVA		0x20000000ull

/*
 * Each descriptor is waited for before the next is posted, so a small
 * ring is plenty; it must be a power of two.
 */
#define RING_ENTRIES		16

/* The device runs under QEMU's TCG in the demo: be generous. */
#define DMA_TIMEOUT_MS		60000

/* What a buffer holds before the device writes it: not the data. */
#define GUARD			0xa5

struct dma_dev {
	struct sample_dev dev;
	int efd;			/* the MSI's eventfd */
	struct dma_ring ring;
	struct guest_buf src;
	struct guest_buf dst;
};

/*
 * Point MSI vector 0 at @efd, or with @efd < 0 turn MSI off again. The
 * eventfd goes in the data[] that follows the header, so the argument is
 * allocated with room for it.
 */
static void set_msi(const struct dma_dev *dd, int efd, const char *step)
{
	size_t argsz = sizeof(struct vfio_irq_set) + sizeof(__s32);
	struct vfio_irq_set *set;
	__s32 fd = efd;
	int ret, err;

	set = calloc(1, argsz);
	if (!set)
		fail_errno(step, ENOMEM);
	set->argsz = argsz;
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	if (efd >= 0) {
		set->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
			     VFIO_IRQ_SET_DATA_EVENTFD;
		set->count = 1;
		memcpy(set->data, &fd, sizeof(fd));
	} else {
		/* DATA_NONE with count 0 tears the whole index down. */
		set->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
			     VFIO_IRQ_SET_DATA_NONE;
		set->count = 0;
	}
	ret = ioctl(dd->dev.vm.device, VFIO_DEVICE_SET_IRQS, set);
	err = errno;
	free(set);
	if (ret)
		fail(step, "VFIO_DEVICE_SET_IRQS: %s", strerror(err));
}

/*
 * Open the device, check that it is a refmdev with a DMA engine, and
 * reset it so that nothing an earlier user left behind (a ring base, an
 * enabled engine, pending interrupts) gets in the way.
 */
static void open_device(struct dma_dev *dd, const char *uuid)
{
	struct sample_dev *d = &dd->dev;
	struct vfio_device_info info;
	__u32 id, version, features;
	int err;

	d->uuid = uuid;
	err = vfio_mdev_open(&d->vm, uuid);
	if (err)
		fail("open", "%s: %s", d->vm.failed, strerror(err));

	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	if (ioctl(d->vm.device, VFIO_DEVICE_GET_INFO, &info))
		fail("open", "VFIO_DEVICE_GET_INFO: %s", strerror(errno));
	/* The region and IRQ indexes used below are vfio-pci's. */
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI))
		fail("open", "not a PCI device");

	get_region(d, VFIO_PCI_CONFIG_REGION_INDEX, &d->config, "open");
	get_region(d, VFIO_PCI_BAR0_REGION_INDEX, &d->bar0, "open");
	get_region(d, VFIO_PCI_BAR2_REGION_INDEX, &d->bar2, "open");

	if (cfg_read16(d, PCI_VENDOR_ID) != REFMDEV_PCI_VENDOR_ID ||
	    cfg_read16(d, PCI_DEVICE_ID) != REFMDEV_PCI_DEVICE_ID)
		fail("open", "not a refmdev (PCI ID)");
	id = reg_read32(d, REFMDEV_REG_ID, "open");
	if (id != REFMDEV_ID_MAGIC)
		fail("open", "REFMDEV_REG_ID is 0x%08x", id);
	features = reg_read32(d, REFMDEV_REG_FEATURES, "open");
	if (!(features & REFMDEV_FEATURE_DMA))
		fail("open", "no DMA engine in REFMDEV_REG_FEATURES");
	version = reg_read32(d, REFMDEV_REG_VERSION, "open");

	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
		fail("open", "VFIO_DEVICE_RESET not supported");
	if (ioctl(d->vm.device, VFIO_DEVICE_RESET))
		fail("open", "VFIO_DEVICE_RESET: %s", strerror(errno));

	printf("open: %s, IOMMU group %lu, ", uuid, d->vm.group_id);
	printf("refmdev %u.%u with a DMA engine, %llu KiB device memory\n",
	       version >> 16, version & 0xffff,
	       (unsigned long long)d->bar2.size / 1024);
}

/*
 * Guest memory, interrupt and ring. The order matters where the device
 * could act on a half-done setup: memory is mapped before the device is
 * told where it is, the interrupt is wired up before the engine can
 * raise one, and bus mastering is on before the engine is enabled.
 */
static void setup_engine(struct dma_dev *dd)
{
	const char *step = "setup";
	const struct sample_dev *d = &dd->dev;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0)
		fail_errno(step, errno);
	dma_ring_map(d->vm.container, &dd->ring, RING_IOVA, (size_t)page,
		     RING_ENTRIES, step);
	guest_buf_map(d->vm.container, &dd->src, SRC_IOVA, COPY_LEN, step);
	guest_buf_map(d->vm.container, &dd->dst, DST_IOVA, COPY_LEN, step);

	/*
	 * Errors are enabled along with completions: a driver that sleeps
	 * until an interrupt would otherwise see a failed descriptor, or a
	 * halted engine, only as a timeout.
	 */
	dd->efd = eventfd(0, EFD_CLOEXEC);
	if (dd->efd < 0)
		fail_errno(step, errno);
	set_msi(dd, dd->efd, step);
	reg_write32(d, REFMDEV_REG_INT_MASK,
		    REFMDEV_INT_DMA_DONE | REFMDEV_INT_DMA_ERROR, step);

	/* Keep the other command bits as they are; read-modify-write. */
	cmd_update(d, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);

	/* The ring registers take writes only while the engine is off. */
	dma_ring_start(d, &dd->ring, step);

	printf("%s: ring of %u descriptors at IOVA 0x%llx, ", step,
	       RING_ENTRIES, RING_IOVA);
	printf("%u MiB source at 0x%llx, %u MiB destination at 0x%llx, ",
	       COPY_LEN / MIB, SRC_IOVA, COPY_LEN / MIB, DST_IOVA);
	printf("MSI on an eventfd\n");
}

static double seconds_between(const struct timespec *a,
			      const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/*
 * Wait for the interrupt of an F_IRQ descriptor, acknowledge it, and
 * return the descriptor's status. @when, if given, gets the time the
 * interrupt arrived; @sources gets the interrupt sources that were set.
 */
static __u32 dma_wait(struct dma_dev *dd, struct refmdev_dma_desc *desc,
		      struct timespec *when, __u32 *sources, const char *step)
{
	struct timespec start, now;
	struct pollfd pfd;
	__u32 ints, engine, status;
	__u64 count;
	ssize_t len;
	int left, ret;

	clock_gettime(CLOCK_MONOTONIC, &start);
	pfd.fd = dd->efd;
	pfd.events = POLLIN;
	for (;;) {
		/* A signal may cut the poll short: wait out the rest. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = DMA_TIMEOUT_MS -
		       (int)(seconds_between(&start, &now) * 1000);
		if (left < 0)
			left = 0;
		pfd.revents = 0;
		ret = poll(&pfd, 1, left);
		if (ret > 0)
			break;
		if (ret < 0 && errno != EINTR)
			fail(step, "poll: %s", strerror(errno));
		if (!ret)
			fail(step, "no interrupt in %d s (HEAD %u, TAIL %u, DMA_STATUS 0x%x)",
			     DMA_TIMEOUT_MS / 1000,
			     reg_read32(&dd->dev, REFMDEV_REG_DMA_HEAD, step),
			     dd->ring.tail,
			     reg_read32(&dd->dev, REFMDEV_REG_DMA_STATUS, step));
	}
	if (when)
		clock_gettime(CLOCK_MONOTONIC, when);

	/* The read returns the count of signals and resets it to 0. */
	len = read(dd->efd, &count, sizeof(count));
	if (len < 0)
		fail(step, "read eventfd: %s", strerror(errno));
	if ((size_t)len != sizeof(count))
		fail(step, "read eventfd: short read");

	/*
	 * MSI is sent when the set of pending sources goes from empty to
	 * non-empty. Clearing what is set (INT_STATUS is write-1-to-clear)
	 * makes the set empty again, so that the next completion is an edge.
	 */
	ints = reg_read32(&dd->dev, REFMDEV_REG_INT_STATUS, step);
	reg_write32(&dd->dev, REFMDEV_REG_INT_STATUS, ints, step);
	if (sources)
		*sources = ints;

	/* A ring-level problem halts the engine and consumes nothing. */
	engine = reg_read32(&dd->dev, REFMDEV_REG_DMA_STATUS, step);
	if (engine & REFMDEV_DMA_STATUS_HALTED)
		fail(step, "engine halted, reason %u",
		     REFMDEV_DMA_STATUS_REASON(engine));

	/*
	 * The device writes the status after the data, and interrupts after
	 * the status. The acquire load keeps the data reads that follow from
	 * being done before it.
	 */
	status = le32toh(__atomic_load_n(&desc->status, __ATOMIC_ACQUIRE));
	if (!status)
		fail(step, "interrupt (sources 0x%x) before the descriptor was done",
		     ints);
	return status;
}

/* Fails the step at the first byte where @got and @want differ. */
static void check_bytes(const __u8 *got, const __u8 *want, size_t len,
			const char *step)
{
	size_t i;

	if (!memcmp(got, want, len))
		return;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	fail(step, "byte %zu is 0x%02x, expected 0x%02x", i, got[i], want[i]);
}

static void check_untouched(const __u8 *buf, size_t len, const char *step)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != GUARD)
			fail(step, "byte %zu was written (0x%02x)", i, buf[i]);
}

static void expect_ok(__u32 status, __u32 sources, const char *step)
{
	if (status != REFMDEV_DMA_ST_OK)
		fail(step, "descriptor status %s (0x%x)",
		     dma_status_name(status), status);
	if (!(sources & REFMDEV_INT_DMA_DONE))
		fail(step, "interrupt sources 0x%x, no REFMDEV_INT_DMA_DONE",
		     sources);
}

/* Step 1: one descriptor, 16 MiB, guest memory to guest memory. */
static void copy_guest(struct dma_dev *dd)
{
	const char *step = "copy 16 MiB guest->guest";
	struct refmdev_dma_desc *desc;
	struct timespec start, end;
	__u32 status, sources;
	double secs;

	fill_random(dd->src.va, COPY_LEN, 0x9e3779b97f4a7c15ull);
	memset(dd->dst.va, GUARD, COPY_LEN);

	desc = dma_ring_post(&dd->ring, SRC_IOVA, DST_IOVA, COPY_LEN,
			     REFMDEV_DMA_OP_COPY | REFMDEV_DMA_F_IRQ);
	clock_gettime(CLOCK_MONOTONIC, &start);
	dma_ring_doorbell(&dd->dev, &dd->ring, step);
	status = dma_wait(dd, desc, &end, &sources, step);
	expect_ok(status, sources, step);
	check_bytes(dd->dst.va, dd->src.va, COPY_LEN, step);

	secs = seconds_between(&start, &end);
	printf("%s: OK, %u bytes checked, %.2f s, %.1f MiB/s\n", step,
	       COPY_LEN, secs, secs > 0 ? COPY_LEN / (double)MIB / secs : 0);
}

/*
 * Step 2: OP_FILL takes its pattern in @src; destination byte k is byte
 * k % 8 of the little-endian pattern.
 */
static void fill_guest(struct dma_dev *dd)
{
	const char *step = "fill 1 MiB with 0x0123456789abcdef";
	struct refmdev_dma_desc *desc;
	__u8 *dst = dd->dst.va;
	__u32 status, sources;
	size_t k;

	/* One guard byte past the end shows a fill that went too far. */
	memset(dst, GUARD, FILL_LEN + 1);
	desc = dma_ring_post(&dd->ring, FILL_PATTERN, DST_IOVA, FILL_LEN,
			     REFMDEV_DMA_OP_FILL | REFMDEV_DMA_F_IRQ);
	dma_ring_doorbell(&dd->dev, &dd->ring, step);
	status = dma_wait(dd, desc, NULL, &sources, step);
	expect_ok(status, sources, step);

	for (k = 0; k < FILL_LEN; k++)
		if (dst[k] != (__u8)(FILL_PATTERN >> (8 * (k % 8))))
			fail(step, "byte %zu is 0x%02x", k, dst[k]);
	check_untouched(dst + FILL_LEN, 1, step);
	printf("%s: OK, %u bytes checked\n", step, FILL_LEN);
}

/*
 * Step 3: into the device's own memory. F_DST_DEVMEM makes @dst an
 * offset in BAR2, and the BAR2 region reads the same memory back.
 */
static void copy_to_devmem(struct dma_dev *dd)
{
	const char *step = "copy 1 MiB guest->device memory";
	struct refmdev_dma_desc *desc;
	__u32 status, sources;
	__u8 *readback;

	if (dd->dev.bar2.size < DEVMEM_LEN)
		fail(step, "BAR2 holds only %llu bytes",
		     (unsigned long long)dd->dev.bar2.size);
	readback = malloc(DEVMEM_LEN);
	if (!readback)
		fail_errno(step, ENOMEM);

	/* The source still holds step 1's pattern; BAR2 is zero after reset. */
	desc = dma_ring_post(&dd->ring, SRC_IOVA, 0, DEVMEM_LEN,
			     REFMDEV_DMA_OP_COPY | REFMDEV_DMA_F_DST_DEVMEM |
			     REFMDEV_DMA_F_IRQ);
	dma_ring_doorbell(&dd->dev, &dd->ring, step);
	status = dma_wait(dd, desc, NULL, &sources, step);
	expect_ok(status, sources, step);

	region_read_or_fail(&dd->dev, &dd->dev.bar2, 0, readback, DEVMEM_LEN,
			    step);
	check_bytes(readback, dd->src.va, DEVMEM_LEN, step);
	free(readback);
	printf("%s: OK, %u bytes read back through BAR2 and checked\n", step,
	       DEVMEM_LEN);
}

/*
 * Step 4: a descriptor that must fail. Its destination starts inside the
 * destination mapping and runs OVERRUN bytes past its end. The device
 * checks the whole range before moving a byte, so not even the part that
 * is mapped may be written.
 */
static void copy_past_mapping(struct dma_dev *dd)
{
	const char *step = "copy past the end of the destination mapping";
	const size_t inside = OVERRUN;
	__u8 *tail = (__u8 *)dd->dst.va + COPY_LEN - inside;
	struct refmdev_dma_desc *desc;
	__u32 status, sources;

	memset(tail, GUARD, inside);
	desc = dma_ring_post(&dd->ring, SRC_IOVA, DST_IOVA + COPY_LEN - inside,
			     inside + OVERRUN,
			     REFMDEV_DMA_OP_COPY | REFMDEV_DMA_F_IRQ);
	dma_ring_doorbell(&dd->dev, &dd->ring, step);
	status = dma_wait(dd, desc, NULL, &sources, step);

	if (status != REFMDEV_DMA_ST_UNMAPPED)
		fail(step, "descriptor status %s (0x%x), expected REFMDEV_DMA_ST_UNMAPPED",
		     dma_status_name(status), status);
	if (!(sources & REFMDEV_INT_DMA_ERROR))
		fail(step, "interrupt sources 0x%x, no REFMDEV_INT_DMA_ERROR",
		     sources);
	check_untouched(tail, inside, step);
	printf("%s: status %s (0x%x) as expected, ", step,
	       dma_status_name(status), status);
	printf("REFMDEV_INT_DMA_ERROR raised, destination not written\n");
}

/*
 * Stop the device before taking its memory away: engine off, no more
 * interrupts, bus mastering off. Only then unmap, and close last.
 */
static void teardown_engine(struct dma_dev *dd)
{
	const char *step = "teardown";
	struct sample_dev *d = &dd->dev;
	int err;

	reg_write32(d, REFMDEV_REG_DMA_CONTROL, 0, step);
	reg_write32(d, REFMDEV_REG_INT_MASK, 0, step);
	set_msi(dd, -1, step);
	cmd_update(d, 0, PCI_COMMAND_MASTER);

	guest_buf_unmap(d->vm.container, &dd->dst, step);
	guest_buf_unmap(d->vm.container, &dd->src, step);
	dma_ring_unmap(d->vm.container, &dd->ring, step);

	if (close(dd->efd))
		fail_errno(step, errno);
	err = vfio_mdev_close(&d->vm);
	if (err)
		fail(step, "%s: %s", d->vm.failed, strerror(err));
	printf("%s: engine, MSI and bus mastering off, 3 mappings unmapped, device closed\n",
	       step);
}

int main(int argc, char **argv)
{
	struct dma_dev dd;

	if (argc != 2) {
		fprintf(stderr, "usage: refmdev-dma UUID\n");
		return EXIT_FAILURE;
	}

	memset(&dd, 0, sizeof(dd));
	dd.efd = -1;
	open_device(&dd, argv[1]);
	setup_engine(&dd);
	copy_guest(&dd);
	fill_guest(&dd);
	copy_to_devmem(&dd);
	copy_past_mapping(&dd);
	teardown_engine(&dd);
	return EXIT_SUCCESS;
}
