// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA engine's cache of pinned guest memory.
 *
 * Pinning through vfio_pin_pages() costs about as much per page as
 * copying the page (type1 looks each page up, allocates its tracking and
 * charges locked memory one page at a time), so the engine keeps what it
 * pinned after a descriptor is done, in chunks keyed by IOVA, and the
 * next descriptor on the same memory pins nothing. Kept pins are only
 * valid as long as the IOVA maps the same memory, and the IOMMU backends
 * say when that ends: .dma_unmap. So:
 *
 *  - .dma_unmap has every cached chunk that overlaps the range unpinned
 *    before it returns (a chunk partly inside goes whole), and waits for
 *    any other unpinning of ours under way. With unmap_gate.c, which keeps
 *    the engine from pinning again until the unmap is over, the device
 *    holds no pin in the range when the unmap returns, cache or no cache.
 *    The unpinning itself is done by a work item, not by the unmapping
 *    task: type1 calls .dma_unmap holding its device_list_lock, and
 *    vfio_unpin_pages() takes its iommu->lock, which type1 takes before
 *    device_list_lock elsewhere. Waiting for the work is the same wait as
 *    for the pin section (see "type1's own lock cycle" in design.rst),
 *    and lockdep sees it as that section.
 *  - Stopping the engine (reset, FLR, bus mastering off, close) drops the
 *    whole cache: a new user, or a guest that just reset its device, finds
 *    nothing of the old mappings pinned.
 *  - The cache is bounded by pin_cache_pages per device, read at open.
 *    After each descriptor, unused chunks beyond it are unpinned least
 *    recently used first; a descriptor larger than the bound still runs,
 *    and is trimmed after. 0 turns the cache off: every descriptor pins
 *    and unpins its own pages, as before there was a cache.
 *  - The cache never pins one IOVA page twice, so for a device alone in a
 *    container or IOAS with no IOMMU domain, what the backend charges for
 *    its pins (type1: the mapping task's locked_vm, once per IOVA page;
 *    iommufd: pinned_vm, and locked_vm of the user or process by its
 *    accounting mode) is @pages between descriptors. Pins of the same
 *    IOVA pages by other devices, or by a domain, share the charge. When
 *    a pin fails on RLIMIT_MEMLOCK, the unused chunks are unpinned and
 *    the pin tried once more before the descriptor fails.
 *  - On type1, two unmaps at once in a container that has pins can stop
 *    that container for good: type1 takes device_list_lock under
 *    iommu->lock before notifying, and a notified device must unpin,
 *    which takes iommu->lock. Without the cache a descriptor in flight
 *    gives that exposure; with it, any cached pin would. So the cache is
 *    on by default only for a device bound through iommufd, which
 *    notifies holding no lock; for type1 the administrator opts in with
 *    pin_cache_type1, for VMMs that, like QEMU, unmap one at a time
 *    (design.rst, "type1's own lock cycle").
 *
 * A chunk is one vfio_pin_pages() call and is unpinned with exactly that
 * call's range: iommufd counts accesses per call and area. Chunks in the
 * tree never overlap, since only the worker adds them and only into gaps.
 * A descriptor that needs a chunk's pages with a permission the chunk was
 * not pinned with unpins it and pins again, unless the descriptor itself
 * is using it (its source and destination share a page): then it pins a
 * private chunk for its own use, outside the tree, unpinned at its end.
 *
 * Locking: pins.lock covers the tree, the lists and the counters, and is
 * never held across a pin or unpin, which take type1's iommu->lock (the
 * order in refmdev.h). Chunks leave the tree under it, and their pages
 * count in @unpinning until they are unpinned, which is what .dma_unmap
 * waits for.
 */
#include <linux/interval_tree_generic.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include "refmdev.h"

static unsigned int pin_cache_pages = 16384;
module_param(pin_cache_pages, uint, 0644);
MODULE_PARM_DESC(pin_cache_pages,
		 "Pinned guest pages each device keeps between DMA descriptors; 0 pins per descriptor (default 16384, read when a device is opened)");

/* Why type1 containers need this, see the top of the file. */
static bool pin_cache_type1;
module_param(pin_cache_type1, bool, 0644);
MODULE_PARM_DESC(pin_cache_type1,
		 "Keep pins also for devices in type1 containers, whose user must then never unmap from two threads at once (default N, read when a device is opened)");

/*
 * One vfio_pin_pages() call's pages: [start, last] of IOVA space, on
 * pins.idle (least recently used first) or pins.busy (used by the
 * descriptor in hand); once detached, on pins.doomed or a caller's list
 * until unpinned.
 */
