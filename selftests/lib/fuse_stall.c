// SPDX-License-Identifier: GPL-2.0
/*
 * A FUSE server speaking the kernel protocol (<linux/fuse.h>) directly
 * on /dev/fuse, just enough for one read-only file; see fuse_stall.h.
 *
 * The server is a process of its own, as a real one is: a fault on the
 * file holds the faulting mm's mmap_lock while it waits for the server,
 * and a server sharing that mm could need the lock to reply (a page
 * fault, a malloc behind a pending mmap) and never would.
 */
#include <linux/fuse.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse_stall.h"
#include "ktap.h"

#define ROOT_ID		FUSE_ROOT_ID
#define FILE_ID		2
#define MAX_WRITE	4096
/* The kernel wants room for a whole request, MAX_WRITE of data included. */
#define REQ_BUF		(MAX_WRITE + 65536)
/* The errno FUSE takes as "operation not implemented". */
#define FUSE_NOT_IMPLEMENTED	38

/* Shared between the test and the server process; __atomic access. */
struct fuse_stall {
	char dir[128];
	size_t size;
	int fd;			/* the server's */
	pid_t server;		/* the test's */
	int ready;		/* 1 mounted, -errno failed */
	int hold;		/* READs wait while set */
	int read_waiting;	/* a READ is waiting now */
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static void send_reply(struct fuse_stall *fs, __u64 unique, int error,
		       const void *data, size_t len)
{
	struct fuse_out_header out = {
		.len = sizeof(out) + len, .error = error, .unique = unique,
	};
	char buf[sizeof(out) + MAX_WRITE + 256];

	memcpy(buf, &out, sizeof(out));
	if (len)
		memcpy(buf + sizeof(out), data, len);
	/* ENOENT: the request was interrupted meanwhile; nothing to do. */
	if (write(fs->fd, buf, sizeof(out) + len) < 0 && errno != ENOENT)
		printf("# fuse_stall: reply to %llu: %s\n",
		       (unsigned long long)unique, strerror(errno));
}

static void fill_attr(struct fuse_stall *fs, __u64 id, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = id;
	a->blksize = 4096;
	if (id == ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | 0444;
		a->nlink = 1;
		a->size = fs->size;
		a->blocks = (fs->size + 511) / 512;
	}
}

static void do_read(struct fuse_stall *fs, __u64 unique,
		    const struct fuse_read_in *in)
{
	char data[MAX_WRITE];
	size_t n = 0, i;

	while (LOAD(fs->hold)) {
		STORE(fs->read_waiting, 1);
		usleep(1000);
	}
	STORE(fs->read_waiting, 0);

	if (in->offset < fs->size)
		n = fs->size - in->offset;
	if (n > in->size)
		n = in->size;
	if (n > sizeof(data))
		n = sizeof(data);
	for (i = 0; i < n; i++)
		data[i] = fuse_stall_byte(in->offset + i);
	send_reply(fs, unique, 0, data, n);
}

static void handle(struct fuse_stall *fs, const struct fuse_in_header *h,
		   const void *arg)
{
	switch (h->opcode) {
	case FUSE_INIT: {
		const struct fuse_init_in *in = arg;
		struct fuse_init_out out = {
			.major = FUSE_KERNEL_VERSION,
			.minor = FUSE_KERNEL_MINOR_VERSION,
			.max_readahead = in->max_readahead,
			.max_background = 16,
			.congestion_threshold = 12,
			.max_write = MAX_WRITE,
			.time_gran = 1,
			.max_pages = 1,
		};

		send_reply(fs, h->unique, 0, &out, sizeof(out));
		return;
	}
	case FUSE_LOOKUP: {
		struct fuse_entry_out out = { 0 };

		if (h->nodeid != ROOT_ID || strcmp(arg, "data")) {
			send_reply(fs, h->unique, -ENOENT, NULL, 0);
			return;
		}
		out.nodeid = FILE_ID;
		out.entry_valid = 3600;
		out.attr_valid = 3600;
		fill_attr(fs, FILE_ID, &out.attr);
		send_reply(fs, h->unique, 0, &out, sizeof(out));
		return;
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out out = { .attr_valid = 3600 };

		fill_attr(fs, h->nodeid, &out.attr);
		send_reply(fs, h->unique, 0, &out, sizeof(out));
		return;
	}
	case FUSE_OPEN: {
		struct fuse_open_out out = { .fh = 1 };

		send_reply(fs, h->unique, 0, &out, sizeof(out));
		return;
	}
	case FUSE_READ:
		do_read(fs, h->unique, arg);
		return;
	case FUSE_RELEASE:
	case FUSE_FLUSH:
	case FUSE_DESTROY:
		send_reply(fs, h->unique, 0, NULL, 0);
		return;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		return;		/* no reply expected */
	default:
		/* FUSE's own "not implemented": the kernel stops asking. */
		send_reply(fs, h->unique, -FUSE_NOT_IMPLEMENTED, NULL, 0);
	}
}

static void serve(struct fuse_stall *fs)
{
	static char buf[REQ_BUF];
	ssize_t n;

	for (;;) {
		n = read(fs->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(struct fuse_in_header))
			break;	/* ENODEV: unmounted */
		handle(fs, (void *)buf, buf + sizeof(struct fuse_in_header));
	}
}

/* The server process: mount, say so, serve until unmounted. */
static void server_main(struct fuse_stall *fs)
{
	char opts[128];

	fs->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fs->fd < 0) {
		STORE(fs->ready, -errno);
		_exit(0);
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", fs->fd);
	if (mount("refmdev-fuse", fs->dir, "fuse", MS_NOSUID | MS_NODEV,
		  opts)) {
		STORE(fs->ready, -errno);
		_exit(0);
	}
	STORE(fs->ready, 1);
	serve(fs);
	_exit(0);
}

static void fuse_stall_unmount(void *arg)
{
	struct fuse_stall *fs = arg;
	int status;

	fuse_stall_hold(fs, false);
	if (LOAD(fs->ready) == 1 && umount2(fs->dir, MNT_DETACH))
		printf("# fuse_stall: umount %s: %s\n", fs->dir,
		       strerror(errno));
	/*
	 * A mapping or open file left by a failed test keeps the connection
	 * up after the detach: end the server, which aborts it.
	 */
	if (fs->server > 0)
		kill(fs->server, SIGKILL);
	if (waitpid(fs->server, &status, 0) != fs->server)
		printf("# fuse_stall: waitpid: %s\n", strerror(errno));
	rmdir(fs->dir);
	munmap(fs, sizeof(*fs));
}

struct fuse_stall *fuse_stall_mount(const char *dir, size_t size)
{
	struct fuse_stall *fs = mmap(NULL, sizeof(*fs), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long start = time(NULL);
	pid_t server;
	int ready;

	ASSERT_TRUE(fs != MAP_FAILED);
	snprintf(fs->dir, sizeof(fs->dir), "%s", dir);
	fs->size = size;
	if (mkdir(dir, 0755) && errno != EEXIST)
		FAIL("mkdir %s: %s", dir, strerror(errno));
	fflush(stdout);
	/* Not fork()'s result straight into shared memory: the child's 0. */
	server = fork();
	if (server < 0)
		FAIL("fork: %s", strerror(errno));
	if (!server)
		server_main(fs);
	fs->server = server;
	ktap_defer(fuse_stall_unmount, fs);
	while (!(ready = LOAD(fs->ready))) {
		if (time(NULL) - start > 30)
			FAIL("the FUSE server did not mount in 30 s");
		usleep(1000);
	}
	if (ready == -ENOENT || ready == -ENODEV)
		ktap_skip("no FUSE in this kernel (%s)", strerror(-ready));
	if (ready < 0)
		FAIL("mounting FUSE on %s: %s", dir, strerror(-ready));
	return fs;
}

void fuse_stall_hold(struct fuse_stall *fs, bool hold)
{
	STORE(fs->hold, hold);
}

bool fuse_stall_wait_read(struct fuse_stall *fs, int timeout_ms)
{
	long i;

	for (i = 0; i < timeout_ms; i++) {
		if (LOAD(fs->read_waiting))
			return true;
		usleep(1000);
	}
	return false;
}
