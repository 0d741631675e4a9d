// SPDX-License-Identifier: GPL-2.0
/*
 * Where the user mappings of one refmdev's BAR2 live, so that a reset or
 * a decode-off zaps this device's PTEs and nobody else's.
 *
 * Since 6.10 the VFIO core gives every device an inode of its own and
 * points each of the device's files at its mapping (vfio_device.inode):
 * unmap_mapping_range() on it reaches exactly this device's VMAs.
 *
 * Before (Debian 12's 6.1, Ubuntu 24.04's 6.8), every VFIO device file
 * shares the one anonymous inode, and a zap of its mapping would reach
 * every VFIO device's mmaps in the system, other users' included. The
 * core points f_mapping at the open, which a driver never sees; changing
 * f_mapping in .mmap instead would unbalance the writable-mapping count
 * that mmap_region() takes on the old mapping and drops on the new one.
 * What a driver may do in .mmap is replace the VMA's file, as dma-buf and
 * DRM do (vma_set_file(); mmap_region() expects it): so each refmdev has
 * a file of its own, on an inode of a small pseudo filesystem, and .mmap
 * moves the VMA onto it. The VMA is then linked into that inode's mapping
 * and the zap finds this device's VMAs and nothing else.
 *
 * Lifetime (without the core's inode): the VMA no longer holds the VFIO
 * device file, and that file is what keeps the device open, and removal
 * waiting, while BAR2 is mapped. So each VMA holds it itself, in
 * vm_private_data: taken at mmap, again by .open for every copy of the
 * VMA (fork, split, mremap), dropped by .close. The device's own file is
 * made at open and dropped at close, when no VMA can be left; its final
 * fput may run later (task work), and it holds the pseudo filesystem's
 * mount, whose filesystem type holds this module: so the module stays
 * until the file is really gone, as it stays while a device is open.
 * Between close and the next open there is no file and nothing to zap.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include "compat.h"
#include "refmdev.h"

#ifdef REFMDEV_HAVE_VFIO_DEVICE_INODE

static const struct vm_operations_struct devmem_vm_ops = {
	.fault = refmdev_devmem_fault,
};

int refmdev_devmem_file_open(struct refmdev *rd)
{
	return 0;
}

void refmdev_devmem_file_close(struct refmdev *rd)
{
}

struct address_space *refmdev_devmem_mapping(struct refmdev *rd)
{
	return rd->vdev.inode->i_mapping;
}

void refmdev_devmem_vma_setup(struct refmdev *rd, struct vm_area_struct *vma)
{
	vma->vm_ops = &devmem_vm_ops;
	vma->vm_private_data = rd;
}

struct refmdev *refmdev_devmem_vma_owner(struct vm_area_struct *vma)
{
	return vma->vm_private_data;
}

#else /* !REFMDEV_HAVE_VFIO_DEVICE_INODE */

#define DEVMEM_FS_MAGIC	0x72666d62	/* "rfmb" */

/* The mount every device file's inode is on; simple_pin_fs() counts it. */
static struct vfsmount *devmem_fs_mnt;
static int devmem_fs_count;

/*
 * What /proc/<pid>/maps shows for a BAR2 mapping. Without it the path of
 * an unlinked pseudo file reads "/[refmdev-bar2] (deleted)".
 */
static char *devmem_dname(struct dentry *dentry, char *buffer, int buflen)
{
	static const char name[] = "refmdev:[bar2]";

	if (buflen < (int)sizeof(name))
		return ERR_PTR(-ENAMETOOLONG);
	/* The name goes at the end of the buffer, as d_path() builds it. */
	buffer += buflen - sizeof(name);
	memcpy(buffer, name, sizeof(name));
	return buffer;
}

static const struct dentry_operations devmem_dentry_ops = {
	.d_dname = devmem_dname,
};

static int devmem_fs_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, DEVMEM_FS_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->dops = &devmem_dentry_ops;
	return 0;
}

static struct file_system_type devmem_fs_type = {
	.name = "refmdev_bar2",
	.owner = THIS_MODULE,
	.init_fs_context = devmem_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

/*
 * Never installed in a descriptor: it only carries VMAs and their mapping.
 * No .owner: the file takes no module reference of its own, and needs
 * none, since its mount pins the module through devmem_fs_type.
 */
static const struct file_operations devmem_file_fops = {
};

/* Called by .open_device, before anything can map or zap BAR2. */
int refmdev_devmem_file_open(struct refmdev *rd)
{
	struct inode *inode;
	struct file *file;
	int ret;

	/* Set from open to close only; the VFIO core serialises them. */
	if (WARN_ON_ONCE(rd->devmem.file))
		return -EBUSY;
	ret = simple_pin_fs(&devmem_fs_type, &devmem_fs_mnt, &devmem_fs_count);
	if (ret)
		return ret;
	inode = alloc_anon_inode(devmem_fs_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto err_fs;
	}
	file = alloc_file_pseudo(inode, devmem_fs_mnt, "[refmdev-bar2]",
				 O_RDWR, &devmem_file_fops);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_inode;
	}
	file->private_data = rd;
	rd->devmem.file = file;
	return 0;

err_inode:
	iput(inode);
err_fs:
	simple_release_fs(&devmem_fs_mnt, &devmem_fs_count);
	return ret;
}

/* Called by .close_device, last: no VMA is left, nor can a zap come. */
void refmdev_devmem_file_close(struct refmdev *rd)
{
	fput(rd->devmem.file);
	rd->devmem.file = NULL;
	simple_release_fs(&devmem_fs_mnt, &devmem_fs_count);
}

/* NULL while the device is closed: then nothing is mapped. */
struct address_space *refmdev_devmem_mapping(struct refmdev *rd)
{
	return rd->devmem.file ? rd->devmem.file->f_mapping : NULL;
}

static void devmem_vma_open(struct vm_area_struct *vma)
{
	get_file(vma->vm_private_data);
}

static void devmem_vma_close(struct vm_area_struct *vma)
{
	fput(vma->vm_private_data);
}

static const struct vm_operations_struct devmem_vm_ops = {
	.open = devmem_vma_open,
	.close = devmem_vma_close,
	.fault = refmdev_devmem_fault,
};

void refmdev_devmem_vma_setup(struct refmdev *rd, struct vm_area_struct *vma)
{
	vma->vm_private_data = get_file(vma->vm_file);
	vma_set_file(vma, rd->devmem.file);
	vma->vm_ops = &devmem_vm_ops;
}

struct refmdev *refmdev_devmem_vma_owner(struct vm_area_struct *vma)
{
	return vma->vm_file->private_data;
}

#endif /* REFMDEV_HAVE_VFIO_DEVICE_INODE */
