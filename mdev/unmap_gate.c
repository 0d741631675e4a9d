// SPDX-License-Identifier: GPL-2.0
/*
 * The .dma_unmap barrier, and the pin sections it waits for.
 *
 * The DMA engine pins, and uses what it pinned, only inside a pin section
 * (see struct refmdev_dma). .dma_unmap waits for the device's current
 * section to close; the engine's only pins then are those its pin cache
 * keeps, and .dma_unmap unpins every one in the range (pin_cache.c), so
 * once it returns the device holds no pin there.
 *
 * That alone is not enough. type1 (and iommufd) notify the devices of one
 * IOMMU context in turn, from the task doing the unmap, with their own
 * lock dropped, and look for pins again once all have returned: a device
 * already notified that pins the range again before the unmap is done
 * sends everyone round again (type1 BUGs after ten rounds). So a notified
 * device must open no new section until the unmap that notified it is
 * over. Nothing says which devices share a context, and nothing says
 * when an unmap is over; but the devices an unmapping task notifies are
 * exactly those that can pin what it unmaps, and its unmap is over when
 * the task leaves the system call. Hence the gate: the first callback a
 * task makes during a system call creates a record of it (struct
 * refmdev_unmapper), each device it notifies links itself to that
 * record, and a linked device's worker opens no section until the record
 * closes, which happens when the task returns to user space. A device
 * that no task of its own context notified never waits here, whatever
 * other users do.
 *
 * The end of the system call is seen through a file: the record owns an
 * anonymous file whose only reference the callback drops at once. The
 * last fput() of a user task runs the release as task work, on the way
 * back to user space, so the file's release is exactly "the unmap ioctl
 * has returned"; and the VFS holds our module across it (f_op->owner).
 * If the unmapping task is a kernel thread, the release runs from a
 * worker a moment later instead.
 *
 * The record, its file and the links are allocated, and allocation can
 * fail: memory runs short, or an unprivileged user fills the system's
 * file table. So each open device keeps a spare record (its file made)
 * and a spare link, made at open and again by its worker whenever one
 * was used; a callback that cannot allocate takes the device's spare.
 * Only if the spare is gone too does it fall back on a gate that needs
 * no memory: the device's worker opens no section for
 * REFMDEV_GATE_FALLBACK from the callback's return. That one is weaker
 * (type1 may still be notifying other devices when it runs out), but it
 * takes two failures in a row, and its price is a bounded pause of the
 * notified device alone.
 *
 * A device links to every open record that notified it (two tasks may
 * unmap in one context at once), and only while it is open: iommufd
 * detaches, and type1 unregisters, a device after its close_device, and
 * the notifications they send then must not hold up the device's next
 * user.
 *
 * One rule follows for callers: a task must not wait for a linked
 * device's worker before its own record has closed. The release runs
 * from the task's next task-work pass, so a close (which waits for the
 * worker) queued in the same pass as the unmap would wait for itself.
 * Nothing in the VFIO core notifies another open device from a release
 * today.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/refcount.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include "refmdev.h"

/*
 * One task's unmap system call, while it notifies our devices.
 *
 * Lifetime: @ref counts the record's own reference (dropped when it
 * closes, in its file's release), the links devices hold to it (struct
 * refmdev_unmap_link on refmdev_dma.unmap_links, under that device's
 * pin_lock) and anyone looking at it. A record is made with its file and
 * started by the callback that needs it, which sets @task (a reference,
 * so that no other task can take its place as a key while the record is
 * open) and drops the file's only reference; a spare that is never
 * started is closed the same way when its device lets go of it.
 *
 * @open and @node change together under unmappers_lock; the record is on
 * unmappers exactly while it is open. @closed is where linked workers
 * wait for it to close.
 */
struct refmdev_unmapper {
	struct list_head node;
	struct task_struct *task;	/* NULL until started */
	refcount_t ref;
	bool open;
	struct file *file;	/* until started: its release closes the record */
	wait_queue_head_t closed;
};

/* A device's link to a record that notified it; see refmdev_dma. */
struct refmdev_unmap_link {
	struct list_head node;		/* in refmdev_dma.unmap_links */
	struct refmdev_unmapper *u;	/* a reference */
};

/* How long a notification without a record keeps the worker gated. */
#define REFMDEV_GATE_FALLBACK	(HZ / 10)

static LIST_HEAD(unmappers);
static DEFINE_SPINLOCK(unmappers_lock);	/* protects unmappers, open */

static void unmapper_put(struct refmdev_unmapper *u)
{
	if (!u || !refcount_dec_and_test(&u->ref))
		return;
	if (u->task)
		put_task_struct(u->task);
	kfree(u);
}

static void unmapper_close(struct refmdev_unmapper *u)
{
	spin_lock(&unmappers_lock);
	list_del_init(&u->node);
	WRITE_ONCE(u->open, false);
	spin_unlock(&unmappers_lock);
	wake_up_all(&u->closed);
	unmapper_put(u);	/* the record's own reference */
}

