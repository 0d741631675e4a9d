#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make-check.sh - the whole test suite: host-side checks (checkpatch, and
# a W=1 build per kernel), then every selftest inside a VM, once for each
# kernel. Prints KTAP as it goes and ends with one line
# "N passed, N failed, N skipped" over everything.
#
# Environment:
#   T=pattern   select tests by "program.test" name (substring or glob)
#   KERNEL=...  space-separated kernels to run on, any of:
#                 6.1    Debian 12's own kernel (bookworm)
#                 6.12   Debian's 6.12 from bookworm-backports ("default")
#                 7      the newest 7.x of trixie-backports and sid, built
#                        in a chroot (scripts/toolchain-chroot.sh)
#                 debug  6.12's source with KASAN, lockdep, kmemleak and
#                        iommufd (scripts/build-debug-kernel.sh)
#               All four when unset.
#   ONLY=...    run only these selftest programs (space-separated names)
#   FUZZ_SEED, FUZZ_DURATION, FUZZ_FAULTS
#               for selftests/fuzz (make fuzz); unset, the fuzzer runs a
#               CI-sized time: FUZZ_CHECK_DEBUG_S with fault injection on
#               the debug kernel, FUZZ_CHECK_DEFAULT_S on Debian's.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
export CACHE
T=${T:-}
KERNEL=${KERNEL:-6.1 6.12 7 debug}
ONLY=${ONLY:-}
FUZZ_CHECK_DEBUG_S=200
FUZZ_CHECK_DEFAULT_S=60

out="${BUILD:-$top/build}/check"
rm -rf "$out"
mkdir -p "$out"
results="$out/results.ktap"
: > "$results"

# ktap_doc NAME: wrap "STATUS NAME [SKIP-REASON]" lines from stdin into one
# KTAP document named NAME.
ktap_doc()
{
	local doc=$1 n=0 status name reason
	local lines=()
	mapfile -t lines
	echo "KTAP version 1"
	echo "# $doc"
	echo "1..${#lines[@]}"
	for line in "${lines[@]}"; do
		read -r status name reason <<< "$line"
		n=$((n + 1))
		if [ -n "$reason" ]; then
			echo "ok $n $doc.$name # SKIP $reason"
		elif [ "$status" -eq 0 ]; then
			echo "ok $n $doc.$name"
		else
			echo "not ok $n $doc.$name"
		fi
	done
	echo "# selftest-exit: $doc 0"
}

"$top/scripts/checkpatch.sh" > "$out/checkpatch.log" 2>&1
case $? in
0) echo "0 checkpatch_strict" ;;
2) echo "0 checkpatch_strict checkpatch.pl unavailable" ;;
*) sed 's/^/# /' "$out/checkpatch.log" >&2; echo "1 checkpatch_strict" ;;
esac | ktap_doc host | tee -a "$results"

# The debug kernel takes about 9 minutes to build the first time: that
# starts now, beside the other kernels' suites (after checkpatch, whose
# kernel source fetch refreshed the apt lists they share), and its suite
# waits for it.
# In a session of its own, so that an interrupted make check takes the
# whole build down with it rather than leave it writing the cache.
debug_status="$out/debug-kernel.status"
case " $KERNEL " in
*" debug "*)
	setsid bash -c '"$1" > "$2" 2> "$3"; echo $? > "$4.new" && mv "$4.new" "$4"' \
		build-debug "$top/scripts/build-debug-kernel.sh" "$out/debug-kernel.dir" \
		"$out/debug-kernel.log" "$debug_status" &
	debug_pid=$!
	trap 'kill -- -"$debug_pid" 2> /dev/null' EXIT
	;;
esac

