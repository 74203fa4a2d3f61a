#!/bin/sh
# `make bench`: the full f2bench run, the pthread-shim section (issue 6),
# software counters from perf stat for the sync workloads, then the plots and
# docs/benchmarks.md (bench/report.py).
# Usage: bench/run_bench.sh BUILD_DIR OUT_DIR [full|quick|smoke] [DOCS_DIR [README]]
# Without DOCS_DIR the report goes to docs/ and its target table into the
# README's marked section; with DOCS_DIR only where README says (if given).
# F2BENCH_SHIM=/path/libf2sync-pthread.so picks the shim when it is not in
# BUILD_DIR (e.g. built from another branch); F2BENCH_SHIM_NOTE says which
# build it is, for the report.
# Nothing here fails on timing; a correctness failure in f2bench stops it.
set -eu
build=$1
out=$2
preset=${3:-full}
src=$(cd "$(dirname "$0")/.." && pwd)
docs=${4:-$src/docs}
readme=${5:-}
[ -n "${4:-}" ] || readme=$src/README.md
bin=$build/bench/f2bench
reps=5
[ "$preset" = quick ] && reps=3
[ "$preset" = smoke ] && reps=1
rm -rf "$out"
mkdir -p "$out"
cat /proc/loadavg >"$out/loadavg-before.txt"
git -C "$src" describe --always --dirty >"$out/commit.txt" 2>/dev/null || true

echo "== f2bench --$preset (tables: $out/f2bench.txt)" >&2
"$bin" "--$preset" --csv "$out" | tee "$out/f2bench.txt"

# ---- pthread shim: unmodified programs with and without LD_PRELOAD -------
shim=${F2BENCH_SHIM:-$(find "$build" -name 'libf2sync-pthread.so' 2>/dev/null | head -n1)}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "," hi }'; }
sb_time() { # sysbench prints "total time: 1.2345s"
	"$@" | awk '/total time:/ { sub("s", "", $3); print $3 }'
}
run_case() { # name, preload-or-empty, command...
	name=$1; pre=$2; shift 2
	for i in $(seq "$reps"); do
		if [ -n "$pre" ]; then LD_PRELOAD=$pre F2SYNC_STATS=0 "$@"; else "$@"; fi
	done >"$out/shim-$name.txt"
}
if [ -n "$shim" ] && command -v sysbench >/dev/null; then
	echo "== pthread shim: $shim, $reps runs each" >&2
	echo "${F2BENCH_SHIM_NOTE:-$shim}" >"$out/shim-library.txt"
	py=$(command -v python3)
	[ -x /usr/bin/python3 ] && py=/usr/bin/python3
	echo "workload,params,impl,metric,unit,median,min,max,reps,ratio,baseline,work,check" >"$out/shim.csv"
	for case in mutex threads python; do
		for impl in glibc f2sync-shim; do
			pre=""
			[ "$impl" = f2sync-shim ] && pre=$shim
			echo "   $case / $impl" >&2
			case $case in
			mutex) run_case "$case-$impl" "$pre" sb_time sysbench mutex --threads=8 --mutex-num=16 \
				--mutex-locks=100000 --mutex-loops=50 run ;;
			threads) run_case "$case-$impl" "$pre" sb_time sysbench threads --threads=8 \
				--thread-locks=2 --thread-yields=50 --events=4000 --time=0 run ;;
			python) run_case "$case-$impl" "$pre" "$py" "$src/bench/threading_workload.py" 3 ;;
			esac
		done
		g=$(median <"$out/shim-$case-glibc.txt")
		for impl in glibc f2sync-shim; do
			f=$out/shim-$case-$impl.txt
			m=$(median <"$f")
			n=$(grep -c . "$f" || true)
			check=ok
			[ "$n" -eq "$reps" ] || check=FAIL
			echo "shim,$case,$impl,seconds,s,$m,$(minmax <"$f"),$n,$(awk -v a="$m" -v b="$g" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'),glibc,$n,$check" >>"$out/shim.csv"
		done
	done
else
	echo "== pthread shim: libf2sync-pthread.so not built here; section skipped" >&2
	echo "shim section skipped: libf2sync-pthread.so is not in $build (branch pthread not merged)" >"$out/shim-skipped.txt"
fi

# ---- software counters (perf stat) per sync workload and implementation ----
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
	echo "== perf stat: task-clock, context switches, migrations per operation" >&2
	echo "workload,impl,params,task_clock_ms,context_switches,cpu_migrations,work" >"$out/perf.csv"
	for spec in "contended:--threads 2" "contended:--threads 8" "contended:--threads 64" \
		"contended_short:--short-threads 8" "broadcast:--waiters 64" "pingpong:" \
		"prodcons:" "rwlock:--rw-threads 8 --read-pct 90" "rwlock:--rw-threads 8 --read-pct 99" \
		"barrier:--barrier-threads 8"; do
		wl=${spec%%:*}; args=${spec#*:}
		for impl in glibc f2sync nsync abseil; do
			d=$out/perf-run
			rm -rf "$d"
			# shellcheck disable=SC2086
			perf stat -x, -o "$out/perf-$wl-$impl.txt" -e task-clock,context-switches,cpu-migrations \
				"$bin" --quick --reps 1 --no-children --workloads "$wl" --impls "$impl" $args --csv "$d" \
				>/dev/null 2>&1 || continue
			[ -f "$d/$wl.csv" ] || continue
			work=$(awk -F, -v i="$impl" 'NR > 1 && $3 == i { print $12; exit }' "$d/$wl.csv")
			[ -n "$work" ] || continue
			awk -F, -v wl="$wl" -v impl="$impl" -v a="$args" -v w="$work" '
				/task-clock/ { tc = $1 } /context-switches/ { cs = $1 } /cpu-migrations/ { mg = $1 }
				END { printf "%s,%s,%s,%s,%s,%s,%s\n", wl, impl, a, tc, cs, mg, w }' \
				"$out/perf-$wl-$impl.txt" >>"$out/perf.csv"
		done
	done
	rm -rf "$out/perf-run"
else
	echo "perf not usable here; counters section skipped" >"$out/perf-skipped.txt"
fi
cat /proc/loadavg >"$out/loadavg-after.txt"

echo "== report: docs/benchmarks.md and docs/img/*.png" >&2
python3 "$src/bench/report.py" "$out" "$docs" $readme
