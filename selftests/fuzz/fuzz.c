// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: a seeded concurrency fuzzer for every entry point of the driver
 * at once (Documentation/testing.rst, "The fuzzer").
 *
 * A sysfs process creates and removes FZ_SLOTS shared mdevs (sysfs.c);
 * FZ_WORKERS processes of FZ_THREADS threads each pick operations on them
 * at random (worker.c): open and close, every ioctl with random arguments, region and register
 * access, resets, FLR, decode and bus-master switches, interrupt setup,
 * MAP/UNMAP_DMA, mmap/munmap/fork/faults of BAR2 and dma-bufs, random
 * descriptors, dma-buf export/dup/close and passing over unix sockets,
 * window attach and detach. This process kills a random worker with
 * SIGKILL every few seconds and starts it again, watches the kernel log,
 * and, with fault injection, makes allocations on refmdev's paths fail.
 *
 * Invariants, checked while it runs and at the end: no kernel report of
 * any kind; every copy the engine completed with ST_OK copied exactly its
 * source; every worker that stops on its own has its locked memory back
 * at its starting value; every worker stops within a bound once asked;
 * the device-memory budget is whole again once the mdevs are gone. The
 * host adds: the modules unload, and the serial log is clean.
 *
 * Environment: FUZZ_SEED (default: from the clock; printed either way),
 * FUZZ_DURATION in seconds (default 60), FUZZ_FAULTS=1 to require fault
 * injection, 0 to do without (default: on where the kernel has it).
 * Each thread's choices follow from the seed alone; the interleaving of
 * threads does not, so a replay repeats the operations, not the timing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dma_util.h"
#include "fuzz.h"
#include "ktap.h"

#define STOP_BOUND_MS	120000	/* every worker gone once asked to stop */

/* The processes: FZ_WORKERS workers, then the sysfs process. */
#define PROCS		(FZ_WORKERS + 1)

struct fuzz_run {
	struct fz_shared *sh;
	pid_t pid[PROCS];		/* 0: dead and reaped */
	int generation[PROCS];
	int sock[FZ_WORKERS][2];	/* worker i sends on [0], i+1 reads [1] */
	int kmsg;
	char report[1024];		/* the first kernel report */
	bool reported;
	long kills;
};

static __u64 env_u64(const char *name, __u64 def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static void spawn(struct fuzz_run *run, int i)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (!pid && i == FZ_WORKERS)
		fz_sysfs_main(run->sh, run->generation[i]);
	if (!pid)
		fz_worker_main(run->sh, i, run->generation[i], run->sock[i][0],
			       run->sock[(i + FZ_WORKERS - 1) % FZ_WORKERS][1]);
	run->pid[i] = pid;
}

/* A slot a dead worker left BUSY is whatever sysfs says it is. */
static void fix_slots(struct fz_shared *sh, pid_t dead)
{
	char path[128];
	int s;

	for (s = 0; s < FZ_SLOTS; s++) {
		if (atomic_load(&sh->slot[s].state) != FZ_SLOT_BUSY ||
		    atomic_load(&sh->slot[s].owner) != dead)
			continue;
		snprintf(path, sizeof(path), MDEV_DEVICES "/%s", sh->slot[s].uuid);
		atomic_store(&sh->slot[s].state, path_exists(path) ?
			     FZ_SLOT_PRESENT : FZ_SLOT_EMPTY);
	}
}

/* Reap what has exited; a worker that died of anything but our SIGKILL
 * or exited with a status is a failure of the run.
 */
static void reap(struct fuzz_run *run, bool respawn)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < PROCS && run->pid[i] != pid; i++)
			;
		if (i == PROCS)
			continue;	/* an orphaned fork child, reparented */
		run->pid[i] = 0;
		fix_slots(run->sh, pid);
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			fz_violation(run->sh, "worker %d died of signal %s", i,
				     sigabbrev_np(WTERMSIG(status)));
		else if (WIFEXITED(status) && WEXITSTATUS(status))
			fz_violation(run->sh, "worker %d exited with %d", i,
				     WEXITSTATUS(status));
		if (respawn && !atomic_load(&run->sh->stop)) {
			run->generation[i]++;
			spawn(run, i);
		}
	}
}

