/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture "cache": every TEST_F(cache, ...) of a program that
 * includes this runs twice, with the pin cache off and on, as
 * <prog>.cache.off.<test> and <prog>.cache.on.<test>. The bound is set
 * (type1 opted in when on) before the test opens any device, since a
 * device reads it when it is opened; pin_cache_set() puts it back.
 *
 * Definitions, not declarations: include it from one file per program.
 */
#ifndef PIN_CACHE_FIXTURE_H
#define PIN_CACHE_FIXTURE_H

#include "ktap.h"
#include "pin_cache_util.h"

FIXTURE(cache) {};

FIXTURE_VARIANT(cache) {
	unsigned long pages;		/* pin_cache_pages for the test's devices */
};

FIXTURE_VARIANT_ADD(cache, off) { .pages = 0 };
FIXTURE_VARIANT_ADD(cache, on) { .pages = PIN_CACHE_DEFAULT };

FIXTURE_SETUP(cache)
{
	pin_cache_set(variant->pages);
}

FIXTURE_TEARDOWN(cache)
{
}

#endif /* PIN_CACHE_FIXTURE_H */
