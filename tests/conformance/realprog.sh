#!/bin/sh
# realprog.sh SHIM NAME [SRCDIR]: runs a real, unmodified program once without and
# once with libf2sync-pthread preloaded; passes when both succeed, their
# (deterministic part of the) output is identical and F2SYNC_STATS reports
# f2sync calls in the preloaded run.
set -eu
shim=$1 name=$2 src=${3:-.}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

run() { # out-file, command...
	out=$1; shift
	"$@" >"$out"
}
filter() { cat; }

case $name in
python)
	set -- python3 "$src/threads_workload.py"
	;;
sort)
	# a few megabytes of pseudo-random lines, the same on every run
	awk 'BEGIN { x = 12345; for (i = 0; i < 300000; i++) {
		x = (x * 1103515245 + 12345) % 2147483648
		printf "%010d %s\n", x, substr("abcdefghijklmnopqrstuvwxyz", x % 26 + 1) } }' >"$dir/in"
	set -- sort --parallel=8 -S 4M "$dir/in"
	;;
sysbench-threads)
	set -- sysbench threads --threads=8 --thread-yields=20 --thread-locks=4 \
		--events=3000 --time=0 run
	filter() { grep -E "total number of events|Threads started|Number of threads"; }
	;;
sysbench-mutex)
	set -- sysbench mutex --threads=8 --mutex-num=64 --mutex-locks=20000 \
		--mutex-loops=100 run
	filter() { grep -E "total number of events|Number of threads"; }
	;;
*)
	echo "realprog: unknown program $name" >&2; exit 2
	;;
esac

run "$dir/plain" "$@"
LD_PRELOAD="$shim" F2SYNC_STATS=1 "$@" >"$dir/shim" 2>"$dir/stats"
cat "$dir/stats" >&2
filter <"$dir/plain" >"$dir/plain.f"
filter <"$dir/shim" >"$dir/shim.f"
[ -s "$dir/plain.f" ] || { echo "realprog: $name printed nothing to compare" >&2; exit 1; }
cmp "$dir/plain.f" "$dir/shim.f" || {
	echo "realprog: $name output differs under the shim" >&2
	diff "$dir/plain.f" "$dir/shim.f" | head -20 >&2; exit 1; }
grep -q "f2sync_calls=[1-9]" "$dir/stats" ||
	{ echo "realprog: no f2sync calls reported" >&2; exit 1; }
echo "realprog: $name identical under the shim ($(wc -l <"$dir/plain.f") lines compared)"
