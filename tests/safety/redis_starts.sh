#!/bin/sh
# redis_starts.sh SHIM [STARTS]: starts `redis-server --io-threads 2` (which
# allocates with jemalloc) with libf2sync-pthread preloaded STARTS times; each
# start must answer PING within 30 s and exit cleanly (status 0) on SHUTDOWN.
# Before issue 11's fix about one start in fifteen hung.
# Skips (status 77) only when redis-server is not installed: 'make test'
# installs it (TEST_DEPS).
set -u
shim=$1 starts=${2:-20}
command -v redis-server >/dev/null 2>&1 || {
	echo "redis_starts: SKIPPED: redis-server is not installed ('make test' installs it)" >&2
	exit 77; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# A free TCP port on 127.0.0.1: the kernel picks one, we close it and use it
# (redis refuses to start if someone took it meanwhile; the start then fails
# with a clear log rather than hanging).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# send PORT WORD...: sends one command, prints the reply's first line
send() {
	port=$1; shift
	if command -v redis-cli >/dev/null 2>&1; then
		timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>&1
	else
		timeout 10 python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall((" ".join(sys.argv[2:]) + "\r\n").encode())
print(s.recv(64).decode().strip().lstrip("+"))' "$port" "$@" 2>&1
	fi
}

i=1
while [ "$i" -le "$starts" ]; do
	port=$(free_port)
	LD_PRELOAD="$shim" redis-server --bind 127.0.0.1 --port "$port" --io-threads 2 \
		--save '' --appendonly no --daemonize no --dir "$dir" \
		>"$dir/log" 2>&1 &
	pid=$!
	ok=
	t=0
	while [ "$t" -lt 300 ]; do # 30 s
		if [ "$(send "$port" PING)" = PONG ]; then
			ok=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
		t=$((t + 1))
	done
	if [ -z "$ok" ]; then
		echo "redis_starts: start $i of $starts did not answer PING within 30 s" >&2
		tail -20 "$dir/log" >&2
		exit 1
	fi
	send "$port" SHUTDOWN NOSAVE >/dev/null
	t=0
	while kill -0 "$pid" 2>/dev/null && [ "$t" -lt 300 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "redis_starts: start $i of $starts did not exit within 30 s of SHUTDOWN" >&2
		exit 1
	fi
	wait "$pid"
	rc=$?
	pid=
	if [ "$rc" -ne 0 ]; then
		echo "redis_starts: start $i of $starts exited with status $rc" >&2
		tail -20 "$dir/log" >&2
		exit 1
	fi
	i=$((i + 1))
done
echo "redis_starts: $starts starts of redis-server --io-threads 2 under the shim, all answered and shut down"