static void watch_kernel(struct fuzz_run *run)
{
	if (!run->reported &&
	    fz_kmsg_report(run->kmsg, run->report, sizeof(run->report))) {
		run->reported = true;
		atomic_store(&run->sh->stop, 1);
	}
}

static void print_traces(struct fz_shared *sh)
{
	int w, t, k;

	for (w = 0; w < PROCS; w++)
		for (t = 0; t < (w < FZ_WORKERS ? FZ_THREADS : 1); t++) {
			unsigned int next = atomic_load(&sh->trace[w][t].next);
			char line[512];
			size_t n = 0;

			for (k = next > FZ_TRACE ? next - FZ_TRACE : 0;
			     k < (int)next && n < sizeof(line) - 32; k++)
				n += snprintf(line + n, sizeof(line) - n, " %s",
					      fz_op_name(sh->trace[w][t].op[k % FZ_TRACE]));
			printf("# worker %d thread %d, last operations:%s\n", w,
			       t, line);
		}
}

/* Where the threads of a worker that will not stop are, in the kernel. */
static void print_kernel_stacks(pid_t pid)
{
	char path[64], cmd[160];

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	snprintf(cmd, sizeof(cmd),
		 "for t in %s/*; do echo \"# thread $t\"; sed 's/^/#   /' $t/stack; done",
		 path);
	fflush(stdout);
	if (system(cmd) < 0)
		printf("# %s: cannot list\n", path);
	sysfs_write("/proc/sysrq-trigger", "w");
}

static void print_stats(struct fuzz_run *run)
{
	struct fz_shared *sh = run->sh;
	int op;

	for (op = 0; op < FZ_OP_COUNT; op++)
		printf("# %-14s %8ld tried %8ld done\n", fz_op_name(op),
		       atomic_load(&sh->attempts[op]),
		       atomic_load(&sh->successes[op]));
	printf("# %ld copies checked, %ld workers killed\n",
	       atomic_load(&sh->verified), run->kills);
}

/* Every mdev of the run removed, and none other left.
 */
static void remove_all(struct fz_shared *sh)
{
	char path[128];
	int s, ret;

	for (s = 0; s < FZ_SLOTS; s++) {
		snprintf(path, sizeof(path), MDEV_DEVICES "/%s", sh->slot[s].uuid);
		if (!sh->slot[s].uuid[0] || !path_exists(path))
			continue;
		ret = mdev_remove(sh->slot[s].uuid);
		if (ret)
			FAIL("remove mdev %s: %s", sh->slot[s].uuid,
			     strerror(-ret));
	}
}

