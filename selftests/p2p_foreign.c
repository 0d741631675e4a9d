// SPDX-License-Identifier: GPL-2.0
/*
 * P2P windows onto dma-bufs refmdev did not export. The engine reaches a
 * window through the dma-buf's CPU-access interface (dma_buf_vmap() and
 * begin/end_cpu_access), so any exporter with .vmap works: udmabuf (memfd
 * pages) and the system dma-heap, each checked byte for byte in both
 * directions against the exporter's own view of the memory. An exporter
 * without .vmap is refused at ATTACH with EOPNOTSUPP, holding nothing.
 */
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_util.h"
#include "dmabuf_util.h"
#include "importer_util.h"
#include "ktap.h"
#include "p2p_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define BUF_SIZE	(256u << 10)
#define SRC_IOVA	0x10000000ull
#define DST_IOVA	0x20000000ull
#define WIN_IOVA	0x80000000ull
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define COPY		REFMDEV_DMA_OP_COPY
#define FILL		REFMDEV_DMA_OP_FILL

/* A udmabuf over a sealed memfd; *@cpu maps the memfd for checking. */
static int udmabuf_new(__u8 **cpu)
{
	struct udmabuf_create create = { .flags = UDMABUF_FLAGS_CLOEXEC };
	int dev, memfd, fd;

	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		SKIP("no /dev/udmabuf: %s", strerror(errno));
	ktap_defer(close_fd, (void *)(long)dev);
	memfd = memfd_create("window", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	ASSERT_OK(memfd);
	ktap_defer(close_fd, (void *)(long)memfd);
	ASSERT_OK(ftruncate(memfd, BUF_SIZE));
	ASSERT_OK(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK));
	*cpu = mmap_defer(BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	create.memfd = memfd;
	create.size = BUF_SIZE;
	fd = ioctl(dev, UDMABUF_CREATE, &create);
	ASSERT_OK(fd);
	ktap_defer(close_fd, (void *)(long)fd);
	return fd;
}

/* A system dma-heap buffer; *@cpu maps the dma-buf itself. */
static int heap_new(__u8 **cpu)
{
	struct dma_heap_allocation_data alloc = {
		.len = BUF_SIZE, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

	if (heap < 0)
		SKIP("no /dev/dma_heap/system: %s", strerror(errno));
	ktap_defer(close_fd, (void *)(long)heap);
	ASSERT_OK(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc));
	ktap_defer(close_fd, (void *)(long)alloc.fd);
	*cpu = mmap_defer(BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			  alloc.fd, 0);
	return alloc.fd;
}

/*
 * Copies guest -> window -> guest, and a fill of the window, with every
 * byte checked through @cpu, the exporter's view; QUERY says MAPPED once
 * the engine has used the window.
 */
static void window_round_trip(int fd, __u8 *cpu)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct dma_ring *ring = dma_ring_setup(d, 16);
	struct guest_mem *src = guest_mem_map(d, SRC_IOVA, BUF_SIZE, RW);
	struct guest_mem *dst = guest_mem_map(d, DST_IOVA, BUF_SIZE, RW);
	struct refmdev_p2p_window w;
	__u8 *want = malloc(BUF_SIZE);
	__u64 size = 0;
	__u32 i;

	ASSERT_TRUE(want);
	ASSERT_EQ(window_attach_raw(d, 0, fd, WIN_IOVA, &size), 0);
	ASSERT_EQ(size, BUF_SIZE);
	ASSERT_EQ(window_query_raw(d, 0, &w), 0);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_UNMAPPED);

	/* Guest to window, at an odd offset and length. */
	memset(cpu, 0x5a, BUF_SIZE);
	fill_random(src->va, BUF_SIZE, 11);
	ASSERT_EQ(dma_run(ring, SRC_IOVA, WIN_IOVA + 4097, BUF_SIZE - 8195, COPY),
		  REFMDEV_DMA_ST_OK);
	memset(want, 0x5a, BUF_SIZE);
	memcpy(want + 4097, src->va, BUF_SIZE - 8195);
	assert_same(cpu, want, BUF_SIZE, "window after a copy into it");
	ASSERT_EQ(window_query_raw(d, 0, &w), 0);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_MAPPED);

	/* Window to guest: what the exporter's side wrote. */
	fill_random(cpu, BUF_SIZE, 12);
	memset(dst->va, 0, BUF_SIZE);
	ASSERT_EQ(dma_run(ring, WIN_IOVA, DST_IOVA, BUF_SIZE, COPY),
		  REFMDEV_DMA_ST_OK);
	assert_same(dst->va, cpu, BUF_SIZE, "guest after a copy from the window");

	/* A fill lands at its phase. */
	ASSERT_EQ(dma_run(ring, 0x0102030405060708ull, WIN_IOVA + 3, 13, FILL),
		  REFMDEV_DMA_ST_OK);
	for (i = 0; i < 13; i++)
		ASSERT_EQ(cpu[3 + i], (__u8)(0x08 - i % 8));

	ASSERT_EQ(window_detach_raw(d, 0), 0);
	free(want);
}

