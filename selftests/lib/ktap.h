/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small KTAP test harness.
 *
 * TEST(name) { ... } registers a test. Each test runs in its own child
 * process with a time limit, so a crash, a hang or a failed assertion ends
 * that test alone. ASSERT_* failures print a diagnostic and end the test;
 * SKIP() ends it as skipped. Cleanups registered with ktap_defer() run
 * when the test ends in any of these ways (except a kill on timeout,
 * after which the runner removes leftover mdevs itself).
 *
 * After every test the runner checks that no mdev is left behind: a test
 * that leaks one fails, whatever it asserted.
 */
#ifndef KTAP_H
#define KTAP_H

#include <errno.h>
#include <stdbool.h>
#include <linux/types.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdnoreturn.h>
#include <string.h>

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

struct ktap_test {
	const char *name;
	void (*fn)(void);
};

/*
 * TEST() registers its test from a constructor, so tests run in the
 * order they are written without any list to keep by hand.
 */
void ktap_register(const struct ktap_test *test);

#define TEST(id)							\
	static void ktap_fn_##id(void);					\
	static const struct ktap_test ktap_entry_##id = {		\
		.name = #id, .fn = ktap_fn_##id,			\
	};								\
	static void __attribute__((constructor)) ktap_register_##id(void) \
	{								\
		ktap_register(&ktap_entry_##id);			\
	}								\
	static void ktap_fn_##id(void)

noreturn void ktap_fail(const char *file, int line, const char *fmt, ...);
noreturn void ktap_skip(const char *fmt, ...);
void ktap_defer(void (*fn)(void *), void *arg);
/*
 * fork() for tests: the child starts with no deferred cleanups (the
 * parent's are the parent's to run) and ends with ktap_finish(), which
 * runs its own.
 */
pid_t ktap_fork(void);
noreturn void ktap_finish(int status);

/* For the runner: where ktap_skip() reports, and running the cleanups. */
#define KTAP_SKIP_EXIT		4	/* exit status of a skipped test */
void ktap_set_skip_fd(int fd);
void ktap_run_defers(void);
void ktap_info(const char *fmt, ...);

#define FAIL(...) ktap_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) ktap_skip(__VA_ARGS__)

#define ASSERT_TRUE(cond)						\
	do {								\
		if (!(cond))						\
			FAIL("expected %s", #cond);			\
	} while (0)

#define ASSERT_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b)						\
			FAIL("%s == %s: %lld (0x%llx) != %lld (0x%llx)",\
			     #a, #b, _a, (unsigned long long)_a, _b,	\
			     (unsigned long long)_b);			\
	} while (0)

#define ASSERT_NE(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a == _b)						\
			FAIL("%s != %s: both %lld", #a, #b, _a);	\
	} while (0)

/* A call returning 0 / >= 0 on success and -1 with errno on failure. */
#define ASSERT_OK(call)							\
	do {								\
		errno = 0;						\
		if ((long long)(call) < 0)				\
			FAIL("%s: %s", #call, strerror(errno));		\
	} while (0)

/* The call must fail with exactly errno @err. */
#define ASSERT_ERRNO(call, err)						\
	do {								\
		int _want = (err);					\
		long long _r;						\
		errno = 0;						\
		_r = (long long)(call);					\
		if (_r >= 0)						\
			FAIL("%s: succeeded (%lld), expected %s",	\
			     #call, _r, strerrorname_np(_want));	\
		if (errno != _want)					\
			FAIL("%s: errno %s, expected %s", #call,	\
			     strerrorname_np(errno), strerrorname_np(_want)); \
	} while (0)

#endif /* KTAP_H */
