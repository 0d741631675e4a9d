// SPDX-License-Identifier: GPL-2.0
/*
 * P2P selftest helpers; see p2p_util.h.
 */
#include <linux/pci_regs.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ktap.h"
#include "p2p_util.h"

int dmabuf_export_raw(struct vfio_dev *d, __u32 region, __u32 open_flags,
		      __u32 flags, const struct vfio_region_dma_range *ranges,
		      __u32 n, int argsz_delta)
{
	size_t size = sizeof(struct vfio_device_feature) +
		      sizeof(struct vfio_device_feature_dma_buf) +
		      (size_t)n * sizeof(*ranges);
	struct vfio_device_feature_dma_buf *get;
	struct vfio_device_feature *feat;
	int ret;

	feat = calloc(1, size + 64);
	if (!feat)
		return -ENOMEM;
	feat->argsz = size + argsz_delta;
	feat->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	get = (void *)feat->data;
	get->region_index = region;
	get->open_flags = open_flags;
	get->flags = flags;
	get->nr_ranges = n;
	if (n)
		memcpy(get->dma_ranges, ranges, n * sizeof(*ranges));
	ret = ioctl(d->device, VFIO_DEVICE_FEATURE, feat);
	if (ret < 0)
		ret = -errno;
	free(feat);
	return ret;
}

void close_fd(void *arg)
{
	close((int)(long)arg);
}

int dmabuf_export(struct vfio_dev *d, __u64 offset, __u64 length)
{
	struct vfio_region_dma_range r = { .offset = offset, .length = length };
	int fd;

	fd = dmabuf_export_raw(d, REFMDEV_DEVMEM_BAR, O_RDWR | O_CLOEXEC, 0,
			       &r, 1, 0);
	if (fd < 0)
		FAIL("export of BAR2 [0x%llx, +0x%llx): %s",
		     (unsigned long long)offset, (unsigned long long)length,
		     strerror(-fd));
	ktap_defer(close_fd, (void *)(long)fd);
	return fd;
}

int export_ranges(struct vfio_dev *d, __u32 open_flags,
		  const struct vfio_region_dma_range *r, __u32 n)
{
	int fd = dmabuf_export_raw(d, REFMDEV_DEVMEM_BAR, open_flags, 0, r, n,
				   0);

	if (fd < 0)
		FAIL("export of %u ranges: %s", n, strerror(-fd));
	ktap_defer(close_fd, (void *)(long)fd);
	return fd;
}

void bar2_read(struct vfio_dev *d, void *buf, size_t len, __u64 off)
{
	ssize_t n = region_pread(d, REFMDEV_DEVMEM_BAR, buf, len, off);

	if (n != (ssize_t)len)
		FAIL("read of BAR2 [0x%llx, +0x%zx): %s", (unsigned long long)off,
		     len, n < 0 ? strerror(errno) : "short");
}

void bar2_write(struct vfio_dev *d, const void *buf, size_t len, __u64 off)
{
	ssize_t n = region_pwrite(d, REFMDEV_DEVMEM_BAR, buf, len, off);

	if (n != (ssize_t)len)
		FAIL("write of BAR2 [0x%llx, +0x%zx): %s", (unsigned long long)off,
		     len, n < 0 ? strerror(errno) : "short");
}

void assert_same(const __u8 *got, const __u8 *want, size_t len,
		 const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (got[i] != want[i])
			FAIL("%s: byte 0x%zx is 0x%02x, expected 0x%02x", what,
			     i, got[i], want[i]);
}

static int window_ioctl(struct vfio_dev *d, unsigned long cmd,
			struct refmdev_p2p_window *w)
{
	return ioctl(d->device, cmd, w) < 0 ? -errno : 0;
}

int window_attach_raw(struct vfio_dev *d, __u32 index, int dmabuf_fd,
		      __u64 iova, __u64 *size)
{
	struct refmdev_p2p_window w = {
		.argsz = sizeof(w), .index = index, .dmabuf_fd = dmabuf_fd,
		.iova = iova,
	};
	int ret = window_ioctl(d, REFMDEV_P2P_WINDOW_ATTACH, &w);

	if (!ret && size)
		*size = w.size;
	return ret;
}

int window_detach_raw(struct vfio_dev *d, __u32 index)
{
	struct refmdev_p2p_window w = { .argsz = sizeof(w), .index = index };

	return window_ioctl(d, REFMDEV_P2P_WINDOW_DETACH, &w);
}

int window_query_raw(struct vfio_dev *d, __u32 index,
		     struct refmdev_p2p_window *w)
{
	memset(w, 0, sizeof(*w));
	w->argsz = sizeof(*w);
	w->index = index;
	return window_ioctl(d, REFMDEV_P2P_WINDOW_QUERY, w);
}

static sigjmp_buf fault_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(fault_jmp, sig);
}

/*
 * The access is an atomic (so never elided or merged) one-byte load or
 * store; a SIGBUS jumps back out of it. @faulted is static because a
 * local changed between sigsetjmp() and siglongjmp() is undefined after.
 */
static bool access_faults(void *p, bool write, __u8 val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	static bool faulted;

	faulted = false;
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(fault_jmp, 1))
		faulted = true;
	else if (write)
		__atomic_store_n((__u8 *)p, val, __ATOMIC_RELAXED);
	else
		(void)__atomic_load_n((__u8 *)p, __ATOMIC_RELAXED);
	sigaction(SIGBUS, &old, NULL);
	return faulted;
}

bool read_faults(const void *p)
{
	return access_faults((void *)p, false, 0);
}

bool write_faults(void *p, __u8 val)
{
	return access_faults(p, true, val);
}

void set_memory_decode(struct vfio_dev *d, bool on)
{
	__u32 cmd = cfg_read(d, PCI_COMMAND, 2);

	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	cfg_write(d, PCI_COMMAND, 2, cmd);
}

void function_level_reset(struct vfio_dev *d)
{
	unsigned int devctl = REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCTL;

	cfg_write(d, devctl, 2, cfg_read(d, devctl, 2) | PCI_EXP_DEVCTL_BCR_FLR);
}
