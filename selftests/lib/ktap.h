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
 *
 * TEST_F() and friends below are the kernel's kselftest_harness.h
 * fixtures on top of this; a program can also run each test on both VFIO
 * backends (KTAP_BACKENDS()).
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

/* The VFIO backends a test can run on (selftests/lib/vfio_backend.h). */
#define KTAP_TYPE1		0x1
#define KTAP_IOMMUFD		0x2
#define KTAP_BOTH		(KTAP_TYPE1 | KTAP_IOMMUFD)

struct ktap_variant {
	const char *name;
	const void *data;
	struct ktap_variant *next;
};

struct ktap_fixture {
	const char *name;
	struct ktap_variant *variants, **tail;
};

struct ktap_test {
	const char *name;
	/* TEST(): fn. TEST_F(): fixture, and fn_f called with a variant. */
	void (*fn)(void);
	struct ktap_fixture *fixture;
	void (*fn_f)(const void *variant);
	/* KTAP_TYPE1 and/or KTAP_IOMMUFD; 0 for the program's default. */
	unsigned int backends;
};

/*
 * TEST() registers its test from a constructor, so tests run in the
 * order they are written without any list to keep by hand.
 */
void ktap_register(const struct ktap_test *test);
void ktap_add_variant(struct ktap_fixture *f, struct ktap_variant *v);
/* The program's backends, KTAP_TYPE1 unless it says KTAP_BACKENDS(). */
void ktap_set_backends(unsigned int backends);

