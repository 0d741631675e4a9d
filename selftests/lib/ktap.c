// SPDX-License-Identifier: GPL-2.0
/*
 * The runner behind ktap.h: test registration, KTAP output, one child
 * process per test and the leaked-mdev check. What a test body calls is
 * in ktap_assert.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "vfio_backend.h"
#include "mdev_util.h"

#define KTAP_DEFAULT_TIMEOUT	120
#define KTAP_MAX_TESTS		256

static const struct ktap_test *tests[KTAP_MAX_TESTS];
static int ntests;

void ktap_register(const struct ktap_test *test)
{
	if (ntests == KTAP_MAX_TESTS) {
		fprintf(stderr, "ktap: more than %d tests\n", KTAP_MAX_TESTS);
		exit(2);
	}
	tests[ntests++] = test;
}

static bool selected(const char *prog, const char *test, const char *pattern)
{
	char full[256];

	if (!pattern || !*pattern)
		return true;
	snprintf(full, sizeof(full), "%s.%s", prog, test);
	if (strpbrk(pattern, "*?["))
		return !fnmatch(pattern, full, 0);
	return strstr(full, pattern);
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
static int run_one(const struct ktap_test *t, unsigned int timeout,
		   char *skip_reason, size_t reason_len)
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

int main(int argc, char **argv)
{
	const char *pattern = getenv("T");
	unsigned int timeout = KTAP_DEFAULT_TIMEOUT;
	int pass = 0, fail = 0, skip = 0, planned = 0, i, n = 0;
	char reason[200], prog[128];

	/* The iommufd variant of a program is a KTAP document of its own. */
	snprintf(prog, sizeof(prog), "%s%s", basename(argv[0]),
		 backend_is_iommufd() ? "-iommufd" : "");
	if (argc > 1)
		pattern = argv[1];
	if (getenv("KTAP_TIMEOUT"))
		timeout = atoi(getenv("KTAP_TIMEOUT"));

	for (i = 0; i < ntests; i++)
		planned += selected(prog, tests[i]->name, pattern);

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n");
	printf("# %s\n", prog);
	printf("1..%d\n", planned);
	for (i = 0; i < ntests; i++) {
		const struct ktap_test *t = tests[i];
		int result;

		if (!selected(prog, t->name, pattern))
			continue;
		n++;
		result = run_one(t, timeout, reason, sizeof(reason));
		if (remove_leftover_mdevs() && result != 1) {
			printf("# the test left mdevs behind\n");
			result = 1;
		}
		switch (result) {
		case 0:
			printf("ok %d %s.%s\n", n, prog, t->name);
			pass++;
			break;
		case 2:
			printf("ok %d %s.%s # SKIP %s\n", n, prog, t->name,
			       reason);
			skip++;
			break;
		default:
			printf("not ok %d %s.%s\n", n, prog, t->name);
			fail++;
		}
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pass, fail, skip);
	return fail ? 1 : 0;
}
