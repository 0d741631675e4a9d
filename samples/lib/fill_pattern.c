// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "fill_pattern.h"

/* xorshift64*: cheap, and no two neighbouring 8-byte words alike. */
void fill_random(void *buf, size_t len, __u64 seed)
{
	__u64 x = seed ? seed : 1, v;
	__u8 *p = buf;
	size_t n;

	while (len) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dull;
		n = len < sizeof(v) ? len : sizeof(v);
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}
