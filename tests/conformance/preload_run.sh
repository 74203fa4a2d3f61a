#!/bin/sh
# preload_run.sh SHIM CMD ARGS...: runs CMD with libf2sync-pthread preloaded and
# F2SYNC_STATS=1; passes when CMD succeeds and the shim's exit report shows
# f2sync calls (so the pthread symbols really resolved to the shim).
# SHIM "-": CMD is linked with the shim, nothing is preloaded (sanitizer builds).
# F2P_EXPECT_STAT=NAME: also require the counter NAME to be nonzero.
set -u
shim=$1; shift
err=$(mktemp)
trap 'rm -f "$err"' EXIT
if [ "$shim" = - ]; then
	F2SYNC_STATS=1 "$@" 2>"$err"
else
	LD_PRELOAD="$shim" F2SYNC_STATS=1 "$@" 2>"$err"
fi
rc=$?
cat "$err" >&2
[ "$rc" -eq 0 ] || { echo "preload_run: exit status $rc" >&2; exit 1; }
grep -q "f2sync-pthread: pid [0-9]* f2sync_calls=[1-9]" "$err" ||
	{ echo "preload_run: no f2sync calls reported" >&2; exit 1; }
if [ -n "${F2P_EXPECT_STAT:-}" ]; then
	grep -q "f2sync-pthread: pid [0-9]* .* ${F2P_EXPECT_STAT}=[1-9]" "$err" ||
		{ echo "preload_run: no ${F2P_EXPECT_STAT} calls counted" >&2; exit 1; }
fi
exit 0
