#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-source.sh [SERIES] - download Debian's linux-source-SERIES package
# (default 6.12, from bookworm-backports) into the cache folder, unpack the
# tree and print its directory. Used for scripts/checkpatch.pl and for the
# debug kernel build. Nothing is installed into the system.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-private.sh"

series=${1:-6.12}
# The suite of the kernel the series names (fetch-kernel.sh): the private
# lists also carry trixie's newer 6.12, which is not the one we test.
case "$series" in
6.12) suite=bookworm-backports ;;
6.1) suite=bookworm ;;
*) echo "fetch-source: unknown series '$series' (6.12 or 6.1)" >&2; exit 2 ;;
esac
apt_private_setup
version=$(apt_private show "linux-source-$series/$suite" 2>/dev/null |
	sed -n 's/^Version: *//p' | head -n1)
[ -n "$version" ] || { echo "fetch-source: linux-source-$series not in $suite" >&2; exit 1; }

dir="$CACHE/source/$version"
if [ -f "$dir/.complete" ]; then
	echo "$dir/linux"
	exit 0
fi
echo "fetch-source: downloading linux-source-$series $version" >&2
rm -rf "$dir"
mkdir -p "$dir/deb"
(cd "$dir/deb" && apt_private download -qq "linux-source-$series=$version" >&2)
dpkg-deb --fsys-tarfile "$dir"/deb/*.deb |
	tar -xO --wildcards '*/linux-source-*.tar.xz' | tar -xJ -C "$dir"
mv "$dir"/linux-source-"$series" "$dir/linux"
rm -rf "$dir/deb"
touch "$dir/.complete"
echo "$dir/linux"
