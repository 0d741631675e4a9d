#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# End to end: QEMU, inside the test VM, runs a nested guest with two
# refmdev mdevs assigned (-device vfio-pci,sysfsdev=...), booting the same
# kernel with the guest driver (samples/guest/refmdev_guest.c) and its test
# program in a busybox initramfs (scripts/build-nested-payload.sh, put in
# the payload's nested/ by make-check.sh, QEMU by vm-run.sh -q).
#
# Two boots:
#   run     the guest's test program runs once; its KTAP results are
#           reported here as nested_guest.<test>, then QEMU must have
#           exited cleanly, the guest's kernel log must be clean, and the
#           mdevs must go away with the budget back at its baseline;
#   stream  the guest keeps DMA running (--stream); QEMU is killed with
#           SIGKILL mid-transfer, and the mdevs must then work for another
#           VFIO user (samples/refmdev-dma: open, DMA copy, data checked)
#           and go away with the budget back at its baseline.
#
# The nested guest runs under KVM: this VM's CPU offers AMD-V with nested
# paging (vm-run.sh -q), and kvm_amd runs the guest at about the speed of
# this VM. TCG inside TCG took 4 to 6 minutes per boot (to userspace,
# Debian's kernel) and its guests died with corrupted EFLAGS in two of
# four boots, so without KVM every test is skipped.
#
# KTAP output; T=pattern selects tests like the C selftests. The run boot
# happens if one of its own tests is selected or T names this program's
# tests explicitly (nested_guest.<something>: perhaps one of the guest's),
# the stream boot if one of its tests is selected. The document is printed
# at the end, because the guest's tests are known only once it has run.

prog=nested_guest
here=$(cd "$(dirname "$0")/.." && pwd)
nest=$here/nested
types=/sys/class/mdev_bus/refmdev/mdev_supported_types
devs=/sys/bus/mdev/devices
work=/tmp/nested_guest
T=${T:-}
# Seconds: the run boot (guest boot ~20 s, its tests, its watchdog at
# 200 s), waiting for STREAMING, removing an mdev.
RUN_TIMEOUT=300
STREAM_TIMEOUT=180
REMOVE_TIMEOUT=10

run_tests="run_guest_booted run_guest_tests_complete run_guest_log_clean
	run_qemu_exited_cleanly run_qemu_said_nothing run_mdevs_released"
stream_tests="stream_started stream_kill9_devices_work
	stream_kill9_mdevs_released"
tests="$run_tests $stream_tests outer_kernel_log_clean"

# What scripts/find-splats.sh looks for (a bash script, host only), as far
# as Debian's kernel can print it.
splat_patterns="-e WARNING: -e BUG: -e BUG.at -e kernel.BUG -e Oops
	-e general.protection -e Kernel.panic -e Call.Trace: -e refcount_t:
	-e list_add.corruption -e list_del.corruption -e blocked.for.more.than
	-e sleeping.function.called.from.invalid.context -e UBSAN -e KFENCE"

selected()
{
	[ -z "$T" ] && return 0
	case "$T" in
	*[*?[]*) case "$prog.$1" in $T) return 0 ;; esac ;;
	*) case "$prog.$1" in *"$T"*) return 0 ;; esac ;;
	esac
	return 1
}

any_selected()
{
	for t in "$@"; do
		selected "$t" && return 0
	done
	return 1
}

now()
{
	cut -d' ' -f1 /proc/uptime
}

