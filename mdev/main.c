// SPDX-License-Identifier: GPL-2.0
/*
 * refmdev module: the mdev parent, its types, and creation and removal of
 * devices.
 *
 * The parent is a class device named "refmdev", so the types appear as
 * /sys/class/mdev_bus/refmdev/mdev_supported_types/refmdev-<size>. Types
 * differ in the size of BAR2; all draw on one device-memory budget, and a
 * type's available_instances is how many more devices of that size fit.
 */
#include <linux/device.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include "compat.h"
#include "refmdev.h"

static unsigned int devmem_budget_mib = 64;
module_param(devmem_budget_mib, uint, 0444);
MODULE_PARM_DESC(devmem_budget_mib,
		 "Device memory shared by all refmdev instances, in MiB (default 64)");

static struct refmdev_type refmdev_types[] = {
	{
		.mtype = { .sysfs_name = "1M",
			   .pretty_name = "refmdev, 1 MiB device memory" },
		.index = 0,
		.devmem_size = SZ_1M,
	},
	{
		.mtype = { .sysfs_name = "16M",
			   .pretty_name = "refmdev, 16 MiB device memory" },
		.index = 1,
		.devmem_size = SZ_16M,
	},
};

static struct mdev_type *refmdev_mdev_types[] = {
	&refmdev_types[0].mtype,
	&refmdev_types[1].mtype,
};

/*
 * Module-wide state. budget_lock protects budget_used and is held only
 * for the arithmetic (innermost: see the lock order in refmdev.h).
 */
static struct {
	struct class *class;
	struct device *dev;
	struct mdev_parent parent;
	struct mutex budget_lock;	/* protects budget_used */
	u64 budget_used;
} refmdev_module;

static u64 budget_total(void)
{
	return (u64)devmem_budget_mib * SZ_1M;
}

static int budget_reserve(u64 size)
{
	int ret = 0;

	mutex_lock(&refmdev_module.budget_lock);
	if (size > budget_total() - refmdev_module.budget_used)
		ret = -EUSERS;	/* what the mdev core says when a type is full */
	else
		refmdev_module.budget_used += size;
	mutex_unlock(&refmdev_module.budget_lock);
	return ret;
}

static void budget_release(u64 size)
{
	mutex_lock(&refmdev_module.budget_lock);
	refmdev_module.budget_used -= size;
	mutex_unlock(&refmdev_module.budget_lock);
}

static const struct refmdev_type *to_refmdev_type(struct mdev_type *mtype)
{
	return container_of(mtype, struct refmdev_type, mtype);
}

static unsigned int refmdev_get_available(struct mdev_type *mtype)
{
	u64 size = to_refmdev_type(mtype)->devmem_size;
	u64 avail;

	mutex_lock(&refmdev_module.budget_lock);
	avail = div64_u64(budget_total() - refmdev_module.budget_used, size);
	mutex_unlock(&refmdev_module.budget_lock);
	return min_t(u64, avail, UINT_MAX);
}

static ssize_t refmdev_show_description(struct mdev_type *mtype, char *buf)
{
	const struct refmdev_type *type = to_refmdev_type(mtype);

	return sysfs_emit(buf,
			  "PCI function with a register BAR0 (%u bytes) and %llu MiB of mmappable device memory in BAR2; INTx and MSI\n",
			  REFMDEV_REGS_SIZE, type->devmem_size / SZ_1M);
}

static int refmdev_probe(struct mdev_device *mdev)
{
	const struct refmdev_type *type = to_refmdev_type(mdev->type);
	struct refmdev *rd;
	int ret;

	ret = budget_reserve(type->devmem_size);
	if (ret)
		return ret;

	rd = vfio_alloc_device(refmdev, vdev, &mdev->dev, &refmdev_vfio_ops);
	if (IS_ERR(rd)) {
		ret = PTR_ERR(rd);
		goto err_budget;
	}
	ret = vfio_register_emulated_iommu_dev(&rd->vdev);
	if (ret)
		goto err_put;
	dev_set_drvdata(&mdev->dev, rd);
	refmdev_debugfs_add(rd);
	return 0;

err_put:
	vfio_put_device(&rd->vdev);
err_budget:
	budget_release(type->devmem_size);
	return ret;
}

/*
 * vfio_unregister_group_dev() returns once the user has closed the device;
 * while it waits, the VFIO core calls our .request to ask for that.
 */
static void refmdev_remove(struct mdev_device *mdev)
{
	struct refmdev *rd = dev_get_drvdata(&mdev->dev);
	u64 size = rd->type->devmem_size;

	refmdev_debugfs_remove(rd);
	vfio_unregister_group_dev(&rd->vdev);
	vfio_put_device(&rd->vdev);
	budget_release(size);
}

static struct mdev_driver refmdev_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = REFMDEV_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = refmdev_probe,
	.remove = refmdev_remove,
	.get_available = refmdev_get_available,
	.show_description = refmdev_show_description,
};

static int __init refmdev_init(void)
{
	int ret;

	mutex_init(&refmdev_module.budget_lock);
	refmdev_debugfs_init();

	ret = mdev_register_driver(&refmdev_driver);
	if (ret)
		goto err_debugfs;

	refmdev_module.class = refmdev_class_create(REFMDEV_NAME);
	if (IS_ERR(refmdev_module.class)) {
		ret = PTR_ERR(refmdev_module.class);
		goto err_driver;
	}
	refmdev_module.dev = device_create(refmdev_module.class, NULL, 0, NULL,
					   REFMDEV_NAME);
	if (IS_ERR(refmdev_module.dev)) {
		ret = PTR_ERR(refmdev_module.dev);
		goto err_class;
	}
	ret = mdev_register_parent(&refmdev_module.parent, refmdev_module.dev,
				   &refmdev_driver, refmdev_mdev_types,
				   ARRAY_SIZE(refmdev_mdev_types));
	if (ret)
		goto err_device;
	return 0;

err_device:
	device_unregister(refmdev_module.dev);
err_class:
	class_destroy(refmdev_module.class);
err_driver:
	mdev_unregister_driver(&refmdev_driver);
err_debugfs:
	refmdev_debugfs_exit();
	return ret;
}

static void __exit refmdev_exit(void)
{
	/* Removes every device of ours first, each through refmdev_remove(). */
	mdev_unregister_parent(&refmdev_module.parent);
	device_unregister(refmdev_module.dev);
	class_destroy(refmdev_module.class);
	mdev_unregister_driver(&refmdev_driver);
	refmdev_debugfs_exit();
	mutex_destroy(&refmdev_module.budget_lock);
}

module_init(refmdev_init);
module_exit(refmdev_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reference mediated device for VFIO: DMA engine and P2P BAR export");
