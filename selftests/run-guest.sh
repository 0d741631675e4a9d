#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM from /payload: every selftest program in turn.
# Each prints its own KTAP document; "# selftest-exit: NAME STATUS" after
# each lets the host tell a crash from a clean run. ONLY and SKIP, lists
# of program names, narrow the set (scripts/make-check.sh runs the nested
# guest's program in a VM of its own).
#
# On a kernel with iommufd and the VFIO device cdev (the debug kernel),
# the programs that open devices run a second time on that backend
# (REFMDEV_BACKEND=iommufd, selftests/lib/vfio_backend.h), as NAME-iommufd.
# Not the type1-only ones: p2p_type1 (a container shared with vfio-pci),
# vaddr (type1's VFIO_DMA_UNMAP_FLAG_VADDR), the fuzzer and the nested
# guest (QEMU 7.2 opens devices through groups).
cd "$(dirname "$0")" || exit 1
IOMMUFD_PROGRAMS="config_space dma_engine dma_pinning interrupts isolation
	memcg p2p_export p2p_foreign p2p_importer p2p_revoke_race p2p_vgem
	p2p_window regions reset sysfs_lifecycle vfio_device"
rc=0

# run NAME PROGRAM [BACKEND]
run()
{
	case " ${SKIP:-} " in *" $1 "*) return ;; esac
	if [ -n "${ONLY:-}" ]; then
		case " $ONLY " in *" $1 "*) ;; *) return ;; esac
	fi
	REFMDEV_BACKEND=${3:-type1} "$2"
	status=$?
	echo "# selftest-exit: $1 $status"
	[ "$status" -eq 0 ] || rc=1
}

for t in selftests/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in run-guest.sh) continue ;; esac
	run "$name" "$t"
done
if [ -c /dev/iommu ]; then
	for name in $IOMMUFD_PROGRAMS; do
		[ -x "selftests/$name" ] && run "$name-iommufd" "selftests/$name" iommufd
	done
fi
exit $rc