# since T0: seconds from uptime T0 to now, one decimal.
since()
{
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

# The document is collected in $doc, in order: "# ..." diagnostics and
# "R STATUS NAME [SKIP REASON]" results (STATUS 0 pass, 1 fail, S skip).
diag()
{
	echo "# $*" >> "$doc"
}

result()
{
	# result NAME STATUS [SKIP REASON]
	selected "$1" || return 0
	name=$1 st=$2
	shift 2
	echo "R $st $name $*" >> "$doc"
}

skip_all()
{
	for t in $tests; do
		result "$t" S "$*"
	done
}

print_doc()
{
	n=0
	set -f
	echo "KTAP version 1"
	echo "# $prog"
	echo "1..$(grep -c '^R ' "$doc")"
	while IFS= read -r line; do
		case "$line" in
		"R "*) ;;
		*) echo "$line"; continue ;;
		esac
		set -- $line
		n=$((n + 1))
		status=$2 name=$3
		shift 3
		case "$status" in
		0) echo "ok $n $prog.$name" ;;
		S) echo "ok $n $prog.$name # SKIP $*" ;;
		*) echo "not ok $n $prog.$name" ;;
		esac
	done < "$doc"
	set +f
}

# --- helpers -----------------------------------------------------------

# Which accelerator and why: KVM modules come from vm-run.sh -q.
kvm_setup()
{
	[ -f /etc/vmrun/nested-modules ] || return 1
	for m in $(cat /etc/vmrun/nested-modules); do
		case $m in
		kvm_amd) grep -qw svm /proc/cpuinfo || continue ;;
		kvm_intel) grep -qw vmx /proc/cpuinfo || continue ;;
		esac
		grep -q "^$m " /proc/modules ||
			insmod "/lib/modules/$m.ko" >> "$work/kvm.log" 2>&1
	done
	[ -c /dev/kvm ]
}

avail()
{
	cat "$types/refmdev-1M/available_instances"
}

# mdev_create: print a new 1 MiB mdev's UUID.
mdev_create()
{
	u=$(cat /proc/sys/kernel/random/uuid)
	echo "$u" > "$types/refmdev-1M/create" || return 1
	echo "$u"
}