struct refmdev_pin_chunk {
	struct rb_node rb;
	u64 start;
	u64 last;		/* of the last byte */
	u64 subtree_last;	/* for the interval tree */
	struct list_head node;
	unsigned int npages;
	int prot;		/* IOMMU_READ / IOMMU_WRITE it was pinned with */
	bool cached;		/* in the tree; else the descriptor's own */
	bool busy;		/* on pins.busy */
	bool doomed;		/* its pages count in pins.unpinning */
	struct page *pages[];
};

#define CHUNK_START(c)	((c)->start)
#define CHUNK_LAST(c)	((c)->last)
INTERVAL_TREE_DEFINE(struct refmdev_pin_chunk, rb, u64, subtree_last,
		     CHUNK_START, CHUNK_LAST, static, pin_tree)

static void pin_cache_unpin_work(struct work_struct *work);

void refmdev_pin_cache_init(struct refmdev *rd)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;

	mutex_init(&c->lock);
	c->tree = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&c->idle);
	INIT_LIST_HEAD(&c->busy);
	INIT_LIST_HEAD(&c->doomed);
	init_waitqueue_head(&c->unpinned);
	INIT_WORK(&c->unpin_work, pin_cache_unpin_work);
	atomic_set(&c->pin_calls, 0);
}

/*
 * At open: the bound this user gets, 0 for a type1 container unless the
 * administrator opted in. The cache is empty (see _drop()).
 */
void refmdev_pin_cache_open(struct refmdev *rd)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;

	mutex_lock(&c->lock);
	WARN_ON_ONCE(c->pages);
	c->limit = READ_ONCE(pin_cache_pages);
	if (!c->iommufd && !READ_ONCE(pin_cache_type1))
		c->limit = 0;
	mutex_unlock(&c->lock);
}

/*
 * The two backends answer vfio_pin_pages() differently: type1 gives
 * EINVAL for an IOVA that is not (fully) mapped; iommufd gives ENOENT for
 * that and EINVAL for a range being unmapped right now, for no IOAS
 * attached, and also for an area mapped from a user address that is not
 * page aligned, which type1 refuses at map time. That last case is
 * mapped but cannot be pinned, and still reads UNMAPPED here: the errno
 * does not tell it apart.
 */
static u32 pin_status(int err)
{
	switch (err) {
	case -EINVAL:
	case -ENOENT:
		return REFMDEV_DMA_ST_UNMAPPED;
	case -EPERM:
		return REFMDEV_DMA_ST_READ_ONLY;
	case -ENOMEM:
		return REFMDEV_DMA_ST_NO_MEMLOCK;
	case -ENODEV:
	case -ESRCH:
		return REFMDEV_DMA_ST_NO_OWNER;
	default:
		return REFMDEV_DMA_ST_FAULT;
	}
}

/*
 * Take @ch out of the tree, for no later descriptor to use; its pages
 * count in @unpinning from now until they are unpinned.
 */
static void pin_chunk_uncache(struct refmdev_pin_cache *c,
			      struct refmdev_pin_chunk *ch)
{
	lockdep_assert_held(&c->lock);
	if (ch->cached) {
		pin_tree_remove(ch, &c->tree);
		c->cached_pages -= ch->npages;
		ch->cached = false;
	}
	if (!ch->doomed) {
		WRITE_ONCE(c->unpinning, c->unpinning + ch->npages);
		ch->doomed = true;
	}
}

/* Take unused @ch onto @to, to be unpinned by pin_chunks_unpin(). */
static void pin_chunk_detach(struct refmdev_pin_cache *c,
			     struct refmdev_pin_chunk *ch, struct list_head *to)
{
	WARN_ON_ONCE(ch->busy);
	pin_chunk_uncache(c, ch);
	list_move(&ch->node, to);
}

/*
 * Unpin and free chunks detached onto @list. @in_section: called inside
 * the pin section as lockdep sees it (see unmap_gate.c).
 */
static void pin_chunks_unpin(struct refmdev *rd, struct list_head *list,
			     bool in_section)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;
	struct refmdev_pin_chunk *ch, *tmp;
	unsigned long n = 0;

	if (list_empty(list))
		return;
	list_for_each_entry_safe(ch, tmp, list, node) {
		if (in_section)
			refmdev_dma_type1_call_begin(rd);
		vfio_unpin_pages(&rd->vdev, ch->start, ch->npages);
		if (in_section)
			refmdev_dma_type1_call_end(rd);
		n += ch->npages;
		kfree(ch);
	}
	INIT_LIST_HEAD(list);	/* empty again, for a caller that reuses it */
	mutex_lock(&c->lock);
	WRITE_ONCE(c->pages, c->pages - n);
	WRITE_ONCE(c->unpinning, c->unpinning - n);
	mutex_unlock(&c->lock);
	wake_up_all(&c->unpinned);
}

