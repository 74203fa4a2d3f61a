#!/bin/sh
# Checks every #include "..." in src/ and include/ against the allowed layer
# graph (docs/design/layers.md):
#
#   pthread -> sync -> futex2 -> internal       public headers: include/f2sync
#
# A layer includes its own headers, the public headers, any of internal/, and
# only these of the layers below it:
#   futex2/bound.h                       from sync
#   sync/sync_impl.h, sync/mutex_impl.h  from pthread
# (a header a layer offers upward may in turn include what it needs below).
# Public headers include public headers only.
# Usage: tools/check_layers.sh [source dir]; prints each forbidden edge, exit 1
# if there is one. The build enforces the same graph with F2_LAYER
# (src/CMakeLists.txt); this check also covers the headers no F2_LAYER
# guard names, and is what ctest build.layers runs.
set -eu
root=${1:-$(dirname "$0")/..}
cd "$root"
root_abs=$(pwd)
allowed() { # from-layer, to (path under src/), from-file
	from=$1 to=$2
	case $to in
	"$from"/*) return 0 ;;
	internal/*) return 0 ;;
	futex2/bound.h) [ "$from" = sync ] || [ "$from" = futex2 ] ;;
	sync/sync_impl.h|sync/mutex_impl.h) [ "$from" = pthread ] ;;
	*) return 1 ;;
	esac
}
bad=0
edges=0
for f in src/*/*.c src/*/*.h include/f2sync/*.h; do
	[ -e "$f" ] || continue
	dir=${f%/*}
	from=${dir#src/}
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		edges=$((edges + 1))
		case $dir in include/*)
			case $inc in
			f2sync/*) continue ;;
			*/*) ;;
			*) [ -e "$dir/$inc" ] && continue ;; # a sibling public header
			esac
			echo "$f: public header includes \"$inc\"" >&2; bad=1; continue ;;
		esac
		case $inc in f2sync/*) continue ;; esac
		# resolve against the including file's directory, then name it by
		# its path under src/
		path=$(cd "$dir" && realpath -m --relative-to="$root_abs/src" "$inc" 2>/dev/null) || path=$inc
		if [ ! -e "src/$path" ]; then
			echo "$f: \"$inc\" is no file of src/" >&2; bad=1; continue
		fi
		allowed "$from" "$path" || { echo "$f: $from may not include $path" >&2; bad=1; }
	done
done
[ "$edges" -gt 0 ] || { echo "check_layers: no includes found under $root" >&2; exit 1; }
[ "$bad" -eq 0 ] && echo "check_layers: $edges include edges, all within the layer graph"
exit "$bad"
