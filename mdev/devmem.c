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
#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
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
static struct page **devmem_alloc_pages_gfp(unsigned long npages, gfp_t extra)
{
	gfp_t gfp = GFP_KERNEL_ACCOUNT | extra;
	struct page **pages;
	unsigned long i;

	pages = kvcalloc(npages, sizeof(*pages), gfp);
	if (!pages)
		return NULL;
	for (i = 0; i < npages; i++) {
		pages[i] = alloc_page(gfp | __GFP_ZERO);
		if (!pages[i]) {
			devmem_put_pages(pages, npages);
			return NULL;
		}
		cond_resched();
	}
	return pages;
}

static struct page **devmem_alloc_pages(unsigned long npages)
{
	return devmem_alloc_pages_gfp(npages, 0);
}

/*
 * Zero the pages of [@first, @first + @count) that a reset kept with their
 * old contents: every path that hands out a page, or a pointer to one,
 * calls this first, under the same hold of the lock.
 */
static void devmem_settle(struct refmdev_devmem *mem, unsigned long first,
			  unsigned long count)
{
	unsigned long end = first + count, i;

	lockdep_assert_held(&mem->lock);
	if (!mem->nr_unzeroed)
		return;
	for (i = find_next_bit(mem->unzeroed, end, first); i < end;
	     i = find_next_bit(mem->unzeroed, end, i + 1)) {
		clear_highpage(mem->pages[i]);
		__clear_bit(i, mem->unzeroed);
		mem->nr_unzeroed--;
	}
}

/* How many pages zero_work zeroes per hold of the lock. */
#define DEVMEM_ZERO_BATCH	32

/*
 * What a reset kept, zeroed in the background so that the first access
 * after it rarely has to; a few pages per hold of the lock, so that
 * faults and the engine wait for a batch at most.
 */
static void devmem_zero_work(struct work_struct *work)
{
	struct refmdev_devmem *mem =
		container_of(work, struct refmdev_devmem, zero_work);
	unsigned long next = 0;

	for (;;) {
		mutex_lock(&mem->lock);
		next = find_next_bit(mem->unzeroed, mem->npages, next);
		if (next < mem->npages)
			devmem_settle(mem, next, min_t(unsigned long,
						       DEVMEM_ZERO_BATCH,
						       mem->npages - next));
		mutex_unlock(&mem->lock);
		if (next >= mem->npages)
			return;
		next += DEVMEM_ZERO_BATCH;
		cond_resched();
	}
}

int refmdev_devmem_init(struct refmdev *rd)
{
	struct refmdev_devmem *mem = &rd->devmem;

	mutex_init(&mem->lock);
	INIT_WORK(&mem->zero_work, devmem_zero_work);
	mem->npages = rd->type->devmem_size >> PAGE_SHIFT;
	mem->decode = false;
	mem->nr_unzeroed = 0;
	mem->unzeroed = bitmap_zalloc(mem->npages, GFP_KERNEL_ACCOUNT);
	if (!mem->unzeroed)
		goto err_lock;
	mem->pages = devmem_alloc_pages(mem->npages);
	if (!mem->pages)
		goto err_bitmap;
	return 0;

err_bitmap:
	bitmap_free(mem->unzeroed);
err_lock:
	mutex_destroy(&mem->lock);
	return -ENOMEM;
}

/* Removal: no device fd, hence no mapping of ours, is left. */
void refmdev_devmem_free(struct refmdev *rd)
{
	cancel_work_sync(&rd->devmem.zero_work);
	devmem_put_pages(rd->devmem.pages, rd->devmem.npages);
	rd->devmem.pages = NULL;
	bitmap_free(rd->devmem.unzeroed);
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
 * Fresh zeroed memory for a new user (open), allocated before anything is
 * changed so that an open that cannot have it changes nothing at all.
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
	bitmap_zero(mem->unzeroed, mem->npages);
	mem->nr_unzeroed = 0;
	mutex_unlock(&mem->lock);

	devmem_zap(rd);
	devmem_put_pages(old, mem->npages);
}

/* Someone besides the device holds @page: a pin, a mapping, a copy. */
static bool devmem_page_shared(struct page *page)
{
	return page_ref_count(page) != 1;
}

