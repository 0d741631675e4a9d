/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine's pin cache as a test sees it: the module parameter that
 * bounds it (pin_cache_pages, read when a device is opened) and the
 * per-device debugfs counters that show what it holds:
 *
 *   /sys/module/refmdev/parameters/pin_cache_pages
 *   /sys/kernel/debug/refmdev/<uuid>/pinned_pages   pinned right now
 *   /sys/kernel/debug/refmdev/<uuid>/pin_calls      vfio_pin_pages calls
 *
 * With the bound at 0 the engine pins and unpins per descriptor, so
 * pinned_pages is 0 whenever it is idle.
 *
 * pinned_pages is exact while the device's engine is idle. While a
 * descriptor runs it lags the backend: it rises after a pin and falls
 * after the unpins of a batch, so a reading then can exceed what the
 * backend holds (seen: 32 right after an unmap that type1 completed
 * without notifying anyone, 0 a moment later). Read it between
 * descriptors.
 */
#ifndef PIN_CACHE_UTIL_H
#define PIN_CACHE_UTIL_H

#include <unistd.h>

#include "dma_util.h"
#include "ktap.h"

#define PIN_CACHE_PARAM		"/sys/module/refmdev/parameters/pin_cache_pages"
#define PIN_CACHE_TYPE1_PARAM	"/sys/module/refmdev/parameters/pin_cache_type1"
#define PIN_CACHE_DEFAULT	16384	/* the parameter's default, pages */
#define PIN_CHUNK_PAGES		512	/* at most, per vfio_pin_pages call */

/*
 * Set the bound of devices opened from now on, in pages; the old value
 * comes back when the test ends (a ktap_defer() cleanup). Skips if the
 * driver has no pin cache, unless @pages is 0, which is then what the
 * driver does anyway.
 */
void pin_cache_set(unsigned long pages);
/* The bound set by pin_cache_set() or, without it, the parameter's. */
long pin_cache_bound(void);

/* A device's debugfs counters (debugfs mounted if it is not). */
long uuid_pinned_pages(const char *uuid);
long uuid_pin_calls(const char *uuid);
#define dev_pinned_pages(d)	uuid_pinned_pages((d)->uuid)
#define dev_pin_calls(d)	uuid_pin_calls((d)->uuid)

/*
 * @base plus @pages pinned, as the backend charges them (device.rst):
 * type1 adds them to VmLck; iommufd to VmPin, and to VmLck as well if
 * this process lacks CAP_IPC_LOCK (taken as it was when the mappings
 * were made: tests drop it before mapping).
 */
struct vm_charge vm_charge_plus(struct vm_charge base, long pages);

/*
 * Between descriptors: the device holds at most the bound, and what it
 * holds is exactly what this process is charged beyond @base. With the
 * cache off, that is nothing.
 */
#define ASSERT_VM_CHARGE_CACHED(base, d) do {				\
	struct vfio_dev *dev_ = (d);					\
	long held_ = dev_pinned_pages(dev_);				\
									\
	if (held_ < 0 || held_ > pin_cache_bound())			\
		FAIL("%s: %ld pages pinned, bound %ld", dev_->uuid,	\
		     held_, pin_cache_bound());				\
	ASSERT_VM_CHARGE(vm_charge_plus((base), held_));		\
} while (0)

/*
 * The device holds at most @max pages pinned. On failure the count is
 * read again 100 ms later, to tell a leak from a count that lags.
 */
#define ASSERT_PINNED_AT_MOST(d, max) do {				\
	struct vfio_dev *dev_ = (d);					\
	long held_ = dev_pinned_pages(dev_), max_ = (max);		\
									\
	if (held_ > max_) {						\
		usleep(100000);						\
		FAIL("%s: %ld pages pinned (%ld 100 ms later), at most %ld", \
		     dev_->uuid, held_, dev_pinned_pages(dev_), max_);	\
	}								\
} while (0)

#endif /* PIN_CACHE_UTIL_H */
