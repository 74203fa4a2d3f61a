#!/bin/sh
# Installs the Debian packages f2sync needs that this machine lacks.
# Usage: tools/deps.sh <package>...   (needs root or sudo only when something is missing)
set -eu
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "f2sync: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
# Packages of another architecture (check:arm64) need it enabled first.
for a in $(printf '%s\n' $missing | sed -n 's/^[^:]*:\([a-z0-9]*\)$/\1/p' | sort -u); do
	dpkg --print-foreign-architectures | grep -qx "$a" || $sudo dpkg --add-architecture "$a"
done
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