# mdev_remove UUID: 0 if it is gone within REMOVE_TIMEOUT seconds. The
# write blocks while the device is open, so it runs in the background.
mdev_remove()
{
	[ -e "$devs/$1" ] || return 0
	(echo 1 > "$devs/$1/remove") 2> /dev/null &
	rp=$!
	i=0
	while [ -e "$devs/$1" ] && [ $i -lt $((REMOVE_TIMEOUT * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -e "$devs/$1" ]; then
		diag "mdev $1 still there after ${REMOVE_TIMEOUT}s"
		return 1
	fi
	wait $rp
}

# release_mdevs MODE: remove $u1 and $u2; 0 if both went away and
# available_instances is back at $base.
release_mdevs()
{
	t0=$(now)
	failed=0
	mdev_remove "$u1" || failed=1
	mdev_remove "$u2" || failed=1
	diag "$1: mdevs removed in $(since "$t0")s"
	if [ "$(avail)" != "$base" ]; then
		diag "$1: available_instances $(avail), was $base"
		failed=1
	fi
	return $failed
}

# start_qemu MODE UUID UUID: the nested guest in the background ($qpid);
# its serial ports and QEMU's own output go to $work/MODE.*.
start_qemu()
{
	p=$work/$1
	: > "$p.console"
	: > "$p.out"
	: > "$p.dmesg"
	# tsc=reliable as for the VM around it (Documentation/testing.rst,
	# "One CPU first"): under KVM on TCG the guest's TSC drifts, and the
	# sched_clock switch that follows patches text on a running vCPU.
	append="console=ttyS0 loglevel=5 panic=-1 oops=panic rdinit=/init tsc=reliable"
	# q35 so the guest sees PCIe and FLR; no vIOMMU, so the bus addresses
	# the guest driver programs are guest-physical addresses, which QEMU
	# maps 1:1 as IOVAs in the container (guest RAM and peer BARs).
	qemu-system-x86_64 -M q35 -accel kvm -cpu qemu64 -smp 2 -m 256 \
		-nodefaults -display none -no-reboot \
		-kernel "$nest/vmlinuz" -initrd "$nest/initramfs.cpio" \
		-append "$append refmdev_nested=$1" \
		-serial "file:$p.console" -serial "file:$p.out" \
		-serial "file:$p.dmesg" \
		-device "vfio-pci,sysfsdev=$devs/$2" \
		-device "vfio-pci,sysfsdev=$devs/$3" > "$p.qemu" 2>&1 &
	qpid=$!
	qstart=$(now)
}

# out MODE: the guest's ttyS1 so far, without the tty's carriage returns.
out()
{
	tr -d '\r' < "$work/$1.out"
}

# wait_marker MODE REGEX SECONDS: 0 once the guest printed a line matching
# REGEX on ttyS1, 1 on timeout or when QEMU has gone without printing it.
wait_marker()
{
	end=$(($(date +%s) + $3))
	until out "$1" | grep -q "$2"; do
		kill -0 "$qpid" 2> /dev/null || { out "$1" | grep -q "$2"; return; }
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# wait_qemu SECONDS: QEMU's exit status in $qrc; on timeout it is killed
# and qrc is "timeout".
wait_qemu()
{
	end=$(($(date +%s) + $1))
	while kill -0 "$qpid" 2> /dev/null; do
		if [ "$(date +%s)" -ge "$end" ]; then
			kill -9 "$qpid"
			wait "$qpid"
			qrc=timeout
			qpid=""
			return 1
		fi
		sleep 0.2
	done
	wait "$qpid"
	qrc=$?
	qpid=""
	[ "$qrc" -eq 0 ]
}

# show FILE WHAT: a log's last lines as diagnostics.
show()
{
	[ -s "$1" ] || return 0
	diag "$2 (last 30 lines):"
	tr -d '\r' < "$1" | tail -n 30 | sed 's/^/#   /' >> "$doc"
}

# qemu_warnings MODE: QEMU's messages as diagnostics. A run of QEMU that
# assigns our devices should print none: a missing reset ("Cannot reset
# device"), a missing error interrupt ("Could not enable error recovery")
# and the like each say something a VMM expects that the device lacks.
qemu_warnings()
{
	[ -s "$work/$1.qemu" ] || return 0
	diag "QEMU ($1) said (times, message; UUIDs left out):"
	sed 's/^qemu-system-x86_64: //; s/^-device [^ ]* //
		s/[0-9a-f]\{8\}-[0-9a-f-]\{27\}/UUID/g' "$work/$1.qemu" |
		sort | uniq -c | sed 's/^ */#   /' >> "$doc"
}

splats()
{
	tr -d '\r' < "$1" | grep -a -n $splat_patterns | head -n 20
}

# --- the run boot ------------------------------------------------------

run_boot()
{
	base=$(avail)
	u1=$(mdev_create) && u2=$(mdev_create) || {
		diag "cannot create two refmdev-1M mdevs"
		for t in $run_tests; do result "$t" 1; done
		return
	}
	start_qemu run "$u1" "$u2"
	booted=1
	if wait_marker run '^@@NESTED userspace' 120; then
		up=$(out run | sed -n 's/^@@NESTED userspace //p')
		diag "run: guest userspace after $(since "$qstart")s (guest uptime ${up}s)"
	else
		booted=0
		diag "run: the guest did not reach userspace"
		kill -9 "$qpid" 2> /dev/null
	fi
	result run_guest_booted $((1 - booted))
	t0=""
	wait_marker run '^@@NESTED test-start' 30 && t0=$(now)
	wait_qemu $RUN_TIMEOUT
	qok=$?
	[ -n "$t0" ] && out run | grep -q '^@@NESTED exit' &&
		diag "run: guest test program took $(since "$t0")s," \
			"QEMU ran $(since "$qstart")s"

	# The guest's own results, renamed nested_guest.<test>.
	out run | sed -n '/^@@NESTED test-start/,/^@@NESTED exit/p' |
		awk '
		/^(not )?ok [0-9]+ / {
			bad = ($1 == "not"); i = bad ? 4 : 3
			name = $i; reason = ""
			if (match($0, /# SKIP.*/)) {
				reason = substr($0, RSTART + 7)
				st = "S"
			} else
				st = bad ? 1 : 0
			print st, name, reason
			next
		}
		/^1\.\.[0-9]+/ { print "P", substr($1, 4) + 0; next }
		/^# / || /^Bail out!/ { print "D", $0 }
		' > "$work/run.ktap"
	planned=$(sed -n 's/^P //p' "$work/run.ktap" | head -n 1)
	reported=$(grep -c '^[01S] ' "$work/run.ktap")
	inner_failed=$(grep -c '^1 ' "$work/run.ktap")
	set -f
	while read -r kind rest; do
		case "$kind" in
		D) echo "# guest: $rest" | sed 's/^# guest: # /# guest: /' >> "$doc" ;;
		P) ;;
		*) set -- $rest; n=$1; shift; result "$n" "$kind" "$*" ;;
		esac
	done < "$work/run.ktap"
	set +f

	rc=$(out run | sed -n 's/^@@NESTED exit \([0-9]*\).*/\1/p')
	complete=0
	if [ -z "$rc" ]; then
		diag "run: the guest's test program did not finish"
		complete=1
	elif [ "${planned:-0}" -eq 0 ] || [ "$reported" -ne "$planned" ]; then
		diag "run: the guest planned ${planned:-no} tests and reported $reported"
		complete=1
	elif [ "$rc" -ne 0 ] && [ "$inner_failed" -eq 0 ]; then
		diag "run: the guest's test program exited with $rc"
		complete=1
	fi
	out run | grep -q '^@@NESTED insmod-failed' &&
		diag "run: refmdev_guest.ko did not load"
	result run_guest_tests_complete $complete

	clean=0
	hits=$(splats "$work/run.console"; splats "$work/run.dmesg")
	if [ -n "$hits" ]; then
		diag "run: the guest's kernel log has reports:"
		echo "$hits" | sed 's/^/#   /' >> "$doc"
		clean=1
	fi
	rm_rc=$(out run | sed -n 's/^@@NESTED rmmod //p')
	[ -z "$rm_rc" ] || [ "$rm_rc" -eq 0 ] ||
		{ diag "run: rmmod refmdev_guest failed in the guest"; clean=1; }
	result run_guest_log_clean $clean

	qemu_warnings run
	if [ $qok -ne 0 ] || ! out run | grep -q '^@@NESTED done'; then
		diag "run: QEMU exit status $qrc; the guest did not power off by itself"
		result run_qemu_exited_cleanly 1
	else
		result run_qemu_exited_cleanly 0
	fi
	if [ -s "$work/run.qemu" ]; then
		result run_qemu_said_nothing 1
	else
		result run_qemu_said_nothing 0
	fi
	if [ "$booted" -eq 0 ] || [ "$complete" -ne 0 ] || [ "$clean" -ne 0 ]; then
		show "$work/run.console" "run: guest console"
		[ "$clean" -ne 0 ] && show "$work/run.dmesg" "run: guest dmesg"
	fi

	released=0
	release_mdevs run || released=1
	result run_mdevs_released $released
}

# --- the stream boot ---------------------------------------------------

stream_boot()
{
	base=$(avail)
	u1=$(mdev_create) && u2=$(mdev_create) || {
		diag "cannot create two refmdev-1M mdevs"
		for t in $stream_tests; do result "$t" 1; done
		return
	}
	memfree0=$(awk '/^MemAvailable/ { print $2 }' /proc/meminfo)
	start_qemu stream "$u1" "$u2"
	if wait_marker stream '^STREAMING' $STREAM_TIMEOUT; then
		diag "stream: STREAMING after $(since "$qstart")s"
		# Let the copies run a moment so some are in flight.
		sleep 2
		result stream_started 0
	else
		diag "stream: no STREAMING from the guest"
		show "$work/stream.out" "stream: guest output"
		show "$work/stream.console" "stream: guest console"
		result stream_started 1
	fi
	t0=$(now)
	kill -9 "$qpid" 2> /dev/null
	wait "$qpid"
	qpid=""
	diag "stream: QEMU killed and reaped in $(since "$t0")s"
	qemu_warnings stream
	hits=$(splats "$work/stream.console")
	[ -n "$hits" ] && { diag "stream: the guest's console has reports:"; \
		echo "$hits" | sed 's/^/#   /' >> "$doc"; }

	# Another VFIO user: the devices open, reset, copy and check data.
	t0=$(now)
	works=0
	for u in "$u1" "$u2"; do
		if ! "$nest/refmdev-dma" "$u" > "$work/dma.log" 2>&1; then
			diag "stream: refmdev-dma $u failed after the kill:"
			sed 's/^/#   /' "$work/dma.log" >> "$doc"
			works=1
		fi
	done
	diag "stream: refmdev-dma on both devices took $(since "$t0")s"
	result stream_kill9_devices_work $works

	released=0
	release_mdevs stream || released=1
	# Pinned guest pages are not mlocked, so Mlocked says nothing; a
	# leaked pin would keep a page in use, and a type1 container torn
	# down with pins left warns (outer_kernel_log_clean). This is only
	# for reading.
	memfree1=$(awk '/^MemAvailable/ { print $2 }' /proc/meminfo)
	diag "stream: MemAvailable ${memfree0} kB before QEMU, ${memfree1} kB after"
	result stream_kill9_mdevs_released $released
}

# --- main --------------------------------------------------------------

rm -rf "$work"
mkdir -p "$work"
doc=$work/doc
: > "$doc"
t_start=$(now)
dmesg_lines=$(dmesg | wc -l)
qpid=""
trap '[ -n "$qpid" ] && kill -9 "$qpid" 2> /dev/null' EXIT

do_run=0
do_stream=0
any_selected $run_tests && do_run=1
case "$T" in "$prog."*) do_run=1 ;; esac
any_selected $stream_tests && do_stream=1

