#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Debian's mdevctl (what libvirt and administrators use) against refmdev:
# it must list our types and create, show and remove our devices, both
# one-off (start -p -t) and from a persistent definition (define/start).
# KTAP output; T=pattern selects tests like the C selftests.

prog=mdevctl
dev=/sys/bus/mdev/devices
pass=0 fail=0 n=0
tests="types_lists_refmdev start_list_stop define_start_stop start_rejects_unknown_type"

selected()
{
	[ -z "$T" ] && return 0
	case "$T" in
	*[*?[]*) case "$prog.$1" in $T) return 0 ;; esac ;;
	*) case "$prog.$1" in *"$T"*) return 0 ;; esac ;;
	esac
	return 1
}

check()
{
	# check "description" command...: fail the current test if it fails
	what=$1
	shift
	if ! "$@" > /tmp/mdevctl.out 2>&1; then
		echo "# $what: failed: $*"
		sed 's/^/#   /' /tmp/mdevctl.out
		return 1
	fi
	return 0
}

types_lists_refmdev()
{
	check "mdevctl types" mdevctl types || return 1
	grep -q '^refmdev$' /tmp/mdevctl.out || { echo "# no refmdev parent"; return 1; }
	grep -q '^  refmdev-1M$' /tmp/mdevctl.out || { echo "# no refmdev-1M"; return 1; }
	grep -q '^  refmdev-16M$' /tmp/mdevctl.out || { echo "# no refmdev-16M"; return 1; }
	grep -q 'Device API: vfio-pci' /tmp/mdevctl.out || return 1
	grep -q 'Name: refmdev, 16 MiB device memory' /tmp/mdevctl.out || return 1
}

start_list_stop()
{
	u=$(cat /proc/sys/kernel/random/uuid)
	check "start" mdevctl start -u "$u" -p refmdev -t refmdev-1M || return 1
	[ -e "$dev/$u" ] || { echo "# $u not created"; return 1; }
	check "list" mdevctl list || return 1
	grep -q "^$u refmdev refmdev-1M" /tmp/mdevctl.out ||
		{ echo "# $u not listed"; cat /tmp/mdevctl.out | sed 's/^/#   /'; return 1; }
	check "stop" mdevctl stop -u "$u" || return 1
	[ ! -e "$dev/$u" ] || { echo "# $u still present"; return 1; }
	check "list" mdevctl list || return 1
	! grep -q "$u" /tmp/mdevctl.out
}

define_start_stop()
{
	u=$(cat /proc/sys/kernel/random/uuid)
	check "define" mdevctl define -u "$u" -p refmdev -t refmdev-16M || return 1
	[ ! -e "$dev/$u" ] || { echo "# define created the device"; return 1; }
	check "list -d" mdevctl list -d || return 1
	grep -q "^$u refmdev refmdev-16M" /tmp/mdevctl.out || return 1
	check "start" mdevctl start -u "$u" || return 1
	[ -e "$dev/$u" ] || { echo "# $u not started"; return 1; }
	ok=0
	check "stop" mdevctl stop -u "$u" || ok=1
	check "undefine" mdevctl undefine -u "$u" || ok=1
	[ ! -e "$dev/$u" ] || ok=1
	return $ok
}

start_rejects_unknown_type()
{
	u=$(cat /proc/sys/kernel/random/uuid)
	if mdevctl start -u "$u" -p refmdev -t refmdev-3M > /tmp/mdevctl.out 2>&1; then
		echo "# start of an unknown type succeeded"
		return 1
	fi
	[ ! -e "$dev/$u" ]
}

planned=0
for t in $tests; do selected "$t" && planned=$((planned + 1)); done
echo "KTAP version 1"
echo "# $prog"
echo "1..$planned"
for t in $tests; do
	selected "$t" || continue
	n=$((n + 1))
	if $t; then
		echo "ok $n $prog.$t"
		pass=$((pass + 1))
	else
		echo "not ok $n $prog.$t"
		fail=$((fail + 1))
	fi
	# Nothing may be left behind, whatever the test did.
	for d in "$dev"/*; do
		[ -e "$d" ] || continue
		echo "# leaked mdev $(basename "$d"); removing it"
		echo 1 > "$d/remove"
	done
	rm -f /etc/mdevctl.d/refmdev/* 2>/dev/null
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" -eq 0 ]
