#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-guest-module.sh KDIR OUTDIR [KBUILD ARGS...] - build the guest
# driver (samples/guest/refmdev_guest.ko, for the kernel of a VM that has
# refmdev mdevs assigned) against the kernel tree KDIR, in a private copy
# of its sources under OUTDIR. The result is OUTDIR/src/refmdev_guest.ko.
# Extra arguments are passed to Kbuild (e.g. W=1).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 2 ]; then
	echo "usage: $0 KDIR OUTDIR [KBUILD ARGS...]" >&2
	exit 2
fi
kdir=$1
mkdir -p "$2"
out=$(cd "$2" && pwd)	# Kbuild wants M= absolute
shift 2

. "$top/scripts/mirror-sources.sh"
mirror_begin "$out"
mkdir -p "$out/src.new/include/uapi/linux"
cp -a "$top/samples/guest/Kbuild" "$top/samples/guest/refmdev_guest.c" \
	"$top/samples/guest/refmdev_guest.h" "$out/src.new/"
cp -a "$top/include/uapi/linux/refmdev.h" "$out/src.new/include/uapi/linux/"
mirror_finish "$out"
"$top/scripts/in-toolchain.sh" "$kdir" "$out" -- \
	make -s -C "$kdir" M="$out/src" "$@" modules
test -f "$out/src/refmdev_guest.ko"
