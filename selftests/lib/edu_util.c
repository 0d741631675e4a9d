// SPDX-License-Identifier: GPL-2.0
/*
 * Binding QEMU's edu device to vfio-pci; see edu_util.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "edu_util.h"
#include "ktap.h"
#include "mdev_util.h"

/* The device edu_to_vfio_pci() bound, for edu_release() to give back. */
static char edu_bdf[256];

static void edu_release(void *arg)
{
	char path[PATH_MAX];

	(void)arg;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind",
		 edu_bdf);
	sysfs_write(path, edu_bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 edu_bdf);
	sysfs_write(path, "\n");
}

static bool is_edu(const char *bdf)
{
	char path[PATH_MAX], val[32];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", bdf);
	if (sysfs_read(path, val, sizeof(val)) || strcmp(val, "0x1234"))
		return false;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", bdf);
	return !sysfs_read(path, val, sizeof(val)) && !strcmp(val, "0x11e8");
}

int edu_to_vfio_pci(const char **bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	ssize_t n;

	dir = opendir("/sys/bus/pci/devices");
	if (!dir)
		SKIP("no PCI devices in this VM");
	edu_bdf[0] = '\0';
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.' && is_edu(de->d_name))
			snprintf(edu_bdf, sizeof(edu_bdf), "%s", de->d_name);
	closedir(dir);
	if (!edu_bdf[0])
		SKIP("QEMU's edu device (1234:11e8) is not in this VM");
	if (!path_exists("/sys/bus/pci/drivers/vfio-pci"))
		SKIP("vfio-pci is not loaded");

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 edu_bdf);
	ASSERT_EQ(sysfs_write(path, "vfio-pci"), 0);
	ktap_defer(edu_release, NULL);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", edu_bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		/* Bound to something else: take it away first. */
		link[n] = '\0';
		if (!strstr(link, "/vfio-pci")) {
			snprintf(link, sizeof(link),
				 "/sys/bus/pci/devices/%s/driver/unbind", edu_bdf);
			ASSERT_EQ(sysfs_write(link, edu_bdf), 0);
		}
	}
	if (!path_exists(path))
		ASSERT_EQ(sysfs_write("/sys/bus/pci/drivers_probe", edu_bdf), 0);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_TRUE(n > 0);
	link[n] = '\0';
	ASSERT_TRUE(strstr(link, "/vfio-pci"));

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 edu_bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		SKIP("edu has no IOMMU group");
	link[n] = '\0';
	if (bdf)
		*bdf = edu_bdf;
	return atoi(strrchr(link, '/') + 1);
}

int vfio_group_open(int number)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/vfio/%d", number);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		FAIL("open %s: %s", path, strerror(errno));
	ASSERT_OK(ioctl(fd, VFIO_GROUP_GET_STATUS, &st));
	ASSERT_TRUE(st.flags & VFIO_GROUP_FLAGS_VIABLE);
	return fd;
}
