#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make-bench.sh - the `make bench` target: fetch the default Debian kernel,
# build refmdev.ko and the test importer for it, boot it in QEMU with
# build/bench/dma_bench and run that, then write the results to bench.json
# at the top of the tree (or in $BUILD, if BUILD points somewhere else
# than build/: a parallel run must not overwrite the tree's results) and
# print them as a table. bench.json is a JSON list of {"name", "value",
# "unit", "baseline", "ratio"}; check rows also have "check": "PASS" or
# "FAIL" and "goal", what PASS means (issue 13's goals: copy paths as a
# ratio to memcpy(), revocation time, mdev lifecycles per second). Copy
# rows come as <path>_cold (no pin cache) and <path>_warm (the driver's
# default cache); a driver without the pin_cache_pages parameter gives
# only the cold ones (see selftests/bench/dma_bench.c). Exits non-zero
# if the VM run failed or no results came out; a
# failed run leaves no bench.json behind, so that numbers from an older
# run are never taken for this one's. BENCH_ONLY (make bench ONLY=...),
# section names separated by spaces or commas (copy, p2p, revoke,
# lifecycle), runs only those sections. A failed check does not fail the
# run (the numbers are still valid): it is reported, loudly, at the end.
#
# Speed is measured here and only here, never in the tests: a test that
# asserts a throughput fails on a slow or busy host for no fault of the
# code. And since the VM is usually emulated (TCG), absolute numbers say
# little; every row is a ratio against a baseline (memcpy(), an eventfd
# round trip) measured by the same program in the same VM run.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
export CACHE

build="${BUILD:-$top/build}"
# Built by `make userspace` from selftests/bench/dma_bench.c.
bench_bin="$build/bench/dma_bench"
result="$top/bench.json"
[ "$(realpath -m "$build")" = "$(realpath -m "$top/build")" ] ||
	result="$build/bench.json"
rm -f "$result"
[ -x "$bench_bin" ] || {
	echo "bench: $bench_bin is missing; run it as 'make bench'" >&2
	exit 1
}

kdir=$("$top/scripts/fetch-kernel.sh") || exit 1
release=$(cat "$kdir/release")
out="$build/bench/$release"
rm -rf "$out/payload" "$out/vm" "$out/bench.json"
mkdir -p "$out/payload"

echo "bench: building refmdev.ko for $release" >&2
"$top/scripts/build-module.sh" "$kdir/build" "$out/module" W=1 || exit 1
# vm-run.sh loads every module of the payload: the test importer is what
# the revocation rows attach to A's dma-bufs.
cp "$out/module/src/refmdev.ko" \
	"$out/module/src/selftests/importer/refmdev_test_importer.ko" \
	"$bench_bin" "$out/payload/" || exit 1

# Progress streams through as the bench runs; the table and the JSON are
# taken from the complete log afterwards instead.
echo "bench: booting $release in QEMU (logs in $out/vm)" >&2
# glibc copies mid-sized blocks with 'rep movsb' on CPUs that report ERMS,
# which QEMU's TCG emulates some 25 times slower than the vector loop: a
# 64 KiB memcpy() baseline would be an emulator artefact, not memcpy. The
# tunable keeps glibc on the vector loop at every size.
"$top/scripts/vm-run.sh" -k "$kdir" -p "$out/payload" -l "$out/vm" \
	-t 1200 -- GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=1073741824 \
	BENCH_ONLY="'${BENCH_ONLY:-}'" ./dma_bench | tr -d '\r' |
	awk '/^name +value +unit +baseline +ratio$/ { hide = 1 }
	     !hide { print; fflush() }
	     /^@@BENCH-JSON-END$/ { hide = 0 }'
vm_status=${PIPESTATUS[0]}

log="$out/out.txt"
tr -d '\r' < "$out/vm/out.log" > "$log"

# The JSON list, only if both markers made it out: a run that died half
# way must not yield a truncated list.
awk '/^@@BENCH-JSON-BEGIN$/ { on = 1; buf = ""; next }
     /^@@BENCH-JSON-END$/ { if (on) { json = buf; found = 1 } on = 0; next }
     on { buf = buf $0 "\n" }
     END { printf "%s", json; exit !found }' "$log" > "$out/bench.json"
json_status=$?

if [ "$json_status" -eq 0 ]; then
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(not (isinstance(r, list) and r))' \
			"$out/bench.json" || json_status=1
	else
		[ "$(head -n1 "$out/bench.json")" = "[" ] &&
			[ "$(tail -n1 "$out/bench.json")" = "]" ] &&
			grep -q '"ratio"' "$out/bench.json" || json_status=1
	fi
fi

echo
sed -n '/^name \+value \+unit \+baseline \+ratio$/,/^@@BENCH-JSON-BEGIN$/p' "$log" |
	grep -v '^@@'
echo

if [ "$vm_status" -ne 0 ]; then
	echo "bench: FAILED: the VM run ended with status $vm_status (log: $out/vm)" >&2
	exit 1
fi
if [ "$json_status" -ne 0 ]; then
	echo "bench: FAILED: no valid JSON results in $out/vm/out.log" >&2
	exit 1
fi
cp "$out/bench.json" "$result"
echo "bench: results written to $result" >&2
if grep -q '"check": "FAIL"' "$result"; then
	echo "bench: WARNING: check FAILED:" \
		"$(grep -o '"name": "[^"]*"[^}]*"check": "FAIL"' "$result" |
			sed 's/"name": "\([^"]*\)".*/\1/' | paste -sd ' ')" >&2
	echo "bench: (the numbers are valid; see the rows marked FAIL above)" >&2
fi
