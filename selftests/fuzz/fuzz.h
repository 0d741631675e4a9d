/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The concurrency fuzzer's shared declarations. fuzz.c says how the
 * pieces fit together; each ops_*.c holds one family of operations.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <linux/types.h>

#include "mdev_util.h"

#define FZ_SLOTS	6	/* mdevs the workers share, remove and re-create */
#define FZ_WORKERS	4	/* worker processes */
#define FZ_THREADS	3	/* threads in each worker */
#define FZ_DEVS		2	/* devices one worker holds open at once */
#define FZ_DMABUFS	6	/* dma-buf fds one worker holds */
#define FZ_MAPS		6	/* BAR2 and dma-buf mmaps one worker holds */
#define FZ_TRACE	16	/* last operations remembered per thread */

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define FZ_TYPE		TYPE_1M
#define FZ_PAGE		4096ull

/*
 * The IOVA layout of every container a worker opens. Nothing random is
 * ever mapped, attached or aimed at the verify range: it belongs to the
 * copies whose data is checked, one 128 KiB piece per (device, thread).
 */
#define FZ_SCRATCH_IOVA	0x10000000ull	/* random MAP/UNMAP_DMA land here */
#define FZ_SCRATCH_SIZE	(4ull << 20)
#define FZ_WINDOW_IOVA	0x40000000ull	/* windows are attached here */
#define FZ_WINDOW_SPAN	(16ull << 20)	/* ... one per REFMDEV_P2P_WINDOWS */
#define FZ_VERIFY_IOVA	0x80000000ull
#define FZ_VERIFY_PIECE	(128ull << 10)	/* source half, destination half */
#define FZ_VERIFY_SIZE	(FZ_DEVS * FZ_THREADS * FZ_VERIFY_PIECE)
#define FZ_RING_IOVA	0x100000000ull
#define FZ_RING_ENTRIES	64
#define FZ_RING_BYTES	(FZ_RING_ENTRIES * sizeof(struct refmdev_dma_desc))

/* splitmix64: one word of state, so a thread's whole sequence follows
 * from (seed, worker, generation, thread) and a run can be replayed.
 */
struct fz_rng {
	__u64 state;
};

void fz_seed(struct fz_rng *r, __u64 seed, __u64 a, __u64 b, __u64 c);
__u64 fz_next(struct fz_rng *r);
__u64 fz_below(struct fz_rng *r, __u64 n);
bool fz_chance(struct fz_rng *r, unsigned int percent);
/* A length or offset that is interesting more often than uniform:
 * 0, 1, around page and power-of-two edges, @max, or anything.
 */
__u64 fz_size(struct fz_rng *r, __u64 max);

enum fz_op {
	FZ_OP_CREATE,		/* by the sysfs process only (sysfs.c) */
	FZ_OP_REMOVE,		/* ditto */
	FZ_OP_OPEN,
	FZ_OP_CLOSE,
	FZ_OP_IOCTL,
	FZ_OP_REGION_RW,
	FZ_OP_CONFIG_RW,
	FZ_OP_BAR0_WRITE,
	FZ_OP_RESET,
	FZ_OP_FLR,
	FZ_OP_DECODE,
	FZ_OP_MASTER,
	FZ_OP_IRQ,
	FZ_OP_MAP_DMA,
	FZ_OP_UNMAP_DMA,
	FZ_OP_MMAP,
	FZ_OP_MUNMAP,
	FZ_OP_TOUCH,
	FZ_OP_FORK,
	FZ_OP_DESC_RANDOM,
	FZ_OP_DESC_VERIFIED,
	FZ_OP_EXPORT,
	FZ_OP_UDMABUF,
	FZ_OP_DMABUF_CLOSE,
	FZ_OP_DMABUF_DUP,
	FZ_OP_DMABUF_SEND,
	FZ_OP_DMABUF_RECV,
	FZ_OP_WINDOW_ATTACH,
	FZ_OP_WINDOW_DETACH,
	FZ_OP_COUNT
};

/* What an operation reports: done (whatever the kernel answered), or
 * not applicable now (nothing open to work on).
 */
#define FZ_DONE		0
#define FZ_SKIPPED	1

enum fz_slot_state { FZ_SLOT_EMPTY, FZ_SLOT_PRESENT, FZ_SLOT_BUSY };

/* Everything the processes share: one MAP_SHARED mapping. */
struct fz_shared {
	__u64 seed;
	bool faults;			/* fault injection is on */
	atomic_int stop;
	struct {
		atomic_int state;	/* enum fz_slot_state */
		atomic_int owner;	/* pid that made it BUSY */
		char uuid[UUID_LEN + 1];
	} slot[FZ_SLOTS];
	atomic_long attempts[FZ_OP_COUNT];	/* not counting FZ_SKIPPED */
	atomic_long successes[FZ_OP_COUNT];
	atomic_long verified;		/* copies whose data was checked */
	atomic_long violations;
	char violation[512];		/* the first one, for the report */
	struct {
		atomic_uint next;
		__u8 op[FZ_TRACE];
	} trace[FZ_WORKERS + 1][FZ_THREADS];	/* the last: the sysfs process */
};

struct fz_dev {
	bool open;
	struct vfio_dev v;
	/* Serialises this process's use of the device's descriptor ring. */
	pthread_mutex_t ring_lock;
	struct refmdev_dma_desc *ring;	/* FZ_RING_BYTES at FZ_RING_IOVA */
};

