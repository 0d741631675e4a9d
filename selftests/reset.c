// SPDX-License-Identifier: GPL-2.0
/*
 * Device resets: VFIO_DEVICE_RESET and the CONTROL register's reset bit
 * bring registers back to power-on values and replace device memory with
 * zeroed pages (user mappings see the new memory), while configuration
 * space survives; a new open always starts from a clean device. A reset
 * that cannot have fresh memory fails with ENOMEM and keeps the old, and
 * a reset racing the last close leaves nothing behind. Memory a reset
 * keeps reads zero whichever way it is reached first.
 */
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_util.h"
#include "dma_util.h"
#include "dmabuf_util.h"
#include "edu_util.h"
#include "importer_util.h"
#include "ktap.h"
#include "importer_util.h"
#include "mdev_util.h"
#include "p2p_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define MEM	REFMDEV_DEVMEM_BAR

static void dirty_device(struct vfio_dev *d)
{
	__u8 buf[4096];

	bar0_write(d, REFMDEV_REG_SCRATCH, 4, 0x12345678);
	bar0_write(d, REFMDEV_REG_SCRATCH64, 8, 0x1122334455667788ull);
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	bar0_write(d, REFMDEV_REG_INT_RAISE, 4, REFMDEV_INT_SOFT);
	fill_random(buf, sizeof(buf), 7);
	ASSERT_EQ(region_pwrite(d, MEM, buf, sizeof(buf), 0), sizeof(buf));
}

static void assert_power_on_registers(struct vfio_dev *d)
{
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_SCRATCH64, 8), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_MASK, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_INT_STATUS, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_CONTROL, 4), 0);
	ASSERT_EQ(bar0_read(d, REFMDEV_REG_STATUS, 4), REFMDEV_STATUS_READY);
}

static void assert_memory_zero(struct vfio_dev *d, size_t len)
{
	__u8 *buf = malloc(len);
	size_t i;

	ASSERT_TRUE(buf);
	ASSERT_EQ(region_pread(d, MEM, buf, len, 0), len);
	for (i = 0; i < len; i++)
		if (buf[i])
			FAIL("byte %zu is 0x%x after reset", i, buf[i]);
	free(buf);
}

TEST(vfio_reset_restores_power_on_state)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	cfg_write(d, PCI_BASE_ADDRESS_0, 4, 0xfebf0000);
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	dirty_device(d);
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	assert_power_on_registers(d);
	assert_memory_zero(d, 1 << 20);
	/* Config space is the user's and survives, as on vfio-pci. */
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2),
		  PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ASSERT_EQ(cfg_read(d, PCI_BASE_ADDRESS_0, 4), 0xfebf0000);
}

TEST(control_reset_bit)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));

	dirty_device(d);
	bar0_write(d, REFMDEV_REG_CONTROL, 4, REFMDEV_CTRL_RESET);
	assert_power_on_registers(d);
	assert_memory_zero(d, 1 << 20);
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
}

TEST(reset_deasserts_interrupts)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int efd = new_eventfd();

	ASSERT_OK(irq_set_eventfd(d, VFIO_PCI_MSI_IRQ_INDEX, efd));
	dirty_device(d);
	ASSERT_EQ(eventfd_wait(efd, 2000), 1);
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	ASSERT_EQ(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	/* The eventfd stays configured: the next edge still arrives. */
	bar0_write(d, REFMDEV_REG_INT_MASK, 4, REFMDEV_INT_SOFT);
	bar0_write(d, REFMDEV_REG_INT_RAISE, 4, REFMDEV_INT_SOFT);
	ASSERT_EQ(eventfd_wait(efd, 2000), 1);
}

TEST(reset_replaces_mapped_memory)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	const size_t size = 16 << 20;
	__u8 *map;
	size_t i;

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d->device,
		   d->offset[MEM]);
	ASSERT_TRUE(map != MAP_FAILED);
	for (i = 0; i < size; i += 4096)
		map[i] = 0xa5;
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
	/* The old PTEs are gone; the mapping now shows the new pages. */
	for (i = 0; i < size; i += 4096)
		if (map[i])
			FAIL("page %zu still shows old memory", i / 4096);
	map[4096] = 0x3c;
	ASSERT_OK(munmap(map, size));
	ASSERT_EQ(region_pread(d, MEM, &i, 1, 4096), 1);
	ASSERT_EQ(i & 0xff, 0x3c);
}

