// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures for the fuzzer (Documentation/fault-injection in
 * the kernel): failslab and fail_page_alloc, both restricted twice.
 * task-filter: only tasks with make-it-fail set, which are the fuzzer's
 * threads and, while it runs, the kworkers (the DMA engine runs in one).
 * The stacktrace filter: only allocations with refmdev's code on the
 * stack, so the kernel around us (fork, page faults, vfio's own ioctls)
 * keeps working and every failure lands on one of our error paths or a
 * kernel path we called into.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define DEBUGFS		"/sys/kernel/debug"
/*
 * Every INTERVAL-th allocation that qualifies fails with PROBABILITY
 * percent: about one in a thousand. Opening a device allocates its BAR2
 * page by page (256 for 1 MiB), so a rate much higher would leave the
 * workers with no device to work on.
 */
#define INTERVAL	"500"
#define PROBABILITY	"50"
/* "times" counts down with each failure: what is left says how many. */
#define TIMES		1000000000L

static const char *const attrs[] = { "failslab", "fail_page_alloc" };

static int put(const char *attr, const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", attr, file);
	return sysfs_write(path, val);
}

bool fz_faults_available(void)
{
	return !access(DEBUGFS "/failslab/require-start", W_OK) &&
	       !access(DEBUGFS "/fail_page_alloc/require-start", W_OK);
}

/*
 * refmdev's text, from its lowest function to the page after its
 * highest, and the text of @func: from its address to the next symbol's.
 * All as /proc/kallsyms lists them.
 */
static int find_text(const char *func, unsigned long *start,
		     unsigned long *end, unsigned long *func_start,
		     unsigned long *func_end)
{
	char line[256], name[128], type;
	unsigned long addr, lo = ~0ul, hi = 0, fs = 0, fe = ~0ul;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %127s", &addr, &type, name) != 3 ||
		    toupper(type) != 'T' || !addr)
			continue;
		if (!strcmp(name, func) && !strchr(line, '['))
			fs = addr;
		if (!strstr(line, "[refmdev]"))
			continue;
		if (addr < lo)
			lo = addr;
		if (addr > hi)
			hi = addr;
	}
	if (fs) {
		/* A second pass for the first symbol after @func. */
		rewind(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%lx %c", &addr, &type) == 2 &&
			    addr > fs && addr < fe)
				fe = addr;
	}
	fclose(f);
	if (!hi || !fs || fe == ~0ul)
		return -ENOENT;
	*start = lo;
	*end = (hi | 0xfff) + 1;
	*func_start = fs;
	*func_end = fe;
	return 0;
}

int fz_faults_start(char *why, size_t len)
{
	char start[32], end[32], rstart[32], rend[32], times[32];
	unsigned long lo = 0, hi = 0, rlo = 0, rhi = 0;
	unsigned int i;
	int ret;

	/*
	 * dma_buf_vmap() warns when an exporter's .vmap fails, taking that
	 * for a bug of the exporter's; ours can fail only to allocate, so
	 * allocations under it are left alone (the reject range).
	 */
	ret = find_text("dma_buf_vmap", &lo, &hi, &rlo, &rhi);
	if (ret) {
		snprintf(why, len, "refmdev and dma_buf_vmap in /proc/kallsyms: %s",
			 strerror(-ret));
		return ret;
	}
	snprintf(start, sizeof(start), "0x%lx", lo);
	snprintf(end, sizeof(end), "0x%lx", hi);
	snprintf(rstart, sizeof(rstart), "0x%lx", rlo);
	snprintf(rend, sizeof(rend), "0x%lx", rhi);
	snprintf(times, sizeof(times), "%ld", TIMES);
	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		const char *a = attrs[i];

		ret = put(a, "task-filter", "Y") ?:
		      put(a, "stacktrace-depth", "32") ?:
		      put(a, "require-start", start) ?:
		      put(a, "require-end", end) ?:
		      put(a, "reject-start", rstart) ?:
		      put(a, "reject-end", rend) ?:
		      put(a, "ignore-gfp-wait", "N") ?:
		      put(a, "verbose", "0") ?:
		      put(a, "interval", INTERVAL) ?:
		      put(a, "times", times) ?:
		      put(a, "space", "0") ?:
		      put(a, "probability", PROBABILITY);
		if (ret) {
			snprintf(why, len, "configuring %s: %s", a,
				 strerror(-ret));
			return ret;
		}
	}
	/* Single pages too, not only the larger orders. */
	put("fail_page_alloc", "min-order", "0");
	/* scripts/find-splats.sh forgives the allocation failure reports
	 * logged between these two markers.
	 */
	sysfs_write("/dev/kmsg", "refmdev-fuzz: fault injection on\n");
	return 0;
}

/* The task may be gone already; then there is nothing to mark. */
static void mark(const char *path, bool on)
{
	sysfs_write(path, on ? "1" : "0");
}

void fz_faults_mark_self(bool on)
{
	mark("/proc/thread-self/make-it-fail", on);
}

void fz_faults_mark_kworkers(bool on)
{
	char path[300], comm[32];
	struct dirent *de;
	DIR *dir = opendir("/proc");

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (sysfs_read(path, comm, sizeof(comm)) ||
		    strncmp(comm, "kworker", 7))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/make-it-fail", de->d_name);
		mark(path, on);
	}
	closedir(dir);
}

long fz_faults_stop(void)
{
	char path[128];
	long injected = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		const char *a = attrs[i];
		long left;

		put(a, "probability", "0");
		snprintf(path, sizeof(path), DEBUGFS "/%s/times", a);
		left = sysfs_read_long(path);
		printf("# %s: %ld allocations failed\n", a, TIMES - left);
		injected += TIMES - left;
		/* The kernel's defaults again, for the tests that follow. */
		put(a, "times", "-1");
		put(a, "interval", "1");
		put(a, "task-filter", "N");
		put(a, "ignore-gfp-wait", "Y");
		put(a, "require-start", "0");
		put(a, "require-end", "0xffffffffffffffff");
		put(a, "reject-start", "0");
		put(a, "reject-end", "0");
		put(a, "verbose", "2");
	}
	put("fail_page_alloc", "min-order", "1");
	fz_faults_mark_kworkers(false);
	sysfs_write("/dev/kmsg", "refmdev-fuzz: fault injection off\n");
	return injected;
}
