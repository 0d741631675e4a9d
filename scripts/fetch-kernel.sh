#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh [SERIES] - download a Debian kernel (image, modules,
# headers, kbuild) into the cache folder and print the directory that holds
# it. Nothing is installed into the system.
#
# SERIES is 6.12 (default: bookworm-backports), 6.1 (bookworm) or 7 (the
# newest of trixie-backports and sid). The exact version is resolved
# through the suites' linux-image-amd64 metapackage each time, because
# backports and sid keep only their newest build in the archive.
#
# Output directory layout ($CACHE/kernel/<release>):
#   vmlinuz            the kernel image
#   root/lib/modules/<release>/   the distribution's modules
#   build -> root/usr/src/linux-headers-<release>   (KDIR for Kbuild)
#   release            the release string (uname -r)
#   suite              the suite it came from
# A kernel from a suite newer than Debian 12 is built with a newer gcc and
# its kbuild tools need a newer glibc: build/.refmdev-toolchain then names
# the chroot (suite and compiler) that scripts/in-toolchain.sh runs
# Kbuild in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-private.sh"

series=${1:-6.12}
case "$series" in
6.12) suites=bookworm-backports ;;
6.1) suites=bookworm ;;
7) suites="trixie-backports sid" ;;
*) echo "fetch-kernel: unknown series '$series' (6.1, 6.12 or 7)" >&2; exit 2 ;;
esac

apt_private_setup

# image_of SUITE: the linux-image-<release> package the suite's
# linux-image-amd64 depends on (exactly one), and its version.
image_of()
{
	apt_private show "linux-image-amd64/$1" 2>/dev/null | sed -n \
		's/^Depends: .*\(linux-image-[^ ,]*-amd64\) (= \([^)]*\)).*/\1 \2/p' | head -n1
}
suite="" image_pkg="" best=""
for s in $suites; do
	read -r pkg ver < <(image_of "$s") || continue
	if [ -z "$best" ] || dpkg --compare-versions "$ver" gt "$best"; then
		suite=$s image_pkg=$pkg best=$ver
	fi
done
[ -n "$image_pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-amd64 in $suites" >&2; exit 1; }
release=${image_pkg#linux-image-}
case "$release" in
*-amd64) ;;
*) echo "fetch-kernel: unexpected image package $image_pkg" >&2; exit 1 ;;
esac

# The real path: it is written into the headers' Makefile below, and a
# make -C through any other spelling of it (a symlinked home or cache)
# would look to Kbuild like a separate output tree and rewrite that file.
dir="$(realpath -m "$CACHE")/kernel/$release"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

echo "fetch-kernel: downloading $release from $suite" >&2
rm -rf "$dir"
mkdir -p "$dir/debs" "$dir/root"
# The headers package names its -common and kbuild companions; kbuild is
# called after the series on 6.1 (linux-kbuild-6.1) but after the exact
# version on 6.12, so take the names from its Depends line.
deps=$(apt_private show "linux-headers-$release" 2>/dev/null |
	sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' |
	sed -n 's/^ *\(linux-\(headers\|kbuild\)-[^ ]*\).*/\1/p')
# Since 7.x the image package is split into linux-binary- (vmlinuz) and
# linux-modules-; take whatever of those it depends on.
image_deps=$(apt_private show "$image_pkg/$suite" 2>/dev/null |
	sed -n 's/^Depends: //p' | head -n1 | tr ',' '\n' |
	sed -n "s/^ *\(linux-\(binary\|modules\)-$release\) .*/\1/p")
(cd "$dir/debs" && apt_private download -qq "$image_pkg/$suite" $image_deps \
	"linux-headers-$release/$suite" $deps >&2)
for deb in "$dir"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done
rm -rf "$dir/debs"

hdr="$dir/root/usr/src/linux-headers-$release"
# The headers' top Makefile includes the -common tree by absolute path,
# and since 7.x also names itself as KBUILD_OUTPUT.
sed -i -e "s|^include /usr/src/|include $dir/root/usr/src/|" \
	-e "s|^KBUILD_OUTPUT=/usr/src/|KBUILD_OUTPUT=$dir/root/usr/src/|" "$hdr/Makefile"
ln -sfn "root/usr/src/linux-headers-$release" "$dir/build"
# 7.x keeps vmlinuz and the modules under usr/lib/modules.
if [ -f "$dir/root/boot/vmlinuz-$release" ]; then
	cp "$dir/root/boot/vmlinuz-$release" "$dir/vmlinuz"
else
	cp "$dir/root/usr/lib/modules/$release/vmlinuz" "$dir/vmlinuz"
fi
if [ ! -d "$dir/root/lib/modules/$release" ]; then
	mkdir -p "$dir/root/lib/modules"
	ln -sfn "../../usr/lib/modules/$release" "$dir/root/lib/modules/$release"
fi
# The compiler the kernel was built with (CONFIG_CC_VERSION_TEXT names
# x86_64-linux-gnu-gcc-N); outside bookworm, a chroot of the suite's base.
case "$suite" in
bookworm*) ;;
*)
	compiler=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="[^ ]*-\(gcc-[0-9]*\) .*/\1/p' "$hdr/.config")
	[ -n "$compiler" ] || { echo "fetch-kernel: no gcc-N in CONFIG_CC_VERSION_TEXT of $release" >&2; exit 1; }
	echo "${suite%-backports} $compiler" > "$hdr/.refmdev-toolchain"
	;;
esac
echo "$release" > "$dir/release"
echo "$suite" > "$dir/suite"
touch "$dir/.complete"
echo "$dir"
