/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fail: how refmdev-dma and refmdev-p2p, and the helpers they share,
 * report a step that went wrong: "<program>: <step>: <reason>" on stderr,
 * then exit with 1. A sample has nothing to recover, and stopping at the
 * first surprise keeps the code that shows the interface short.
 *
 * A macro so that the compiler checks the format against its arguments.
 * The program's name is the one it was started under (glibc's
 * program_invocation_short_name).
 */
#ifndef REFMDEV_SAMPLES_FAIL_H
#define REFMDEV_SAMPLES_FAIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define fail(step, fmt, ...)						\
	do {								\
		fflush(stdout);						\
		fprintf(stderr, "%s: %s: " fmt "\n",			\
			program_invocation_short_name, step,		\
			##__VA_ARGS__);					\
		exit(EXIT_FAILURE);					\
	} while (0)

#define fail_errno(step, err)	fail(step, "%s", strerror(err))

#endif /* REFMDEV_SAMPLES_FAIL_H */