TEST(concurrent_operations)
{
	__u64 seed = env_u64("FUZZ_SEED", 0);
	unsigned int duration = env_u64("FUZZ_DURATION", 60);
	const char *faults = getenv("FUZZ_FAULTS");
	static struct fuzz_run run;
	struct fz_shared *sh;
	struct fz_rng rng;
	long available, deadline, next_kill, stop_deadline, injected = 0;
	char why[160];
	int i, s;

	if (faults && !*faults)
		faults = NULL;
	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (ts.tv_sec * 1000000000ull + ts.tv_nsec) ^ getpid();
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(sh != MAP_FAILED);
	run.sh = sh;
	sh->seed = seed;
	if (faults && !strcmp(faults, "1") && !fz_faults_available())
		FAIL("FUZZ_FAULTS=1, but the kernel has no %s",
		     "failslab/fail_page_alloc with a stacktrace filter");
	sh->faults = faults ? !strcmp(faults, "1") : fz_faults_available();
	printf("# fuzz: seed %llu, %u s, %d workers x %d threads, fault injection %s\n",
	       (unsigned long long)seed, duration, FZ_WORKERS, FZ_THREADS,
	       sh->faults ? "on" : "off");
	printf("# replay: make fuzz SEED=%llu DURATION=%u\n",
	       (unsigned long long)seed, duration);
	alarm(duration + STOP_BOUND_MS / 1000 + 300);
	/* Fork children orphaned by a killed worker come to us. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* A worker that crashes should be reported, not dumped. */
	ASSERT_OK(setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }));

	available = mdev_available(FZ_TYPE);
	ASSERT_TRUE(available >= FZ_SLOTS);
	fz_seed(&rng, seed, ~0ull, 0, 0);
	for (s = 0; s < FZ_SLOTS - 1; s++) {
		make_uuid(sh->slot[s].uuid);
		ASSERT_OK(mdev_create_raw(FZ_TYPE, sh->slot[s].uuid));
		atomic_store(&sh->slot[s].state, FZ_SLOT_PRESENT);
	}
	for (i = 0; i < FZ_WORKERS; i++)
		ASSERT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, run.sock[i]));
	run.kmsg = fz_kmsg_open();
	if (sh->faults && fz_faults_start(why, sizeof(why)))
		FAIL("fault injection: %s", why);

	for (i = 0; i < PROCS; i++)
		spawn(&run, i);
	deadline = now_ms() + duration * 1000l;
	next_kill = now_ms() + 2000 + fz_below(&rng, 4000);
	while (now_ms() < deadline && !atomic_load(&sh->stop) &&
	       !atomic_load(&sh->violations)) {
		usleep(100000);
		if (sh->faults)
			fz_faults_mark_kworkers(true);
		watch_kernel(&run);
		reap(&run, true);
		if (now_ms() >= next_kill) {
			i = fz_below(&rng, PROCS);
			if (run.pid[i] && !kill(run.pid[i], SIGKILL))
				run.kills++;
			next_kill = now_ms() + 2000 + fz_below(&rng, 4000);
		}
	}

	atomic_store(&sh->stop, 1);
	stop_deadline = now_ms() + STOP_BOUND_MS;
	for (;;) {
		reap(&run, false);
		for (i = 0; i < PROCS && !run.pid[i]; i++)
			;
		if (i == PROCS || now_ms() >= stop_deadline)
			break;
		watch_kernel(&run);
		usleep(100000);
	}
	if (sh->faults)
		injected = fz_faults_stop();
	if (i < PROCS) {
		print_traces(sh);
		print_kernel_stacks(run.pid[i]);
		FAIL("worker %d (pid %d) did not stop within %d s of being asked",
		     i, run.pid[i], STOP_BOUND_MS / 1000);
	}
	/* fds still in flight in the sockets go with them. */
	for (i = 0; i < FZ_WORKERS; i++) {
		close(run.sock[i][0]);
		close(run.sock[i][1]);
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	remove_all(sh);
	watch_kernel(&run);
	print_stats(&run);

	if (run.reported) {
		print_traces(sh);
		FAIL("kernel report (seed %llu): %s", (unsigned long long)seed,
		     run.report);
	}
	if (atomic_load(&sh->violations)) {
		print_traces(sh);
		FAIL("%ld violations (seed %llu), the first: %s",
		     atomic_load(&sh->violations), (unsigned long long)seed,
		     sh->violation);
	}
	ASSERT_EQ(mdev_available(FZ_TYPE), available);
	/* A run that checked nothing proves nothing. */
	ASSERT_TRUE(atomic_load(&sh->verified) > 0);
	ASSERT_TRUE(atomic_load(&sh->successes[FZ_OP_EXPORT]) > 0);
	ASSERT_TRUE(atomic_load(&sh->successes[FZ_OP_WINDOW_ATTACH]) > 0);
	ASSERT_TRUE(atomic_load(&sh->successes[FZ_OP_OPEN]) > 0);
	ASSERT_TRUE(atomic_load(&sh->successes[FZ_OP_REMOVE]) > 0);
	if (sh->faults)
		ASSERT_TRUE(injected > 0);
}
