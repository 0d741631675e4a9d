#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh [SERIES] - download a Debian kernel (image, modules,
# headers, kbuild) into the cache folder and print the directory that holds
# it. Nothing is installed into the system.
#
# SERIES is 6.12 (default: bookworm-backports) or 6.1 (bookworm). The exact
# version is resolved through the suite's linux-image-amd64 metapackage each
# time, because backports keeps only its newest build in the archive.
#
# Output directory layout ($CACHE/kernel/<release>):
#   vmlinuz            the kernel image
#   root/lib/modules/<release>/   the distribution's modules
#   build -> root/usr/src/linux-headers-<release>   (KDIR for Kbuild)
#   release            the release string (uname -r)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-private.sh"

series=${1:-6.12}
case "$series" in
6.12) suite=bookworm-backports ;;
6.1) suite=bookworm ;;
*) echo "fetch-kernel: unknown series '$series' (6.12 or 6.1)" >&2; exit 2 ;;
esac

apt_private_setup bookworm bookworm-backports

# linux-image-amd64 depends on exactly one linux-image-<release> package.
image_pkg=$(apt_private show "linux-image-amd64/$suite" 2>/dev/null |
	sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n1)
[ -n "$image_pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-amd64 in $suite" >&2; exit 1; }
release=${image_pkg#linux-image-}
case "$release" in
*-amd64) ;;
*) echo "fetch-kernel: unexpected image package $image_pkg" >&2; exit 1 ;;
esac

dir="$CACHE/kernel/$release"
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
(cd "$dir/debs" && apt_private download -qq "$image_pkg" \
	"linux-headers-$release" $deps >&2)
for deb in "$dir"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done
rm -rf "$dir/debs"

hdr="$dir/root/usr/src/linux-headers-$release"
# The headers' top Makefile includes the -common tree by absolute path.
sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" "$hdr/Makefile"
ln -sfn "root/usr/src/linux-headers-$release" "$dir/build"
cp "$dir/root/boot/vmlinuz-$release" "$dir/vmlinuz"
echo "$release" > "$dir/release"
touch "$dir/.complete"
echo "$dir"
