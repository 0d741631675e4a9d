// SPDX-License-Identifier: GPL-2.0
/*
 * A worker process: FZ_THREADS threads, each choosing operations at
 * random (weighted) until the run stops, then closing everything and
 * checking that its locked memory is back where it started.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_util.h"
#include "fuzz.h"

static const struct {
	const char *name;
	int (*fn)(struct fz_thread *t);
	unsigned int weight;
} ops[FZ_OP_COUNT] = {
	[FZ_OP_CREATE]		= { "create", NULL, 0 },
	[FZ_OP_REMOVE]		= { "remove", NULL, 0 },
	[FZ_OP_OPEN]		= { "open", fz_op_open, 4 },
	[FZ_OP_CLOSE]		= { "close", fz_op_close, 1 },
	[FZ_OP_IOCTL]		= { "ioctl", fz_op_ioctl, 10 },
	[FZ_OP_REGION_RW]	= { "region_rw", fz_op_region_rw, 8 },
	[FZ_OP_CONFIG_RW]	= { "config_rw", fz_op_config_rw, 4 },
	[FZ_OP_BAR0_WRITE]	= { "bar0_write", fz_op_bar0_write, 6 },
	[FZ_OP_RESET]		= { "reset", fz_op_reset, 3 },
	[FZ_OP_FLR]		= { "flr", fz_op_flr, 2 },
	[FZ_OP_DECODE]		= { "decode", fz_op_decode, 3 },
	[FZ_OP_MASTER]		= { "master", fz_op_master, 3 },
	[FZ_OP_IRQ]		= { "irq", fz_op_irq, 4 },
	[FZ_OP_MAP_DMA]		= { "map_dma", fz_op_map_dma, 6 },
	[FZ_OP_UNMAP_DMA]	= { "unmap_dma", fz_op_unmap_dma, 6 },
	[FZ_OP_MMAP]		= { "mmap", fz_op_mmap, 4 },
	[FZ_OP_MUNMAP]		= { "munmap", fz_op_munmap, 3 },
	[FZ_OP_TOUCH]		= { "touch", fz_op_touch, 8 },
	[FZ_OP_FORK]		= { "fork", fz_op_fork, 1 },
	[FZ_OP_DESC_RANDOM]	= { "desc_random", fz_op_desc_random, 8 },
	[FZ_OP_DESC_VERIFIED]	= { "desc_verified", fz_op_desc_verified, 8 },
	[FZ_OP_EXPORT]		= { "export", fz_op_export, 5 },
	[FZ_OP_UDMABUF]		= { "udmabuf", fz_op_udmabuf, 1 },
	[FZ_OP_DMABUF_CLOSE]	= { "dmabuf_close", fz_op_dmabuf_close, 3 },
	[FZ_OP_DMABUF_DUP]	= { "dmabuf_dup", fz_op_dmabuf_dup, 2 },
	[FZ_OP_DMABUF_SEND]	= { "dmabuf_send", fz_op_dmabuf_send, 3 },
	[FZ_OP_DMABUF_RECV]	= { "dmabuf_recv", fz_op_dmabuf_recv, 3 },
	[FZ_OP_WINDOW_ATTACH]	= { "window_attach", fz_op_window_attach, 5 },
	[FZ_OP_WINDOW_DETACH]	= { "window_detach", fz_op_window_detach, 3 },
};

const char *fz_op_name(enum fz_op op)
{
	return op < FZ_OP_COUNT ? ops[op].name : "?";
}

void fz_violation(struct fz_shared *sh, const char *fmt, ...)
{
	va_list ap;

	/* The first one is kept whole; later ones only count. */
	if (atomic_fetch_add(&sh->violations, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(sh->violation, sizeof(sh->violation), fmt, ap);
		va_end(ap);
	}
}

struct fz_dev *fz_pick_dev(struct fz_thread *t)
{
	int first = fz_below(&t->rng, FZ_DEVS), i;

	for (i = 0; i < FZ_DEVS; i++) {
		struct fz_dev *d = &t->p->dev[(first + i) % FZ_DEVS];

		if (d->open)
			return d;
	}
	return NULL;
}

int fz_pick_slot(struct fz_thread *t, enum fz_slot_state state)
{
	int first = fz_below(&t->rng, FZ_SLOTS), i;

	for (i = 0; i < FZ_SLOTS; i++) {
		int s = (first + i) % FZ_SLOTS;

		if (atomic_load(&t->p->sh->slot[s].state) == (int)state)
			return s;
	}
	return -1;
}