/*
 * Detach unused chunks onto @to, least recently used first, until the
 * cache holds no more than @keep pages.
 */
static void pin_cache_trim(struct refmdev_pin_cache *c, struct list_head *to,
			   unsigned long keep)
{
	struct refmdev_pin_chunk *ch, *tmp;

	lockdep_assert_held(&c->lock);
	list_for_each_entry_safe(ch, tmp, &c->idle, node) {
		if (c->cached_pages <= keep)
			break;
		pin_chunk_detach(c, ch, to);
	}
}

/* Unpin every unused chunk, to make room under RLIMIT_MEMLOCK. */
static bool pin_cache_evict(struct refmdev *rd)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;
	LIST_HEAD(evict);

	mutex_lock(&c->lock);
	pin_cache_trim(c, &evict, 0);
	mutex_unlock(&c->lock);
	if (list_empty(&evict))
		return false;
	pin_chunks_unpin(rd, &evict, true);
	return true;
}

/*
 * What a new cached chunk asks for, given that the descriptor needs @prot
 * and that @known was proven for these pages since they were mapped (by
 * the chunk this one replaces). A chunk's prot must be exactly what the
 * backend checked, since later descriptors trust it:
 *  - type1 checks every permission asked, so a chunk asks for both and
 *    falls back on @prot if the mapping refuses one;
 *  - iommufd checks only write when write is asked (check_area_prot()),
 *    so asking for both proves nothing about read: a write-only mapping
 *    would become readable through the cache. There a chunk asks for what
 *    the descriptor needs, plus read where @known proved it. And read
 *    alone is asked without write, as a device that writes must pin for
 *    write (it breaks copy-on-write sharing), so a page used both ways
 *    is pinned again once per direction before its chunk serves both.
 */
static int pin_chunk_want(const struct refmdev_pin_cache *c, int prot,
			  int known)
{
	if (!c->iommufd)
		return IOMMU_READ | IOMMU_WRITE;
	if (prot & IOMMU_WRITE)
		return prot | (known & IOMMU_READ);
	return prot;
}

/*
 * Pin @npages at @iova as a new chunk, in the tree if @cached (asking for
 * what pin_chunk_want() says, so that later descriptors can use it either
 * way; @known as there). On RLIMIT_MEMLOCK, the unused chunks go and the
 * pin is tried once more (@evicted says if that happened already for this
 * descriptor). The pages go to @pages too. Called in the pin section,
 * without pins.lock. Returns a descriptor status.
 */
static u32 pin_chunk_new(struct refmdev *rd, u64 iova, unsigned int npages,
			 int prot, int known, bool cached, bool *evicted,
			 struct page **pages)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;
	int want = cached ? pin_chunk_want(c, prot, known) : prot;
	struct refmdev_pin_chunk *ch;
	int ret;

	ch = kmalloc(struct_size(ch, pages, npages), GFP_KERNEL_ACCOUNT);
	if (!ch)
		return REFMDEV_DMA_ST_NO_MEM;
	for (;;) {
		atomic_inc(&c->pin_calls);
		refmdev_dma_type1_call_begin(rd);
		ret = vfio_pin_pages(&rd->vdev, iova, npages, want, ch->pages);
		refmdev_dma_type1_call_end(rd);
		if (ret == (int)npages)
			break;
		if (WARN_ON_ONCE(ret >= 0))	/* all or nothing, says the API */
			ret = -EFAULT;
		if (ret == -EPERM && want != prot) {
			want = prot;
			continue;
		}
		if (ret != -ENOMEM || *evicted)
			break;
		*evicted = true;
		if (!pin_cache_evict(rd))
			break;
	}
	if (ret != (int)npages) {
		kfree(ch);
		return pin_status(ret);
	}
	ch->start = iova;
	ch->last = iova + ((u64)npages << PAGE_SHIFT) - 1;
	ch->npages = npages;
	ch->prot = want;
	ch->cached = cached;
	ch->busy = true;
	ch->doomed = false;
	memcpy(pages, ch->pages, npages * sizeof(*pages));
	mutex_lock(&c->lock);
	if (cached) {
		pin_tree_insert(ch, &c->tree);
		c->cached_pages += npages;
	}
	list_add_tail(&ch->node, &c->busy);
	WRITE_ONCE(c->pages, c->pages + npages);
	mutex_unlock(&c->lock);
	return REFMDEV_DMA_ST_OK;
}

