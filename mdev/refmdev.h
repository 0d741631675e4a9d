/* SPDX-License-Identifier: GPL-2.0 */
/*
 * refmdev internal definitions: the per-device state and the interfaces
 * between the files that emulate its parts.
 */
#ifndef REFMDEV_H
#define REFMDEV_H

#include <linux/mdev.h>
#include <linux/mutex.h>
#include <linux/pci_regs.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/refmdev.h>
#include "../p2p/p2p.h"

struct page;
struct refmdev_unmap_link;
struct refmdev_unmapper;

#define REFMDEV_NAME		"refmdev"

/*
 * VFIO region offsets: the region index sits above bit 40 of the file
 * offset, the same convention vfio-pci uses, so tools that assume it work.
 */
#define REFMDEV_OFFSET_SHIFT	40
#define REFMDEV_OFFSET_MASK	((1ULL << REFMDEV_OFFSET_SHIFT) - 1)
#define REFMDEV_INDEX_TO_OFFSET(i)	((u64)(i) << REFMDEV_OFFSET_SHIFT)

struct refmdev_type {
	struct mdev_type mtype;
	unsigned int index;		/* subsystem ID offset */
	u64 devmem_size;		/* BAR2 size: a power of two */
};

/*
 * Device memory behind BAR2.
 *
 * Pages are ordinary order-0 kernel pages (never movable), mapped into
 * user space through normal PTEs so that GUP can take real references.
 * Lifetime is by reference count only: the device holds one reference on
 * each page in @pages; user PTEs and pins of other devices hold their own.
 * Replacing the memory (open) swaps in a new array and drops the
 * device's references to the old pages, after zapping user mappings; a
 * page that someone else still pins stays alive until they let go.
 *
 * A reset renews the memory instead: after zapping user mappings it keeps
 * every page only the device holds, marked in @unzeroed, and replaces the
 * others (held by a peer's pin, a read() in flight) with fresh zeroed
 * pages, so that after a reset no page is shared with anyone. A page
 * marked in @unzeroed still has its old contents and is zeroed before
 * anything but the zeroing reaches it: by whoever asks for it first, or
 * by @zero_work, which a reset queues. Both zero under @lock, which is
 * what makes "marked" mean "nobody has seen it since the reset".
 *
 * @lock protects @pages, @decode, @unzeroed and @nr_unzeroed. It is taken
 * in the fault handler (under mmap_lock) and under a dma-buf's
 * reservation lock (an importer's map, vmap or CPU fault), so it must
 * never be held while touching user memory, taking mmap_lock or a
 * reservation lock: region reads and writes take a page reference under
 * the lock and copy after dropping it.
 *
 * @zero_work runs while the device exists and is cancelled when it goes.
 */
struct refmdev_devmem {
	struct mutex lock;	/* see above */
	struct page **pages;
	unsigned long npages;
	bool decode;		/* PCI_COMMAND_MEMORY is set */
	unsigned long *unzeroed;	/* bitmap of @npages */
	unsigned long nr_unzeroed;
	struct work_struct zero_work;
	/*
	 * The file user mappings are moved to on kernels without a per-device
	 * inode (devmem_file.c); set from open to close, else NULL. Only
	 * .open_device and .close_device write it (the VFIO core serialises
	 * them); everything else that reads it runs while the device is open.
	 */
	struct file *file;
};

enum refmdev_irq_mode {
	REFMDEV_IRQ_NONE,
	REFMDEV_IRQ_INTX,
	REFMDEV_IRQ_MSI,
};

/*
 * Interrupt delivery to the VFIO user; protected by refmdev.lock, except
 * @intx_unmask, which the VFIO core's virqfd code manages under its own
 * lock and which is enabled and disabled without refmdev.lock held (its
 * work takes that lock). Changes of @mode and of @intx_unmask are also
 * serialised by refmdev.irq_gate, so that the unmask eventfd exists only
 * while INTx is on.
 */
