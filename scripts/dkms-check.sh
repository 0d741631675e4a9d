#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-check.sh KERNEL_DIR OUTDIR - dkms add, build and install refmdev for
# the kernel in KERNEL_DIR (what fetch-kernel.sh prints), the way a user
# installs it, but into private trees under OUTDIR: nothing goes to
# /usr/src, /var/lib/dkms or /lib/modules, and nothing is loaded.
#
# dkms runs where Kbuild works for that kernel (scripts/in-toolchain.sh:
# the host, or the kernel's chroot, which has dkms too). Its depmod step
# is skipped, because the host has no /lib/modules/<release> for it to
# work on; instead the installed module's vermagic is compared with the
# kernel's release.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kernel=$1
mkdir -p "$2"
out=$(cd "$2" && pwd)
release=$(cat "$kernel/release")
kdir=$(realpath "$kernel/build")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")

rm -rf "$out/src" "$out/dkms" "$out/install"
src="$out/src/refmdev-$version"
mkdir -p "$src" "$out/dkms" "$out/install/$release"
# Only the module's sources, not the checkout: no build/, and no objects
# an in-tree `make` left in mdev/ or p2p/.
(cd "$top" && find dkms.conf Kbuild mdev p2p include -type f \
	\( -name '*.[ch]' -o -name Kbuild -o -name dkms.conf \) -print0 |
	xargs -0 cp --parents -t "$src/")

dkms_run()
{
	"$top/scripts/in-toolchain.sh" "$kdir" "$out" -- dkms \
		--dkmstree "$out/dkms" --sourcetree "$out/src" \
		--installtree "$out/install" "$@"
}
dkms_run add -m refmdev -v "$version"
dkms_run build -m refmdev -v "$version" -k "$release" --kernelsourcedir "$kdir"
dkms_run install --no-depmod -m refmdev -v "$version" -k "$release" \
	--kernelsourcedir "$kdir"

ko=$(find "$out/install/$release" -name 'refmdev.ko*' -print -quit)
[ -n "$ko" ] || { echo "dkms-check: no refmdev.ko installed for $release" >&2; exit 1; }
vermagic=$(modinfo -F vermagic "$ko")
case "$vermagic" in
"$release "*) echo "dkms-check: $release: installed $ko" ;;
*) echo "dkms-check: $ko has vermagic '$vermagic', not $release" >&2; exit 1 ;;
esac
