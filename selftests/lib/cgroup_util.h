/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A child memory cgroup for a test: made (cgroup2 mounted if it is not),
 * and removed (and unmounted) when the test ends, through ktap_defer().
 * The test puts a forked child in it; the test process itself stays out,
 * so that the cgroup can be removed.
 */
#ifndef CGROUP_UTIL_H
#define CGROUP_UTIL_H

/* Make the cgroup and return its directory; skips without memcg. */
const char *cgroup_make(void);
/* Move the calling process into the cgroup cgroup_make() made. */
void cgroup_join(void);
/* A file of the cgroup, e.g. "memory.current" (-errno on failure). */
long cgroup_read_long(const char *file);
void cgroup_write(const char *file, const char *val);

#endif /* CGROUP_UTIL_H */
