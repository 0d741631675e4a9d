#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# in-toolchain.sh KDIR DIR... -- CMD [ARG...] - run CMD where Kbuild for the
# kernel tree KDIR works.
#
# For a kernel Debian 12's own gcc and glibc can build, that is right here.
# For one whose headers carry .refmdev-toolchain (scripts/fetch-kernel.sh
# writes it: "<suite> <compiler>"), it is a chroot of that suite
# (scripts/toolchain-chroot.sh), entered in a private mount namespace
# with the cache folder and each DIR bound at their own paths, so every
# path means the same inside and out and nothing stays mounted afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
export CACHE

kdir=$1
shift
binds=()
# bind PATH: PATH as the caller spells it and as it resolves, since paths
# written into Makefiles (the cache's) and given to make (M=, -C) may go
# through a symlink such as a linked home or cache folder.
bind()
{
	local p
	for p in "$(realpath -sm "$1")" "$(realpath -m "$1")"; do
		case " ${binds[*]} " in *" $p "*) ;; *) binds+=("$p") ;; esac
	done
}
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	bind "$1"
	shift
done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: in-toolchain.sh KDIR DIR... -- CMD..." >&2; exit 2; }

if [ ! -f "$kdir/.refmdev-toolchain" ]; then
	exec "$@"
fi
read -r suite compiler < "$kdir/.refmdev-toolchain"
root=$("$here/toolchain-chroot.sh" "$suite" "$compiler")
bind "$CACHE"
bind "$kdir"
binds+=(/proc /dev)

# The binds go into the chroot by path; the command runs in the caller's
# working directory when that is one of them, else in /.
exec unshare --mount --propagation private /bin/bash -c '
	set -e
	root=$1 cwd=$2 n=$3
	shift 3
	for ((i = 0; i < n; i++)); do
		mkdir -p "$root$1"
		mount --bind "$1" "$root$1"
		shift
	done
	shift
	cd "$root$cwd" 2>/dev/null && cwd=$cwd || cwd=/
	exec chroot "$root" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
' in-toolchain "$root" "$PWD" "${#binds[@]}" "${binds[@]}" -- "$@"