/* Is the page at @addr mapped by a PTE of this process right now? */
static bool pte_present(const void *addr)
{
	off_t at = (uintptr_t)addr / (uintptr_t)getpagesize() * sizeof(__u64);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	__u64 entry = 0;

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(pread(fd, &entry, sizeof(entry), at), sizeof(entry));
	close(fd);
	return entry >> 63;
}

/* Does the /proc/self/maps line of the mapping at @addr contain @what? */
static bool maps_line_has(const void *addr, const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	bool found = false, has = false;
	char line[512];

	ASSERT_TRUE(f);
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			found = true;
			has = strstr(line, what);
		}
	fclose(f);
	ASSERT_TRUE(found);
	return has;
}

static pid_t pid;	/* the forked child of the zap test, until reaped */

static void kill_child(void *arg)
{
	pid_t *p = arg;

	if (*p > 0) {
		kill(*p, SIGKILL);
		waitpid(*p, NULL, 0);
	}
}

/* Minor faults this thread has taken so far. */
static long minor_faults(void)
{
	struct rusage ru;

	ASSERT_OK(getrusage(RUSAGE_THREAD, &ru));
	return ru.ru_minflt;
}

/*
 * Did reading @p take a page fault? For edu's BAR0, which vfio-pci maps
 * with VM_PFNMAP, which /proc/self/pagemap reports as a hole.
 */
static bool edu_read_faults(const __u32 *p, __u32 *val)
{
	long before = minor_faults();

	*val = *(const __u32 *)p;
	return minor_faults() != before;
}

struct mapping {
	void *addr;
	size_t len;
	int device, group, container;
};

static void mapping_close(void *arg)
{
	struct mapping *m = arg;

	if (m->addr && m->addr != MAP_FAILED)
		munmap(m->addr, m->len);
	if (m->device >= 0)
		close(m->device);
	if (m->group >= 0)
		close(m->group);
	if (m->container >= 0)
		close(m->container);
}

/* @len bytes of @d's BAR2, unmapped when the test ends (before removal). */
static __u8 *map_bar2(struct vfio_dev *d, struct mapping *m, size_t len)
{
	*m = (struct mapping){ .len = len, .device = -1, .group = -1,
			       .container = -1 };
	ktap_defer(mapping_close, m);
	m->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       d->device, d->offset[MEM]);
	ASSERT_TRUE(m->addr != MAP_FAILED);
	return m->addr;
}

