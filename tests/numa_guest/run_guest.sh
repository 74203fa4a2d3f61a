#!/bin/sh
# Boots Debian's kernel in qemu-system-x86_64 (TCG: no KVM needed) with a NUMA
# layout and an initramfs holding the test programs, runs them (the plan
# below) and passes their verdict back as this script's exit status.
#
# Usage: run_guest.sh LAYOUT STAGE_DIR TIMEOUT_S PROGRAM...
#   LAYOUT     2x2 (2 nodes x 2 CPUs) or 4x1 (4 nodes x 1 CPU)
#   STAGE_DIR  scratch directory for the initramfs and the serial log
#   TIMEOUT_S  limit on the whole guest run; qemu is killed when it passes
#   PROGRAM    the built programs the plan names (by file name)
# F2SYNC_GUEST_KERNEL picks the kernel image (default: the newest
# /boot/vmlinuz-*, from the linux-image-amd64 package).
#
# The initramfs is a plain newc cpio: busybox-static, the programs, and every
# shared library ldd names for them (at the path the host has it) plus the
# dynamic loader. No disk, no network: the guest's /init (guest_init.sh)
# prints everything on ttyS0 and ends with
#   F2SYNC-GUEST-RESULT: <passed> passed, <failed> failed
# which is the only thing the verdict is read from.
set -eu

[ $# -ge 4 ] || { echo "usage: $0 LAYOUT STAGE_DIR TIMEOUT_S PROGRAM..." >&2; exit 2; }
layout=$1 stage=$2 limit=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "run_guest: $*" >&2; exit 1; }

case $layout in
2x2) nodes=2 numa="-smp 4
	-object memory-backend-ram,id=m0,size=512M -numa node,nodeid=0,cpus=0-1,memdev=m0
	-object memory-backend-ram,id=m1,size=512M -numa node,nodeid=1,cpus=2-3,memdev=m1" ;;
4x1) nodes=4 numa="-smp 4"
	for n in 0 1 2 3; do
		numa="$numa -object memory-backend-ram,id=m$n,size=256M"
		numa="$numa -numa node,nodeid=$n,cpus=$n,memdev=m$n"
	done ;;
*) die "unknown layout '$layout' (2x2 or 4x1)" ;;
esac

kernel=${F2SYNC_GUEST_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
[ -n "$kernel" ] && [ -r "$kernel" ] ||
	die "no readable kernel image in /boot (install linux-image-amd64; make test does)"
for tool in qemu-system-x86_64 cpio ldd timeout; do
	command -v "$tool" >/dev/null || die "$tool is missing (make test installs it)"
done
[ -x /bin/busybox ] || die "busybox is missing (install busybox-static; make test does)"

# ---- The plan: name|environment|program and arguments ---------------------
# Both layouts run the NUMA checks; the futex2- and sync-layer unit suites
# (in auto: on this 6.1 kernel, legacy futex(2) plus the emulation) are split
# between the two, each suite once, to keep the whole run near ten minutes
# under TCG. Check's per-test timeouts are raised (the default one and, by the
# multiplier, those a suite sets itself): TCG is several times slower.
# F2SYNC_GUEST_ONLY=<extended regex> keeps only the matching entries.
ck="CK_DEFAULT_TIMEOUT=600 CK_TIMEOUT_MULTIPLIER=5"
plan_all() {
	cat <<EOF
numa_guest.auto|$ck|numa_guest
numa_guest.emulate|$ck F2SYNC_BACKEND=emulate|numa_guest
check_placement.auto|$ck|check_placement
check_placement.libnuma|$ck HWLOC_COMPONENTS=stop|check_placement
numa_demo|F2SYNC_NUMA=auto|numa_demo
EOF
	case $layout in
	2x2) cat <<EOF
check_futex2.auto|$ck|check_futex2
check_mutex.auto|$ck|check_mutex
check_barrier.auto|$ck|check_barrier
EOF
	;;
	4x1) cat <<EOF
check_emulate.auto|$ck F2SYNC_EMU_NODES=4|check_emulate
check_cond.auto|$ck|check_cond
check_rwlock.auto|$ck|check_rwlock
EOF
	;;
	esac
}
plan() {
	plan_all | grep -E "^(${F2SYNC_GUEST_ONLY:-.*})\\|"
}

# ---- The initramfs -----------------------------------------------------------
root=$stage/root
rm -rf "$root"
mkdir -p "$root/bin" "$root/t" "$root/lib64"
cp "$here/guest_init.sh" "$root/init"
chmod 755 "$root/init"

# copies a file to the same path under the guest root (following links)
put() {
	mkdir -p "$root$(dirname "$1")"
	[ -e "$root$1" ] || cp -L "$1" "$root$1"
}
libs_of() { # "name => /path (addr)" and the loader's "/path (addr)"
	ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'
}
cp /bin/busybox "$root/bin/busybox" # static in busybox-static; else its libraries follow
for lib in $(libs_of /bin/busybox); do
	put "$lib"
done
for prog in "$@"; do
	[ -x "$prog" ] || die "not a program: $prog"
	cp "$prog" "$root/t/"
	for lib in $(libs_of "$prog"); do
		put "$lib"
	done
done
plan | while IFS='|' read -r name envs cmd; do
	[ -x "$root/t/${cmd%% *}" ] || die "the plan runs ${cmd%% *}, which was not given"
done
plan >"$root/t/plan"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$stage/initramfs.cpio"

# ---- The run -------------------------------------------------------------------
log=$stage/serial.log
echo "run_guest: $layout ($nodes nodes, 4 CPUs) on $(basename "$kernel"), limit ${limit}s"
started=$(date +%s)
# timeout(1) is a process of its own: qemu dies at the limit even if this
# script is killed first; the trap ends the run early when we are stopped.
# shellcheck disable=SC2086 # numa is a word list
timeout -k 10 "$limit" qemu-system-x86_64 -accel tcg -m 1G $numa \
	-kernel "$kernel" -initrd "$stage/initramfs.cpio" \
	-append "console=ttyS0 panic=-1 quiet rdinit=/init f2nodes=$nodes" \
	-nographic -nodefaults -serial stdio -no-reboot </dev/null >"$log" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null' INT TERM HUP
status=0
wait $qpid || status=$?
trap - INT TERM HUP
tr -d '\r' <"$log" | tr -cd '\11\12\40-\176'
elapsed=$(($(date +%s) - started))

result=$(tr -d '\r' <"$log" | sed -n 's/^F2SYNC-GUEST-RESULT: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n 1)
want=$(plan | grep -c .)
if [ -z "$result" ]; then
	[ "$status" -eq 124 ] && why="killed at the ${limit}s limit" || why="qemu exit status $status"
	echo "run_guest: $layout: no result line from the guest ($why) after ${elapsed}s"
	exit 1
fi
set -- $result
echo "run_guest: $layout: guest ran $(($1 + $2)) of $want programs in ${elapsed}s: $1 passed, $2 failed"
[ "$2" -eq 0 ] && [ "$1" -eq "$want" ]