static int unmapper_release(struct inode *inode, struct file *file)
{
	unmapper_close(file->private_data);
	return 0;
}

static const struct file_operations unmapper_fops = {
	.owner = THIS_MODULE,
	.release = unmapper_release,
};

/* The open record of the current task, with a reference, if it has one. */
static struct refmdev_unmapper *unmapper_find_current(void)
{
	struct refmdev_unmapper *u;

	spin_lock(&unmappers_lock);
	list_for_each_entry(u, &unmappers, node) {
		if (u->task == current) {
			refcount_inc(&u->ref);
			spin_unlock(&unmappers_lock);
			return u;
		}
	}
	spin_unlock(&unmappers_lock);
	return NULL;
}

/* A record with its file, not started; NULL if memory or files are short. */
static struct refmdev_unmapper *unmapper_alloc(void)
{
	struct refmdev_unmapper *u = kzalloc(sizeof(*u), GFP_KERNEL);
	struct file *file;

	if (!u)
		return NULL;
	INIT_LIST_HEAD(&u->node);
	refcount_set(&u->ref, 1);	/* its own */
	init_waitqueue_head(&u->closed);
	file = anon_inode_getfile("[refmdev-unmap]", &unmapper_fops, u,
				  O_RDONLY);
	if (IS_ERR(file)) {
		kfree(u);
		return NULL;
	}
	u->file = file;
	return u;
}

/*
 * The current task's open record, with a reference for the caller:
 * the one it has, or a new one, or @dma's spare (only the task itself
 * starts its record, so there is no race to start two). NULL if none
 * can be had.
 */
static struct refmdev_unmapper *unmapper_get_current(struct refmdev_dma *dma)
{
	struct refmdev_unmapper *u = unmapper_find_current();
	struct file *file;

	if (u)
		return u;
	u = unmapper_alloc();
	if (!u) {
		spin_lock(&dma->pin_lock);
		u = dma->spare;
		dma->spare = NULL;
		spin_unlock(&dma->pin_lock);
		if (!u)
			return NULL;
	}
	u->task = get_task_struct(current);
	refcount_inc(&u->ref);		/* the caller's */
	u->open = true;
	spin_lock(&unmappers_lock);
	list_add(&u->node, &unmappers);
	spin_unlock(&unmappers_lock);
	/* The release, and so the close, runs when the syscall returns. */
	file = u->file;
	u->file = NULL;
	fput(file);
	return u;
}

/* Let go of a spare record that was never started. */
static void unmapper_discard(struct refmdev_unmapper *u)
{
	if (u)
		fput(u->file);
}

/*
 * Make the device's spares, where they are missing, for a callback that
 * cannot allocate. Never under a lock; failing is fine, the next call
 * tries again.
 */
static void refmdev_dma_fill_spares(struct refmdev_dma *dma)
{
	struct refmdev_unmap_link *link = NULL;
	struct refmdev_unmapper *u = NULL;

	/* Unlocked peeks, only to skip needless allocations: checked again below. */
	if (!data_race(dma->spare))
		u = unmapper_alloc();
	if (!data_race(dma->spare_link))	/* ditto */
		link = kmalloc(sizeof(*link), GFP_KERNEL);
	spin_lock(&dma->pin_lock);
	if (u && !dma->spare && dma->active) {
		dma->spare = u;
		u = NULL;
	}
	if (link && !dma->spare_link && dma->active) {
		dma->spare_link = link;
		link = NULL;
	}
	spin_unlock(&dma->pin_lock);
	unmapper_discard(u);
	kfree(link);
}

/* Drop links taken off a device's list. */
static void unmap_links_free(struct list_head *links)
{
	struct refmdev_unmap_link *link, *tmp;

	list_for_each_entry_safe(link, tmp, links, node) {
		unmapper_put(link->u);
		kfree(link);
	}
}

/*
 * Open a pin section once no record this device is linked to is open.
 * The wait is TASK_IDLE: it lasts as long as the unmapping system call,
 * which its user can stretch (a reply copied to a userfaultfd page), and
 * only this device waits.
 */
void refmdev_dma_section_begin(struct refmdev *rd)
{
	struct refmdev_dma *dma = &rd->dma;
	struct refmdev_unmap_link *link, *tmp;
	struct refmdev_unmapper *u;

	refmdev_dma_fill_spares(dma);
	for (;;) {
		LIST_HEAD(closed);
		unsigned long now;
		long timed = 0;

		u = NULL;
		spin_lock(&dma->pin_lock);
		list_for_each_entry_safe(link, tmp, &dma->unmap_links, node) {
			if (!READ_ONCE(link->u->open))
				list_move(&link->node, &closed);
			else if (!u)
				u = link->u;
		}
		now = jiffies;
		if (dma->gate_timed && time_before(now, dma->gate_until))
			timed = dma->gate_until - now;
		else
			dma->gate_timed = false;
		if (u)
			refcount_inc(&u->ref);
		else if (!timed)
			dma->pinning = true;
		spin_unlock(&dma->pin_lock);
		unmap_links_free(&closed);
		if (u) {
			wait_event_idle(u->closed, !READ_ONCE(u->open));
			unmapper_put(u);
		} else if (timed) {
			schedule_timeout_idle(timed);
		} else {
			lock_map_acquire(&dma->section_map);
			return;
		}
	}
}