/* edu on vfio-pci, alone in a container, its BAR0's first page mapped. */
static __u32 *map_edu_bar0(struct mapping *m)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info), .index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	const char *bdf;
	int number = edu_to_vfio_pci(&bdf);

	*m = (struct mapping){ .len = 4096, .device = -1, .group = -1,
			       .container = -1 };
	ktap_defer(mapping_close, m);
	m->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(m->container >= 0);
	m->group = vfio_group_open(number);
	ASSERT_OK(ioctl(m->group, VFIO_GROUP_SET_CONTAINER, &m->container));
	ASSERT_OK(ioctl(m->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	m->device = ioctl(m->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	ASSERT_TRUE(m->device >= 0);
	ASSERT_OK(ioctl(m->device, VFIO_DEVICE_GET_REGION_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	m->addr = mmap(NULL, m->len, PROT_READ, MAP_SHARED, m->device,
		       info.offset);
	ASSERT_TRUE(m->addr != MAP_FAILED);
	return m->addr;
}

/*
 * A reset zaps the resetting device's BAR2 mappings and nobody else's:
 * not another refmdev's (another user's), not a vfio-pci device's. On a
 * kernel without the core's per-device inode a zap of the shared
 * anonymous inode would hit them all (mdev/devmem_file.c).
 */
TEST(reset_zaps_only_this_devices_mappings)
{
	struct vfio_dev *a = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *b = vfio_open(mdev_create(TYPE_1M));
	struct mapping edu_map, a_map, b_map;
	__u32 *edu = map_edu_bar0(&edu_map), id;
	__u8 *ma = map_bar2(a, &a_map, 8192);
	__u8 *mb = map_bar2(b, &b_map, 8192);
	int status, ready[2];
	char child_ok;

	ma[0] = 0xa1;
	mb[0] = 0xb1;
	edu_read_faults(edu, &id);
	ASSERT_EQ(id & 0xff, 0xed);		/* edu's ID register */
	ASSERT_TRUE(!edu_read_faults(edu, &id));
	ASSERT_TRUE(pte_present(ma) && pte_present(mb));
	/* Whatever file backs it, the mapping does not read as deleted. */
	ASSERT_TRUE(!maps_line_has(ma, "(deleted)"));

	/*
	 * A child's copy of A's mapping is A's too, and goes with it. The
	 * child maps its page in, says so, and waits (10 s at most) for the
	 * zap; the test kills it if it ends first.
	 */
	ASSERT_OK(pipe(ready));
	pid = ktap_fork();
	if (!pid) {
		long deadline = now_ms() + 10000;
		char ok = ma[0] == 0xa1 && pte_present(ma);

		if (write(ready[1], &ok, 1) != 1)
			_exit(2);
		while (ok && pte_present(ma) && now_ms() < deadline)
			usleep(1000);
		_exit(ok && ma[0] == 0 ? 0 : 1);
	}
	ktap_defer(kill_child, &pid);
	ASSERT_EQ(read(ready[0], &child_ok, 1), 1);
	ASSERT_TRUE(child_ok);
	ASSERT_OK(ioctl(a->device, VFIO_DEVICE_RESET));
	ASSERT_TRUE(!pte_present(ma));
	ASSERT_TRUE(pte_present(mb));
	ASSERT_TRUE(!edu_read_faults(edu, &id));
	ASSERT_EQ(mb[0], 0xb1);
	/* A's mapping refaults onto its new, zeroed memory. */
	ASSERT_EQ(ma[0], 0);
	ASSERT_TRUE(pte_present(ma));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	pid = 0;
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Decode off is the same zap. */
	ma[1] = 0xa2;
	cfg_write(b, PCI_COMMAND, 2, 0);
	ASSERT_TRUE(pte_present(ma));
	ASSERT_TRUE(!pte_present(mb));
	ASSERT_TRUE(!edu_read_faults(edu, &id));
	ASSERT_EQ(id & 0xff, 0xed);
}

TEST(reopen_starts_clean)
{
	const char *uuid = mdev_create(TYPE_1M);
	struct vfio_dev d;

	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	cfg_write(&d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	dirty_device(&d);
	vfio_close(&d);

	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	ASSERT_EQ(cfg_read(&d, PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	assert_power_on_registers(&d);
	assert_memory_zero(&d, 1 << 20);
	vfio_close(&d);
}

TEST(many_resets)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_16M));
	__u32 val;
	int i;

	for (i = 0; i < 50; i++) {
		val = 0x100 + i;
		ASSERT_EQ(region_pwrite(d, MEM, &val, 4, (16 << 20) - 4), 4);
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
		ASSERT_EQ(region_pread(d, MEM, &val, 4, (16 << 20) - 4), 4);
		ASSERT_EQ(val, 0);
	}
}

#define PAGE		4096
#define MiB		0x100000u
/* The BAR2 pages the checks read, from the top down. */
#define ENGINE_PAGE	(MiB - 1 * PAGE)
#define IMPORTER_PAGE	(MiB - 2 * PAGE)
#define DMABUF_CPU_PAGE	(MiB - 3 * PAGE)
#define MAPPED_PAGE	(MiB - 4 * PAGE)
#define REGION_PAGE	(MiB - 5 * PAGE)
#define SPLICED_PAGE	(MiB - 6 * PAGE)
#define OUT_IOVA	0x40000000ull

/* A reset stops the engine and clears its registers: program it again. */
static void ring_restart(struct dma_ring *r)
{
	r->tail = 0;
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_BASE, 8, RING_IOVA);
	bar0_write(r->dev, REFMDEV_REG_DMA_RING_SIZE, 4, r->size);
	bar0_write(r->dev, REFMDEV_REG_DMA_CONTROL, 4, REFMDEV_DMA_CTRL_ENABLE);
}

static void assert_page_zero(const __u8 *p, const char *via)
{
	size_t i;

	for (i = 0; i < PAGE; i++)
		if (p[i])
			FAIL("%s: byte %zu is 0x%02x after reset", via, i, p[i]);
}

/*
 * A reset keeps the pages only the device holds and zeroes them on first
 * use or in the background, the top of BAR2 last; so each way into BAR2
 * reads its own page near the top right after a reset, and must read
 * zero: the engine, the BAR2 mapping, read(), an importer through its DMA
 * mapping and a CPU mapping of a dma-buf (one page each, as mapping one
 * prepares all of it). A page that someone else held during the reset (a
 * pipe, through vmsplice()) is replaced instead: the device reads zero
 * there, and the holder still has the old data.
 */
TEST(reset_zeroes_memory_on_every_path_before_it_is_reached)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *r = dma_ring_setup(d, 8);
	struct guest_mem *out = guest_mem_map(d, OUT_IOVA, PAGE,
					      VFIO_DMA_MAP_FLAG_READ |
					      VFIO_DMA_MAP_FLAG_WRITE);
	int imp_buf = dmabuf_export(d, IMPORTER_PAGE, PAGE);
	int cpu_buf = dmabuf_export(d, DMABUF_CPU_PAGE, PAGE);
	int imp = importer_open();
	__u32 h = imp_attach(imp, imp_buf);
	struct mapping m;
	__u8 *bar2 = map_bar2(d, &m, MiB), *cpu, got[PAGE];
	int round, pipefd[2];

	cpu = mmap_defer(PAGE, PROT_READ, MAP_SHARED, cpu_buf, 0);
	ASSERT_OK(pipe(pipefd));
	for (round = 0; round < 3; round++) {
		__u8 old = 0xa5 + round;
		struct iovec iov = { .iov_base = bar2 + SPLICED_PAGE,
				     .iov_len = PAGE };

		memset(bar2, old, MiB);
		/* Each reset revokes the mapping; the checks map it again. */
		if (!round)
			ASSERT_OK(imp_map(imp, h));
		ASSERT_EQ(vmsplice(pipefd[1], &iov, 1, 0), PAGE);
		ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));

		memset(out->va, 0xff, PAGE);
		ring_restart(r);
		ASSERT_EQ(dma_run(r, ENGINE_PAGE, OUT_IOVA, PAGE,
				  REFMDEV_DMA_OP_COPY | REFMDEV_DMA_F_SRC_DEVMEM),
			  REFMDEV_DMA_ST_OK);
		assert_page_zero(out->va, "the engine");
		assert_page_zero(bar2 + MAPPED_PAGE, "the BAR2 mapping");
		ASSERT_EQ(region_pread(d, MEM, got, PAGE, REGION_PAGE), PAGE);
		assert_page_zero(got, "read()");
		ASSERT_OK(imp_map(imp, h));
		ASSERT_OK(imp_read(imp, h, 0, got, PAGE));
		assert_page_zero(got, "the importer");
		assert_page_zero(cpu, "the dma-buf's CPU mapping");
		assert_page_zero(bar2 + SPLICED_PAGE, "the spliced page");
		ASSERT_EQ(read(pipefd[0], got, PAGE), PAGE);
		ASSERT_EQ(got[0], old);
		ASSERT_EQ(got[PAGE - 1], old);
		assert_memory_zero(d, MiB);
	}
	close(pipefd[0]);
	close(pipefd[1]);
}

