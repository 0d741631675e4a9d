// SPDX-License-Identifier: GPL-2.0
/*
 * Our dma-bufs offered to an importer that does not meet the exporter's
 * terms. vgem imports through a plain dma_buf_attach(): no move_notify,
 * so it could not give the memory back on revocation, and the exporter
 * must refuse it with EOPNOTSUPP and keep nothing of the attempt. vgem's
 * own buffers, and where the kernel has dma-heaps a foreign buffer,
 * import fine, which shows that the refusal is the exporter's.
 *
 * vgem is reached through libdrm (Debian's libdrm-dev, linked statically
 * like every selftest).
 */
#include <dirent.h>
#include <drm.h>		/* libdrm's, through pkg-config's -I */
#include <fcntl.h>
#include <limits.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/pci_regs.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dmabuf_util.h"
#include "ktap.h"
#include "mdev_util.h"
#include "p2p_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

/*
 * libdrm's functions under kernel-style names. Its API is CamelCase, which
 * checkpatch --strict reports at every use, so each is declared here with
 * libdrm's prototype (xf86drm.h; the ABI of libdrm.so.2) and bound to
 * libdrm's symbol by an asm label. struct libdrm_version is its
 * drmVersion.
 */
struct libdrm_version {
	int version_major;
	int version_minor;
	int version_patchlevel;
	int name_len;
	char *name;
	int date_len;
	char *date;
	int desc_len;
	char *desc;
};

struct libdrm_version *libdrm_get_version(int fd) __asm__("drmGetVersion");
void libdrm_free_version(struct libdrm_version *v) __asm__("drmFreeVersion");
int libdrm_ioctl(int fd, unsigned long request, void *arg) __asm__("drmIoctl");
int libdrm_prime_handle_to_fd(int fd, uint32_t handle, uint32_t flags,
			      int *prime_fd) __asm__("drmPrimeHandleToFD");
int libdrm_prime_fd_to_handle(int fd, int prime_fd, uint32_t *handle)
	__asm__("drmPrimeFDToHandle");
int libdrm_close_buffer_handle(int fd, uint32_t handle)
	__asm__("drmCloseBufferHandle");

#define MEM		REFMDEV_DEVMEM_BAR
#define P		4096ull
#define DRI		"/dev/dri"
#define HEAP		"/dev/dma_heap/system"

/* The first /dev/dri node named @prefix* whose driver is vgem, or -1. */
static int find_vgem_node(const char *prefix)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct libdrm_version *v;
	int fd = -1;
	DIR *dir;

	dir = opendir(DRI);
	if (!dir)
		return -1;
	while (fd < 0 && (de = readdir(dir))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), DRI "/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = libdrm_get_version(fd);
		if (!v || strcmp(v->name, "vgem")) {
			close(fd);
			fd = -1;
		}
		libdrm_free_version(v);
	}
	closedir(dir);
	return fd;
}

static bool file_has(const char *path, const char *needle)
{
	char line[PATH_MAX];
	bool found = false;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle);
	fclose(f);
	return found;
}

/*
 * Whether this kernel has vgem at all: loaded, or a module the system
 * could load (the test VM's initramfs keeps its modules flat in
 * /lib/modules; a normal system has the release's tree), or built in.
 */
static bool vgem_in_kernel(void)
{
	char path[PATH_MAX];
	struct utsname u;

	if (path_exists("/sys/module/vgem") ||
	    path_exists("/lib/modules/vgem.ko"))
		return true;
	if (uname(&u))
		FAIL("uname: %s", strerror(errno));
	snprintf(path, sizeof(path),
		 "/lib/modules/%s/kernel/drivers/gpu/drm/vgem", u.release);
	if (path_exists(path))
		return true;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin",
		 u.release);
	return file_has(path, "/vgem.ko");
}

/*
 * A new open file of vgem's render node (@render) or primary node,
 * closed when the test ends. Skips only where the kernel has no vgem; a
 * vgem that exists but did not come up fails.
 */
