#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make-run.sh - the `make run` demo: fetch the default Debian kernel, build
# refmdev.ko for it, boot it in QEMU and run samples/demo-guest.sh there.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
export CACHE

kdir=$("$top/scripts/fetch-kernel.sh") || exit 1
release=$(cat "$kdir/release")
out="${BUILD:-$top/build}/run-$release"
rm -rf "$out/payload" "$out/vm"
mkdir -p "$out/payload"

echo "run: building refmdev.ko for $release" >&2
"$top/scripts/build-module.sh" "$kdir/build" "$out/module" W=1 || exit 1
cp "$out/module/src/refmdev.ko" "${BUILD:-$top/build}/samples/refmdev-info" \
	"${BUILD:-$top/build}/samples/refmdev-dma" \
	"${BUILD:-$top/build}/samples/refmdev-p2p" "$top/samples/demo-guest.sh" \
	"$out/payload/" || exit 1

echo "run: booting $release in QEMU (logs in $out/vm)" >&2
"$top/scripts/vm-run.sh" -k "$kdir" -p "$out/payload" -l "$out/vm" -t 600 \
	-- ./demo-guest.sh
status=$?
[ "$status" -eq 0 ] && echo "run: OK" >&2 || echo "run: FAILED ($status)" >&2
exit "$status"