TEST(udmabuf_window_copies_both_ways)
{
	__u8 *cpu;
	int fd = udmabuf_new(&cpu);

	window_round_trip(fd, cpu);
}

TEST(dma_heap_window_copies_both_ways)
{
	__u8 *cpu;
	int fd = heap_new(&cpu);

	window_round_trip(fd, cpu);
}

/* The window holds a reference on a foreign dma-buf until DETACH. */
TEST(foreign_window_holds_the_dmabuf_until_detach)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct bufinfo_entry e;
	unsigned long ino;
	__u8 *cpu;
	int fd = udmabuf_new(&cpu);

	bufinfo_ensure();
	bufinfo_of_fd(fd, &e);
	ino = e.ino;
	ASSERT_EQ(e.count, 1);
	ASSERT_EQ(window_attach_raw(d, 1, fd, WIN_IOVA, NULL), 0);
	bufinfo_of_fd(fd, &e);
	ASSERT_EQ(e.count, 2);
	/* A static exporter: nothing to be told, so no attachment. */
	ASSERT_EQ(e.attached, 0);
	ASSERT_EQ(window_detach_raw(d, 1), 0);
	bufinfo_of_fd(fd, &e);
	ASSERT_EQ(e.ino, ino);
	ASSERT_EQ(e.count, 1);
}

TEST(exporter_without_vmap_is_refused)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct refmdev_ti_export exp = { .size = BUF_SIZE };
	struct refmdev_p2p_window w;
	struct bufinfo_entry e;
	int imp = importer_open();
	int fd = ioctl(imp, REFMDEV_TI_EXPORT_PLAIN, &exp);

	ASSERT_OK(fd);
	ktap_defer(close_fd, (void *)(long)fd);
	ASSERT_EQ(window_attach_raw(d, 0, fd, WIN_IOVA, NULL), -EOPNOTSUPP);
	ASSERT_EQ(window_query_raw(d, 0, &w), 0);
	ASSERT_EQ(w.state, REFMDEV_P2P_WINDOW_EMPTY);
	bufinfo_ensure();
	bufinfo_of_fd(fd, &e);
	ASSERT_EQ(e.count, 1);
	ASSERT_EQ(e.attached, 0);
}

/* The plain exporter's own errnos, since tests rely on it. */
TEST(plain_exporter_rejects_bad_sizes)
{
	struct refmdev_ti_export exp = { .size = 100 };
	int imp = importer_open();

	ASSERT_ERRNO(ioctl(imp, REFMDEV_TI_EXPORT_PLAIN, &exp), EINVAL);
	exp.size = 0;
	ASSERT_ERRNO(ioctl(imp, REFMDEV_TI_EXPORT_PLAIN, &exp), EINVAL);
	exp.size = REFMDEV_TI_EXPORT_MAX + 4096ull;
	ASSERT_ERRNO(ioctl(imp, REFMDEV_TI_EXPORT_PLAIN, &exp), EINVAL);
	exp.size = 4096;
	exp.flags = 1;
	ASSERT_ERRNO(ioctl(imp, REFMDEV_TI_EXPORT_PLAIN, &exp), EINVAL);
}
