// SPDX-License-Identifier: GPL-2.0
/* A test's child memory cgroup; see cgroup_util.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_util.h"
#include "ktap.h"
#include "mdev_util.h"

#define CGROOT		"/sys/fs/cgroup"

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

const char *cgroup_make(void)
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
	return cgdir;
}

static void cgroup_path(char *path, size_t len, const char *file)
{
	snprintf(path, len, "%s/%s", cgdir, file);
}

void cgroup_join(void)
{
	cgroup_write("cgroup.procs", "0");
}

long cgroup_read_long(const char *file)
{
	char path[128];

	cgroup_path(path, sizeof(path), file);
	return sysfs_read_long(path);
}

void cgroup_write(const char *file, const char *val)
{
	char path[128];
	int ret;

	cgroup_path(path, sizeof(path), file);
	ret = sysfs_write(path, val);
	if (ret < 0)
		FAIL("write %s to %s: %s", val, path, strerror(-ret));
}
