// SPDX-License-Identifier: GPL-2.0
/*
 * One DMA descriptor's transfer: check it, turn its source and
 * destination into arrays of pages (or, for a P2P window, a kernel
 * mapping), copy or fill, let them go.
 *
 * Guest memory is reached by pinning with vfio_pin_pages(), at most
 * VFIO_PIN_PAGES_MAX_ENTRIES pages per call, page-aligned IOVAs, and
 * unpinned with exactly the same calls. Both sides are pinned in full
 * before a byte moves: a descriptor either completes or fails having
 * written nothing, and the pages it pins at once are what counts against
 * the owner's RLIMIT_MEMLOCK. Device memory (BAR2) is reached through the
 * device's own page array, holding a page reference for the duration.
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
#include <linux/slab.h>
#include "compat.h"
#include "refmdev.h"

/* How a span holds its memory. */
enum refmdev_span_kind {
	SPAN_PINNED,		/* vfio pins of guest memory */
	SPAN_DEVMEM,		/* references on our own BAR2 pages */
	SPAN_WINDOW,		/* a P2P window's kernel mapping, under its resv lock */
};

/* One side of a transfer: pages, or a kernel address for a window. */
struct refmdev_span {
	struct page **pages;
	unsigned long npages;
	u64 iova;		/* of pages[0], when pinned */
	unsigned int offset;	/* of the first byte, in pages[0] */
	enum refmdev_span_kind kind;
	struct p2p_window *win;	/* SPAN_WINDOW: */
	u8 *vaddr;			/* its first byte */
};

/*
 * The two backends answer vfio_pin_pages() differently: type1 gives
 * EINVAL for an IOVA that is not (fully) mapped; iommufd gives ENOENT for
 * that and EINVAL for a range being unmapped right now, for no IOAS
 * attached, and also for an area mapped from a user address that is not
 * page aligned, which type1 refuses at map time. That last case is
 * mapped but cannot be pinned, and still reads UNMAPPED here: the errno
 * does not tell it apart.
 */
static u32 refmdev_xfer_pin_status(int err)
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

static void span_unpin(struct refmdev *rd, struct refmdev_span *span,
		       unsigned long count)
{
	unsigned long done = 0;

	while (done < count) {
		unsigned long n = min_t(unsigned long, count - done,
					VFIO_PIN_PAGES_MAX_ENTRIES);

		refmdev_dma_type1_call_begin(rd);
		vfio_unpin_pages(&rd->vdev, span->iova + done * PAGE_SIZE, n);
		refmdev_dma_type1_call_end(rd);
		done += n;
	}
}

static void span_release(struct refmdev *rd, struct refmdev_span *span)
{
	unsigned long i;

	if (span->kind == SPAN_WINDOW) {
		if (span->vaddr)
			p2p_window_end(span->win);
		span->vaddr = NULL;
		return;
	}
	if (!span->pages)
		return;
	switch (span->kind) {
	case SPAN_PINNED:
		span_unpin(rd, span, span->npages);
		break;
	case SPAN_DEVMEM:
		for (i = 0; i < span->npages; i++)
			put_page(span->pages[i]);
		break;
	case SPAN_WINDOW:
		break;
	}
	kvfree(span->pages);
	span->pages = NULL;
}

static int span_alloc(struct refmdev_span *span, u64 addr, u32 len)
{
	span->offset = offset_in_page(addr);
	span->npages = DIV_ROUND_UP(span->offset + (u64)len, PAGE_SIZE);
	span->pages = kvmalloc_array(span->npages, sizeof(*span->pages),
				     GFP_KERNEL);
	return span->pages ? 0 : -ENOMEM;
}

/* Pin [iova, iova + len) of guest memory; all or nothing. */
static u32 span_pin(struct refmdev *rd, struct refmdev_span *span, u64 iova,
		    u32 len, int prot)
{
	unsigned long done = 0;
	int ret;

	if (span_alloc(span, iova, len))
		return REFMDEV_DMA_ST_NO_MEM;
	span->iova = iova & PAGE_MASK;
	span->kind = SPAN_PINNED;

	while (done < span->npages) {
		int n = min_t(unsigned long, span->npages - done,
			      VFIO_PIN_PAGES_MAX_ENTRIES);

		refmdev_dma_type1_call_begin(rd);
		ret = vfio_pin_pages(&rd->vdev, span->iova + done * PAGE_SIZE,
				     n, prot, span->pages + done);
		refmdev_dma_type1_call_end(rd);
		if (ret != n) {
			span_unpin(rd, span, done);
			kvfree(span->pages);
			span->pages = NULL;
			return refmdev_xfer_pin_status(ret < 0 ? ret : -EFAULT);
		}
		done += n;
	}
	return REFMDEV_DMA_ST_OK;
}

