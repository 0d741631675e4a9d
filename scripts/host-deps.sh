#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host-deps.sh - make sure the host tools the build and the VM runner need
# are present. As root, missing Debian packages are installed with apt-get;
# otherwise the exact command is printed and the script fails.
set -euo pipefail

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

missing=()
for item in "${need[@]}"; do
	what=${item%%:*}
	pkg=${item##*:}
	case "$what" in
	/*) [ -e "$what" ] && continue ;;
	*) command -v "$what" >/dev/null 2>&1 && continue ;;
	esac
	missing+=("$pkg")
done
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
