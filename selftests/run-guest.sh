#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM from /payload: every selftest program in turn.
# Each prints its own KTAP document; "# selftest-exit: NAME STATUS" after
# each lets the host tell a crash from a clean run. ONLY and SKIP, lists
# of program names, narrow the set (scripts/make-check.sh runs the nested
# guest's program in a VM of its own).
cd "$(dirname "$0")" || exit 1
rc=0
for t in selftests/*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$name" in run-guest.sh) continue ;; esac
	case " ${SKIP:-} " in *" $name "*) continue ;; esac
	if [ -n "${ONLY:-}" ]; then
		case " $ONLY " in *" $name "*) ;; *) continue ;; esac
	fi
	"$t"
	status=$?
	echo "# selftest-exit: $name $status"
	[ "$status" -eq 0 ] || rc=1
done
exit $rc
