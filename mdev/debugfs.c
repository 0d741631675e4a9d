// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs: counters the selftests read to check properties that no
 * register shows, under /sys/kernel/debug/refmdev/<mdev uuid>/. Not an
 * interface: the files may change with the driver.
 *
 *   unmap_calls   .dma_unmap calls this device has had (one per device
 *                 per notification round of type1 or iommufd)
 *   pinned_pages  guest pages the DMA engine holds pinned now; between
 *                 descriptors, what its pin cache holds
 *   pin_calls     vfio_pin_pages() calls it has made: the pin cache's
 *                 misses
 */
#include <linux/debugfs.h>
#include "refmdev.h"

static struct dentry *refmdev_debugfs_root;

void refmdev_debugfs_init(void)
{
	refmdev_debugfs_root = debugfs_create_dir(REFMDEV_NAME, NULL);
}

void refmdev_debugfs_exit(void)
{
	debugfs_remove_recursive(refmdev_debugfs_root);
}

/* Failures are ignored, as debugfs asks: the device works without it. */
void refmdev_debugfs_add(struct refmdev *rd)
{
	rd->debugfs = debugfs_create_dir(dev_name(refmdev_dev(rd)),
					 refmdev_debugfs_root);
	debugfs_create_atomic_t("unmap_calls", 0400, rd->debugfs,
				&rd->dma.unmap_calls);
	debugfs_create_ulong("pinned_pages", 0400, rd->debugfs,
			     &rd->dma.pins.pages);
	debugfs_create_atomic_t("pin_calls", 0400, rd->debugfs,
				&rd->dma.pins.pin_calls);
}

void refmdev_debugfs_remove(struct refmdev *rd)
{
	debugfs_remove_recursive(rd->debugfs);
}