static int open_vgem(bool render)
{
	const char *prefix = render ? "renderD" : "card";
	int fd = find_vgem_node(prefix);

	if (fd < 0) {
		if (!vgem_in_kernel())
			SKIP("no vgem in this kernel");
		FAIL("vgem is in this kernel, but no %s/%s* is vgem's",
		     DRI, prefix);
	}
	ktap_defer(close_fd, (void *)(long)fd);
	return fd;
}

TEST(vgem_nodes)
{
	int render = open_vgem(true), card = open_vgem(false);
	struct libdrm_version *v;

	v = libdrm_get_version(render);
	ASSERT_TRUE(v);
	ASSERT_EQ(strcmp(v->name, "vgem"), 0);
	libdrm_free_version(v);
	v = libdrm_get_version(card);
	ASSERT_TRUE(v);
	ASSERT_EQ(strcmp(v->name, "vgem"), 0);
	libdrm_free_version(v);
}

/*
 * vgem works at all: a dumb buffer (created on the primary node, where
 * that ioctl is allowed) exports, imports into the render node and back
 * into its own file, and its data reads the same through every path.
 */
TEST(vgem_own_buffer_roundtrip)
{
	int card = open_vgem(false), render = open_vgem(true), fd, ret;
	struct drm_mode_create_dumb create = {
		.width = 1024, .height = 4, .bpp = 32,
	};
	struct drm_mode_map_dumb map_req = { 0 };
	__u32 handle = 0, again = 0;
	__u8 *want, *map, *back;

	ASSERT_OK(libdrm_ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, &create));
	ASSERT_TRUE(create.handle);
	ASSERT_TRUE(create.size >= 4 * P);
	ret = libdrm_prime_handle_to_fd(card, create.handle,
					DRM_CLOEXEC | DRM_RDWR, &fd);
	ASSERT_EQ(ret, 0);
	ktap_defer(close_fd, (void *)(long)fd);
	ASSERT_EQ(lseek(fd, 0, SEEK_END), create.size);

	want = malloc(create.size);
	ASSERT_TRUE(want);
	fill_random(want, create.size, 11);
	map = mmap_defer(create.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(map, want, create.size);

	ASSERT_EQ(libdrm_prime_fd_to_handle(render, fd, &handle), 0);
	ASSERT_TRUE(handle);
	/* Into its own file: the same object, so the same handle. */
	ASSERT_EQ(libdrm_prime_fd_to_handle(card, fd, &again), 0);
	ASSERT_EQ(again, create.handle);

	map_req.handle = create.handle;
	ASSERT_OK(libdrm_ioctl(card, DRM_IOCTL_MODE_MAP_DUMB, &map_req));
	back = mmap_defer(create.size, PROT_READ, MAP_SHARED, card,
			  map_req.offset);
	assert_same(back, want, create.size, "vgem buffer read back");
	ASSERT_EQ(libdrm_close_buffer_handle(render, handle), 0);
	free(want);
}

/*
 * An importer with an ordinary attachment: vgem attaches to a dma-heap
 * buffer and holds the attachment while its handle lives.
 */
TEST(vgem_imports_foreign_dmabuf)
{
	struct dma_heap_allocation_data alloc = {
		.len = 4 * P, .fd_flags = O_RDWR | O_CLOEXEC,
	};
	struct bufinfo_entry e;
	__u32 handle = 0;
	int render, heap;

	render = open_vgem(true);
	if (!path_exists(HEAP))
		SKIP("no %s in this kernel to import from", HEAP);
	heap = open(HEAP, O_RDONLY | O_CLOEXEC);
	ASSERT_OK(heap);
	ktap_defer(close_fd, (void *)(long)heap);
	ASSERT_OK(ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc));
	ktap_defer(close_fd, (void *)(long)alloc.fd);

	bufinfo_of_fd(alloc.fd, &e);
	ASSERT_EQ(e.attached, 0);
	ASSERT_EQ(libdrm_prime_fd_to_handle(render, alloc.fd, &handle), 0);
	ASSERT_TRUE(handle);
	bufinfo_of_fd(alloc.fd, &e);
	ASSERT_EQ(e.attached, 1);
	if (strcmp(e.devices, "vgem"))
		FAIL("attached: '%s', expected 'vgem'", e.devices);
	ASSERT_EQ(libdrm_close_buffer_handle(render, handle), 0);
	bufinfo_of_fd(alloc.fd, &e);
	ASSERT_EQ(e.attached, 0);
}

