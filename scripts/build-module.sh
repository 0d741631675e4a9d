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
# Mirror the sources; stale copies of removed files must not linger.
rm -rf "$out/src.new"
mkdir -p "$out/src.new"
cp -a "$top/Kbuild" "$top/mdev" "$top/p2p" "$top/include" "$out/src.new/"
# The test-only dma-buf importer (selftests/importer), built alongside.
mkdir -p "$out/src.new/selftests"
cp -a "$top/selftests/importer" "$out/src.new/selftests/"
if [ -d "$out/src" ] && diff -rq "$out/src.new" "$out/src" \
	-x '*.o' -x '*.ko' -x '*.mod*' -x '.*.cmd' -x 'modules.order' \
	-x 'Module.symvers' >/dev/null 2>&1; then
	rm -rf "$out/src.new"
else
	rm -rf "$out/src"
	mv "$out/src.new" "$out/src"
fi
make -s -C "$kdir" M="$out/src" "$@" modules
