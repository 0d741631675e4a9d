// SPDX-License-Identifier: GPL-2.0
/*
 * Memory operations: MAP/UNMAP_DMA in the scratch range, mmap and munmap
 * of BAR2 and of dma-bufs, loads and stores through those mappings
 * (SIGBUS once revoked), and fork, whose child uses the inherited
 * mappings and device files and may be killed while it does.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dma_util.h"
#include "fuzz.h"

static __thread sigjmp_buf fault_jmp;
static __thread sig_atomic_t in_access;

static void on_sigbus(int sig)
{
	if (!in_access) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	siglongjmp(fault_jmp, 1);
}

/*
 * Before the worker starts its threads: installed lazily by the first
 * access, a thread could fork between another's claim and its
 * sigaction(), and the child would die of SIGBUS with no handler.
 */
void fz_catch_sigbus(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigaction(SIGBUS, &sa, NULL);
}

bool fz_access_faults(__u8 *p, bool write, __u8 val)
{
	bool faulted = false;

	in_access = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (sigsetjmp(fault_jmp, 1))
		faulted = true;
	else if (write)
		__atomic_store_n(p, val, __ATOMIC_RELAXED);
	else
		__atomic_load_n(p, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	in_access = 0;
	return faulted;
}

/* An IOVA range in the scratch area, now and then anything at all
 * except the verify range, which random operations leave alone.
 */
static void random_range(struct fz_rng *r, __u64 *iova, __u64 *size)
{
	if (fz_chance(r, 85)) {
		__u64 pages = FZ_SCRATCH_SIZE / FZ_PAGE;
		__u64 first = fz_below(r, pages);

		*iova = FZ_SCRATCH_IOVA + first * FZ_PAGE;
		*size = (fz_below(r, pages - first) + 1) * FZ_PAGE;
		return;
	}
	*iova = fz_size(r, FZ_SCRATCH_IOVA + FZ_SCRATCH_SIZE);
	*size = fz_size(r, FZ_SCRATCH_SIZE);
	if (*iova < FZ_VERIFY_IOVA + FZ_VERIFY_SIZE &&
	    *iova + *size > FZ_VERIFY_IOVA && *iova + *size > *iova)
		*iova = FZ_VERIFY_IOVA + FZ_VERIFY_SIZE;
}

int fz_op_map_dma(struct fz_thread *t)
{
	static const __u32 flags[] = {
		VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, 0,
		VFIO_DMA_MAP_FLAG_VADDR, 1u << 7,
	};
	__u64 iova, size, off;
	struct fz_dev *d;
	int ret;

	random_range(&t->rng, &iova, &size);
	off = fz_below(&t->rng, FZ_SCRATCH_SIZE / FZ_PAGE) * FZ_PAGE;
	if (off + size > FZ_SCRATCH_SIZE && fz_chance(&t->rng, 90))
		size = FZ_SCRATCH_SIZE - off;
	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	ret = !d ? FZ_SKIPPED :
	      dma_map_raw(&d->v, t->p->scratch + off, iova, size,
			  flags[fz_chance(&t->rng, 80) ? 0 :
				fz_below(&t->rng, ARRAY_SIZE(flags))]) ? -errno : 0;
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

int fz_op_unmap_dma(struct fz_thread *t)
{
	__u64 iova, size;
	__u32 flags = 0;
	struct fz_dev *d;
	int ret;

	random_range(&t->rng, &iova, &size);
	switch (fz_below(&t->rng, 20)) {
	case 0:
		/* Everything, the verify and ring mappings with it. */
		flags = VFIO_DMA_UNMAP_FLAG_ALL;
		iova = 0;
		size = 0;
		break;
	case 1:
		/* Refused while an mdev is in the container. */
		flags = VFIO_DMA_UNMAP_FLAG_VADDR;
		break;
	case 2:
		flags = fz_next(&t->rng);
		break;
	}
	pthread_rwlock_rdlock(&t->p->lock);
	d = fz_pick_dev(t);
	ret = !d ? FZ_SKIPPED :
	      dma_unmap_raw(&d->v, iova, size, flags) ? -errno : 0;
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

void fz_map_release(struct fz_map *m)
{
	if (m->va)
		munmap(m->va, m->len);
	m->va = NULL;
}

int fz_op_mmap(struct fz_thread *t)
{
	struct fz_proc *p = t->p;
	struct fz_map *m = NULL;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED;
	int fd = -1, i, ret = FZ_SKIPPED;
	__u64 off = 0, len = 0;
	void *va;

	if (fz_chance(&t->rng, 10))
		prot = PROT_READ;
	if (fz_chance(&t->rng, 5))
		flags = MAP_PRIVATE;
	pthread_rwlock_wrlock(&p->lock);
	for (i = 0; i < FZ_MAPS && !m; i++)
		if (!p->map[i].va)
			m = &p->map[i];
	if (!m)
		goto out;
	if (fz_chance(&t->rng, 50)) {
		struct fz_dev *d = fz_pick_dev(t);
		__u64 bar = d ? d->v.size[VFIO_PCI_BAR2_REGION_INDEX] : 0;

		if (!d)
			goto out;
		fd = d->v.device;
		off = fz_below(&t->rng, bar / FZ_PAGE) * FZ_PAGE;
		len = (fz_below(&t->rng, 16) + 1) * FZ_PAGE;
		if (fz_chance(&t->rng, 90) && off + len > bar)
			len = bar - off;
		off += d->v.offset[VFIO_PCI_BAR2_REGION_INDEX];
	} else {
		struct fz_dmabuf *b = &p->buf[fz_below(&t->rng, FZ_DMABUFS)];

		if (b->fd < 0)
			goto out;
		fd = b->fd;
		len = fz_chance(&t->rng, 90) ? b->size :
			(fz_below(&t->rng, 8) + 1) * FZ_PAGE;
		if (fz_chance(&t->rng, 10))
			off = fz_below(&t->rng, 8) * FZ_PAGE;
	}
	va = mmap(NULL, len, prot, flags, fd, off);
	if (va == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	m->va = va;
	m->len = len;
	m->writable = prot & PROT_WRITE;
	ret = FZ_DONE;
out:
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

int fz_op_munmap(struct fz_thread *t)
{
	struct fz_map *m = &t->p->map[fz_below(&t->rng, FZ_MAPS)];
	int ret = FZ_SKIPPED;

	pthread_rwlock_wrlock(&t->p->lock);
	if (m->va) {
		fz_map_release(m);
		ret = FZ_DONE;
	}
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

/* A load or store somewhere in a random mapping; 1 if it faulted. */
static int touch_one(struct fz_proc *p, struct fz_rng *r)
{
	struct fz_map *m = &p->map[fz_below(r, FZ_MAPS)];

	if (!m->va)
		return FZ_SKIPPED;
	return fz_access_faults(m->va + fz_below(r, m->len),
				m->writable && fz_chance(r, 50), fz_next(r)) ?
		-EFAULT : FZ_DONE;
}

int fz_op_touch(struct fz_thread *t)
{
	int ret;

	pthread_rwlock_rdlock(&t->p->lock);
	ret = touch_one(t->p, &t->rng);
	pthread_rwlock_unlock(&t->p->lock);
	return ret;
}

/*
 * The child has copies of every fd and mapping: it uses a few, resets a
 * device through its inherited fd, and exits, or is killed before it is
 * done. Only async-signal-safe calls in the child: the other threads of
 * the parent may have held any lock at fork time.
 */
int fz_op_fork(struct fz_thread *t)
{
	struct fz_proc *p = t->p;
	bool kill_it = fz_chance(&t->rng, 30);
	int i, status;
	pid_t pid;

	pthread_rwlock_rdlock(&p->lock);
	pid = fork();
	if (!pid) {
		struct fz_dev *d = fz_pick_dev(t);

		for (i = 0; i < 4; i++)
			touch_one(p, &t->rng);
		if (d && fz_chance(&t->rng, 50))
			ioctl(d->v.device, VFIO_DEVICE_RESET);
		_exit(0);
	}
	pthread_rwlock_unlock(&p->lock);
	if (pid < 0)
		return -errno;
	if (kill_it)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		fz_violation(p->sh, "worker %d: fork child died of signal %d",
			     p->id, WTERMSIG(status));
	return FZ_DONE;
}
