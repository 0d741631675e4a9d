#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The `make run` demo, run inside the test VM from /payload with refmdev.ko
# loaded: create two mdevs through sysfs, look at one through VFIO as a
# VMM would, drive its DMA engine as a userspace driver, and remove them
# again.
set -e
types=/sys/class/mdev_bus/refmdev/mdev_supported_types

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

say "removing both mdevs"
echo 1 > "/sys/bus/mdev/devices/$small/remove"
echo 1 > "/sys/bus/mdev/devices/$large/remove"
show_types
echo
echo "demo finished"
