// SPDX-License-Identifier: GPL-2.0
/*
 * The part of ktap.h a test body uses: failing, skipping, deferred
 * cleanups and forking. Kept apart from the runner (ktap.c) so that a
 * program with its own main(), like the benchmark, can use the same
 * helpers.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "ktap.h"

#define KTAP_MAX_DEFERS		64

static struct {
	void (*fn)(void *arg);
	void *arg;
} defers[KTAP_MAX_DEFERS];
static int ndefers;
static int skip_fd = -1;

void ktap_set_skip_fd(int fd)
{
	skip_fd = fd;
}

void ktap_defer(void (*fn)(void *), void *arg)
{
	if (ndefers == KTAP_MAX_DEFERS)
		FAIL("too many deferred cleanups");
	defers[ndefers].fn = fn;
	defers[ndefers].arg = arg;
	ndefers++;
}

static struct {
	void (*fn)(void *self, const void *variant);
	void *self;
	const void *variant;
} teardown;

static void run_teardown(void *arg)
{
	(void)arg;
	teardown.fn(teardown.self, teardown.variant);
}

/* One fixture per test, so one slot. */
void ktap_defer_teardown(void (*fn)(void *self, const void *variant),
			 void *self, const void *variant)
{
	teardown.fn = fn;
	teardown.self = self;
	teardown.variant = variant;
	ktap_defer(run_teardown, NULL);
}

/* Last registered, first run: undo in the reverse order of setup. */
void ktap_run_defers(void)
{
	while (ndefers > 0) {
		ndefers--;
		defers[ndefers].fn(defers[ndefers].arg);
	}
}

pid_t ktap_fork(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (!pid)
		ndefers = 0;
	return pid;
}

void ktap_finish(int status)
{
	ktap_run_defers();
	fflush(stdout);
	_exit(status);
}

void ktap_info(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void ktap_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	ktap_run_defers();
	_exit(1);
}

void ktap_skip(const char *fmt, ...)
{
	char reason[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (skip_fd >= 0 && write(skip_fd, reason, strlen(reason)) < 0)
		perror("skip reason");
	ktap_run_defers();
	_exit(KTAP_SKIP_EXIT);
}
