#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kvm-probe.sh KERNEL_DIR - exit 0 if a guest really runs under KVM here.
# /dev/kvm answering is not enough (nested KVM on some hosts dies at the
# guest's first VEX instruction), so boot the kernel with a one-line init
# and look for its output. The answer is cached per host kernel and QEMU.
set -uo pipefail
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
kdir=$1
key="$(uname -r)-$(qemu-system-x86_64 --version | head -n1 | tr -c 'a-zA-Z0-9.\n' _)"
stamp="$CACHE/kvm-probe/$key"
if [ -f "$stamp" ]; then
	exit "$(cat "$stamp")"
fi
mkdir -p "$CACHE/kvm-probe"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/"
printf '#!/bin/busybox sh\n/bin/busybox echo KVM-PROBE-OK\n/bin/busybox poweroff -f\n' > "$work/root/init"
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) > "$work/initrd"
(timeout 60 qemu-system-x86_64 -M q35 -accel kvm -cpu host -smp 1 -m 512 \
	-nodefaults -display none -no-reboot -serial "file:$work/out" \
	-kernel "$kdir/vmlinuz" -initrd "$work/initrd" \
	-append "console=ttyS0 panic=-1 rdinit=/init") >/dev/null 2>&1
if grep -q KVM-PROBE-OK "$work/out" 2>/dev/null; then
	echo 0 > "$stamp"
	exit 0
fi
echo 1 > "$stamp"
exit 1
