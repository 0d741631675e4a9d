#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-debug-kernel.sh - build the debug kernel (KASAN, lockdep, kmemleak,
# ...) from Debian's linux-source-6.12 with the fragment
# selftests/debug-kernel/debug.config on top of tinyconfig, and print its
# directory. The result is cached outside git, keyed by source version,
# config fragment (its content, not its path) and compiler, so a second
# run reuses it. The directory has the same layout fetch-kernel.sh gives
# (vmlinuz, release, root/lib/modules/<release>, build), so the VM runner
# and module build use either kernel the same way.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
export CACHE

src=$("$top/scripts/fetch-source.sh" 6.12)
fragment="$top/selftests/debug-kernel/debug.config"
key=$( (basename "$(dirname "$src")"; cat "$fragment"; gcc --version | head -n1) |
	sha256sum | cut -c1-16)
dir="$CACHE/debug-kernel/$key"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

echo "build-debug-kernel: building in $dir (about 9 minutes on 2 cores)" >&2
rm -rf "$dir"
mkdir -p "$dir/obj"
start=$(date +%s)
{
	make -C "$src" O="$dir/obj" tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$dir/obj" \
		"$dir/obj/.config" "$fragment"
	make -C "$src" O="$dir/obj" olddefconfig
} > "$dir/config.log" 2>&1 || { tail -n 30 "$dir/config.log" >&2; exit 1; }

# Every line of the fragment must have survived Kconfig's dependencies.
missing=0
while read -r line; do
	case "$line" in
	CONFIG_*=*) grep -qxF "$line" "$dir/obj/.config" || { echo "build-debug-kernel: not set: $line" >&2; missing=1; } ;;
	"# CONFIG_"*" is not set") grep -qxF "$line" "$dir/obj/.config" || { echo "build-debug-kernel: not unset: $line" >&2; missing=1; } ;;
	esac
done < "$fragment"
[ "$missing" -eq 0 ] || exit 1

if ! make -C "$src" O="$dir/obj" -j"$(nproc)" bzImage modules \
	> "$dir/build.log" 2>&1; then
	grep -E 'error|Error' "$dir/build.log" | head -n 30 >&2
	exit 1
fi
make -C "$src" O="$dir/obj" INSTALL_MOD_PATH="$dir/root" modules_install \
	> "$dir/install.log" 2>&1 || { tail -n 20 "$dir/install.log" >&2; exit 1; }

release=$(cat "$dir/obj/include/config/kernel.release")
cp "$dir/obj/arch/x86/boot/bzImage" "$dir/vmlinuz"
echo "$release" > "$dir/release"
ln -sfn obj "$dir/build"
# modules.builtin lives next to the installed modules, as on Debian.
touch "$dir/.complete"
echo "build-debug-kernel: done in $(($(date +%s) - start)) s" >&2
echo "$dir"
