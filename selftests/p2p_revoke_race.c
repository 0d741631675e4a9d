// SPDX-License-Identifier: GPL-2.0
/*
 * The last reference of a dma-buf goes while a revocation of the same
 * device is under way.
 *
 * A revocation walks every dma-buf the device exported. When the last
 * file reference of one of them is dropped meanwhile, the dma-buf core
 * lets go of the file's inode before it calls the exporter's .release,
 * which then waits for the revocation: a revocation that touched that
 * buffer's file or mapping after that point used freed memory (KASAN's
 * slab-use-after-free on the debug kernel). Each test here makes that
 * window as wide as it can be, on purpose, many times over: one buffer
 * is held mapped by an importer that ignores notifications, so the
 * revocation waits for it, and while it waits the last reference of
 * another buffer goes; then the stubborn importer lets go and the
 * revocation finishes. One test per revocation trigger (VFIO_DEVICE_RESET,
 * CONTROL.RESET, FLR, memory decoding off) and per way the last
 * reference goes (the user's close, the DETACH of a P2P window on another
 * device). The runner fails the run on any kernel report.
 *
 * REVOKE_RACE_ITERS sets the iterations per test (default 1000).
 */
#include <linux/pci_regs.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dma_util.h"
#include "dmabuf_util.h"
#include "importer_util.h"
#include "ktap.h"
#include "p2p_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define PAGE		4096ull
#define WINDOW_IOVA	0x40000000ull

enum trigger { VFIO_RESET, CONTROL_RESET, FLR, DECODE_OFF };
enum last_ref { USER_CLOSE, WINDOW_DETACH };

struct trigger_arg {
	struct vfio_dev *d;
	enum trigger trigger;
	int err;		/* 0 or errno of the triggering call */
};

static const char * const trigger_name[] = {
	[VFIO_RESET] = "VFIO_DEVICE_RESET", [CONTROL_RESET] = "CONTROL.RESET",
	[FLR] = "FLR", [DECODE_OFF] = "decode off",
};

/*
 * Raw calls only: this runs in a thread, where failing the test would
 * leave the main thread behind. The main thread checks @err.
 */
static void *trigger_thread(void *p)
{
	struct trigger_arg *a = p;
	struct vfio_dev *d = a->d;
	__u32 ctrl = REFMDEV_CTRL_RESET;
	__u16 cmd = PCI_COMMAND_MASTER;	/* memory decoding off */
	__u16 devctl = PCI_EXP_DEVCTL_BCR_FLR;
	off_t cfg = d->offset[VFIO_PCI_CONFIG_REGION_INDEX];
	const void *val;
	size_t len;
	off_t off;
	ssize_t n;

	switch (a->trigger) {
	case VFIO_RESET:
		a->err = ioctl(d->device, VFIO_DEVICE_RESET) ? errno : 0;
		return NULL;
	case CONTROL_RESET:
		val = &ctrl;
		len = sizeof(ctrl);
		off = d->offset[VFIO_PCI_BAR0_REGION_INDEX] + REFMDEV_REG_CONTROL;
		break;
	case FLR:
		val = &devctl;
		len = sizeof(devctl);
		off = cfg + REFMDEV_CFG_EXP_CAP + PCI_EXP_DEVCTL;
		break;
	case DECODE_OFF:
	default:
		val = &cmd;
		len = sizeof(cmd);
		off = cfg + PCI_COMMAND;
		break;
	}
	n = pwrite(d->device, val, len, off);
	a->err = n == (ssize_t)len ? 0 : (n < 0 ? errno : EIO);
	return NULL;
}

struct last_ref_arg {
	enum last_ref how;
	int fd;			/* USER_CLOSE: the dma-buf */
	struct vfio_dev *peer;	/* WINDOW_DETACH: the window's device */
	pid_t tid;
	int done;		/* set with __atomic */
	int err;
};