struct refmdev_irqs {
	enum refmdev_irq_mode mode;
	struct eventfd_ctx *intx_trigger;
	struct eventfd_ctx *msi_trigger;
	struct eventfd_ctx *err_trigger;
	struct eventfd_ctx *req_trigger;
	bool intx_masked;	/* by the user, or automatically on assert */
	bool pending;		/* last computed (INT_STATUS & INT_MASK) != 0 */
	struct virqfd *intx_unmask;	/* an eventfd that unmasks INTx */
};

/*
 * Guest memory the DMA engine keeps pinned between descriptors
 * (pin_cache.c, which explains the rules).
 *
 * @lock protects the tree of chunks, the lists and the page counts; it
 * is never held across a pin or unpin. Only the worker adds chunks and
 * uses them, inside its pin section; .dma_unmap and the engine's stops
 * take them out. @unpinning counts the pages taken out and not unpinned
 * yet (under @lock), and @unpinned is where .dma_unmap waits for it to
 * reach zero; @unpin_work unpins what .dma_unmap took out, onto @doomed.
 * @pages (pinned now, in every chunk) is written under @lock and read
 * without it by debugfs.
 *
 * Lifetime: chunks live from their pin to their unpin; the unpin work is
 * queued (under @lock) only by .dma_unmap, which waits for it, and
 * refmdev_pin_cache_drop() takes over @doomed and flushes it, which close
 * does; release cancels it.
 */
struct refmdev_pin_cache {
	struct mutex lock;	/* see above */
	struct rb_root_cached tree;	/* cached chunks by IOVA */
	struct list_head idle;	/* cached, unused; least recently used first */
	struct list_head busy;	/* used by the descriptor in hand */
	unsigned long pages;
	unsigned long cached_pages;	/* in the tree */
	unsigned long limit;	/* pin_cache_pages, when the device was opened */
	bool iommufd;		/* bound through iommufd, from bind to unbind */
	unsigned long unpinning;
	wait_queue_head_t unpinned;
	struct list_head doomed;
	struct work_struct unpin_work;
	atomic_t pin_calls;	/* vfio_pin_pages() calls, for debugfs */
};

/*
 * Scratch space of the worker for one descriptor, so that the copy path
 * allocates nothing once warm: the page arrays of its two sides (grown
 * to the largest descriptor seen) and the tile a fill copies from. Only
 * the worker touches them; freed at close, when it is stopped.
 */
struct refmdev_xfer_scratch {
	struct page **pages[2];
	unsigned long npages;	/* capacity of each */
	u8 *tile;
};

/*
 * The DMA engine (dma.c, dma_xfer.c, pin_cache.c, unmap_gate.c).
 *
 * Register state (ring_base .. completed, stopping) is protected by
 * refmdev.lock. The worker takes that lock only to read and update the
 * registers, never while it touches guest memory, so register accesses
 * and interrupts are never held up by a transfer.
 *
 * Pin sections. The engine pins and uses pinned pages only inside a pin
 * section: the worker sets @pinning (refmdev_dma_section_begin()) before
 * its first vfio_pin_pages() for a descriptor and clears it once the
 * descriptor is done with its pins; what it keeps stays in @pins, the pin
 * cache. .dma_unmap, while the device is open (@active), links it to a
 * record of the unmapping task's system call (@unmap_links), which keeps
 * the worker from opening a section until every such call has returned
 * (unmap_gate.c), waits until @pinning is clear, and then unpins what
 * @pins holds in the range: when it returns, the engine holds no pin
 * there. A section
 * waits for the pinning of the user's own memory (GUP, which a FUSE
 * server can hold) and for the reservation lock of a window's dma-buf
 * (held briefly by its exporter and importers, never across a wait on
 * user space); fences, window slots and the descriptor's status write
 * come before or after it (dma_xfer.c, dma.c). For a call that cannot
 * allocate its record or link the device keeps a @spare of each, and as
 * a last resort gates the worker for a fixed time (@gate_until, while
 * @gate_timed). @pin_lock (a spinlock, never held while sleeping)
 * protects @pinning, @active, @unmap_links, the spares and the timed
 * gate; @pin_wq is where .dma_unmap waits. @unmap_calls counts
 * .dma_unmap calls, for debugfs.
 *
 * The section is not a lock, but .dma_unmap waits for it as for one, and
 * type1 calls .dma_unmap holding its device_list_lock while the section
 * takes type1's iommu->lock to pin and unpin. type1 itself takes
 * iommu->lock before device_list_lock when a device joins or leaves the
 * container, so a device opened into a container while an unmap there
 * waits for a section that needs iommu->lock stops that container for
 * good: type1's own inversion, shared by every driver that unpins when
 * notified (Documentation/design.rst). It reaches no other container.
 *
 * Lifetime: the work item runs only between open and close. Reset and
 * close set @stopping under refmdev.lock, so no new work is queued, and
 * cancel_work_sync() waits for a running worker to finish its current
 * descriptor. refmdev.reset_lock keeps two such stops from overlapping.
 */
