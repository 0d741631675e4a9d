/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fill_random: test data for the samples' copies. Every 8 bytes differ
 * and the whole buffer follows from the seed, so a copy that lands at the
 * wrong offset, twice, or not at all shows up in a compare.
 */
#ifndef REFMDEV_SAMPLES_FILL_PATTERN_H
#define REFMDEV_SAMPLES_FILL_PATTERN_H

#include <stddef.h>
#include <linux/types.h>

void fill_random(void *buf, size_t len, __u64 seed);

#endif
