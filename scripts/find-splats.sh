#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# find-splats.sh LOG... - print every kernel report in the logs that must
# fail a run, and exit 0 if there was one (1 if the logs are clean).
# One pattern per kind of report the kernel prints; each must be specific
# enough not to match the boot banner of a checker ("RCU lockdep checking
# is enabled", "KernelAddressSanitizer initialized").
patterns=(
	'WARNING: '
	'BUG: '
	'BUG at '
	'kernel BUG'
	'Oops'
	'general protection'
	'Kernel panic'
	'possible circular locking'
	'possible recursive locking'
	'inconsistent lock state'
	'DEBUG_LOCKS_WARN_ON'
	'bad unlock balance'
	'held lock freed'
	'lock held when returning to user space'
	'INFO: lockdep is turned off'
	'suspicious RCU usage'
	'KASAN'
	'KFENCE'
	'UBSAN'
	'refcount_t: '
	'list_add corruption'
	'list_del corruption'
	'list corruption'
	'ODEBUG'
	'kmemleak: [0-9]* new suspected'
	'blocked for more than'
	'hung_task'
	'Call Trace:'
	'sleeping function called from invalid context'
)
args=()
for p in "${patterns[@]}"; do
	args+=(-e "$p")
done

# drop_injected_failures: the log on stdin, less the reports of memory
# allocation failures made while the fuzzer's fault injection was on
# (between its two markers): warn_alloc() prints a stack dump for each,
# from its "page allocation failure" or "vmalloc error" line up to the
# memory summary ("Mem-Info:"). Line numbers stay those of the log.
drop_injected_failures()
{
	awk '
		/refmdev-fuzz: fault injection on/ { fi = 1 }
		/refmdev-fuzz: fault injection off/ { fi = 0 }
		fi && /(page allocation failure|vmalloc error): / { skip = 1 }
		skip && /Mem-Info:/ { skip = 0 }
		{ print (skip ? "" : $0) }
	'
}

found=1
for log in "$@"; do
	[ -s "$log" ] || continue
	hits=$(drop_injected_failures < "$log" | grep -a -n "${args[@]}" | head -n 40)
	if [ -n "$hits" ]; then
		printf '%s\n' "$hits" | sed "s|^|$(basename "$log"):|"
		found=0
	fi
done
exit $found
