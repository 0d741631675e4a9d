#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-run.sh - boot a kernel in QEMU with a payload, run one command in it,
# and report what happened.
#
#   vm-run.sh -k KERNEL_DIR -p PAYLOAD_DIR -l LOG_DIR [-t TIMEOUT] [-m MODS] [-q] -- CMD
#
# KERNEL_DIR is what fetch-kernel.sh prints (vmlinuz, root/lib/modules).
# PAYLOAD_DIR is copied to /payload in the guest, and CMD runs there with
# /bin/sh. MODS is a space-separated list of the distribution's modules to
# load first (dependencies are resolved on the host). Any *.ko directly in
# PAYLOAD_DIR is loaded after them and must unload cleanly at the end.
# -q also puts the host's qemu-system-x86_64 (with its libraries, TCG
# module and the firmware a -kernel boot needs) and KVM's modules into the
# guest, and gives a TCG guest AMD-V with nested paging, so that CMD can
# start a nested guest (listed in /etc/vmrun/nested-modules, not loaded).
#
# The guest is a QEMU q35 machine with intel-iommu and QEMU's edu device,
# 2 vCPUs (the second online once the CRNG is ready: see the init script),
# running from a busybox initramfs built here. Three serial ports
# carry the kernel console (console.log), the command's output (out.log,
# also streamed to stdout) and the final dmesg (dmesg.log).
#
# Exit status: CMD's status if the run was clean; 90 if the kernel logged a
# splat (WARNING, BUG, Oops, lockdep, KASAN, ...) or our modules would not
# unload; 91 if the VM did not boot, crashed or timed out. Each is said in
# a line starting with "vm-run:".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"

kdir="" payload="" logdir="" timeout=900 mods="vfio vfio_iommu_type1 mdev vfio-pci"
nested=""
mem=${VM_MEM:-2048}
while getopts "k:p:l:t:m:q" opt; do
	case $opt in
	k) kdir=$OPTARG ;;
	p) payload=$OPTARG ;;
	l) logdir=$OPTARG ;;
	t) timeout=$OPTARG ;;
	m) mods=$OPTARG ;;
	q) nested=1 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
cmd="$*"
[ -n "$kdir" ] && [ -n "$payload" ] && [ -n "$logdir" ] && [ -n "$cmd" ] || {
	sed -n '4,9p' "$0" >&2
	exit 2
}

release=$(cat "$kdir/release")
moddir="$kdir/root/lib/modules/$release"
mkdir -p "$logdir"
work=$(mktemp -d "${TMPDIR:-/tmp}/vmrun.XXXXXX")
qpid=""
cleanup()
{
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# --- initramfs -------------------------------------------------------------

stage="$work/stage"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,run,etc/vmrun,payload,lib/modules,usr/bin} \
	"$stage"/etc/mdevctl.d/scripts.d/{callouts,notifiers}
cp /bin/busybox "$stage/bin/busybox"

# A host binary with the shared libraries it needs (for mdevctl).
copy_with_libs()
{
	local bin=$1 lib
	mkdir -p "$stage$(dirname "$bin")"
	cp "$bin" "$stage$bin"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}
copy_with_libs "$(command -v mdevctl)"

# -q: QEMU for a nested guest. Its accelerator is a loadable module, and
# it looks for firmware in its build-time search path; the nested guest
# is started with -nodefaults, no NIC and no display, so SeaBIOS and the
# option ROMs of a -kernel boot are all it needs (no VGA BIOS, no iPXE).
if [ -n "$nested" ]; then
	qemu=$(command -v qemu-system-x86_64)
	copy_with_libs "$qemu"
	qmod=/usr/lib/x86_64-linux-gnu/qemu
	mkdir -p "$stage$qmod" "$stage/usr/share/qemu" "$stage/usr/share/seabios"
	cp "$qmod/accel-tcg-x86_64.so" "$stage$qmod/"
	cp /usr/share/seabios/bios-256k.bin "$stage/usr/share/seabios/"
	for f in linuxboot_dma.bin kvmvapic.bin; do
		cp "/usr/share/qemu/$f" "$stage/usr/share/qemu/"
	done
fi