struct refmdev_dma {
	u64 ring_base;
	u32 ring_size;
	u32 head;
	u32 tail;
	u32 control;
	u32 status;
	u32 completed;
	bool stopping;

	struct work_struct work;

	spinlock_t pin_lock;	/* see above */
	bool pinning;
	bool active;		/* open: .dma_unmap links to its caller */
	unsigned int opened;	/* counts opens and closes */
	struct list_head unmap_links;
	struct refmdev_unmapper *spare;		/* see unmap_gate.c */
	struct refmdev_unmap_link *spare_link;
	bool gate_timed;
	unsigned long gate_until;	/* jiffies */
	/*
	 * The section as lockdep sees it: held by the worker from
	 * refmdev_dma_section_begin() to _end(), and taken and dropped by
	 * .dma_unmap where it waits. Dropped around vfio_pin_pages() and
	 * vfio_unpin_pages(): their iommu->lock closes type1's own cycle
	 * (see above), which lockdep would report at once and no driver can
	 * break; everything else the section does is watched.
	 */
	struct lockdep_map section_map;
	wait_queue_head_t pin_wq;
	atomic_t unmap_calls;

	struct refmdev_pin_cache pins;
	struct refmdev_xfer_scratch scratch;
};

/* BAR0 register state; protected by refmdev.lock. */
struct refmdev_regs {
	u32 control;
	u32 int_status;
	u32 int_mask;
	u32 scratch;
	u64 scratch64;
};

/*
 * One mediated device.
 *
 * Lifetime: allocated by vfio_alloc_device() in probe, freed through
 * vfio_put_device() after vfio_unregister_group_dev() in remove. The VFIO
 * core keeps it alive while any device fd (and so any mmap of it) exists.
 *
 * @lock covers configuration space, the register file, interrupt state
 * and open/reset transitions. @reset_lock serialises the operations that
 * stop the DMA engine and start it again (resets, the bus-master fence),
 * so that one cannot restart the engine while another still expects it
 * stopped, and every change of the exported dma-bufs' state (revoke,
 * restore, close): it is the exporter's state lock (p2p/p2p.h).
 *
 * Lock order. This is the one statement of it for the whole driver;
 * comments and documents elsewhere point here. Outermost first, an
 * indented lock is taken under the one above it:
 *
 *   @reset_lock
 *     @irq_gate
 *       @lock
 *         devmem.lock
 *     export.lock (p2p/p2p.h; never under @lock: a revocation waits,
 *                  bounded, for importers and fences, and register
 *                  access and interrupts must not wait with it)
 *       devmem.lock (the pages of a restore)
 *       a dma-buf's reservation lock
 *   windows.lock (p2p/p2p.h; the DMA worker, across one descriptor)
 *     the pin section (struct refmdev_dma: type1's iommu->lock, mmap_lock)
 *       a dma-buf's reservation lock
 *       dma.pins.lock (never held across a pin or unpin)
 *   mmap_lock (faults on a BAR2 or dma-buf mapping)
 *     devmem.lock, or a dma-buf's reservation lock
 *   a dma-buf's reservation lock (an importer's map or vmap, a CPU fault)
 *     devmem.lock (the pages zeroed before they are reached)
 *   dma.pin_lock, unmap_gate.c's unmappers_lock, the module's budget_lock:
 *     innermost, held only for their own fields; nothing is taken in them.
 *
 * The worker takes @lock only between descriptors, never inside
 * windows.lock or the pin section. No lock of ours is held while copying
 * to or from user memory; @lock and devmem.lock are never held while
 * taking mmap_lock. p2p/p2p.h explains the part of the order that
 * concerns the export and the windows.
 */
