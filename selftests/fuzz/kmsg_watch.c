// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel log, read while the fuzzer runs, so that a report stops the
 * run at once with its seed and the operations that led to it. The host
 * scans the whole serial log afterwards as well (scripts/find-splats.sh,
 * the same kinds of report); this copy only makes the failure point
 * close to its cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static const char *const reports[] = {
	"WARNING: ", "BUG: ", "BUG at ", "kernel BUG", "Oops",
	"general protection", "Kernel panic", "possible circular locking",
	"possible recursive locking", "inconsistent lock state",
	"DEBUG_LOCKS_WARN_ON", "bad unlock balance", "held lock freed",
	"lock held when returning to user space", "suspicious RCU usage",
	"KASAN", "KFENCE", "UBSAN", "refcount_t: ", "list_add corruption",
	"list_del corruption", "list corruption", "ODEBUG",
	"blocked for more than", "hung_task", "Call Trace:",
	"sleeping function called from invalid context",
};

int fz_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

bool fz_kmsg_report(int fd, char *report, size_t len)
{
	/* An injected page allocation failure is reported with a stack
	 * dump (warn_alloc) that runs up to the memory summary; it is what
	 * the fuzzer asked for, not a fault of the kernel. This runs only
	 * while the fuzzer runs; find-splats.sh does the same between the
	 * markers fault_inject.c logs.
	 */
	static bool in_alloc_warning;
	char rec[2048], *msg;
	unsigned int i;
	ssize_t n;

	if (fd < 0)
		return false;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records lost to wrap-around */
		if (n <= 0)
			return false;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (strstr(msg, "page allocation failure: ") ||
		    strstr(msg, "vmalloc error: "))
			in_alloc_warning = true;
		if (strstr(msg, "Mem-Info:"))
			in_alloc_warning = false;
		if (in_alloc_warning)
			continue;
		for (i = 0; i < ARRAY_SIZE(reports); i++)
			if (strstr(msg, reports[i])) {
				snprintf(report, len, "%s", msg);
				return true;
			}
	}
}