static enum fz_op choose(struct fz_rng *rng)
{
	unsigned int total = 0, pick, i;

	for (i = 0; i < FZ_OP_COUNT; i++)
		total += ops[i].weight;
	pick = fz_below(rng, total);
	for (i = 0; pick >= ops[i].weight; i++)
		pick -= ops[i].weight;
	return i;
}

void fz_count(struct fz_shared *sh, int worker, int thread, enum fz_op op,
	      int result)
{
	unsigned int at;

	if (result == FZ_SKIPPED)
		return;
	at = atomic_fetch_add(&sh->trace[worker][thread].next, 1);
	sh->trace[worker][thread].op[at % FZ_TRACE] = op;
	atomic_fetch_add(&sh->attempts[op], 1);
	if (result == FZ_DONE)
		atomic_fetch_add(&sh->successes[op], 1);
}

static void *thread_main(void *arg)
{
	struct fz_thread *t = arg;
	struct fz_shared *sh = t->p->sh;

	if (sh->faults)
		fz_faults_mark_self(true);
	while (!atomic_load(&sh->stop)) {
		enum fz_op op = choose(&t->rng);
		int ret = ops[op].fn(t);

		/* Nothing to work on: get a device rather than spin. */
		if (ret == FZ_SKIPPED) {
			op = FZ_OP_OPEN;
			ret = fz_op_open(t);
			if (ret != FZ_DONE)
				usleep(2000);
		}
		fz_count(sh, t->p->id, t->idx, op, ret);
	}
	if (sh->faults)
		fz_faults_mark_self(false);
	return NULL;
}

static void *map_anon(size_t len)
{
	void *va = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (va == MAP_FAILED) {
		perror("fuzz: mmap");
		exit(2);
	}
	return va;
}

static void cleanup(struct fz_proc *p)
{
	int i;

	for (i = 0; i < FZ_DEVS; i++)
		if (p->dev[i].open)
			fz_dev_close(p, i);
	for (i = 0; i < FZ_DMABUFS; i++) {
		if (p->buf[i].fd >= 0)
			close(p->buf[i].fd);
		p->buf[i].fd = -1;
	}
	for (i = 0; i < FZ_MAPS; i++)
		fz_map_release(&p->map[i]);
}

void fz_worker_main(struct fz_shared *sh, int id, int generation,
		    int sock_next, int sock_prev)
{
	static struct fz_thread threads[FZ_THREADS];
	static struct fz_proc proc;
	struct fz_proc *p = &proc;
	pthread_t tid[FZ_THREADS];
	long baseline, locked;
	int i;

	p->sh = sh;
	p->id = id;
	p->generation = generation;
	p->sock_next = sock_next;
	p->sock_prev = sock_prev;
	pthread_rwlock_init(&p->lock, NULL);
	for (i = 0; i < FZ_DEVS; i++)
		pthread_mutex_init(&p->dev[i].ring_lock, NULL);
	for (i = 0; i < FZ_DMABUFS; i++)
		p->buf[i].fd = -1;
	p->scratch = map_anon(FZ_SCRATCH_SIZE);
	p->verify = map_anon(FZ_VERIFY_SIZE);
	p->rings = map_anon(FZ_DEVS * FZ_PAGE);
	/* A dead peer's socket must not kill the sender. */
	signal(SIGPIPE, SIG_IGN);
	fz_catch_sigbus();
	baseline = vm_locked_kib();

	for (i = 0; i < FZ_THREADS; i++) {
		threads[i].p = p;
		threads[i].idx = i;
		fz_seed(&threads[i].rng, sh->seed, id, generation, i);
		if (pthread_create(&tid[i], NULL, thread_main, &threads[i])) {
			perror("fuzz: pthread_create");
			exit(2);
		}
	}
	/*
	 * Close everything before joining: the sysfs process may be in a
	 * removal that waits for our close.
	 */
	while (!atomic_load(&sh->stop))
		usleep(50000);
	pthread_rwlock_wrlock(&p->lock);
	cleanup(p);
	pthread_rwlock_unlock(&p->lock);
	for (i = 0; i < FZ_THREADS; i++)
		pthread_join(tid[i], NULL);
	cleanup(p);

	/* Every pin the engine and type1 took for us is gone with the
	 * containers: the locked memory is what it was before.
	 */
	locked = vm_locked_kib();
	if (locked != baseline)
		fz_violation(sh, "worker %d: VmLck %ld kB after closing all, %ld kB before",
			     id, locked, baseline);
	exit(0);
}
