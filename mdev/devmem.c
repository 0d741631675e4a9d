// SPDX-License-Identifier: GPL-2.0
/*
 * Device memory behind BAR2 of a refmdev.
 *
 * Why ordinary pages behind ordinary PTEs: a peer device (another mdev,
 * or a real device through type1) reaches this BAR by pinning it, and a
 * pin must hold a real page reference so that reset or removal here can
 * never free memory someone else still uses. PFNMAP mappings would give
 * GUP either nothing (-EFAULT) or, for reserved pages, no reference at
 * all. So the fault handler inserts the page with vm_insert_page() into a
 * VM_MIXEDMAP vma, with no VM_IO and no page_mkwrite, and the pages are
 * never movable.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "compat.h"
#include "refmdev.h"

#define DEVMEM_PGOFF_BASE \
	(REFMDEV_INDEX_TO_OFFSET(REFMDEV_DEVMEM_BAR) >> PAGE_SHIFT)

static void devmem_put_pages(struct page **pages, unsigned long npages)
{
	unsigned long i;

	if (!pages)
		return;
	for (i = 0; i < npages; i++)
		if (pages[i])
			put_page(pages[i]);
	kvfree(pages);
}

/*
 * Device memory is charged to the memory cgroup of whoever makes the
 * device allocate it (the creator, then each opener and resetter), and a
 * page stays charged there for as long as anything references it: the
 * module's budget counts only the memory the devices hold now, while a
 * page a peer keeps pinned after a reset still counts against the
 * cgroup that allocated it.
 */
static struct page **devmem_alloc_pages(unsigned long npages)
{
	struct page **pages;
	unsigned long i;

	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return NULL;
	for (i = 0; i < npages; i++) {
		pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!pages[i]) {
			devmem_put_pages(pages, npages);
			return NULL;
		}
		cond_resched();
	}
	return pages;
}

int refmdev_devmem_init(struct refmdev *rd)
{
	struct refmdev_devmem *mem = &rd->devmem;

	mutex_init(&mem->lock);
	mem->npages = rd->type->devmem_size >> PAGE_SHIFT;
	mem->decode = false;
	mem->pages = devmem_alloc_pages(mem->npages);
	if (!mem->pages) {
		mutex_destroy(&mem->lock);
		return -ENOMEM;
	}
	return 0;
}

/* Removal: no device fd, hence no mapping of ours, is left. */
void refmdev_devmem_free(struct refmdev *rd)
{
	devmem_put_pages(rd->devmem.pages, rd->devmem.npages);
	rd->devmem.pages = NULL;
	mutex_destroy(&rd->devmem.lock);
}

/* Drop every user PTE of BAR2; the next access faults and sees new state. */
static void devmem_zap(struct refmdev *rd)
{
	struct address_space *mapping = refmdev_devmem_mapping(rd);

	if (mapping)
		unmap_mapping_range(mapping,
				    REFMDEV_INDEX_TO_OFFSET(REFMDEV_DEVMEM_BAR),
				    rd->type->devmem_size, true);
}

/*
 * Fresh zeroed memory for a reset, allocated before anything is changed
 * so that a reset that cannot have it changes nothing at all.
 */
struct page **refmdev_devmem_alloc(struct refmdev *rd)
{
	return devmem_alloc_pages(rd->devmem.npages);
}

/*
 * Give the device the memory refmdev_devmem_alloc() returned. The old
 * pages lose the device's reference only after user PTEs to them are
 * gone, and are freed only when the last other holder (a pin, an
 * in-flight copy) lets go.
 */
void refmdev_devmem_install(struct refmdev *rd, struct page **fresh)
{
	struct refmdev_devmem *mem = &rd->devmem;
	struct page **old;

	mutex_lock(&mem->lock);
	old = mem->pages;
	mem->pages = fresh;
	mutex_unlock(&mem->lock);

	devmem_zap(rd);
	devmem_put_pages(old, mem->npages);
}

/*
 * Memory decoding follows PCI_COMMAND_MEMORY. Turning it off zaps user
 * mappings, so CPU access through an mmap faults with SIGBUS until it is
 * turned back on, as with vfio-pci. The BAR's dma-bufs follow in
 * refmdev_export_sync(), before the write that changed it returns.
 */
void refmdev_devmem_set_decode(struct refmdev *rd, bool decode)
{
	struct refmdev_devmem *mem = &rd->devmem;

	lockdep_assert_held(&rd->lock);
	mutex_lock(&mem->lock);
	mem->decode = decode;
	mutex_unlock(&mem->lock);
	if (!decode)
		devmem_zap(rd);
}

/*
 * Reference the pages [@first, @first + @count) of the current memory
 * into @pages, whether the BAR decodes or not: the DMA engine reaches
 * its own memory regardless (as a device does), and the exporter asks
 * only while decoding is on.
 */
static void devmem_ref_pages(struct refmdev_devmem *mem, unsigned long first,
			     unsigned long count, struct page **pages)
{
	unsigned long i;

	lockdep_assert_held(&mem->lock);
	for (i = 0; i < count; i++) {
		pages[i] = mem->pages[first + i];
		get_page(pages[i]);
	}
}

