// SPDX-License-Identifier: GPL-2.0
/*
 * The runner behind ktap.h: test registration, KTAP output, one child
 * process per test and the leaked-mdev check. What a test body calls is
 * in ktap_assert.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfio_backend.h"
#include "mdev_util.h"

#define KTAP_DEFAULT_TIMEOUT	120
#define KTAP_MAX_TESTS		256

static const struct ktap_test *tests[KTAP_MAX_TESTS];
static int ntests;
static unsigned int prog_backends = KTAP_TYPE1;

void ktap_set_backends(unsigned int backends)
{
	prog_backends = backends;
}

void ktap_add_variant(struct ktap_fixture *f, struct ktap_variant *v)
{
	if (!f->tail)
		f->tail = &f->variants;
	v->next = NULL;
	*f->tail = v;
	f->tail = &v->next;
}

void ktap_register(const struct ktap_test *test)
{
	if (ntests == KTAP_MAX_TESTS) {
		fprintf(stderr, "ktap: more than %d tests\n", KTAP_MAX_TESTS);
		exit(2);
	}
	tests[ntests++] = test;
}

/* The same rule as run-guest.sh's T=: a glob, or else a substring. */
static bool selected(const char *full, const char *pattern)
{
	if (!pattern || !*pattern)
		return true;
	if (strpbrk(pattern, "*?["))
		return !fnmatch(pattern, full, 0);
	return strstr(full, pattern);
}

/*
 * A table row's name may be prose ("offset 1 << 63"): each run of
 * anything but letters, digits and '_' becomes one '_', so that the name
 * stays one word for KTAP and for T= patterns.
 */
static void one_word(char *dst, size_t len, const char *src)
{
	bool gap = false;
	size_t n = 0;

	for (; *src && n + 2 < len; src++) {
		if (!isalnum((unsigned char)*src) && *src != '_') {
			gap = true;
			continue;
		}
		if (gap && n)
			dst[n++] = '_';
		gap = false;
		dst[n++] = *src;
	}
	dst[n] = '\0';
}

/* "program.[fixture.[variant.]]test[.backend]", kselftest's order. */
static void result_name(char *buf, size_t len, const char *prog,
			const struct ktap_test *t, const struct ktap_variant *v,
			const char *backend)
{
	char vname[128] = "";

	if (v) {
		one_word(vname, sizeof(vname) - 1, v->name);
		strcat(vname, ".");
	}
	snprintf(buf, len, "%s.%s%s%s%s%s%s", prog,
		 t->fixture ? t->fixture->name : "", t->fixture ? "." : "",
		 vname, t->name, backend ? "." : "", backend ?: "");
}

/* Remove any mdev left over by a test; returns how many there were. */
static int remove_leftover_mdevs(void)
{
	struct dirent *de;
	int leaked = 0;
	DIR *dir;

	dir = opendir("/sys/bus/mdev/devices");
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		printf("# leaked mdev %s; removing it\n", de->d_name);
		mdev_remove(de->d_name);
		leaked++;
	}
	closedir(dir);
	return leaked;
}

