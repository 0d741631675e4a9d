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
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup_util.h"
#include "ktap.h"
#include "mdev_util.h"

/* Every test runs on type1 and, where the kernel has it, iommufd. */
KTAP_BACKENDS(KTAP_BOTH);

#define SZ_16M		(16l << 20)

TEST(opener_pays_for_device_memory)
{
	const char *uuid = mdev_create(TYPE_16M);
	long charged, after;
	int status;
	pid_t pid;

	cgroup_make();
	pid = ktap_fork();
	if (!pid) {
		struct vfio_dev d;

		cgroup_join();
		if (vfio_open_raw(uuid, &d))
			FAIL("open %s", uuid);
		vfio_close(&d);
		ktap_finish(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));

	/* The child is gone; its open's 16 MiB stays until the pages go. */
	charged = cgroup_read_long("memory.current");
	ktap_info("memory.current after the child's open: %ld KiB",
		  charged >> 10);
	if (charged < SZ_16M)
		FAIL("%ld bytes charged to the opener's cgroup, BAR2 is %ld",
		     charged, SZ_16M);
	ASSERT_OK(mdev_remove(uuid));
	after = cgroup_read_long("memory.current");
	ktap_info("after removal: %ld KiB", after >> 10);
	if (charged - after < SZ_16M)
		FAIL("removal gave back %ld bytes of %ld", charged - after,
		     SZ_16M);
}
