#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host-deps.sh - make sure the host tools the build and the VM runner need
# are present. As root, missing Debian packages are installed with apt-get;
# otherwise the exact command is printed and the script fails.
#
# host-deps.sh --module [KDIR] - only check for what building refmdev.ko
# needs (plain `make`), and install nothing: with KDIR, for that kernel
# tree; without, for fetching the default kernel into the cache first
# (scripts/fetch-kernel.sh). A missing tool fails with a message naming
# `make deps`.
set -euo pipefail

# missing_of ITEM...: the packages of the "command-or-file:package" items
# whose command or file is not there, one per line.
missing_of()
{
	local item what
	for item in "$@"; do
		what=${item%%:*}
		case "$what" in
		/*) [ -e "$what" ] && continue ;;
		*) command -v "$what" >/dev/null 2>&1 && continue ;;
		esac
		echo "${item##*:}"
	done
}

if [ "${1:-}" = "--module" ]; then
	module_need=("gcc:gcc" "make:make")
	if [ -n "${2:-}" ]; then
		# Kbuild runs pahole on every module of a kernel with BTF for
		# modules (Debian's), against the tree's vmlinux.
		grep -qsx 'CONFIG_DEBUG_INFO_BTF_MODULES=y' "$2/.config" &&
			[ -f "$2/vmlinux" ] && module_need+=("pahole:dwarves")
	else
		# fetch-kernel.sh: apt-get download and dpkg-deb -x into the
		# cache, through a private apt configuration.
		module_need+=("apt-get:apt" "dpkg-deb:dpkg")
	fi
	mapfile -t missing < <(missing_of "${module_need[@]}")
	[ ${#missing[@]} -eq 0 ] && exit 0
	echo "host-deps: building refmdev.ko needs ${missing[*]};" \
		"'make deps' installs them (as root)" >&2
	exit 1
fi

# command-or-file:package
need=(
	"gcc:gcc"
	"make:make"
	"/usr/lib/x86_64-linux-gnu/libc.a:libc6-dev"
	"qemu-system-x86_64:qemu-system-x86"
	"/bin/busybox:busybox-static"
	"cpio:cpio"
	"pahole:dwarves"
	"modinfo:kmod"
	"mdevctl:mdevctl"
	"uuidgen:uuid-runtime"
	"xz:xz-utils"
	"perl:perl"
	"/usr/include/libelf.h:libelf-dev"
	# selftests/p2p_vgem: static libdrm, found through pkg-config
	"pkg-config:pkgconf"
	"/usr/lib/x86_64-linux-gnu/libdrm.a:libdrm-dev"
	# building the debug kernel
	"flex:flex"
	"bison:bison"
	"bc:bc"
	"/usr/include/openssl/ssl.h:libssl-dev"
	# kernels newer than Debian 12's toolchain build in a chroot
	"debootstrap:debootstrap"
	"unshare:util-linux"
	# the DKMS check (scripts/dkms-check.sh)
	"dkms:dkms"
)

mapfile -t missing < <(missing_of "${need[@]}")
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "host-deps: missing packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "host-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# qemu-system-x86 without recommends lacks nothing the runner uses.
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
