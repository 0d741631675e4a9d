// SPDX-License-Identifier: GPL-2.0
/*
 * Pin cache helpers for the selftests; see pin_cache_util.h.
 */
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pin_cache_util.h"
#include "vfio_backend.h"

/* -1 until pin_cache_set(): then pin_cache_bound() reads the parameter. */
static long bound_set = -1;
static char old_value[32], old_type1[8];

static void param_restore(const char *path, const char *value)
{
	int ret = sysfs_write(path, value);

	if (ret)
		printf("# cleanup: %s back to %s: %s\n", path, value,
		       strerror(-ret));
}

static void pin_cache_restore(void *arg)
{
	(void)arg;
	param_restore(PIN_CACHE_PARAM, old_value);
	if (old_type1[0])
		param_restore(PIN_CACHE_TYPE1_PARAM, old_type1);
	bound_set = -1;
}

void pin_cache_set(unsigned long pages)
{
	char val[32];
	int ret;

	if (!path_exists(PIN_CACHE_PARAM)) {
		if (pages)
			SKIP("the driver has no pin cache (%s)", PIN_CACHE_PARAM);
		bound_set = 0;
		return;
	}
	if (bound_set < 0) {
		ret = sysfs_read(PIN_CACHE_PARAM, old_value, sizeof(old_value));
		if (ret)
			FAIL("read %s: %s", PIN_CACHE_PARAM, strerror(-ret));
		old_type1[0] = 0;
		if (path_exists(PIN_CACHE_TYPE1_PARAM) &&
		    sysfs_read(PIN_CACHE_TYPE1_PARAM, old_type1,
			       sizeof(old_type1)))
			FAIL("read %s", PIN_CACHE_TYPE1_PARAM);
		ktap_defer(pin_cache_restore, NULL);
	}
	snprintf(val, sizeof(val), "%lu", pages);
	ret = sysfs_write(PIN_CACHE_PARAM, val);
	if (ret)
		FAIL("write %s to %s: %s", val, PIN_CACHE_PARAM, strerror(-ret));
	/*
	 * type1 containers get the cache only by opting in (device.rst):
	 * the tests opt in whenever they want a cache, and never unmap from
	 * two threads at once in one container while it holds pins.
	 */
	if (old_type1[0]) {
		ret = sysfs_write(PIN_CACHE_TYPE1_PARAM, pages ? "Y" : "N");
		if (ret)
			FAIL("write %s: %s", PIN_CACHE_TYPE1_PARAM,
			     strerror(-ret));
	}
	bound_set = pages;
}

long pin_cache_bound(void)
{
	if (bound_set >= 0)
		return bound_set;
	if (!path_exists(PIN_CACHE_PARAM))
		return 0;
	return sysfs_read_long(PIN_CACHE_PARAM);
}

static long counter(const char *uuid, const char *name)
{
	char path[160];

	debugfs_ensure();
	snprintf(path, sizeof(path), DEBUGFS "/refmdev/%s/%s", uuid, name);
	if (!path_exists(path)) {
		/* A driver without a cache keeps nothing between descriptors. */
		if (!path_exists(PIN_CACHE_PARAM) && !strcmp(name, "pinned_pages"))
			return 0;
		FAIL("%s missing", path);
	}
	return sysfs_read_long(path);
}

long uuid_pinned_pages(const char *uuid)
{
	return counter(uuid, "pinned_pages");
}

long uuid_pin_calls(const char *uuid)
{
	return counter(uuid, "pin_calls");
}

static bool have_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		FAIL("capget: %s", strerror(errno));
	return data[0].effective & (1u << CAP_IPC_LOCK);
}

struct vm_charge vm_charge_plus(struct vm_charge base, long pages)
{
	long kib = pages * 4;

	if (!backend_is_iommufd()) {
		base.locked_kib += kib;
		return base;
	}
	base.pinned_kib += kib;
	if (!have_ipc_lock())
		base.locked_kib += kib;
	return base;
}