/* What the cache has at an IOVA, for refmdev_pin_cache_get(). */
enum pin_lookup {
	PIN_HIT,	/* pages it holds, now in use */
	PIN_STALE,	/* a chunk to unpin before going on */
	PIN_MISS,	/* pages to pin */
};

/*
 * Look at [pos, last] in the cache. PIN_HIT: the first @n pages are
 * copied to @pages and their chunk is marked in use. PIN_STALE: the
 * chunk there was pinned without the permission @prot and nothing uses
 * it, so it was detached onto @stale, and the caller unpins it. PIN_MISS:
 * the first @n pages are not held (or not usable: the descriptor itself
 * uses them for its other side, with another permission), and are to be
 * pinned in the tree if @cached, else for this descriptor alone.
 */
static enum pin_lookup pin_cache_lookup(struct refmdev_pin_cache *c, u64 pos,
					u64 last, int prot,
					struct page **pages, unsigned long *n,
					bool *cached, struct list_head *stale)
{
	struct refmdev_pin_chunk *ch;
	unsigned long skip;

	lockdep_assert_held(&c->lock);
	*n = ((last - pos) >> PAGE_SHIFT) + 1;
	*cached = c->limit != 0;
	if (!c->limit)	/* no cache: every pin is the descriptor's own */
		return PIN_MISS;
	ch = pin_tree_iter_first(&c->tree, pos, last);
	if (!ch)
		return PIN_MISS;
	if (ch->start > pos) {
		*n = (ch->start - pos) >> PAGE_SHIFT;
		return PIN_MISS;
	}
	skip = (pos - ch->start) >> PAGE_SHIFT;
	*n = min_t(unsigned long, *n, ch->npages - skip);
	if ((ch->prot & prot) != prot) {
		if (ch->busy) {
			*cached = false;
			return PIN_MISS;
		}
		pin_chunk_detach(c, ch, stale);
		return PIN_STALE;
	}
	memcpy(pages, ch->pages + skip, *n * sizeof(*pages));
	if (!ch->busy) {
		ch->busy = true;
		list_move_tail(&ch->node, &c->busy);
	}
	return PIN_HIT;
}

/*
 * Fill @pages with the pinned pages of [iova, iova + npages pages), all
 * or nothing as far as the descriptor is concerned (what it pinned stays
 * cached for the next one, or goes in refmdev_pin_cache_put()). @iova is
 * page aligned and the range does not wrap. Called by the worker in its
 * pin section; refmdev_pin_cache_put() ends the descriptor's use.
 * Returns a descriptor status.
 */
u32 refmdev_pin_cache_get(struct refmdev *rd, u64 iova, unsigned long npages,
			  int prot, struct page **pages)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;
	u64 last = iova + ((u64)npages << PAGE_SHIFT) - 1, pos = iova;
	/* What a stale chunk proved, for its pages up to @known_last. */
	u64 known_last = 0;
	unsigned long done = 0, n;
	bool evicted = false;
	LIST_HEAD(stale);
	int known = 0;
	u32 st = REFMDEV_DMA_ST_OK;

	while (done < npages) {
		struct refmdev_pin_chunk *ch;
		enum pin_lookup found;
		bool cached;

		mutex_lock(&c->lock);
		found = pin_cache_lookup(c, pos, last, prot, pages + done, &n,
					 &cached, &stale);
		mutex_unlock(&c->lock);
		/*
		 * A stale chunk stays pinned until its replacement is: while
		 * it is, the mapping it proved @known on cannot be unmapped
		 * (the unmap waits for our unpinning), so that proof holds
		 * for the new pin.
		 */
		if (found == PIN_STALE) {
			ch = list_first_entry(&stale, struct refmdev_pin_chunk,
					      node);
			known = ch->prot;
			known_last = ch->last;
			continue;
		}
		if (found == PIN_MISS) {
			n = min_t(unsigned long, n, VFIO_PIN_PAGES_MAX_ENTRIES);
			if (known && known_last >= pos)
				n = min_t(unsigned long, n,
					  ((known_last - pos) >> PAGE_SHIFT) + 1);
			else
				known = 0;
			st = pin_chunk_new(rd, pos, n, prot, known, cached,
					   &evicted, pages + done);
			pin_chunks_unpin(rd, &stale, true);
			if (st != REFMDEV_DMA_ST_OK)
				break;
		}
		done += n;
		pos += (u64)n << PAGE_SHIFT;
	}
	pin_chunks_unpin(rd, &stale, true);
	return st;
}