static void *last_ref_thread(void *p)
{
	struct last_ref_arg *a = p;

	a->tid = syscall(SYS_gettid);
	if (a->how == USER_CLOSE)
		a->err = close(a->fd) ? errno : 0;
	else
		a->err = -window_detach_raw(a->peer, 0);
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The state letter of thread @tid of this process, or 0. */
static char thread_state(pid_t tid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Until the last-reference thread has returned, or blocks in the kernel
 * (the dma-buf's .release waiting for the revocation, before the fix).
 */
static void wait_returned_or_blocked(struct last_ref_arg *a)
{
	long start = now_ms();

	while (!__atomic_load_n(&a->done, __ATOMIC_ACQUIRE)) {
		if (a->tid && thread_state(a->tid) == 'D')
			return;
		if (now_ms() - start > 10000)
			FAIL("the last reference's thread neither returned nor blocked in 10 s");
		usleep(200);
	}
}

static int iterations(void)
{
	const char *s = getenv("REVOKE_RACE_ITERS");

	return s && atoi(s) > 0 ? atoi(s) : 1000;
}

static void race(enum trigger trigger, enum last_ref how)
{
	struct vfio_dev *d = vfio_open(mdev_create(TYPE_1M));
	struct vfio_dev *peer = NULL;
	int imp = importer_open();
	int hold = dmabuf_export(d, 0, PAGE);
	int h = imp_attach_raw(imp, hold, REFMDEV_TI_ATTACH_DYNAMIC |
			       REFMDEV_TI_ATTACH_IGNORE_NOTIFY, NULL);
	int before, i, n = iterations();
	long start = now_ms();

	ASSERT_TRUE(h > 0);
	if (how == WINDOW_DETACH)
		peer = vfio_open(mdev_create(TYPE_1M));
	bufinfo_ensure();
	before = bufinfo_find(0, NULL, NULL);

	for (i = 0; i < n; i++) {
		struct vfio_region_dma_range r = { .offset = PAGE, .length = PAGE };
		struct trigger_arg t = { .d = d, .trigger = trigger };
		struct last_ref_arg l = { .how = how, .peer = peer };
		__u32 seen = imp_query(imp, h).notifications;
		pthread_t tt, lt;
		long waited;

		/* The stubborn importer maps again: the revocation waits for it. */
		ASSERT_EQ(imp_map(imp, h), 0);
		l.fd = dmabuf_export_raw(d, REFMDEV_DEVMEM_BAR, O_RDWR | O_CLOEXEC,
					 0, &r, 1, 0);
		if (l.fd < 0)
			FAIL("iteration %d: export: %s", i, strerror(-l.fd));
		if (how == WINDOW_DETACH) {
			/* The window's reference becomes the only one. */
			ASSERT_EQ(window_attach_raw(peer, 0, l.fd, WINDOW_IOVA, NULL), 0);
			ASSERT_OK(close(l.fd));
		}

		ASSERT_EQ(pthread_create(&tt, NULL, trigger_thread, &t), 0);
		/* Notified: the revocation now waits for the stubborn mapping. */
		while (imp_query(imp, h).notifications == seen) {
			if (now_ms() - start > 600000)
				FAIL("iteration %d: no notification", i);
			usleep(100);
		}
		ASSERT_EQ(pthread_create(&lt, NULL, last_ref_thread, &l), 0);
		wait_returned_or_blocked(&l);
		/* Time for the inode to be freed (after RCU) if it was going to. */
		usleep(2000);
		waited = now_ms();
		ASSERT_EQ(imp_unmap(imp, h), 0);
		ASSERT_EQ(pthread_join(tt, NULL), 0);
		ASSERT_EQ(pthread_join(lt, NULL), 0);
		if (t.err)
			FAIL("iteration %d: %s: %s", i, trigger_name[trigger],
			     strerror(t.err));
		if (l.err)
			FAIL("iteration %d: dropping the last reference: %s", i,
			     strerror(l.err));
		/* Bound: the revocation ended once the importer let go. */
		if (now_ms() - waited > 4000)
			FAIL("iteration %d: revocation went on %ld ms after the importer let go",
			     i, now_ms() - waited);
		if (trigger == FLR || trigger == DECODE_OFF)
			set_memory_decode(d, true);
	}
	ktap_info("%d iterations of %s with a %s in %ld ms", n,
		  trigger_name[trigger],
		  how == USER_CLOSE ? "close" : "window detach", now_ms() - start);

	/* Every dropped buffer is gone; the held one still works. */
	for (i = 0; bufinfo_find(0, NULL, NULL) != before; i++) {
		if (i > 100)
			FAIL("%d dma-bufs left over after the iterations",
			     bufinfo_find(0, NULL, NULL) - before);
		usleep(10000);
	}
	ASSERT_EQ(imp_map(imp, h), 0);
}

TEST(vfio_reset_races_last_close)
{
	race(VFIO_RESET, USER_CLOSE);
}

TEST(control_reset_races_last_close)
{
	race(CONTROL_RESET, USER_CLOSE);
}

TEST(flr_races_last_close)
{
	race(FLR, USER_CLOSE);
}

TEST(decode_off_races_last_close)
{
	race(DECODE_OFF, USER_CLOSE);
}

TEST(vfio_reset_races_window_detach)
{
	race(VFIO_RESET, WINDOW_DETACH);
}

TEST(control_reset_races_window_detach)
{
	race(CONTROL_RESET, WINDOW_DETACH);
}

TEST(flr_races_window_detach)
{
	race(FLR, WINDOW_DETACH);
}

TEST(decode_off_races_window_detach)
{
	race(DECODE_OFF, WINDOW_DETACH);
}