/*
 * A reset's memory (see struct refmdev_devmem): keep what only the device
 * holds, to be zeroed before it is reached, and replace what anyone else
 * holds with fresh zeroed pages charged to the resetter. Called once the
 * BAR's dma-bufs are revoked, so that only pins, mappings and copies in
 * flight can hold a page, and the user mappings are zapped here, under
 * the lock, so that no fault can take a new reference before the pages
 * are counted, nor map an old page's contents after the zap (a zap
 * before the lock, to keep MMU notifiers out of it, let a fault in
 * between map the old page: the reset tests caught it). This holds
 * faults across the notifiers of every process mapping BAR2.
 * Replacements are rare (a peer that pinned this BAR), and allocated
 * under the lock: __GFP_RETRY_MAYFAIL makes a full cgroup fail
 * the reset rather than wait for the OOM killer with the lock held.
 * Returns -ENOMEM, the memory unchanged, if they cannot be had.
 */
int refmdev_devmem_renew(struct refmdev *rd)
{
	struct refmdev_devmem *mem = &rd->devmem;
	unsigned long i, nr_shared = 0, used = 0;
	unsigned long *shared;
	struct page **fresh = NULL;
	int ret = 0;

	shared = bitmap_zalloc(mem->npages, GFP_KERNEL_ACCOUNT);
	if (!shared)
		return -ENOMEM;
	mutex_lock(&mem->lock);
	devmem_zap(rd);
	/*
	 * Who holds a page for good held it before the zap; a count can
	 * still rise for a moment (GUP-fast that read a PTE before the zap
	 * takes a reference, sees the PTE gone and drops it). So the pages
	 * replaced are exactly those seen shared here: a superset of the
	 * lasting holders', as a moment's reference only adds to it.
	 */
	for (i = 0; i < mem->npages; i++)
		if (devmem_page_shared(mem->pages[i])) {
			__set_bit(i, shared);
			nr_shared++;
		}
	if (nr_shared) {
		fresh = devmem_alloc_pages_gfp(nr_shared, __GFP_RETRY_MAYFAIL |
					       __GFP_NOWARN);
		if (!fresh) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < mem->npages; i++) {
		if (test_bit(i, shared)) {
			put_page(mem->pages[i]);
			mem->pages[i] = fresh[used++];
			if (__test_and_clear_bit(i, mem->unzeroed))
				mem->nr_unzeroed--;
		} else if (!__test_and_set_bit(i, mem->unzeroed)) {
			mem->nr_unzeroed++;
		}
	}
	if (mem->nr_unzeroed)
		queue_work(system_unbound_wq, &mem->zero_work);
out:
	mutex_unlock(&mem->lock);
	kvfree(fresh);		/* its pages are the device's now */
	bitmap_free(shared);
	return ret;
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
	devmem_settle(mem, first, count);
	devmem_ref_pages(mem, first, count, pages);
	mutex_unlock(&mem->lock);
	return 0;
}

/*
 * For the exporter (p2p_exporter_ops.get_pages): the pages behind each of
 * @ranges, in order, all from the same memory (one hold of the lock, so
 * no reset can swap it half way). The exporter checked the ranges. Pages
 * a reset kept are not zeroed here, as the restore that follows a reset
 * asks for them all: the exporter has them zeroed before an importer or
 * a CPU mapping reaches them (refmdev_devmem_prepare_ranges()).
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

/*
 * For the exporter (p2p_exporter_ops.prepare_access): zero what a reset
 * kept behind @ranges, before the pages are mapped for an importer or a
 * CPU. Under the buffer's reservation lock.
 */
void refmdev_devmem_prepare_ranges(struct refmdev *rd,
				   const struct vfio_region_dma_range *ranges,
				   u32 nr_ranges)
{
	struct refmdev_devmem *mem = &rd->devmem;
	u32 r;

	mutex_lock(&mem->lock);
	for (r = 0; r < nr_ranges && mem->nr_unzeroed; r++)
		devmem_settle(mem, ranges[r].offset >> PAGE_SHIFT,
			      ranges[r].length >> PAGE_SHIFT);
	mutex_unlock(&mem->lock);
}

/* Take a reference on the page at @idx if the BAR decodes; NULL if not. */
static struct page *devmem_get_page(struct refmdev_devmem *mem,
				    unsigned long idx)
{
	struct page *page = NULL;

	mutex_lock(&mem->lock);
	if (mem->decode) {
		devmem_settle(mem, idx, 1);
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
		devmem_settle(mem, idx, 1);
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
