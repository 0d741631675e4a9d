#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make-check.sh - the whole test suite: host-side checks (W=1 build,
# checkpatch), then every selftest inside a VM running the target kernel.
# Prints KTAP as it goes and ends with "N passed, N failed, N skipped".
#
# Environment: T=pattern selects tests; KERNEL=default (the Debian 6.12
# backports kernel) selects what the VM boots.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
export CACHE
T=${T:-}
KERNEL=${KERNEL:-default}

case "$KERNEL" in
default) kdir=$("$top/scripts/fetch-kernel.sh") || exit 1 ;;
*) echo "make-check: unknown KERNEL=$KERNEL" >&2; exit 2 ;;
esac
release=$(cat "$kdir/release")
out="$top/build/check-$release"
rm -rf "$out"
mkdir -p "$out/payload/selftests"
results="$out/results.ktap"
: > "$results"

host_result()
{
	# host_result NAME STATUS [SKIP-REASON]
	if [ -n "${3:-}" ]; then
		echo "ok $4 host.$1 # SKIP $3"
	elif [ "$2" -eq 0 ]; then
		echo "ok $4 host.$1"
	else
		echo "not ok $4 host.$1"
	fi
}

{
	echo "KTAP version 1"
	echo "# host"
	echo "1..2"
	# The module for the VM's kernel, with W=1: any warning fails.
	if "$top/scripts/build-module.sh" "$kdir/build" "$out/module" W=1 \
		> "$out/build.log" 2>&1 && ! grep -q 'warning:' "$out/build.log"; then
		host_result build_w1_warning_free 0 "" 1
	else
		sed 's/^/# /' "$out/build.log"
		host_result build_w1_warning_free 1 "" 1
	fi
	"$top/scripts/checkpatch.sh" > "$out/checkpatch.log" 2>&1
	case $? in
	0) host_result checkpatch_strict 0 "" 2 ;;
	2) host_result checkpatch_strict 0 "checkpatch.pl unavailable" 2 ;;
	*) sed 's/^/# /' "$out/checkpatch.log"; host_result checkpatch_strict 1 "" 2 ;;
	esac
	echo "# selftest-exit: host 0"
} | tee -a "$results"

if [ ! -f "$out/module/src/refmdev.ko" ]; then
	echo "make-check: no module to test" >&2
	awk -f "$top/scripts/ktap-summary.awk" "$results"
	exit 1
fi

cp "$out/module/src/refmdev.ko" "$out/payload/"
cp "$top"/build/selftests/* "$top"/selftests/*.sh "$out/payload/selftests/"
mv "$out/payload/selftests/run-guest.sh" "$out/payload/"

"$top/scripts/vm-run.sh" -k "$kdir" -p "$out/payload" -l "$out/vm" \
	-t "${VM_TIMEOUT:-1200}" -- "T='$T' ./run-guest.sh"
vm_status=$?
tr -d '\r' < "$out/vm/out.log" | grep -av '^@@VMRUN' >> "$results"

{
	echo "KTAP version 1"
	echo "# vm"
	echo "1..2"
	if [ "$vm_status" -eq 91 ]; then
		echo "not ok 1 vm.booted_and_finished"
	else
		echo "ok 1 vm.booted_and_finished"
	fi
	if [ "$vm_status" -eq 90 ] || [ "$vm_status" -eq 91 ]; then
		echo "not ok 2 vm.kernel_log_clean_and_modules_unloaded"
	else
		echo "ok 2 vm.kernel_log_clean_and_modules_unloaded"
	fi
	echo "# selftest-exit: vm 0"
} | tee -a "$results"

echo "# logs: $out"
awk -f "$top/scripts/ktap-summary.awk" "$results"
