#!/bin/busybox sh
# /init of the NUMA test guest (run_guest.sh builds the initramfs). Runs every
# line of /t/plan ("name|VAR=value ...|program args"), prints each program's
# output and verdict on the serial console, then one line the host parses:
#   F2SYNC-GUEST-RESULT: <passed> passed, <failed> failed
# and powers off. If this script dies the kernel panics, and with panic=-1
# and qemu's -no-reboot that too ends the run (without the line: a failure).
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# /tmp is the initramfs's own (already in memory, writable): no tmpfs over
# it, which would hide the libraries run_guest.sh put at their host paths
# when the build tree lives under /tmp (a clone in /tmp: numa_demo then
# could not load libf2sync.so.0).
export TMPDIR=/tmp

nodes=
for arg in $(cat /proc/cmdline); do
	case $arg in f2nodes=*) nodes=${arg#f2nodes=} ;; esac
done
echo "guest: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s), nodes online $(cat /sys/devices/system/node/online)"
for n in /sys/devices/system/node/node*; do
	echo "guest: ${n##*/} cpus $(cat $n/cpulist), $(grep MemTotal $n/meminfo | sed 's/.*MemTotal: *//')"
done

passed=0
failed=0
start=$(date +%s)
while IFS='|' read -r name envs cmd; do
	[ -n "$name" ] || continue
	echo "=== $name: $envs $cmd"
	t0=$(date +%s)
	# shellcheck disable=SC2086 # envs and cmd are word lists
	env F2TEST_NODES="$nodes" $envs /t/$cmd
	status=$?
	if [ "$status" -eq 0 ]; then
		passed=$((passed + 1)); verdict=PASS
	else
		failed=$((failed + 1)); verdict="FAIL (status $status)"
	fi
	echo "--- $name: $verdict in $(($(date +%s) - t0)) s"
done < /t/plan
echo "guest: all programs ran in $(($(date +%s) - start)) s"
echo "F2SYNC-GUEST-RESULT: $passed passed, $failed failed"
sync
poweroff -f