/* Take references on the BAR2 pages behind [off, off + len). */
static u32 span_devmem(struct refmdev *rd, struct refmdev_span *span, u64 off,
		       u32 len)
{
	if (off >= rd->type->devmem_size || len > rd->type->devmem_size - off)
		return REFMDEV_DMA_ST_DEVMEM_RANGE;
	if (span_alloc(span, off, len))
		return REFMDEV_DMA_ST_NO_MEM;
	span->kind = SPAN_DEVMEM;
	if (refmdev_devmem_get_pages(rd, off >> PAGE_SHIFT, span->npages,
				     span->pages)) {
		kvfree(span->pages);
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

/* Byte @off of the span, mapped; span_unmap() when done. */
static void *span_map(struct refmdev_span *span, u64 off)
{
	if (span->kind == SPAN_WINDOW)
		return span->vaddr + off;
	off += span->offset;
	return kmap_local_page(span->pages[off >> PAGE_SHIFT]) +
	       offset_in_page(off);
}

static void span_unmap(struct refmdev_span *span, void *addr)
{
	if (span->kind != SPAN_WINDOW)
		kunmap_local(addr);
}

/* How much of the span from byte @off on lies in one page. */
static u64 span_chunk(struct refmdev_span *span, u64 off)
{
	if (span->kind == SPAN_WINDOW)
		return PAGE_SIZE;
	return PAGE_SIZE - offset_in_page(span->offset + off);
}

static u32 span_get(struct refmdev *rd, struct refmdev_span *span, u64 addr,
		    u32 len, bool devmem, int prot)
{
	return devmem ? span_devmem(rd, span, addr, len) :
			span_pin(rd, span, addr, len, prot);
}

static void span_copy(struct refmdev_span *dst, struct refmdev_span *src, u32 len)
{
	u64 done = 0;

	while (done < len) {
		size_t n = min3((u64)len - done, span_chunk(src, done),
				span_chunk(dst, done));
		void *from = span_map(src, done);
		void *to = span_map(dst, done);

		memcpy(to, from, n);
		span_unmap(dst, to);
		span_unmap(src, from);
		done += n;
		cond_resched();
	}
}

/* Destination byte k becomes byte k % 8 of @pattern. */
static u32 span_fill(struct refmdev_span *dst, u64 pattern, u32 len)
{
	u8 *tile;
	u64 done = 0;
	unsigned int i;

	/* A page of the pattern plus 7 bytes, to start at any phase. */
	tile = kmalloc(PAGE_SIZE + 8, GFP_KERNEL);
	if (!tile)
		return REFMDEV_DMA_ST_NO_MEM;
	for (i = 0; i < PAGE_SIZE + 8; i++)
		tile[i] = pattern >> (8 * (i % 8));
	while (done < len) {
		size_t n = min_t(u64, (u64)len - done, span_chunk(dst, done));
		void *to = span_map(dst, done);

		memcpy(to, tile + (done % 8), n);
		span_unmap(dst, to);
		done += n;
		cond_resched();
	}
	kfree(tile);
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
		st = span_get(rd, &d, dst, len,
			      flags & REFMDEV_DMA_F_DST_DEVMEM, IOMMU_WRITE);
		if (st != REFMDEV_DMA_ST_OK)
			goto out;
	}
	if (!fill && !swin) {
		st = span_get(rd, &s, src, len,
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
		st = span_fill(&d, src, len);
	else
		span_copy(&d, &s, len);
out:
	/*
	 * The window's reservation lock goes first, before any unpin: type1's
	 * iommu->lock comes before it (lock order: refmdev.h).
	 */
	if (s.kind == SPAN_WINDOW)
		span_release(rd, &s);
	if (d.kind == SPAN_WINDOW)
		span_release(rd, &d);
	span_release(rd, &s);
	span_release(rd, &d);
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
