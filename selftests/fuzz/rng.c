// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's random numbers: splitmix64, seeded per thread from the
 * run's seed and the thread's place, so that the operations each thread
 * chooses are the same in every run with the same seed.
 */
#include "fuzz.h"

static __u64 mix(__u64 z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void fz_seed(struct fz_rng *r, __u64 seed, __u64 a, __u64 b, __u64 c)
{
	r->state = mix(mix(mix(seed ^ a) ^ b) ^ c);
}

__u64 fz_next(struct fz_rng *r)
{
	r->state += 0x9e3779b97f4a7c15ull;
	return mix(r->state);
}

__u64 fz_below(struct fz_rng *r, __u64 n)
{
	return n ? fz_next(r) % n : 0;
}

bool fz_chance(struct fz_rng *r, unsigned int percent)
{
	return fz_below(r, 100) < percent;
}

__u64 fz_size(struct fz_rng *r, __u64 max)
{
	__u64 edge;

	switch (fz_below(r, 8)) {
	case 0:
		return fz_below(r, 3);			/* 0, 1, 2 */
	case 1:
		return max;
	case 2:
		return max + 1 + fz_below(r, 8);	/* just past the end */
	case 3:
		edge = 1ull << fz_below(r, 64);		/* a power of two */
		return edge + fz_below(r, 3) - 1;	/* ... and around it */
	case 4:
		return fz_next(r);			/* anything at all */
	default:
		return fz_below(r, max + 1);
	}
}
