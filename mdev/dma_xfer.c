// SPDX-License-Identifier: GPL-2.0
/*
 * One DMA descriptor's transfer: check it, turn its source and
 * destination into arrays of pages (or, for a P2P window, a kernel
 * mapping), copy or fill, let them go.
 *
 * Guest memory is reached through the pin cache (pin_cache.c), which
 * pins with vfio_pin_pages() what it does not hold yet. Both sides are
 * pinned in full before a byte moves: a descriptor either completes or
 * fails having written nothing. Device memory (BAR2) is reached through
 * the device's own page array, holding a page reference for the
 * duration. The page arrays and a fill's tile are the worker's scratch,
 * kept from one descriptor to the next, and pages that follow each other
 * in memory are copied as one run, so that a descriptor on cached memory
 * allocates nothing and costs little more than the copy itself.
 *
 * Called from the DMA worker, which opens the pin section (see
 * unmap_gate.c) here, after everything that may wait long on others: the
 * window slots are taken and fences waited for first, so a section waits
 * only for the pinning itself and for a window's reservation lock, which
 * nobody holds across a wait on user space.
 */
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/overflow.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include "compat.h"
#include "refmdev.h"

/* How a span holds its memory. */
enum refmdev_span_kind {
	SPAN_PINNED,		/* guest memory, from the pin cache */
	SPAN_DEVMEM,		/* references on our own BAR2 pages */
	SPAN_WINDOW,		/* a P2P window's kernel mapping, under its resv lock */
};

/*
 * One side of a transfer: pages, or a kernel address for a window. The
 * page array is the worker's scratch (struct refmdev_xfer_scratch).
 */
struct refmdev_span {
	struct page **pages;	/* NULL until the span holds its memory */
	unsigned long npages;
	unsigned int offset;	/* of the first byte, in pages[0] */
	enum refmdev_span_kind kind;
	struct p2p_window *win;	/* SPAN_WINDOW: */
	u8 *vaddr;			/* its first byte */
};

/* The largest copy without a reschedule, whatever the pages allow. */
#define REFMDEV_XFER_RUN_MAX	SZ_1M

/* The P2P core's window errnos (p2p/p2p.h) as descriptor statuses. */
static u32 refmdev_xfer_window_status(int err)
{
	switch (err) {
	case 0:
		return REFMDEV_DMA_ST_OK;
	case -ERANGE:
		return REFMDEV_DMA_ST_PEER_RANGE;
	case -ENODEV:
		return REFMDEV_DMA_ST_PEER_REVOKED;
	case -ENOMEM:
		return REFMDEV_DMA_ST_NO_MEM;
	case -EACCES:
		return REFMDEV_DMA_ST_READ_ONLY;
	default:
		return REFMDEV_DMA_ST_PEER_FAULT;
	}
}

/*
 * Scratch page arrays for a descriptor of up to @npages pages a side:
 * grown when a larger one comes, kept until close.
 */
static int refmdev_xfer_scratch_reserve(struct refmdev *rd,
					unsigned long npages)
{
	struct refmdev_xfer_scratch *sc = &rd->dma.scratch;
	struct page **fresh[2];
	int i;

	if (npages <= sc->npages)
		return 0;
	for (i = 0; i < 2; i++) {
		fresh[i] = kvmalloc_array(npages, sizeof(*fresh[i]),
					  GFP_KERNEL_ACCOUNT);
		if (!fresh[i])
			goto fail;
	}
	for (i = 0; i < 2; i++) {
		kvfree(sc->pages[i]);
		sc->pages[i] = fresh[i];
	}
	sc->npages = npages;
	return 0;
fail:
	while (i--)
		kvfree(fresh[i]);
	return -ENOMEM;
}

void refmdev_dma_scratch_free(struct refmdev *rd)
{
	struct refmdev_xfer_scratch *sc = &rd->dma.scratch;

	kvfree(sc->pages[0]);
	kvfree(sc->pages[1]);
	kfree(sc->tile);
	memset(sc, 0, sizeof(*sc));
}