/* One import attempt of @fd into @drm: refused, with nothing returned. */
static void assert_import_refused(int drm, int fd)
{
	__u32 handle = 0xdeadbeef;
	int ret;

	errno = 0;
	ret = libdrm_prime_fd_to_handle(drm, fd, &handle);
	/* libdrm returns ioctl()'s -1 and leaves the reason in errno. */
	if (ret != -1 || errno != EOPNOTSUPP)
		FAIL("import: returned %d, errno %s; expected -1, EOPNOTSUPP",
		     ret, errno ? strerrorname_np(errno) : "0");
	ASSERT_EQ(handle, 0xdeadbeef);
}

TEST(import_refused_nothing_left)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	int render = open_vgem(true), card = open_vgem(false);
	const size_t len = 16 * P;
	struct bufinfo_entry before, after;
	int fd, fds, i;
	__u8 *want, *map, *map2;
	__u32 v;

	want = malloc(len);
	ASSERT_TRUE(want);
	fill_random(want, len, 12);
	ASSERT_EQ(region_pwrite(d, MEM, want, len, 0), len);
	fd = dmabuf_export(d, 0, len);
	map = mmap_defer(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_same(map, want, len, "dma-buf before the import");
	bufinfo_of_fd(fd, &before);
	ASSERT_EQ(before.attached, 0);
	fds = fd_count();

	/*
	 * Twice on each node: a failed import must not leave the dma-buf in
	 * the file's prime cache, where a second try would find a handle.
	 */
	for (i = 0; i < 2; i++) {
		assert_import_refused(render, fd);
		assert_import_refused(card, fd);
	}

	/* No GEM handle: a new file's first handle would be 1. */
	ASSERT_ERRNO(libdrm_close_buffer_handle(render, 1), EINVAL);
	ASSERT_ERRNO(libdrm_close_buffer_handle(card, 1), EINVAL);
	/* No attachment, no reference kept, no descriptor. */
	bufinfo_of_fd(fd, &after);
	ASSERT_EQ(after.attached, 0);
	ASSERT_EQ(after.count, before.count);
	ASSERT_EQ(fd_count(), fds);

	/* The dma-buf works as before, through old and new mappings. */
	assert_same(map, want, len, "dma-buf after the import");
	map[3 * P + 9] = 0x99;
	ASSERT_EQ(region_pread(d, MEM, &v, 1, 3 * P + 9), 1);
	ASSERT_EQ(v & 0xff, 0x99);
	want[3 * P + 9] = 0x99;
	map2 = mmap_defer(len, PROT_READ, MAP_SHARED, fd, 0);
	assert_same(map2, want, len, "new mapping after the import");
	ASSERT_OK(ioctl(fd, DMA_BUF_IOCTL_SYNC, &(struct dma_buf_sync){
		.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW }));
	ASSERT_OK(ioctl(fd, DMA_BUF_IOCTL_SYNC, &(struct dma_buf_sync){
		.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW }));
	/* And revocation still reaches its mappings. */
	cfg_write(d, PCI_COMMAND, 2, 0);
	ASSERT_TRUE(read_faults(map));
	cfg_write(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ASSERT_TRUE(!read_faults(map));
	assert_same(map, want, len, "dma-buf after decode off and on");
	free(want);
}
