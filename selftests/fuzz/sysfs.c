// SPDX-License-Identifier: GPL-2.0
/*
 * The sysfs process: creates and removes the FZ_SLOTS shared mdevs while
 * the workers use them, and writes what sysfs must refuse.
 *
 * Removal waits until every user has closed the device (mdev core, then
 * vfio_unregister_group_dev()), so it is done by a process that holds
 * nothing itself. A worker removing a device it had open, or had BAR2 of
 * mapped, would wait on itself; killed in that wait, it could never exit.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz.h"

/* Random uuids from the generator keep a replay's sysfs names the same. */
static void random_uuid(struct fz_rng *r, char *out)
{
	__u64 a = fz_next(r), b = fz_next(r);

	snprintf(out, UUID_LEN + 1, "%08x-%04x-4%03x-%04x-%012llx",
		 (unsigned int)(a >> 32), (unsigned int)(a >> 16) & 0xffff,
		 (unsigned int)a & 0xfff,
		 (unsigned int)(0x8000 | ((b >> 48) & 0x3fff)),
		 (unsigned long long)(b & 0xffffffffffffull));
}

/* Takes slot @s from @from to BUSY; false if someone else moved it. */
static bool claim(struct fz_shared *sh, int s, int from)
{
	if (!atomic_compare_exchange_strong(&sh->slot[s].state, &from,
					    FZ_SLOT_BUSY))
		return false;
	atomic_store(&sh->slot[s].owner, getpid());
	return true;
}

static int create(struct fz_shared *sh, struct fz_rng *r, int s)
{
	int ret;

	if (!claim(sh, s, FZ_SLOT_EMPTY))
		return FZ_SKIPPED;
	random_uuid(r, sh->slot[s].uuid);
	ret = mdev_create_raw(FZ_TYPE, sh->slot[s].uuid);
	atomic_store(&sh->slot[s].state, ret ? FZ_SLOT_EMPTY : FZ_SLOT_PRESENT);
	return ret;
}

static int remove_slot(struct fz_shared *sh, int s)
{
	int ret;

	if (!claim(sh, s, FZ_SLOT_PRESENT))
		return FZ_SKIPPED;
	ret = mdev_remove(sh->slot[s].uuid);
	atomic_store(&sh->slot[s].state, ret ? FZ_SLOT_PRESENT : FZ_SLOT_EMPTY);
	return ret;
}

/* What create must refuse: a name that is no uuid, one that exists. */
static int create_invalid(struct fz_shared *sh, struct fz_rng *r)
{
	char uuid[UUID_LEN + 1];
	int s = fz_below(r, FZ_SLOTS), at;

	if (fz_chance(r, 50) &&
	    atomic_load(&sh->slot[s].state) == FZ_SLOT_PRESENT) {
		/* Only this process removes, so it stays present. */
		snprintf(uuid, sizeof(uuid), "%s", sh->slot[s].uuid);
	} else {
		random_uuid(r, uuid);
		do {
			at = fz_below(r, UUID_LEN);
		} while (uuid[at] == '-');
		uuid[at] = "xgZ"[fz_below(r, 3)];
	}
	if (mdev_create_raw(FZ_TYPE, uuid))
		return FZ_DONE;
	fz_violation(sh, "sysfs: create of \"%s\" succeeded", uuid);
	mdev_remove(uuid);
	return -EEXIST;
}

void fz_sysfs_main(struct fz_shared *sh, int generation)
{
	struct fz_rng r;

	fz_seed(&r, sh->seed, FZ_WORKERS, generation, 0);
	while (!atomic_load(&sh->stop)) {
		int s = fz_below(&r, FZ_SLOTS);
		enum fz_op op = fz_chance(&r, 50) ? FZ_OP_CREATE : FZ_OP_REMOVE;
		int ret;

		usleep(20000 + fz_below(&r, 300000));
		if (fz_chance(&r, 10))
			ret = create_invalid(sh, &r);
		else if (op == FZ_OP_CREATE)
			ret = create(sh, &r, s);
		else
			ret = remove_slot(sh, s);
		fz_count(sh, FZ_WORKERS, 0, op, ret);
	}
	_exit(0);
}