struct refmdev {
	struct vfio_device vdev;
	const struct refmdev_type *type;

	struct mutex reset_lock;	/* see above */
	struct mutex irq_gate;	/* see struct refmdev_irqs */
	struct mutex lock;	/* see above */
	u8 config[REFMDEV_CFG_SIZE];
	u8 config_wmask[PCI_CFG_SPACE_SIZE];	/* writable bits */
	struct refmdev_regs regs;
	struct refmdev_irqs irqs;
	struct refmdev_dma dma;

	struct refmdev_devmem devmem;
	struct p2p_exporter export;	/* BAR2 dma-bufs we export */
	struct p2p_windows windows;	/* dma-bufs our engine imports */
	struct dentry *debugfs;		/* this device's directory */
};

static inline struct refmdev *vdev_to_refmdev(struct vfio_device *vdev)
{
	return container_of(vdev, struct refmdev, vdev);
}

static inline struct device *refmdev_dev(struct refmdev *rd)
{
	return rd->vdev.dev;
}

/* config.c: PCI configuration space */
void refmdev_config_init(struct refmdev *rd);
ssize_t refmdev_config_rw(struct refmdev *rd, char __user *buf,
			  size_t count, loff_t pos, bool write);
u16 refmdev_config_command(struct refmdev *rd);
void refmdev_config_set_command(struct refmdev *rd, u16 cmd);

/* regs.c: BAR0 register file */
void refmdev_regs_init(struct refmdev *rd);
ssize_t refmdev_regs_rw(struct refmdev *rd, char __user *buf,
			size_t count, loff_t pos, bool write);

/* irq.c: interrupt emulation and the VFIO IRQ ioctls */
void refmdev_irq_update(struct refmdev *rd);
long refmdev_irq_get_info(struct refmdev *rd, unsigned long arg);
long refmdev_irq_set(struct refmdev *rd, unsigned long arg);
void refmdev_irq_release_all(struct refmdev *rd);
void refmdev_request(struct vfio_device *vdev, unsigned int count);

/* devmem.c: BAR2 device memory; the only file that knows its pages */
int refmdev_devmem_init(struct refmdev *rd);
void refmdev_devmem_free(struct refmdev *rd);
struct page **refmdev_devmem_alloc(struct refmdev *rd);
void refmdev_devmem_install(struct refmdev *rd, struct page **fresh);
int refmdev_devmem_renew(struct refmdev *rd);
void refmdev_devmem_prepare_ranges(struct refmdev *rd,
				   const struct vfio_region_dma_range *ranges,
				   u32 nr_ranges);
void refmdev_devmem_set_decode(struct refmdev *rd, bool decode);
ssize_t refmdev_devmem_rw(struct refmdev *rd, char __user *buf,
			  size_t count, loff_t pos, bool write);
int refmdev_devmem_mmap(struct refmdev *rd, struct vm_area_struct *vma);
vm_fault_t refmdev_devmem_fault(struct vm_fault *vmf);
int refmdev_devmem_get_pages(struct refmdev *rd, unsigned long first,
			     unsigned long count, struct page **pages);
int refmdev_devmem_get_ranges(struct refmdev *rd,
			      const struct vfio_region_dma_range *ranges,
			      u32 nr_ranges, struct page **pages);