#define KTAP_REGISTER(id, ...)						\
	static const struct ktap_test ktap_entry_##id = { __VA_ARGS__ };\
	static void __attribute__((constructor)) ktap_register_##id(void) \
	{								\
		ktap_register(&ktap_entry_##id);			\
	}

/*
 * KTAP_BACKENDS(KTAP_BOTH) at file scope: every test of the program runs
 * once per backend the kernel offers (iommufd where /dev/iommu exists),
 * its result named "program.test.type1" or "program.test.iommufd".
 * Without it a program runs on type1 only, under its plain names.
 */
#define KTAP_BACKENDS(mask)						\
	static void __attribute__((constructor)) ktap_backends(void)	\
	{								\
		ktap_set_backends(mask);				\
	}

#define TEST_BACKEND(id, mask)						\
	static void ktap_fn_##id(void);					\
	KTAP_REGISTER(id, .name = #id, .fn = ktap_fn_##id,		\
		      .backends = (mask))				\
	static void ktap_fn_##id(void)

#define TEST(id)	TEST_BACKEND(id, 0)

/*
 * Fixtures and variants, spelled and behaving as in the kernel's
 * tools/testing/selftests/kselftest_harness.h:
 *
 *	FIXTURE(two_devs) { struct vfio_dev *a, *b; };
 *	FIXTURE_VARIANT(two_devs) { const char *type; };
 *	FIXTURE_VARIANT_ADD(two_devs, small) { .type = TYPE_1M };
 *	FIXTURE_SETUP(two_devs) { self->a = ...; }
 *	FIXTURE_TEARDOWN(two_devs) { ... }
 *	TEST_F(two_devs, copy) { ... self->a ... variant->type ... }
 *
 * Each TEST_F runs once per variant (once if there is none), in its own
 * child like any test, named "program.fixture.variant.test". The
 * teardown runs if the setup returned, also when the body fails an
 * ASSERT; it is a ktap_defer() cleanup registered when the setup
 * returns, so it runs after the body's own cleanups and before those of
 * the setup's helpers. No _metadata: ASSERT_* need none here.
 *
 * FIXTURE_VARIANT_TABLE(fixture, rows) makes each element of an array of
 * FIXTURE_VARIANT(fixture), named by its .name member, a variant: one
 * result per row of an error table.
 */
/*
 * A body need not use self or variant. User space has no
 * <linux/compiler_attributes.h>, so __maybe_unused is defined here; it is
 * spelled __attribute, which GCC takes as __attribute__ and checkpatch's
 * rule for kernel code (use the macro, which we are defining) does not.
 */
#ifndef __maybe_unused
#define __maybe_unused		__attribute((__unused__))
#endif
#define FIXTURE_DATA(f)		struct ktap_self_##f
#define FIXTURE_VARIANT(f)	struct ktap_vdata_##f

#define FIXTURE(f)							\
	struct ktap_vdata_##f;						\
	static struct ktap_fixture ktap_fixture_##f = { .name = #f };	\
	struct ktap_self_##f

#define FIXTURE_SETUP(f)						\
	static void							\
	ktap_setup_##f(struct ktap_self_##f *self __maybe_unused,	\
		       const struct ktap_vdata_##f *variant __maybe_unused)

#define FIXTURE_TEARDOWN(f)						\
	static void							\
	ktap_teardown_##f(struct ktap_self_##f *self __maybe_unused,	\
			  const struct ktap_vdata_##f *variant __maybe_unused)

#define FIXTURE_VARIANT_ADD(f, v)					\
	static const struct ktap_vdata_##f ktap_vdata_##f##_##v;	\
	static struct ktap_variant ktap_variant_##f##_##v = {		\
		.name = #v, .data = &ktap_vdata_##f##_##v,		\
	};								\
	static void __attribute__((constructor))			\
	ktap_add_variant_##f##_##v(void)				\
	{								\
		ktap_add_variant(&ktap_fixture_##f,			\
				 &ktap_variant_##f##_##v);		\
	}								\
	static const struct ktap_vdata_##f ktap_vdata_##f##_##v =

#define FIXTURE_VARIANT_TABLE(f, rows)					\
	static struct ktap_variant					\
	ktap_vtable_##f[sizeof(rows) / sizeof(struct ktap_vdata_##f)];	\
	static void __attribute__((constructor))			\
	ktap_add_vtable_##f(void)					\
	{								\
		const struct ktap_vdata_##f *row = rows;		\
		unsigned int i;						\
									\
		for (i = 0; i < ARRAY_SIZE(ktap_vtable_##f); i++) {	\
			ktap_vtable_##f[i].name = row[i].name;		\
			ktap_vtable_##f[i].data = &row[i];		\
			ktap_add_variant(&ktap_fixture_##f,		\
					 &ktap_vtable_##f[i]);		\
		}							\
	}

/* For TEST_F: the fixture's teardown, run as a deferred cleanup. */
void ktap_defer_teardown(void (*fn)(void *self, const void *variant),
			 void *self, const void *variant);

#define TEST_F_BACKEND(f, t, mask)					\
	static void							\
	ktap_fn_##f##_##t(struct ktap_self_##f *self __maybe_unused,	\
			  const struct ktap_vdata_##f *variant __maybe_unused); \
	static void ktap_td_##f##_##t(void *self, const void *variant)	\
	{								\
		ktap_teardown_##f(self, variant);			\
	}								\
	static void ktap_wrap_##f##_##t(const void *variant)		\
	{								\
		/* Static: the teardown may run after this returns. */	\
		static struct ktap_self_##f self;			\
									\
		ktap_setup_##f(&self, variant);				\
		ktap_defer_teardown(ktap_td_##f##_##t, &self, variant);	\
		ktap_fn_##f##_##t(&self, variant);			\
	}								\
	KTAP_REGISTER(f##_##t, .name = #t, .fixture = &ktap_fixture_##f,\
		      .fn_f = ktap_wrap_##f##_##t, .backends = (mask))	\
	static void							\
	ktap_fn_##f##_##t(struct ktap_self_##f *self __maybe_unused,	\
			  const struct ktap_vdata_##f *variant __maybe_unused)

#define TEST_F(f, t)	TEST_F_BACKEND(f, t, 0)

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
