#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM from /payload: every selftest program in turn.
# Each prints its own KTAP document; "# selftest-exit: NAME STATUS" after
# each lets the host tell a crash from a clean run. ONLY and SKIP, lists
# of program names, narrow the set (scripts/make-check.sh runs the nested
# guest's program in a VM of its own).
#
# Each program runs once. On a kernel with iommufd (the debug kernel) the
# programs that declare both backends (KTAP_BACKENDS() in
# selftests/lib/ktap.h) run each test on type1 and on iommufd themselves,
# as TEST.type1 and TEST.iommufd; the type1-only ones (p2p_type1, vaddr,
# the fuzzer, the nested guest) run as before.
cd "$(dirname "$0")" || exit 1
rc=0

# run NAME PROGRAM
run()
{
	case " ${SKIP:-} " in *" $1 "*) return ;; esac
	if [ -n "${ONLY:-}" ]; then
		case " $ONLY " in *" $1 "*) ;; *) return ;; esac
	fi
	"$2"
	status=$?
	echo "# selftest-exit: $1 $status"
	[ "$status" -eq 0 ] || rc=1
}

for t in selftests/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in run-guest.sh) continue ;; esac
	run "$name" "$t"
done
exit $rc
