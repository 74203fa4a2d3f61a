#!/bin/sh
# ctest bench.smoke: every f2bench workload with tiny parameters, on every
# implementation and peer (glibc, f2sync and its variants, nsync, abseil),
# then checks of the CSV files: the header, 13 columns per row, numbers where
# numbers belong, check == ok and work > 0 on every row (f2bench itself exits
# non-zero when a shared counter disagrees with the sum of acquisitions),
# rows for every implementation that f2bench did not note as missing, and a
# well-formed targets.csv with a row per target. Timing is never checked.
set -eu
bin=$1
out=$2
rm -rf "$out"
"$bin" --smoke --csv "$out" >"$out.txt" 2>"$out.err" || {
	cat "$out.err" >&2
	echo "smoke: f2bench exited with status $?" >&2
	exit 1
}
header='workload,params,impl,metric,unit,median,min,max,reps,ratio,baseline,work,check'
fail=0
need() { echo "smoke: $*" >&2; fail=1; }
for wl in uncontended contended contended_short broadcast pingpong cond_idle prodcons rwlock barrier; do
	[ -f "$out/$wl.csv" ] || need "missing $wl.csv"
done
if grep -q '^backend_u32,' "$out/meta.csv"; then
	for wl in futex_handoff futex_wake_empty futex_wait_mismatch futex_distinct; do
		[ -f "$out/$wl.csv" ] || need "missing $wl.csv"
	done
fi
for f in "$out"/*.csv; do
	case $f in */meta.csv|*/targets.csv) continue ;; esac
	[ "$(head -n1 "$f")" = "$header" ] || need "$f: bad header"
	awk -F, -v f="$f" 'NR > 1 {
		if (NF != 13) { print "smoke: " f ":" NR ": " NF " columns"; bad = 1 }
		for (i = 6; i <= 9; i++) if ($i !~ /^-?[0-9.e+-]+$|^inf$/) { print "smoke: " f ":" NR ": column " i " not a number: " $i; bad = 1 }
		if ($13 != "ok") { print "smoke: " f ":" NR ": correctness check " $13; bad = 1 }
		if ($12 + 0 <= 0) { print "smoke: " f ":" NR ": no work done"; bad = 1 }
		rows++
	} END { if (!rows) { print "smoke: " f ": no rows"; bad = 1 } exit bad }' "$f" >&2 || fail=1
done
# Every implementation either has rows or was noted as unavailable.
peers="glibc nsync abseil"
pairs="barrier:glibc barrier:f2sync broadcast:f2sync-norq"
for wl in uncontended contended contended_short broadcast pingpong cond_idle prodcons rwlock; do
	for im in $peers f2sync; do pairs="$pairs $wl:$im"; done
done
for wl in uncontended contended contended_short; do pairs="$pairs $wl:f2sync-m8 $wl:f2sync-bit"; done
for wl in broadcast pingpong cond_idle prodcons; do pairs="$pairs $wl:f2sync-c64"; done
for pair in $pairs; do
	wl=${pair%%:*}; im=${pair#*:}
	base=${im%-norq}
	grep -q "^$wl,[^,]*,$im," "$out/$wl.csv" 2>/dev/null && continue
	grep -q "^note,$wl: no $base rows" "$out/meta.csv" && continue
	need "$wl: no rows for $im and no note saying why"
done
for f in "$out"/futex_*.csv; do
	[ -f "$f" ] || continue
	wl=$(basename "$f" .csv)
	for im in u8-emu u16-emu u64-emu u32-kernel u32-legacy u32-emu; do
		grep -q "^[^,]*,[^,]*,$im," "$f" && continue
		grep -q "^note,$wl: no backend serves ${im%%-*} words" "$out/meta.csv" && continue
		need "$f: no $im rows and no note saying why"
	done
done
# targets.csv: its header, 16 columns, a known status on every row, and as
# many rows as f2bench has targets (one per id, no id twice).
theader='id,description,workload,params,impl,metric,kind,op,threshold,value,status,versus,own,vs_impl,vs_value,unit'
[ "$(head -n1 "$out/targets.csv")" = "$theader" ] || need "targets.csv: bad header"
awk -F, 'NR > 1 {
	if (NF != 16) { print "smoke: targets.csv:" NR ": " NF " columns"; bad = 1 }
	if ($11 !~ /^(met|MISSED|n\/a|not met \(stretch\))$/) { print "smoke: targets.csv:" NR ": status " $11; bad = 1 }
	if ($7 == "ratio" && $11 != "n/a" && $14 == "") { print "smoke: targets.csv:" NR ": ratio without a peer"; bad = 1 }
	if (seen[$1]++) { print "smoke: targets.csv: " $1 " twice"; bad = 1 }
	rows++
} END { if (rows < 20) { print "smoke: targets.csv: only " rows " targets"; bad = 1 } exit bad }' \
	"$out/targets.csv" >&2 || fail=1
[ "$fail" -eq 0 ] && echo "smoke: all CSV files well-formed, every correctness check passed"
exit "$fail"