/* devmem_file.c: where BAR2's user mappings live */
int refmdev_devmem_file_open(struct refmdev *rd);
void refmdev_devmem_file_close(struct refmdev *rd);
struct address_space *refmdev_devmem_mapping(struct refmdev *rd);
void refmdev_devmem_vma_setup(struct refmdev *rd, struct vm_area_struct *vma);
struct refmdev *refmdev_devmem_vma_owner(struct vm_area_struct *vma);

/* dma.c: the DMA engine's registers and worker */
void refmdev_dma_init(struct refmdev *rd);
void refmdev_dma_reset_regs(struct refmdev *rd);
bool refmdev_dma_is_reg(unsigned int offset, unsigned int *width);
u64 refmdev_dma_reg_read(struct refmdev *rd, unsigned int offset);
void refmdev_dma_reg_write(struct refmdev *rd, unsigned int offset, u64 val,
			   u64 mask);
void refmdev_dma_quiesce(struct refmdev *rd);
void refmdev_dma_resume(struct refmdev *rd);

/* unmap_gate.c: the .dma_unmap barrier and the pin sections it waits for */
void refmdev_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length);
void refmdev_dma_set_active(struct refmdev *rd, bool active);
void refmdev_dma_type1_call_begin(struct refmdev *rd);
void refmdev_dma_type1_call_end(struct refmdev *rd);
void refmdev_dma_section_begin(struct refmdev *rd);
void refmdev_dma_section_end(struct refmdev *rd);

/* pin_cache.c: guest memory the engine keeps pinned */
void refmdev_pin_cache_init(struct refmdev *rd);
void refmdev_pin_cache_open(struct refmdev *rd);
u32 refmdev_pin_cache_get(struct refmdev *rd, u64 iova, unsigned long npages,
			  int prot, struct page **pages);
void refmdev_pin_cache_put(struct refmdev *rd);
void refmdev_pin_cache_unmap(struct refmdev *rd, u64 iova, u64 length);
void refmdev_pin_cache_drop(struct refmdev *rd);
void refmdev_pin_cache_destroy(struct refmdev *rd);

/* debugfs.c: counters for the selftests */
void refmdev_debugfs_init(void);
void refmdev_debugfs_exit(void);
void refmdev_debugfs_add(struct refmdev *rd);
void refmdev_debugfs_remove(struct refmdev *rd);

/* dma_xfer.c: one descriptor's transfer */
u32 refmdev_dma_transfer(struct refmdev *rd,
			 const struct refmdev_dma_desc *desc);
void refmdev_dma_scratch_free(struct refmdev *rd);

/*
 * device.c: reset and the VFIO device ops.
 *
 * The resets refmdev_reset() does; see there.
 */
enum refmdev_reset_kind {
	REFMDEV_RESET_FUNCTION,
	REFMDEV_RESET_FLR,
	REFMDEV_RESET_OPEN,
};

/*
 * A register or config write that needs the DMA engine stopped (a reset,
 * bus mastering turned off) or the BAR's dma-bufs changed (memory
 * decoding turned on or off) returns a mask of these requests from under
 * refmdev.lock, apart from any errno; the caller carries them out with
 * refmdev_run_request() after unlocking, since stopping the engine waits
 * for its worker, which takes that lock, and revoking waits for
 * importers.
 */
enum refmdev_request {
	REFMDEV_REQ_RESET_FUNCTION	= BIT(0),
	REFMDEV_REQ_RESET_FLR		= BIT(1),
	REFMDEV_REQ_DMA_FENCE		= BIT(2),
	REFMDEV_REQ_EXPORT_SYNC		= BIT(3),
};

int refmdev_reset(struct refmdev *rd, enum refmdev_reset_kind kind);
int refmdev_run_request(struct refmdev *rd, unsigned int requests);
void refmdev_export_sync(struct refmdev *rd);
extern const struct vfio_device_ops refmdev_vfio_ops;

#endif /* REFMDEV_H */