void refmdev_dma_section_end(struct refmdev *rd)
{
	struct refmdev_dma *dma = &rd->dma;

	lock_map_release(&dma->section_map);
	spin_lock(&dma->pin_lock);
	dma->pinning = false;
	spin_unlock(&dma->pin_lock);
	wake_up_all(&dma->pin_wq);
}

/* The fallback gate, REFMDEV_GATE_FALLBACK from now. */
static void gate_for_a_while(struct refmdev_dma *dma)
{
	lockdep_assert_held(&dma->pin_lock);
	dma->gate_timed = true;
	dma->gate_until = jiffies + REFMDEV_GATE_FALLBACK;
}

static bool unmap_linked(struct refmdev_dma *dma, struct refmdev_unmapper *u)
{
	struct refmdev_unmap_link *link;

	lockdep_assert_held(&dma->pin_lock);
	list_for_each_entry(link, &dma->unmap_links, node)
		if (link->u == u)
			return true;
	return false;
}

/*
 * Called by type1 for every VFIO_IOMMU_UNMAP_DMA that covers pages pinned
 * through this device, and by iommufd for every IOMMU_IOAS_UNMAP of an
 * IOAS the device is attached to and with (0, ULONG_MAX) when it
 * detaches. A section waits for nothing of another user's (see struct
 * refmdev_dma), so neither does this.
 */
void refmdev_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct refmdev_dma *dma = &vdev_to_refmdev(vdev)->dma;
	struct refmdev_unmapper *u = unmapper_get_current(dma);
	struct refmdev_unmap_link *link = NULL;
	unsigned int opened;
	bool timed;

	if (u)
		link = kmalloc(sizeof(*link), GFP_KERNEL);
	/*
	 * Linked under pin_lock: a worker that opened its section before
	 * has set pinning where we look below; one that comes after finds
	 * the link and waits for the record to close.
	 */
	spin_lock(&dma->pin_lock);
	if (u && !link) {
		link = dma->spare_link;
		dma->spare_link = NULL;
	}
	if (link && dma->active && !unmap_linked(dma, u)) {
		refcount_inc(&u->ref);
		link->u = u;
		list_add(&link->node, &dma->unmap_links);
		link = NULL;
	}
	/* No record or no link: the last resort. */
	timed = dma->active && (!u || !unmap_linked(dma, u));
	opened = dma->opened;
	if (timed)
		gate_for_a_while(dma);
	/* A spare we took but did not need stays the spare. */
	if (link && !dma->spare_link && dma->active) {
		dma->spare_link = link;
		link = NULL;
	}
	spin_unlock(&dma->pin_lock);
	kfree(link);

	/* To lockdep, waiting for the section is taking it. */
	lock_map_acquire(&dma->section_map);
	lock_map_release(&dma->section_map);
	wait_event(dma->pin_wq, !READ_ONCE(dma->pinning));
	refmdev_pin_cache_unmap(vdev_to_refmdev(vdev), iova, length);
	atomic_inc(&dma->unmap_calls);

	if (timed) {
		/*
		 * It counts from our return, not from before the wait; unless
		 * the device was closed meanwhile (a reopened one may have
		 * lost its gate: a repeated round, not a pause of a new user).
		 */
		spin_lock(&dma->pin_lock);
		if (dma->active && dma->opened == opened)
			gate_for_a_while(dma);
		spin_unlock(&dma->pin_lock);
	}
	unmapper_put(u);
}

/* Around a vfio_pin_pages() or vfio_unpin_pages() call in a section. */
void refmdev_dma_type1_call_begin(struct refmdev *rd)
{
	lock_map_release(&rd->dma.section_map);
}

void refmdev_dma_type1_call_end(struct refmdev *rd)
{
	lock_map_acquire(&rd->dma.section_map);
}

/*
 * The device is opened (@active) or closed, its worker stopped either
 * way: links from an earlier user, or from notifications sent while it
 * was closed, are dropped; an open device gets its spares (see the top
 * of this file), a closed one lets them go.
 */
void refmdev_dma_set_active(struct refmdev *rd, bool active)
{
	struct refmdev_dma *dma = &rd->dma;
	struct refmdev_unmap_link *spare_link;
	struct refmdev_unmapper *spare;
	LIST_HEAD(links);

	spin_lock(&dma->pin_lock);
	dma->active = active;
	dma->opened++;
	list_splice_init(&dma->unmap_links, &links);
	dma->gate_timed = false;
	spare = dma->spare;
	dma->spare = NULL;
	spare_link = dma->spare_link;
	dma->spare_link = NULL;
	spin_unlock(&dma->pin_lock);
	unmap_links_free(&links);
	unmapper_discard(spare);
	kfree(spare_link);
	if (active)
		refmdev_dma_fill_spares(dma);
}