static void span_release(struct refmdev_span *span)
{
	unsigned long i;

	switch (span->kind) {
	case SPAN_WINDOW:
		if (span->vaddr)
			p2p_window_end(span->win);
		span->vaddr = NULL;
		break;
	case SPAN_DEVMEM:
		for (i = 0; span->pages && i < span->npages; i++)
			put_page(span->pages[i]);
		break;
	case SPAN_PINNED:	/* the cache's, until refmdev_pin_cache_put() */
		break;
	}
	span->pages = NULL;
}

static void span_init(struct refmdev *rd, struct refmdev_span *span,
		      int side, u64 addr, u32 len)
{
	span->offset = offset_in_page(addr);
	span->npages = DIV_ROUND_UP(span->offset + (u64)len, PAGE_SIZE);
	span->pages = rd->dma.scratch.pages[side];
}

/* Pin [iova, iova + len) of guest memory; all or nothing. */
static u32 span_pin(struct refmdev *rd, struct refmdev_span *span, int side,
		    u64 iova, u32 len, int prot)
{
	u32 st;

	span->kind = SPAN_PINNED;
	span_init(rd, span, side, iova, len);
	st = refmdev_pin_cache_get(rd, iova & PAGE_MASK, span->npages, prot,
				   span->pages);
	if (st != REFMDEV_DMA_ST_OK)
		span->pages = NULL;
	return st;
}

/* Take references on the BAR2 pages behind [off, off + len). */
static u32 span_devmem(struct refmdev *rd, struct refmdev_span *span,
		       int side, u64 off, u32 len)
{
	if (off >= rd->type->devmem_size || len > rd->type->devmem_size - off)
		return REFMDEV_DMA_ST_DEVMEM_RANGE;
	span->kind = SPAN_DEVMEM;
	span_init(rd, span, side, off, len);
	if (refmdev_devmem_get_pages(rd, off >> PAGE_SHIFT, span->npages,
				     span->pages)) {
		span->pages = NULL;
		return REFMDEV_DMA_ST_DEVMEM_RANGE;
	}
	return REFMDEV_DMA_ST_OK;
}

/*
 * [addr, addr + len) of a P2P window, through the window's kernel
 * mapping: no pins, and the window's reservation lock is held until
 * span_release() so the exporter cannot revoke mid-copy.
 */
static u32 span_window(struct refmdev_span *span, struct p2p_window *win,
		       u64 addr, u32 len, bool write)
{
	int ret;

	span->kind = SPAN_WINDOW;
	span->win = win;
	ret = p2p_window_begin(win, addr, len, write, &span->vaddr);
	if (ret)
		span->vaddr = NULL;
	return refmdev_xfer_window_status(ret);
}

/*
 * Byte @off of the span, mapped, and in @run how many bytes from there on
 * are contiguous in that mapping (at most @max): a window is one mapping;
 * pages are merged while they follow each other in memory, which needs no
 * mapping on a kernel without highmem. span_unmap() when done.
 */
static void *span_map(struct refmdev_span *span, u64 off, u64 max, u64 *run)
{
	unsigned long idx, last;

	if (span->kind == SPAN_WINDOW) {
		*run = max;
		return span->vaddr + off;
	}
	off += span->offset;
	idx = off >> PAGE_SHIFT;
	*run = min_t(u64, max, PAGE_SIZE - offset_in_page(off));
	if (IS_ENABLED(CONFIG_HIGHMEM))
		return kmap_local_page(span->pages[idx]) + offset_in_page(off);
	/* The direct map follows page frame numbers. */
	for (last = idx; *run < max && last + 1 < span->npages &&
	     page_to_pfn(span->pages[last + 1]) ==
	     page_to_pfn(span->pages[last]) + 1; last++)
		*run = min_t(u64, max, *run + PAGE_SIZE);
	return page_address(span->pages[idx]) + offset_in_page(off);
}

static void span_unmap(struct refmdev_span *span, void *addr)
{
	if (span->kind != SPAN_WINDOW && IS_ENABLED(CONFIG_HIGHMEM))
		kunmap_local(addr);
}

static u32 span_get(struct refmdev *rd, struct refmdev_span *span, int side,
		    u64 addr, u32 len, bool devmem, int prot)
{
	return devmem ? span_devmem(rd, span, side, addr, len) :
			span_pin(rd, span, side, addr, len, prot);
}

