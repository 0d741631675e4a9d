// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory is charged to the memory cgroup of the process that
 * makes the device allocate it: opening a device replaces its memory
 * (every user starts from fresh pages), so the opener's cgroup pays for
 * BAR2, and gets it back when the pages are freed. Skipped on kernels
 * without the memory controller (the debug kernel).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "mdev_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define CGROOT		"/sys/fs/cgroup"
#define SZ_16M		(16l << 20)

static char cgdir[64];

static void cgroup_remove(void *arg)
{
	(void)arg;
	if (rmdir(cgdir))
		printf("# rmdir %s: %s\n", cgdir, strerror(errno));
}

static void cgroup_unmount(void *arg)
{
	(void)arg;
	umount(CGROOT);
}

/* A child cgroup with the memory controller; skips without one. */
static void cgroup_make(void)
{
	char ctl[128];

	if (!path_exists(CGROOT "/cgroup.controllers")) {
		mkdir(CGROOT, 0755);
		if (mount("none", CGROOT, "cgroup2", 0, NULL))
			ktap_skip("cgroup2: %s", strerror(errno));
		ktap_defer(cgroup_unmount, NULL);
	}
	if (sysfs_read(CGROOT "/cgroup.controllers", ctl, sizeof(ctl)) < 0 ||
	    !strstr(ctl, "memory"))
		ktap_skip("no memory controller");
	ASSERT_OK(sysfs_write(CGROOT "/cgroup.subtree_control", "+memory"));
	snprintf(cgdir, sizeof(cgdir), CGROOT "/refmdev-memcg-%d", getpid());
	ASSERT_OK(mkdir(cgdir, 0755));
	ktap_defer(cgroup_remove, NULL);
}

static long memory_current(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/memory.current", cgdir);
	return sysfs_read_long(path);
}

TEST(opener_pays_for_device_memory)
{
	const char *uuid = mdev_create(TYPE_16M);
	long charged, after;
	char procs[128];
	int status;
	pid_t pid;

	cgroup_make();
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgdir);
	pid = ktap_fork();
	if (!pid) {
		struct vfio_dev d;

		ASSERT_OK(sysfs_write(procs, "0"));
		if (vfio_open_raw(uuid, &d))
			FAIL("open %s", uuid);
		vfio_close(&d);
		ktap_finish(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));

	/* The child is gone; its open's 16 MiB stays until the pages go. */
	charged = memory_current();
	ktap_info("memory.current after the child's open: %ld KiB",
		  charged >> 10);
	if (charged < SZ_16M)
		FAIL("%ld bytes charged to the opener's cgroup, BAR2 is %ld",
		     charged, SZ_16M);
	ASSERT_OK(mdev_remove(uuid));
	after = memory_current();
	ktap_info("after removal: %ld KiB", after >> 10);
	if (charged - after < SZ_16M)
		FAIL("removal gave back %ld bytes of %ld", charged - after,
		     SZ_16M);
}