# Distribution modules, dependencies first, decompressed so busybox insmod
# can load them.
find_module()
{
	find "$moddir/kernel" -name "$1.ko*" -print -quit
}
declare -A seen=()
order=()
add_module()
{
	local name=${1//-/_} path dep
	[ -n "${seen[$name]:-}" ] && return 0
	seen[$name]=1
	path=$(find_module "$name")
	[ -n "$path" ] || path=$(find_module "${name//_/-}")
	if [ -z "$path" ]; then
		# Built in, or absent: the guest will say if it matters.
		grep -q "/$name.ko\|/${name//_/-}.ko" "$moddir/modules.builtin" ||
			echo "vm-run: module $name not found for $release" >&2
		return 0
	fi
	for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
		add_module "$dep"
	done
	case "$path" in
	*.xz) xz -dc "$path" > "$stage/lib/modules/$name.ko" ;;
	*.zst) zstd -qdc "$path" > "$stage/lib/modules/$name.ko" ;;
	*) cp "$path" "$stage/lib/modules/$name.ko" ;;
	esac
	order+=("$name")
}
for m in $mods; do
	add_module "$m"
done
printf '%s\n' "${order[@]}" > "$stage/etc/vmrun/modules"
# -q: KVM as well, for a nested guest that runs at the speed of this VM
# instead of TCG inside TCG (minutes per boot). The command loads it if it
# wants it: which of the two works depends on the CPU, so it is not in the
# list above whose failures fail the run.
if [ -n "$nested" ]; then
	base=("${order[@]}")
	order=()
	add_module kvm_amd
	add_module kvm_intel
	printf '%s\n' "${order[@]}" > "$stage/etc/vmrun/nested-modules"
	order=("${base[@]}")
fi

cp -a "$payload/." "$stage/payload/"
: > "$stage/etc/vmrun/ours"
for ko in "$payload"/*.ko; do
	[ -e "$ko" ] && basename "$ko" .ko >> "$stage/etc/vmrun/ours"
done
printf '%s\n' "$cmd" > "$stage/etc/vmrun/cmd"

cat > "$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
exec > /dev/ttyS1 2>&1 < /dev/null
echo "@@VMRUN booted"
echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
# On a kmemleak kernel, forget what boot left behind: only what the run
# allocates from here on can be reported.
kml=/sys/kernel/debug/kmemleak
[ -w $kml ] && echo clear > $kml
ulimit -l unlimited 2>/dev/null

rc=0
for m in $(cat /etc/vmrun/modules); do
	insmod /lib/modules/$m.ko || { echo "@@VMRUN insmod-failed $m"; rc=1; }
done

# The kernel boots on one CPU (maxcpus=1, not for -q); the others come
# online once the CRNG is ready. Under TCG, another vCPU can run a stale
# int3 of a live kernel-text patch (text_poke_bp), and the kernel dies with
# "Oops: int3" (Documentation/testing.rst, "One CPU first"). The CRNG
# becoming ready patches 29 call sites at a random time, often in the
# middle of the tests; reading /dev/random makes it ready now, in about a
# second.
head -c 1 /dev/random > /dev/null
for cpu in /sys/devices/system/cpu/cpu*/online; do
	echo 1 > "$cpu"
done

for m in $(cat /etc/vmrun/ours); do
	insmod /payload/$m.ko || { echo "@@VMRUN insmod-failed $m"; rc=1; }
done
if [ $rc -eq 0 ]; then
	cd /payload
	sh -c "$(cat /etc/vmrun/cmd)"
	rc=$?
	cd /
fi
for m in $(tac /etc/vmrun/ours); do
	grep -q "^$m " /proc/modules || continue
	rmmod "$m" || echo "@@VMRUN unload-failed $m"
done
if [ -w $kml ]; then
	# Objects younger than 5 s are never reported; two scans settle
	# what a single one can miss. A leak also says so in dmesg.
	sleep 6
	echo scan > $kml
	echo scan > $kml
	cat $kml > /tmp/kmemleak
fi
echo "@@VMRUN exit $rc"
dmesg > /dev/ttyS2
[ -s /tmp/kmemleak ] && { echo "kmemleak report:"; cat /tmp/kmemleak; } > /dev/ttyS2
sync
poweroff -f
INIT
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet) > "$work/initrd"

# --- QEMU ------------------------------------------------------------------

accel=tcg
if [ -w /dev/kvm ] && "$top/scripts/kvm-probe.sh" "$kdir" >/dev/null 2>&1; then
	accel=kvm