/* Returns 0 pass, 1 fail, 2 skip. */
static int run_one(const struct ktap_test *t, const struct ktap_variant *v,
		   unsigned int timeout, char *skip_reason, size_t reason_len)
{
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	skip_reason[0] = '\0';
	if (pipe(pipefd)) {
		perror("pipe");
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (!pid) {
		close(pipefd[0]);
		ktap_set_skip_fd(pipefd[1]);
		alarm(timeout);
		if (t->fixture)
			t->fn_f(v ? v->data : NULL);
		else
			t->fn();
		ktap_run_defers();
		fflush(stdout);
		_exit(0);
	}
	close(pipefd[1]);
	/*
	 * Wait for the test before reading its skip reason: a process the
	 * test forked may still hold the pipe open. The reason is short
	 * enough to sit in the pipe buffer.
	 */
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		close(pipefd[0]);
		return 1;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	n = read(pipefd[0], skip_reason, reason_len - 1);
	skip_reason[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	if (WIFSIGNALED(status)) {
		if (WTERMSIG(status) == SIGALRM)
			printf("# timed out after %u s\n", timeout);
		else
			printf("# killed by signal %s\n",
			       sigabbrev_np(WTERMSIG(status)));
		return 1;
	}
	if (WEXITSTATUS(status) == KTAP_SKIP_EXIT)
		return 2;
	return WEXITSTATUS(status) ? 1 : 0;
}

/* Backends this kernel offers, narrowed by REFMDEV_BACKEND if set. */
static unsigned int available_backends(void)
{
	const char *only = getenv("REFMDEV_BACKEND");
	unsigned int avail = KTAP_TYPE1;
	struct stat st;

	/* iommufd, and with it the VFIO device cdev (the debug kernel). */
	if (!stat("/dev/iommu", &st) && S_ISCHR(st.st_mode))
		avail |= KTAP_IOMMUFD;
	if (only && !strcmp(only, "type1"))
		avail &= KTAP_TYPE1;
	else if (only && !strcmp(only, "iommufd"))
		avail &= KTAP_IOMMUFD;
	return avail;
}

struct ktap_run {
	const char *prog, *pattern;
	unsigned int timeout, avail;
	int n, pass, fail, skip;
	bool count_only, list;
};

static void report(struct ktap_run *r, const char *name, int result,
		   const char *reason)
{
	switch (result) {
	case 0:
		printf("ok %d %s\n", r->n, name);
		r->pass++;
		break;
	case 2:
		printf("ok %d %s # SKIP %s\n", r->n, name, reason);
		r->skip++;
		break;
	default:
		printf("not ok %d %s\n", r->n, name);
		r->fail++;
	}
}

/* One test with one variant: once per backend it runs on. */
static void run_instances(struct ktap_run *r, const struct ktap_test *t,
			  const struct ktap_variant *v)
{
	static const char * const names[] = { "type1", "iommufd" };
	unsigned int want = t->backends ?: prog_backends;
	char name[512], reason[200];
	int b, result;

	/* Declared for backends this kernel lacks: one skip says so. */
	if (!(want & r->avail)) {
		result_name(name, sizeof(name), r->prog, t, v,
			    prog_backends == KTAP_BOTH ?
			    names[want == KTAP_IOMMUFD] : NULL);
		if (!selected(name, r->pattern))
			return;
		r->n++;
		if (r->list)
			printf("%s # SKIP\n", name);
		if (!r->count_only)
			report(r, name, 2, want == KTAP_IOMMUFD ?
			       "iommufd only; no /dev/iommu, or REFMDEV_BACKEND" :
			       "not on the backend REFMDEV_BACKEND selects");
		return;
	}
	for (b = 0; b < 2; b++) {
		if (!(want & r->avail & (1u << b)))
			continue;
		/* Names carry the backend only where there can be two. */
		result_name(name, sizeof(name), r->prog, t, v,
			    prog_backends == KTAP_BOTH ? names[b] : NULL);
		if (!selected(name, r->pattern))
			continue;
		r->n++;
		if (r->list)
			printf("%s\n", name);
		if (r->count_only)
			continue;
		backend_select(b == 1);
		result = run_one(t, v, r->timeout, reason, sizeof(reason));
		if (remove_leftover_mdevs() && result != 1) {
			printf("# the test left mdevs behind\n");
			result = 1;
		}
		report(r, name, result, reason);
	}
}

static void run_all(struct ktap_run *r)
{
	const struct ktap_variant *v;
	int i;

	for (i = 0; i < ntests; i++) {
		const struct ktap_test *t = tests[i];

		if (!t->fixture || !t->fixture->variants) {
			run_instances(r, t, NULL);
			continue;
		}
		for (v = t->fixture->variants; v; v = v->next)
			run_instances(r, t, v);
	}
}

int main(int argc, char **argv)
{
	struct ktap_run r = {
		.prog = basename(argv[0]), .pattern = getenv("T"),
		.timeout = KTAP_DEFAULT_TIMEOUT, .avail = available_backends(),
	};

	/* -l [pattern]: list what would run here, as kselftest's -l does. */
	if (argc > 1 && !strcmp(argv[1], "-l")) {
		r.list = true;
		r.count_only = true;
		r.pattern = argc > 2 ? argv[2] : r.pattern;
		run_all(&r);
		return 0;
	}
	if (argc > 1)
		r.pattern = argv[1];
	if (getenv("KTAP_TIMEOUT"))
		r.timeout = atoi(getenv("KTAP_TIMEOUT"));

	/* The plan first: walk the instances once without running them. */
	r.count_only = true;
	run_all(&r);

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n");
	printf("# %s\n", r.prog);
	printf("1..%d\n", r.n);
	r.count_only = false;
	r.n = 0;
	run_all(&r);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       r.pass, r.fail, r.skip);
	return r.fail ? 1 : 0;
}
