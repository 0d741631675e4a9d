// SPDX-License-Identifier: GPL-2.0
/* The revocation triggers; see revoke.h. */
#include <linux/pci_regs.h>
#include <sys/ioctl.h>

#include "ktap.h"
#include "p2p_util.h"
#include "revoke.h"

static void vfio_reset(struct vfio_dev *d)
{
	ASSERT_OK(ioctl(d->device, VFIO_DEVICE_RESET));
}

static void ctrl_reset(struct vfio_dev *d)
{
	bar0_write(d, REFMDEV_REG_CONTROL, 4, REFMDEV_CTRL_RESET);
}

/* set_memory_decode() and function_level_reset() are p2p_util's. */
static void decode_off(struct vfio_dev *d)
{
	set_memory_decode(d, false);
}

void revoke_decode_on(struct vfio_dev *d)
{
	set_memory_decode(d, true);
}

/* It leaves memory decoding off: revoked until it is back on. */
static void flr(struct vfio_dev *d)
{
	function_level_reset(d);
	ASSERT_EQ(cfg_read(d, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, 0);
}

const struct revoke_trigger revoke_vfio_reset = {
	.name = "VFIO_DEVICE_RESET", .revoke = vfio_reset, .new_memory = true,
};

const struct revoke_trigger revoke_ctrl_reset = {
	.name = "CONTROL.RESET", .revoke = ctrl_reset, .new_memory = true,
};

const struct revoke_trigger revoke_decode_off = {
	.name = "decode off", .revoke = decode_off,
	.restore = revoke_decode_on,
};

const struct revoke_trigger revoke_flr = {
	.name = "FLR", .revoke = flr, .restore = revoke_decode_on,
	.new_memory = true,
};