fi
machine="q35"
[ "$accel" = kvm ] && machine="q35,kernel-irqchip=split"
# Under TCG, "-cpu max" guests have died now and then in ways no kernel
# code explains (garbage EFLAGS, wild accesses in early boot interrupt
# handling); qemu64 is TCG's own, most exercised model. KVM takes the host.
cpu=qemu64
# For -q, TCG's AMD-V model with nested paging: KVM in this guest then
# runs a nested guest without shadowing its page tables.
[ -n "$nested" ] && cpu=qemu64,+npt
[ "$accel" = kvm ] && cpu=host
# One CPU at boot (see the init script), except for -q: with it, three of
# fourteen runs of the nested guest stalled the VM, against about one in
# sixteen with both CPUs there from the start; why is not known.
maxcpus=maxcpus=1
[ -n "$nested" ] && maxcpus=""
# tsc=reliable: under TCG a busy test (a CPU spinner, say) skews the TSC
# against the HPET, the clocksource watchdog marks the TSC unstable, and
# switching sched_clock patches kernel text in the middle of the run:
# the same stale-int3 Oops as above. The guest's clock is not what any
# test measures against the host's.
tsc=tsc=reliable

boot_once()
{
	: > "$logdir/console.log"
	: > "$logdir/out.log"
	: > "$logdir/dmesg.log"
	qemu-system-x86_64 -M "$machine" -accel "$accel" -cpu "$cpu" -smp 2 -m "$mem" \
		-nodefaults -display none -no-reboot \
		-device intel-iommu,intremap=on,caching-mode=on \
		-device edu \
		-kernel "$kdir/vmlinuz" -initrd "$work/initrd" \
		-append "console=ttyS0 loglevel=5 panic=-1 oops=panic intel_iommu=on $maxcpus $tsc rdinit=/init ${VM_APPEND:-}" \
		-serial "file:$logdir/console.log" \
		-serial "file:$logdir/out.log" \
		-serial "file:$logdir/dmesg.log" &
	qpid=$!
	# Stream the command's output while the guest runs.
	tail -n +1 -F --pid="$qpid" "$logdir/out.log" 2>/dev/null | grep -v '^@@VMRUN' &
	local tpid=$! waited=0
	while kill -0 "$qpid" 2>/dev/null; do
		sleep 1
		waited=$((waited + 1))
		if [ "$waited" -ge "$timeout" ]; then
			echo "vm-run: timeout after ${timeout}s; stopping the VM" >&2
			kill "$qpid" 2>/dev/null || true
			break
		fi
		if [ "$waited" -eq 60 ] && ! grep -q '^@@VMRUN booted' "$logdir/out.log"; then
			echo "vm-run: no userspace after 60s" >&2
			kill "$qpid" 2>/dev/null || true
			break
		fi
	done
	wait "$qpid" 2>/dev/null || true
	qpid=""
	wait "$tpid" 2>/dev/null || true
}

start=$(date +%s)
for attempt in 1 2 3; do
	boot_once
	grep -q '^@@VMRUN booted' "$logdir/out.log" && break
	echo "vm-run: VM failed to boot (attempt $attempt); console tail:" >&2
	tail -n 15 "$logdir/console.log" | sed 's/^/vm-run:   /' >&2
done
echo "vm-run: $(($(date +%s) - start))s wall, accel=$accel, kernel=$release" >&2

if ! grep -q '^@@VMRUN booted' "$logdir/out.log"; then
	echo "vm-run: VM FAILED TO BOOT (not a test failure)" >&2
	exit 91
fi

status=0
exit_line=$(grep -a '^@@VMRUN exit [0-9]' "$logdir/out.log" | tail -n 1 || true)
if [ -z "$exit_line" ]; then
	echo "vm-run: the guest did not finish (crash, panic or timeout); console tail:" >&2
	tail -n 40 "$logdir/console.log" | sed 's/^/vm-run:   /' >&2
	status=91
else
	status=${exit_line##* }
	status=${status//[^0-9]/}
fi

if grep -a '^@@VMRUN \(insmod\|unload\)-failed' "$logdir/out.log" >&2; then
	echo "vm-run: module load or unload failed" >&2
	[ "$status" -eq 91 ] || status=90
fi
if "$top/scripts/find-splats.sh" "$logdir/dmesg.log" "$logdir/console.log" >&2; then
	echo "vm-run: kernel splat found; full log in $logdir" >&2
	[ "$status" -eq 91 ] || status=90
fi
exit "$status"