/*
 * The descriptor is done with its pins: its chunks become the most
 * recently used, its private ones go, and so does whatever is beyond the
 * bound. In the pin section, so that an unmap never finds a chunk the
 * engine is using.
 */
void refmdev_pin_cache_put(struct refmdev *rd)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;
	struct refmdev_pin_chunk *ch, *tmp;
	LIST_HEAD(drop);

	mutex_lock(&c->lock);
	list_for_each_entry_safe(ch, tmp, &c->busy, node) {
		ch->busy = false;
		if (ch->cached)
			list_move_tail(&ch->node, &c->idle);
		else
			pin_chunk_detach(c, ch, &drop);
	}
	pin_cache_trim(c, &drop, c->limit);
	mutex_unlock(&c->lock);
	pin_chunks_unpin(rd, &drop, true);
}

/* Unpin what .dma_unmap left on pins.doomed; see the top of the file. */
static void pin_cache_unpin_work(struct work_struct *work)
{
	struct refmdev_pin_cache *c =
		container_of(work, struct refmdev_pin_cache, unpin_work);
	struct refmdev *rd = container_of(c, struct refmdev, dma.pins);
	LIST_HEAD(list);

	lock_map_acquire(&rd->dma.section_map);
	mutex_lock(&c->lock);
	list_splice_init(&c->doomed, &list);
	mutex_unlock(&c->lock);
	pin_chunks_unpin(rd, &list, true);
	lock_map_release(&rd->dma.section_map);
}

/*
 * From .dma_unmap, once the worker is out of its pin section: have every
 * chunk that overlaps [iova, iova + length) unpinned, then wait until
 * nothing taken out of the tree is still pinned, whoever took it out
 * (another unmap of the same device, a reset).
 *
 * A chunk in use can only be met here if the gate fell back on its timed
 * form and the worker has started on a new descriptor. It leaves the tree
 * too and counts as unpinning, so the wait lasts until the descriptor
 * ends and refmdev_pin_cache_put() unpins it: iommufd notifies a detach
 * only once, and a pin left behind would outlive the access it was made
 * through.
 */
void refmdev_pin_cache_unmap(struct refmdev *rd, u64 iova, u64 length)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;
	struct refmdev_pin_chunk *ch, *next;
	u64 last;

	if (!length)
		return;
	if (check_add_overflow(iova, length - 1, &last))
		last = U64_MAX;
	mutex_lock(&c->lock);
	for (ch = pin_tree_iter_first(&c->tree, iova, last); ch; ch = next) {
		next = pin_tree_iter_next(ch, iova, last);
		if (ch->busy)
			pin_chunk_uncache(c, ch);
		else
			pin_chunk_detach(c, ch, &c->doomed);
	}
	/* The descriptor's private chunks are in use too, and not in the tree. */
	list_for_each_entry(ch, &c->busy, node)
		if (!ch->cached && ch->start <= last && ch->last >= iova)
			pin_chunk_uncache(c, ch);
	/* Queued under the lock, so that refmdev_pin_cache_drop() sees it. */
	if (!list_empty(&c->doomed))
		queue_work(system_unbound_wq, &c->unpin_work);
	mutex_unlock(&c->lock);
	wait_event(c->unpinned, !READ_ONCE(c->unpinning));
}

/*
 * Unpin everything, with the worker stopped (refmdev_dma_quiesce()): a
 * reset, bus mastering turned off, or close. What an unmap left for the
 * unpin work is taken over too, and the work waited for, so that nothing
 * of ours runs once the device is closed. .dma_unmap may wait for this
 * unpinning, so to lockdep it is part of the pin section.
 */
void refmdev_pin_cache_drop(struct refmdev *rd)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;
	LIST_HEAD(drop);

	mutex_lock(&c->lock);
	WARN_ON_ONCE(!list_empty(&c->busy));
	pin_cache_trim(c, &drop, 0);
	list_splice_init(&c->doomed, &drop);
	mutex_unlock(&c->lock);
	lock_map_acquire(&rd->dma.section_map);
	pin_chunks_unpin(rd, &drop, true);
	lock_map_release(&rd->dma.section_map);
	flush_work(&c->unpin_work);
}

/* The device goes: nothing may be left pinned, nor the work queued. */
void refmdev_pin_cache_destroy(struct refmdev *rd)
{
	struct refmdev_pin_cache *c = &rd->dma.pins;

	cancel_work_sync(&c->unpin_work);
	WARN_ON_ONCE(c->pages || !list_empty(&c->doomed));
	mutex_destroy(&c->lock);
}
