#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the nested guest that selftests/nested_guest.sh starts inside
# the test VM, with two refmdev mdevs assigned through vfio-pci. Built
# into its initramfs by scripts/build-nested-payload.sh.
#
# The kernel console is ttyS0. Everything for the outer test goes to
# ttyS1, between markers the outer script looks for:
#
#   @@NESTED userspace UPTIME     reached userspace (inner uptime, s)
#   @@NESTED insmod-failed        refmdev_guest.ko did not load
#   @@NESTED test-start           the test program's KTAP follows
#   @@NESTED exit STATUS UPTIME   the test program ended
#   @@NESTED rmmod STATUS         unloading the driver afterwards
#   @@NESTED done                 dmesg is on ttyS2; powering off
#
# "refmdev_nested=stream" on the command line runs the test program with
# --stream instead: it prints STREAMING once DMA runs and then keeps the
# devices busy until the outer side kills QEMU.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
exec > /dev/ttyS1 2>&1 < /dev/null
echo "@@NESTED userspace $(cut -d' ' -f1 /proc/uptime)"

mode=run
grep -qw 'refmdev_nested=stream' /proc/cmdline && mode=stream

if insmod /refmdev_guest.ko; then
	echo "@@NESTED test-start"
	if [ "$mode" = stream ]; then
		/refmdev-guest-test --stream
	else
		# Give up, with a KTAP "Bail out!", well before the outer
		# side's QEMU timeout, so a hang still reports what it did.
		/refmdev-guest-test --watchdog 200
	fi
	rc=$?
	echo "@@NESTED exit $rc $(cut -d' ' -f1 /proc/uptime)"
	rmmod refmdev_guest
	echo "@@NESTED rmmod $?"
else
	echo "@@NESTED insmod-failed"
fi
# The whole kernel log, whatever the console level let through, for the
# outer side's splat check and for reading after a failure.
dmesg > /dev/ttyS2
echo "@@NESTED done"
poweroff -f