static void span_copy(struct refmdev_span *dst, struct refmdev_span *src, u32 len)
{
	u64 done = 0;

	while (done < len) {
		u64 max = min_t(u64, len - done, REFMDEV_XFER_RUN_MAX);
		u64 src_run, dst_run;
		void *from = span_map(src, done, max, &src_run);
		void *to = span_map(dst, done, src_run, &dst_run);

		memcpy(to, from, dst_run);
		span_unmap(dst, to);
		span_unmap(src, from);
		done += dst_run;
		cond_resched();
	}
}

/* Destination byte k becomes byte k % 8 of @pattern. */
static u32 span_fill(struct refmdev *rd, struct refmdev_span *dst,
		     u64 pattern, u32 len)
{
	struct refmdev_xfer_scratch *sc = &rd->dma.scratch;
	__le64 word = cpu_to_le64(pattern);
	u64 done = 0;
	unsigned int i;

	/* A page of the pattern plus 8 bytes, to start at any phase. */
	if (!sc->tile) {
		sc->tile = kmalloc(PAGE_SIZE + 8, GFP_KERNEL_ACCOUNT);
		if (!sc->tile)
			return REFMDEV_DMA_ST_NO_MEM;
	}
	for (i = 0; i < PAGE_SIZE + 8; i += 8)
		memcpy(sc->tile + i, &word, 8);
	while (done < len) {
		u64 run;
		void *to = span_map(dst, done,
				    min_t(u64, len - done, PAGE_SIZE), &run);

		memcpy(to, sc->tile + (done % 8), run);
		span_unmap(dst, to);
		done += run;
		cond_resched();
	}
	return REFMDEV_DMA_ST_OK;
}

/* Inclusive ends: the caller has checked neither range wraps. */
static bool refmdev_xfer_overlap(u64 a, u64 b, u32 len)
{
	return a <= b + (len - 1) && b <= a + (len - 1);
}

/* Everything that can be said about a descriptor without touching memory. */
static u32 refmdev_xfer_check(const struct refmdev_dma_desc *desc, u32 flags)
{
	u32 op = flags & REFMDEV_DMA_OP_MASK;
	u32 len = le32_to_cpu(desc->len);
	u64 src = le64_to_cpu(desc->src), dst = le64_to_cpu(desc->dst), end;

	if ((op != REFMDEV_DMA_OP_COPY && op != REFMDEV_DMA_OP_FILL) ||
	    (flags & ~(REFMDEV_DMA_OP_MASK | REFMDEV_DMA_F_SRC_DEVMEM |
		       REFMDEV_DMA_F_DST_DEVMEM | REFMDEV_DMA_F_IRQ)) ||
	    (op == REFMDEV_DMA_OP_FILL && (flags & REFMDEV_DMA_F_SRC_DEVMEM)) ||
	    desc->reserved)
		return REFMDEV_DMA_ST_BAD_DESC;
	if (!len || len > REFMDEV_DMA_MAX_LEN)
		return REFMDEV_DMA_ST_BAD_LEN;
	if (check_add_overflow(dst, (u64)len - 1, &end) ||
	    (op == REFMDEV_DMA_OP_COPY &&
	     check_add_overflow(src, (u64)len - 1, &end)))
		return REFMDEV_DMA_ST_OVERFLOW;
	if (op == REFMDEV_DMA_OP_COPY &&
	    !!(flags & REFMDEV_DMA_F_SRC_DEVMEM) ==
	    !!(flags & REFMDEV_DMA_F_DST_DEVMEM) &&
	    refmdev_xfer_overlap(src, dst, len))
		return REFMDEV_DMA_ST_OVERLAP;
	return REFMDEV_DMA_ST_OK;
}

/*
 * Which IOVAs of the descriptor fall in P2P windows. At most one side
 * may: two would need two reservation locks at once.
 */
static u32 refmdev_xfer_find_windows(struct refmdev *rd, u64 src, u64 dst,
				     u32 len, u32 flags,
				     struct p2p_window **swin,
				     struct p2p_window **dwin)
{
	bool copy = (flags & REFMDEV_DMA_OP_MASK) == REFMDEV_DMA_OP_COPY;
	int ret = 0;