/* For the DMA engine, which checked the range against the BAR. */
int refmdev_devmem_get_pages(struct refmdev *rd, unsigned long first,
			     unsigned long count, struct page **pages)
{
	struct refmdev_devmem *mem = &rd->devmem;

	if (WARN_ON_ONCE(first > mem->npages || count > mem->npages - first))
		return -EINVAL;
	mutex_lock(&mem->lock);
	devmem_ref_pages(mem, first, count, pages);
	mutex_unlock(&mem->lock);
	return 0;
}

/*
 * For the exporter (p2p_exporter_ops.get_pages): the pages behind each of
 * @ranges, in order, all from the same memory (one hold of the lock, so
 * no reset can swap it half way). The exporter checked the ranges.
 */
int refmdev_devmem_get_ranges(struct refmdev *rd,
			      const struct vfio_region_dma_range *ranges,
			      u32 nr_ranges, struct page **pages)
{
	struct refmdev_devmem *mem = &rd->devmem;
	unsigned long n = 0;
	u32 r;

	mutex_lock(&mem->lock);
	for (r = 0; r < nr_ranges; r++) {
		unsigned long first = ranges[r].offset >> PAGE_SHIFT;
		unsigned long count = ranges[r].length >> PAGE_SHIFT;

		devmem_ref_pages(mem, first, count, pages + n);
		n += count;
	}
	mutex_unlock(&mem->lock);
	return 0;
}

/* Take a reference on the page at @idx if the BAR decodes; NULL if not. */
static struct page *devmem_get_page(struct refmdev_devmem *mem,
				    unsigned long idx)
{
	struct page *page = NULL;

	mutex_lock(&mem->lock);
	if (mem->decode) {
		page = mem->pages[idx];
		get_page(page);
	}
	mutex_unlock(&mem->lock);
	return page;
}

/*
 * read()/write() on the BAR2 region: any length and alignment inside the
 * BAR, since it is memory. The copy runs without the lock (it may fault
 * on the user buffer); the page reference keeps the page valid even if a
 * reset swaps it out meanwhile, in which case the access lands in the old
 * memory: it happened before the reset.
 */
ssize_t refmdev_devmem_rw(struct refmdev *rd, char __user *buf,
			  size_t count, loff_t pos, bool write)
{
	struct refmdev_devmem *mem = &rd->devmem;
	u64 size = rd->type->devmem_size;
	size_t done = 0;
	int ret = 0;

	if (pos < 0 || pos >= size || count > size - pos)
		return -EINVAL;

	while (done < count) {
		u64 at = pos + done;
		unsigned int off = offset_in_page(at);
		size_t len = min_t(size_t, count - done, PAGE_SIZE - off);
		unsigned long left;
		struct page *page;
		void *kaddr;

		page = devmem_get_page(mem, at >> PAGE_SHIFT);
		if (!page) {
			ret = -EIO;
			break;
		}
		kaddr = kmap_local_page(page);
		if (write)
			left = copy_from_user(kaddr + off, buf + done, len);
		else
			left = copy_to_user(buf + done, kaddr + off, len);
		kunmap_local(kaddr);
		put_page(page);
		if (left) {
			ret = -EFAULT;
			break;
		}
		done += len;
		cond_resched();
	}
	return done ? done : ret;
}

vm_fault_t refmdev_devmem_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct refmdev *rd = refmdev_devmem_vma_owner(vma);
	struct refmdev_devmem *mem = &rd->devmem;
	pgoff_t idx = vmf->pgoff - DEVMEM_PGOFF_BASE;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	int err;

	/*
	 * Insert under the lock: a replace or decode-off that runs after we
	 * drop it zaps what we inserted, and one that ran before is seen.
	 */
	mutex_lock(&mem->lock);
	if (mem->decode && idx < mem->npages) {
		err = vm_insert_page(vma, vmf->address & PAGE_MASK,
				     mem->pages[idx]);
		/* -EBUSY: a concurrent fault inserted it first. */
		ret = (!err || err == -EBUSY) ? VM_FAULT_NOPAGE : vmf_error(err);
	}
	mutex_unlock(&mem->lock);
	return ret;
}

int refmdev_devmem_mmap(struct refmdev *rd, struct vm_area_struct *vma)
{
	u64 index = vma->vm_pgoff >> (REFMDEV_OFFSET_SHIFT - PAGE_SHIFT);
	u64 pgoff = vma->vm_pgoff - DEVMEM_PGOFF_BASE;
	unsigned long npages = vma_pages(vma);

	if (index != REFMDEV_DEVMEM_BAR)
		return -EINVAL;
	/* A private copy of device memory makes no sense; vfio-pci agrees. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (pgoff >= rd->devmem.npages || npages > rd->devmem.npages - pgoff)
		return -EINVAL;

	p2p_vm_flags_set(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP);
	refmdev_devmem_vma_setup(rd, vma);
	return 0;
}
