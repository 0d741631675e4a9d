#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The `make run` demo, run inside the test VM from /payload with refmdev.ko
# loaded: create two mdevs through sysfs, look at one through VFIO as a
# VMM would, drive its DMA engine as a userspace driver, let one DMA into
# the other's memory through a dma-buf (and take that away again), and
# remove them.
set -e
types=/sys/class/mdev_bus/refmdev/mdev_supported_types
small=
large=

say()
{
	echo
	echo "== $*"
}

show_types()
{
	for t in "$types"/*; do
		printf '  %-12s %-32s available_instances=%s\n' \
			"$(basename "$t")" "$(cat "$t/name")" \
			"$(cat "$t/available_instances")"
	done
}

# Remove the mdevs this demo created, if they are still there.
remove_mdevs()
{
	for u in $small $large; do
		[ -e "/sys/bus/mdev/devices/$u" ] || continue
		echo "  echo 1 > /sys/bus/mdev/devices/$u/remove"
		echo 1 > "/sys/bus/mdev/devices/$u/remove"
	done
}

# A failed step ends the demo (set -e) with its status, but not with the
# mdevs left behind.
on_exit()
{
	status=$?
	if [ "$status" -ne 0 ]; then
		echo "demo FAILED (status $status); removing its mdevs"
		remove_mdevs || true
	fi
	exit "$status"
}
trap on_exit EXIT

say "mdev types offered by the refmdev parent"
show_types

small=$(cat /proc/sys/kernel/random/uuid)
large=$(cat /proc/sys/kernel/random/uuid)
say "creating two mdevs through sysfs"
echo "  echo $small > $types/refmdev-1M/create"
echo "$small" > "$types/refmdev-1M/create"
echo "  echo $large > $types/refmdev-16M/create"
echo "$large" > "$types/refmdev-16M/create"
for u in "$small" "$large"; do
	printf '  %s -> %s, IOMMU group %s\n' "$u" \
		"$(basename "$(readlink /sys/bus/mdev/devices/$u/mdev_type)")" \
		"$(basename "$(readlink /sys/bus/mdev/devices/$u/iommu_group)")"
done
show_types

say "opening $small through VFIO (samples/refmdev-info)"
./refmdev-info "$small"

say "DMA: a guest-memory copy with its data check"
./refmdev-dma "$small"

say "P2P: $small's engine writes into $large's BAR2 through a dma-buf"
./refmdev-p2p "$large" "$small"

say "removing both mdevs"
remove_mdevs
show_types
echo
echo "demo finished"
