#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-nested-payload.sh KERNEL_DIR WORK_DIR OUT_DIR - everything
# selftests/nested_guest.sh needs inside the test VM to boot a nested
# guest on the same kernel, put in OUT_DIR (the payload's nested/):
#
#   vmlinuz         the kernel of KERNEL_DIR (what fetch-kernel.sh prints)
#   initramfs.cpio  static busybox, selftests/nested/init.sh as /init, the
#                   guest driver refmdev_guest.ko (built here with W=1 in
#                   WORK_DIR; any warning fails) and its test program
#   refmdev-dma     the sample VFIO driver, to show the mdevs still work
#                   after the nested QEMU was killed
#
# The test program (selftests/nested/refmdev-guest-test.c) and refmdev-dma
# come from $BUILD/nested and $BUILD/samples (make userspace). QEMU itself
# is put into the VM by vm-run.sh -q.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
kdir=$1
work=$2
out=$3

release=$(cat "$kdir/release")
mkdir -p "$work" "$out"
"$top/scripts/build-guest-module.sh" "$kdir/build" "$work/module" W=1 \
	2>&1 | tee "$work/build.log"
if grep -q 'warning:' "$work/build.log"; then
	echo "build-nested-payload: refmdev_guest.ko built with warnings" >&2
	exit 1
fi
ko="$work/module/src/refmdev_guest.ko"

stage="$work/initramfs"
rm -rf "$stage"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp}
cp /bin/busybox "$stage/bin/"
cp "$top/selftests/nested/init.sh" "$stage/init"
chmod +x "$stage/init"
cp "$ko" "$stage/refmdev_guest.ko"
cp "$build/nested/refmdev-guest-test" "$stage/"
# The guest has only what is in this initramfs: a module the driver comes
# to depend on would need adding here (and loading in init.sh).
deps=$(modinfo -F depends "$ko")
if [ -n "$deps" ]; then
	echo "build-nested-payload: refmdev_guest.ko depends on $deps;" \
		"the nested initramfs does not carry modules yet" >&2
	exit 1
fi
# Uncompressed: the guest spends no time unpacking it.
(cd "$stage" && find . | cpio -o -H newc --quiet) > "$out/initramfs.cpio"
cp "$kdir/vmlinuz" "$out/vmlinuz"
cp "$build/samples/refmdev-dma" "$out/"
echo "build-nested-payload: $release, initramfs $(du -k "$out/initramfs.cpio" | cut -f1) KiB"
