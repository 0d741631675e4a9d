/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The events that revoke a device's BAR2 dma-bufs, one table for every
 * program that checks revocation from some importer's side (the CPU's
 * mmap in p2p_export, the test importer module in p2p_importer, another
 * refmdev's P2P window in p2p_window). Each program makes them the
 * variants of its revocation fixture, one FIXTURE_VARIANT_ADD() per
 * trigger ({ .t = &revoke_flr }): a trigger added here is one line more
 * in each of them.
 *
 * Closing the device is a trigger too, but nothing brings a closed
 * device's dma-bufs back and each program checks it with a test of its
 * own (the close also ends what the fixture set up).
 */
#ifndef REVOKE_H
#define REVOKE_H

#include <stdbool.h>
#include "mdev_util.h"

struct revoke_trigger {
	const char *name;
	/* Revokes every dma-buf of @d before it returns. */
	void (*revoke)(struct vfio_dev *d);
	/*
	 * What gives the memory back; NULL if revoke() restores before it
	 * returns (the resets), so the dma-bufs work again at once.
	 */
	void (*restore)(struct vfio_dev *d);
	/* Restored onto new, zeroed memory (resets, FLR), or the same. */
	bool new_memory;
};

extern const struct revoke_trigger revoke_vfio_reset;	/* VFIO_DEVICE_RESET */
extern const struct revoke_trigger revoke_ctrl_reset;	/* CONTROL.RESET */
extern const struct revoke_trigger revoke_decode_off;	/* PCI_COMMAND_MEMORY */
extern const struct revoke_trigger revoke_flr;		/* PCIe FLR */

/* Device memory decoding on (the restore of decode_off and flr). */
void revoke_decode_on(struct vfio_dev *d);

#endif /* REVOKE_H */
