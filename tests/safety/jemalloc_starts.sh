#!/bin/sh
# jemalloc_starts.sh SHIM JEMALLOC PROG [STARTS]: starts PROG (a contended
# mutex + condvar + rwlock program that allocates all the time) STARTS times
# with jemalloc and libf2sync-pthread preloaded, each under a 60 s timeout.
# jemalloc's own mutexes are then shim mutexes: a lock path of f2sync that
# called malloc, or waited on a set-up that does, deadlocked here (issue 11:
# one start in five hung before the fix). Any hang or failure fails the test.
set -u
shim=$1 jemalloc=$2 prog=$3 starts=${4:-50}
[ -r "$jemalloc" ] || {
	echo "jemalloc_starts: $jemalloc not found; 'make test' installs libjemalloc2" >&2
	exit 1; }
i=1
while [ "$i" -le "$starts" ]; do
	LD_PRELOAD="$jemalloc $shim" timeout -k 5 60 "$prog"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		[ "$rc" -eq 124 ] && what="hung (killed after 60 s)" || what="failed (status $rc)"
		echo "jemalloc_starts: start $i of $starts $what" >&2
		exit 1
	fi
	i=$((i + 1))
done
echo "jemalloc_starts: $starts starts with jemalloc + the shim, none hung"
