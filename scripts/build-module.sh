#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KDIR OUTDIR - build refmdev.ko for the kernel tree KDIR in
# a private copy of the sources under OUTDIR, so that modules for several
# kernels (the VM's, your own) can coexist with the in-tree `make` build.
# Extra arguments are passed to Kbuild (e.g. W=1).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$1
out=$2
shift 2

mkdir -p "$out"
. "$top/scripts/mirror-sources.sh"
mirror_begin "$out"
cp -a "$top/Kbuild" "$top/mdev" "$top/p2p" "$top/include" "$out/src.new/"
# The test-only dma-buf importer (selftests/importer), built alongside.
mkdir -p "$out/src.new/selftests"
cp -a "$top/selftests/importer" "$out/src.new/selftests/"
mirror_finish "$out"
"$top/scripts/in-toolchain.sh" "$kdir" "$out" -- \
	make -s -C "$kdir" M="$out/src" REFMDEV_SELFTESTS=m "$@" modules