run_suite()
{
	local kernel=$1 kdir release dir vm_status
	case "$kernel" in
	default) kernel=6.12 ;;
	esac
	case "$kernel" in
	6.1|6.12|7) kdir=$("$top/scripts/fetch-kernel.sh" "$kernel") ;;
	debug)
		while [ ! -f "$debug_status" ]; do sleep 5; done
		sed 's/^/# /' "$out/debug-kernel.log" >&2
		[ "$(cat "$debug_status")" -eq 0 ] && kdir=$(cat "$out/debug-kernel.dir")
		;;
	*) echo "make-check: unknown kernel '$kernel' (6.1, 6.12, 7, debug)" >&2; return 1 ;;
	esac || { echo "1 kernel_available" | ktap_doc "$kernel"; return 1; }
	release=$(cat "$kdir/release")
	dir="$out/$kernel"
	mkdir -p "$dir/payload/selftests"
	echo "# kernel $kernel: $release"

	# The module for this kernel, with W=1: any warning fails.
	if "$top/scripts/build-module.sh" "$kdir/build" "$dir/module" W=1 \
		> "$dir/build.log" 2>&1 && ! grep -q 'warning:' "$dir/build.log"; then
		echo "0 build_w1_warning_free"
	else
		sed 's/^/# /' "$dir/build.log" >&2
		echo "1 build_w1_warning_free"
	fi | ktap_doc "$kernel"
	[ -f "$dir/module/src/refmdev.ko" ] || return 1

	# The guest driver of samples/guest/ is built for the kernel a guest
	# runs, which may be any of these: W=1 and no warning on each.
	if "$top/scripts/build-guest-module.sh" "$kdir/build" "$dir/guest-module" \
		W=1 > "$dir/guest-module.log" 2>&1 &&
		! grep -q 'warning:' "$dir/guest-module.log"; then
		echo "0 guest_driver_w1_warning_free"
	else
		sed 's/^/# /' "$dir/guest-module.log" >&2
		echo "1 guest_driver_w1_warning_free"
	fi | ktap_doc "$kernel"

	# As a user installs it on a Debian kernel: dkms add, build, install
	# (into private trees; see the script).
	if [ "$kernel" != debug ]; then
		if "$top/scripts/dkms-check.sh" "$kdir" "$dir/dkms" > "$dir/dkms.log" 2>&1; then
			echo "0 dkms_add_build_install"
		else
			sed 's/^/# /' "$dir/dkms.log" >&2
			echo "1 dkms_add_build_install"
		fi | ktap_doc "$kernel"
	fi

	# The nested guest of selftests/nested_guest.sh: the guest driver (W=1),
	# its initramfs and this kernel in the payload's nested/, QEMU in the VM
	# (vm-run.sh -q). Only for a kernel with KVM, which the nested guest
	# runs under: TCG inside TCG takes 4-6 minutes per boot and crashes
	# now and then. The debug kernel has no KVM; the tests skip there.
	local nested=""
	if grep -q '^CONFIG_KVM=[ym]' "$kdir/build/.config"; then
		if "$top/scripts/build-nested-payload.sh" "$kdir" "$dir/nested" \
			"$dir/payload/nested" > "$dir/nested.log" 2>&1; then
			echo "0 nested_payload_built"
		else
			sed 's/^/# /' "$dir/nested.log" >&2
			echo "1 nested_payload_built"
		fi | ktap_doc "$kernel"
		[ -f "$dir/payload/nested/initramfs.cpio" ] && nested=1
	fi

	cp "$dir/module/src/refmdev.ko" "$dir/payload/"
	# The test-only dma-buf importer; vm-run.sh loads every payload module.
	cp "$dir/module/src/selftests/importer/refmdev_test_importer.ko" "$dir/payload/" || return 1
	cp "${BUILD:-$top/build}"/selftests/* "$top"/selftests/*.sh "$dir/payload/selftests/"
	mv "$dir/payload/selftests/run-guest.sh" "$dir/payload/"

	# The guest's KTAP streams through as the tests run. vm-run.sh's own
	# modules plus vgem, the importer selftests/p2p_vgem offers our
	# dma-bufs to. The nested guest, when there is one, gets a VM of its
	# own (below); without one its tests report themselves skipped here.
	local skip="" fuzz
	[ -n "$nested" ] && skip=nested_guest.sh
	case "$kernel" in
	debug) fuzz="FUZZ_DURATION=${FUZZ_DURATION:-$FUZZ_CHECK_DEBUG_S} FUZZ_FAULTS=${FUZZ_FAULTS:-1}" ;;
	*) fuzz="FUZZ_DURATION=${FUZZ_DURATION:-$FUZZ_CHECK_DEFAULT_S} FUZZ_FAULTS=${FUZZ_FAULTS:-}" ;;
	esac
	vm_suite "$kernel.vm" "$dir/vm" -- \
		"ONLY='$ONLY' SKIP='$skip' T='$T' FUZZ_SEED='${FUZZ_SEED:-}' $fuzz ./run-guest.sh"
	echo "# $kernel logs: $dir/vm"
	[ -n "$nested" ] || return 0
	case " ${ONLY:-nested_guest.sh} " in *" nested_guest.sh "*) ;; *) return 0 ;; esac

	# The nested guest runs KVM on TCG's emulation of AMD-V, and its runs
	# have failed in ways that led to nothing of ours: an int3 Oops of a
	# static key KVM flipped, a VM stalled with one vCPU busy, a nested
	# guest that reset itself without a message, a QEMU thread's stack end
	# overwritten (Documentation/testing.rst, "One CPU first"). The main
	# VM, running the same driver paths without nesting, never failed that
	# way. So the nested tests get a VM of their own, where such a failure
	# takes nothing else down, and a failed attempt is tried once more:
	# its output stays in the log as "#" lines and only the second
	# attempt's results count. A fault of ours that shows every time fails
	# both.
	local attempt log
	for attempt in 1 2; do
		log="$dir/vm-nested.$attempt.log"
		vm_suite "$kernel.nested_vm" "$dir/vm-nested.$attempt" -q -t 600 \
			-- "ONLY=nested_guest.sh T='$T' ./run-guest.sh" > "$log"
		if [ "$vm_status" -eq 0 ] && ! grep -q '^not ok' "$log" ||
			[ "$attempt" -eq 2 ]; then
			cat "$log"
			break
		fi
		sed 's/^/# nested attempt 1: /' "$log"
		echo "# nested attempt 1 failed (logs: $dir/vm-nested.1); once more"
	done
	echo "# $kernel nested logs: $dir/vm-nested.$attempt"
}

# vm_suite DOC LOGDIR [VM-RUN OPTIONS] -- CMD: run CMD in a test VM of the
# kernel in $kdir with the payload in $dir/payload, print its KTAP and a
# document DOC saying whether the VM finished with a clean kernel log.
# vm-run.sh's status is left in $vm_status.
vm_suite()
{
	local doc=$1 logdir=$2
	shift 2
	# vm-run.sh's messages go through the same pipe: tr buffers, and a
	# "vm-run:" line written around it landed inside a KTAP result line.
	"$top/scripts/vm-run.sh" -k "$kdir" -p "$dir/payload" -l "$logdir" \
		-t "${VM_TIMEOUT:-1800}" -m "vfio vfio_iommu_type1 mdev vfio-pci vgem" \
		"$@" 2>&1 | tr -d '\r'
	vm_status=${PIPESTATUS[0]}
	{
		if [ "$vm_status" -eq 91 ]; then
			echo "1 booted_and_finished"
		else
			echo "0 booted_and_finished"
		fi
		if [ "$vm_status" -eq 90 ] || [ "$vm_status" -eq 91 ]; then
			echo "1 kernel_log_clean_and_modules_unloaded"
		else
			echo "0 kernel_log_clean_and_modules_unloaded"
		fi
	} | ktap_doc "$doc"
}

for kernel in $KERNEL; do
	run_suite "$kernel" 2>&1 | tee -a "$results"
done

awk -f "$top/scripts/ktap-summary.awk" "$results"