	*swin = NULL;
	*dwin = NULL;
	if (!(flags & REFMDEV_DMA_F_DST_DEVMEM))
		ret = p2p_window_find(&rd->windows, dst, len, dwin);
	if (!ret && copy && !(flags & REFMDEV_DMA_F_SRC_DEVMEM))
		ret = p2p_window_find(&rd->windows, src, len, swin);
	if (ret)
		return refmdev_xfer_window_status(ret);
	if (*swin && *dwin)
		return REFMDEV_DMA_ST_PEER_RANGE;
	return REFMDEV_DMA_ST_OK;
}

static u32 refmdev_xfer_run(struct refmdev *rd, u64 src, u64 dst, u32 len,
			    u32 flags, struct p2p_window *swin,
			    struct p2p_window *dwin)
{
	bool fill = (flags & REFMDEV_DMA_OP_MASK) == REFMDEV_DMA_OP_FILL;
	struct refmdev_span s = {}, d = {};
	u32 st = REFMDEV_DMA_ST_OK;

	/*
	 * Pin guest memory before taking a window's reservation lock: GUP
	 * takes mmap_lock, which comes first (lock order: refmdev.h).
	 */
	if (!dwin) {
		st = span_get(rd, &d, 0, dst, len,
			      flags & REFMDEV_DMA_F_DST_DEVMEM, IOMMU_WRITE);
		if (st != REFMDEV_DMA_ST_OK)
			goto out;
	}
	if (!fill && !swin) {
		st = span_get(rd, &s, 1, src, len,
			      flags & REFMDEV_DMA_F_SRC_DEVMEM, IOMMU_READ);
		if (st != REFMDEV_DMA_ST_OK)
			goto out;
	}
	if (dwin)
		st = span_window(&d, dwin, dst, len, true);
	else if (swin)
		st = span_window(&s, swin, src, len, false);
	if (st != REFMDEV_DMA_ST_OK)
		goto out;

	if (fill)
		st = span_fill(rd, &d, src, len);
	else
		span_copy(&d, &s, len);
out:
	/*
	 * The window's reservation lock goes before the pin cache may unpin:
	 * type1's iommu->lock comes before it (lock order: refmdev.h).
	 */
	span_release(&s);
	span_release(&d);
	refmdev_pin_cache_put(rd);
	return st;
}

u32 refmdev_dma_transfer(struct refmdev *rd,
			 const struct refmdev_dma_desc *desc)
{
	u32 flags = le32_to_cpu(desc->flags), len = le32_to_cpu(desc->len);
	u64 src = le64_to_cpu(desc->src), dst = le64_to_cpu(desc->dst);
	struct p2p_window *swin, *dwin, *win;
	u32 st;

	st = refmdev_xfer_check(desc, flags);
	if (st != REFMDEV_DMA_ST_OK)
		return st;
	/* Either side spans at most one page more than its length needs. */
	if (refmdev_xfer_scratch_reserve(rd, DIV_ROUND_UP(len, PAGE_SIZE) + 1))
		return REFMDEV_DMA_ST_NO_MEM;

	/*
	 * A descriptor that uses a window holds windows.lock to the end, so
	 * the window cannot be detached under it. One that uses none lets
	 * go at once: it pins and copies with the slots free to change, as
	 * if it had run just before any attach that follows.
	 */
	p2p_windows_lock(&rd->windows);
	st = refmdev_xfer_find_windows(rd, src, dst, len, flags, &swin, &dwin);
	if (st != REFMDEV_DMA_ST_OK || (!swin && !dwin)) {
		p2p_windows_unlock(&rd->windows);
		if (st != REFMDEV_DMA_ST_OK)
			return st;
		refmdev_dma_section_begin(rd);
		st = refmdev_xfer_run(rd, src, dst, len, flags, NULL, NULL);
		refmdev_dma_section_end(rd);
		return st;
	}
	/*
	 * Other devices' work on the window ends, and the exporter grants
	 * CPU access, before we pin anything.
	 */
	win = dwin ? dwin : swin;
	st = refmdev_xfer_window_status(p2p_window_prepare(&rd->windows, win,
							   !!dwin));
	if (st == REFMDEV_DMA_ST_OK) {
		refmdev_dma_section_begin(rd);
		st = refmdev_xfer_run(rd, src, dst, len, flags, swin, dwin);
		refmdev_dma_section_end(rd);
	}
	p2p_window_finish(&rd->windows, win, !!dwin);
	p2p_windows_unlock(&rd->windows);
	return st;
}
