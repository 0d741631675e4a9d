#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# toolchain-chroot.sh SUITE COMPILER - print the path of a minimal Debian
# SUITE chroot (trixie, sid) that has COMPILER (gcc-14, gcc-16) and what
# Kbuild and DKMS need for an out-of-tree module, making it first when the
# cache folder has none.
#
# Kernels newer than Debian 12 are built with a newer gcc, and their kbuild
# tools (modpost, fixdep) link against a newer glibc, so their modules are
# built inside such a chroot (scripts/kbuild.sh enters it). debootstrap
# takes the mirror from the system's apt sources; the host's own apt
# configuration is not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-private.sh"

suite=$1
compiler=$2
root="$CACHE/chroot/$suite-$compiler"
if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi
command -v debootstrap >/dev/null || { echo "toolchain-chroot: debootstrap missing (make deps)" >&2; exit 1; }
mirror=$(system_mirror) || { echo "toolchain-chroot: no mirror in the system's apt sources" >&2; exit 1; }

echo "toolchain-chroot: making a $suite chroot with $compiler (about 2 minutes)" >&2
rm -rf "$root" "$root.new"
mkdir -p "$(dirname "$root")"
# dwarves: pahole for BTF; perl: kernel-doc under W=1; dkms: the DKMS
# check (scripts/dkms-check.sh) runs its build in here too.
debootstrap --variant=minbase \
	--include="$compiler,make,libc6-dev,libelf-dev,bc,kmod,dwarves,perl,xz-utils,dkms" \
	"$suite" "$root.new" "$mirror" > "$root.log" 2>&1 || {
	tail -n 20 "$root.log" >&2
	echo "toolchain-chroot: debootstrap $suite failed (log: $root.log)" >&2
	exit 1
}
mv "$root.new" "$root"
touch "$root/.complete"
echo "$root"