/* Bytes of BAR2 a test exports and checks: 16 pages. */
#define CHECK_LEN	(64u << 10)
/*
 * What the full cgroup has to spare for the reset: far less than the
 * 1 MiB a refmdev-1M's replacement pages need, even with the charges each
 * CPU keeps in stock (64 pages per CPU), which reclaim gives back.
 */
#define CG_SPARE	(64l << 10)
#define SCRATCH_VAL	0x5eed1234u

/*
 * In a child in the test's memory cgroup: a device with known memory and
 * registers, a dma-buf of it mapped by the test importer, and every page
 * of it held by a pipe (vmsplice() of the BAR2 mapping), so that a reset
 * must replace them all rather than keep them.
 */
static void reset_without_memory(const char *uuid)
{
	static __u8 data[CHECK_LEN], got[CHECK_LEN];
	struct refmdev_ti_query q;
	struct iovec iov = { .iov_len = 1 << 20 };
	struct vfio_dev d;
	int buf, imp, pipefd[2];
	char max[32];
	__u32 h;

	cgroup_join();
	ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
	bar0_write(&d, REFMDEV_REG_SCRATCH, 4, SCRATCH_VAL);
	fill_random(data, sizeof(data), 11);
	ASSERT_EQ(region_pwrite(&d, MEM, data, sizeof(data), 0), sizeof(data));
	buf = dmabuf_export(&d, 0, CHECK_LEN);
	imp = importer_open();
	h = imp_attach(imp, buf);
	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads(imp, h, data, sizeof(data));
	ASSERT_OK(pipe(pipefd));
	ASSERT_EQ(fcntl(pipefd[1], F_SETPIPE_SZ, iov.iov_len), iov.iov_len);
	iov.iov_base = mmap(NULL, iov.iov_len, PROT_READ | PROT_WRITE,
			    MAP_SHARED, d.device, d.offset[MEM]);
	ASSERT_TRUE(iov.iov_base != MAP_FAILED);
	ASSERT_EQ(vmsplice(pipefd[1], &iov, 1, 0), iov.iov_len);
	ASSERT_OK(munmap(iov.iov_base, iov.iov_len));

	snprintf(max, sizeof(max), "%ld",
		 cgroup_read_long("memory.current") + CG_SPARE);
	cgroup_write("memory.max", max);
	ASSERT_ERRNO(ioctl(d.device, VFIO_DEVICE_RESET), ENOMEM);
	cgroup_write("memory.max", "max");

	/* Revoked while the allocation ran, restored on the same memory. */
	q = imp_query(imp, h);
	if (q.notifications < 1 || q.mapped)
		FAIL("importer: %u notifications, mapped %u; expected a revocation",
		     q.notifications, q.mapped);
	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads(imp, h, data, sizeof(data));
	ASSERT_EQ(region_pread(&d, MEM, got, sizeof(got), 0), sizeof(got));
	ASSERT_EQ(memcmp(got, data, sizeof(data)), 0);
	ASSERT_EQ(bar0_read(&d, REFMDEV_REG_SCRATCH, 4), SCRATCH_VAL);

	/*
	 * With memory to be had, the next reset does its work: the device
	 * reads zero, the pipe still has the data.
	 */
	ASSERT_OK(ioctl(d.device, VFIO_DEVICE_RESET));
	ASSERT_EQ(imp_map(imp, h), 0);
	assert_reads_zeros(imp, h, CHECK_LEN);
	assert_power_on_registers(&d);
	ASSERT_EQ(read(pipefd[0], got, sizeof(got)), sizeof(got));
	ASSERT_EQ(memcmp(got, data, sizeof(data)), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	vfio_close(&d);
}

/*
 * A reset replaces the pages someone else holds, charged to the
 * resetter's memory cgroup. When that cgroup is full the reset fails
 * with ENOMEM (no OOM kill), and has changed nothing: the memory keeps its
 * data, the registers their values, and the dma-buf, revoked meanwhile,
 * is usable again with the same data.
 */
TEST(reset_without_memory_changes_nothing)
{
	const char *uuid = mdev_create(TYPE_1M);
	int status;
	pid_t pid;

	cgroup_make();
	pid = ktap_fork();
	if (!pid) {
		reset_without_memory(uuid);
		ktap_finish(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		FAIL("the child died of signal %d (the OOM killer?)",
		     WTERMSIG(status));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
}

struct reset_loop {
	int fd;
	int err;
	unsigned int done;
};

static void *reset_loop(void *arg)
{
	struct reset_loop *r = arg;

	while (!ioctl(r->fd, VFIO_DEVICE_RESET))
		r->done++;
	r->err = errno;
	return NULL;
}

/*
 * Resets in a loop while another thread closes the last device fd, at a
 * different moment each round: the close (which revokes the dma-buf for
 * good and waits for the memory resets replaced to be freed) completes
 * after the reset in flight, and the loop ends with EBADF. The debug
 * kernel's KASAN and lockdep watch the work items.
 */
TEST(reset_racing_last_close)
{
	const char *uuid = mdev_create(TYPE_1M);
	unsigned int round, resets = 0;

	for (round = 0; round < 16; round++) {
		struct reset_loop r = { .err = 0 };
		struct vfio_dev d;
		pthread_t t;
		int buf, imp;
		__u32 h;

		ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
		buf = dmabuf_export(&d, 0, CHECK_LEN);
		imp = importer_open();
		h = imp_attach(imp, buf);
		ASSERT_EQ(imp_map(imp, h), 0);
		r.fd = d.device;
		ASSERT_EQ(pthread_create(&t, NULL, reset_loop, &r), 0);
		usleep(round * 250);
		ASSERT_OK(close(d.device));
		d.device = -1;
		ASSERT_EQ(pthread_join(t, NULL), 0);
		ASSERT_EQ(r.err, EBADF);
		resets += r.done;
		assert_revoked(imp, h, 1);
		vfio_close(&d);
	}
	ktap_info("%u resets in 16 rounds before the close", resets);

	/* The device is whole: the next user starts clean. */
	{
		struct vfio_dev d;

		ASSERT_EQ(vfio_open_raw(uuid, &d), 0);
		assert_power_on_registers(&d);
		assert_memory_zero(&d, 1 << 20);
		vfio_close(&d);
	}
}
