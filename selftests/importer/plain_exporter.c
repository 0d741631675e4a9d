// SPDX-License-Identifier: GPL-2.0
/*
 * A plain dma-buf exporter for the selftests: ordinary pages, mapped for
 * importers' DMA, and nothing else: no .vmap, no CPU access, no mmap. It
 * stands for the exporters whose memory the CPU cannot reach through the
 * dma-buf (such as vfio-pci's BAR dma-bufs), which refmdev's P2P windows
 * must refuse. Reached through REFMDEV_TI_EXPORT_PLAIN.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/fcntl.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "refmdev_test_importer.h"
#include "rti.h"

/* The pages live as long as the dma-buf; .release frees them. */
struct rti_plain {
	unsigned long npages;
	struct page *pages[];	/* npages of them (no __counted_by: 6.1) */
};

static struct sg_table *rti_plain_map(struct dma_buf_attachment *attach,
				      enum dma_data_direction dir)
{
	struct rti_plain *p = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, p->pages, p->npages, 0,
					p->npages << PAGE_SHIFT, GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = dma_map_sgtable(attach->dev, sgt, dir, 0);
	if (ret)
		goto err_table;
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static void rti_plain_unmap(struct dma_buf_attachment *attach,
			    struct sg_table *sgt, enum dma_data_direction dir)
{
	dma_unmap_sgtable(attach->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

static void rti_plain_free(struct rti_plain *p)
{
	unsigned long i;

	for (i = 0; i < p->npages; i++)
		if (p->pages[i])
			__free_page(p->pages[i]);
	kfree(p);
}

static void rti_plain_release(struct dma_buf *dmabuf)
{
	rti_plain_free(dmabuf->priv);
}

static const struct dma_buf_ops rti_plain_ops = {
	.map_dma_buf = rti_plain_map,
	.unmap_dma_buf = rti_plain_unmap,
	.release = rti_plain_release,
};

long rti_export_plain(void __user *argp)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct refmdev_ti_export arg;
	struct dma_buf *dmabuf;
	struct rti_plain *p;
	unsigned long i;
	int fd;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved || !arg.size || !PAGE_ALIGNED(arg.size) ||
	    arg.size > REFMDEV_TI_EXPORT_MAX)
		return -EINVAL;
	p = kzalloc(struct_size(p, pages, arg.size >> PAGE_SHIFT), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p->npages = arg.size >> PAGE_SHIFT;
	for (i = 0; i < p->npages; i++) {
		p->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!p->pages[i]) {
			rti_plain_free(p);
			return -ENOMEM;
		}
	}
	info.ops = &rti_plain_ops;
	info.size = arg.size;
	info.flags = O_RDWR;
	info.priv = p;
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		rti_plain_free(p);
		return PTR_ERR(dmabuf);
	}
	/* From here on the dma-buf owns @p. */
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(dmabuf);
	return fd;
}