if ! any_selected $tests && [ $do_run -eq 0 ]; then
	:
elif [ ! -f "$nest/initramfs.cpio" ]; then
	skip_all "no nested payload (make-check.sh builds it only for" \
		"a kernel with KVM)"
elif ! command -v qemu-system-x86_64 > /dev/null; then
	skip_all "no QEMU in this VM (vm-run.sh -q)"
elif ! kvm_setup; then
	sed 's/^/# /' "$work/kvm.log" 2> /dev/null >> "$doc"
	skip_all "no KVM in this VM; TCG inside TCG is too slow and unreliable"
else
	diag "this VM's uptime at start ${t_start}s (its boot, module loading and" \
		"any selftests before this one)"
	if [ $do_run -eq 1 ]; then
		phase=$(now)
		run_boot
		diag "run boot: $(since "$phase")s in all"
	fi
	if [ $do_stream -eq 1 ]; then
		phase=$(now)
		stream_boot
		diag "stream boot: $(since "$phase")s in all"
	fi
	hits=$(dmesg | tail -n +$((dmesg_lines + 1)) |
		grep -a -n $splat_patterns | head -n 20)
	if [ -n "$hits" ]; then
		diag "this VM's kernel log has reports:"
		echo "$hits" | sed 's/^/#   /' >> "$doc"
		result outer_kernel_log_clean 1
	else
		result outer_kernel_log_clean 0
	fi
	diag "nested_guest: $(since "$t_start")s in all"
fi

# Nothing may be left behind.
for d in "$devs"/*; do
	[ -e "$d" ] || continue
	diag "leaked mdev $(basename "$d"); removing it"
	echo 1 > "$d/remove"
done

print_doc
fails=$(grep -c '^R 1 ' "$doc")
passes=$(grep -c '^R 0 ' "$doc")
skips=$(grep -c '^R S ' "$doc")
echo "# Totals: pass:$passes fail:$fails xfail:0 xpass:0 skip:$skips error:0"
[ "$fails" -eq 0 ]