struct fz_dmabuf {
	int fd;				/* -1: free */
	__u64 size;
};

struct fz_map {
	__u8 *va;			/* NULL: free */
	size_t len;
	bool writable;
};

/*
 * One worker process. @lock guards the tables: an operation that uses an
 * fd or a mapping holds it for reading, one that opens, closes, maps or
 * unmaps holds it for writing, so no thread ever uses an fd number after
 * another closed it.
 */
struct fz_proc {
	struct fz_shared *sh;
	int id;
	int generation;
	int sock_next;			/* SCM_RIGHTS to the next worker */
	int sock_prev;			/* ... and from the previous one */
	pthread_rwlock_t lock;
	struct fz_dev dev[FZ_DEVS];
	struct fz_dmabuf buf[FZ_DMABUFS];
	struct fz_map map[FZ_MAPS];
	__u8 *scratch;			/* FZ_SCRATCH_SIZE, for MAP_DMA */
	__u8 *verify;			/* FZ_VERIFY_SIZE */
	__u8 *rings;			/* a page per device for its ring */
};

struct fz_thread {
	struct fz_proc *p;
	struct fz_rng rng;
	int idx;
};

/* worker.c */
/* Counts an operation and remembers it in thread @thread's trace. */
void fz_count(struct fz_shared *sh, int worker, int thread, enum fz_op op,
	      int result);
void fz_worker_main(struct fz_shared *sh, int id, int generation,
		    int sock_next, int sock_prev);
void fz_violation(struct fz_shared *sh, const char *fmt, ...);
const char *fz_op_name(enum fz_op op);
/* A device of this process that is open, or NULL; under p->lock. */
struct fz_dev *fz_pick_dev(struct fz_thread *t);
int fz_pick_slot(struct fz_thread *t, enum fz_slot_state state);
/*
 * @len bytes at @off of region @index; the kernel's answer is returned
 * (0 or -errno), never judged: other threads change the device too.
 */
int fz_region_write(struct fz_dev *d, unsigned int index, unsigned int off,
		    unsigned int len, __u64 val);
int fz_region_read(struct fz_dev *d, unsigned int index, unsigned int off,
		   unsigned int len, __u64 *val);
#define fz_reg_write(d, off, len, val) \
	fz_region_write(d, VFIO_PCI_BAR0_REGION_INDEX, off, len, val)
#define fz_reg_read(d, off, len, val) \
	fz_region_read(d, VFIO_PCI_BAR0_REGION_INDEX, off, len, val)
#define fz_cfg_write(d, off, len, val) \
	fz_region_write(d, VFIO_PCI_CONFIG_REGION_INDEX, off, len, val)
#define fz_cfg_read(d, off, len, val) \
	fz_region_read(d, VFIO_PCI_CONFIG_REGION_INDEX, off, len, val)
/* One access through @p; true if it raised SIGBUS. */
void fz_catch_sigbus(void);
bool fz_access_faults(__u8 *p, bool write, __u8 val);

/* sysfs.c: the process that creates and removes the shared mdevs. */
void fz_sysfs_main(struct fz_shared *sh, int generation);

/* One function per worker operation, in the order of enum fz_op. */
int fz_op_open(struct fz_thread *t);
int fz_op_close(struct fz_thread *t);
int fz_op_ioctl(struct fz_thread *t);
int fz_op_region_rw(struct fz_thread *t);
int fz_op_config_rw(struct fz_thread *t);
int fz_op_bar0_write(struct fz_thread *t);
int fz_op_reset(struct fz_thread *t);
int fz_op_flr(struct fz_thread *t);
int fz_op_decode(struct fz_thread *t);
int fz_op_master(struct fz_thread *t);
int fz_op_irq(struct fz_thread *t);
int fz_op_map_dma(struct fz_thread *t);
int fz_op_unmap_dma(struct fz_thread *t);
int fz_op_mmap(struct fz_thread *t);
int fz_op_munmap(struct fz_thread *t);
int fz_op_touch(struct fz_thread *t);
int fz_op_fork(struct fz_thread *t);
int fz_op_desc_random(struct fz_thread *t);
int fz_op_desc_verified(struct fz_thread *t);
int fz_op_export(struct fz_thread *t);
int fz_op_udmabuf(struct fz_thread *t);
int fz_op_dmabuf_close(struct fz_thread *t);
int fz_op_dmabuf_dup(struct fz_thread *t);
int fz_op_dmabuf_send(struct fz_thread *t);
int fz_op_dmabuf_recv(struct fz_thread *t);
int fz_op_window_attach(struct fz_thread *t);
int fz_op_window_detach(struct fz_thread *t);

/* ops_device.c: what opening a device sets up, and closing undoes. */
int fz_dev_open(struct fz_proc *p, int d, const char *uuid);
void fz_dev_close(struct fz_proc *p, int d);
/* ops_memory.c */
void fz_map_release(struct fz_map *m);
/* ops_p2p.c */
int fz_dmabuf_store(struct fz_proc *p, int fd);

/* fault_inject.c */
bool fz_faults_available(void);
int fz_faults_start(char *why, size_t len);
void fz_faults_mark_kworkers(bool on);
void fz_faults_mark_self(bool on);
/* Turns it off; how many allocations it failed. */
long fz_faults_stop(void);

/* kmsg_watch.c */
int fz_kmsg_open(void);
/* Reads what the kernel logged since; a report is copied to @report. */
bool fz_kmsg_report(int fd, char *report, size_t len);

#endif /* FUZZ_H */
