# Shared by the integration tests: where the binaries are, checks that
# count, and the leftover check every test ends with. Source it, call
# `check DESC CMD...` for each assertion and `finish` at the end.
set -uo pipefail

XDOCK_SRC=${XDOCK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
XDOCK_BUILD=${XDOCK_BUILD:-$XDOCK_SRC/build}
XDOCK_BIN=${XDOCK_BIN:-$XDOCK_BUILD/xdock}
XDOCK_AGENT=${XDOCK_AGENT:-$(dirname "$XDOCK_BIN")/agent/xdock-agent}
export XDOCK_AGENT
T_NAME=$(basename "$0" .sh)
T_PASS=0
T_FAIL=0
T_TMP=$(mktemp -d "/tmp/xdock-$T_NAME.XXXXXX")

if ! timeout 10 docker info >/dev/null 2>&1; then
	echo "$T_NAME: the Docker engine does not answer (scripts/setup starts one)" >&2
	exit 1
fi
for img in xdock/python:bookworm xdock/postgres:15; do
	if ! docker image inspect "$img" >/dev/null 2>&1; then
		echo "$T_NAME: image $img is missing (images/build builds it)" >&2
		exit 1
	fi
done

check() {
	local desc=$1
	shift
	if "$@"; then
		T_PASS=$((T_PASS + 1))
		echo "ok   - $desc"
	else
		T_FAIL=$((T_FAIL + 1))
		echo "FAIL - $desc"
		# What the last xrun said, so a failure in CI can be read there.
		if [ -s "$T_TMP/err" ]; then
			echo "     last run's stderr (tail):"
			tail -n 8 "$T_TMP/err" | sed 's/^/     | /'
		fi
	fi
}

# json FILE EXPR: evaluates a Python expression over the parsed report `r`.
json() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# eq A B: string equality with a message when it fails.
eq() {
	if [ "$1" = "$2" ]; then return 0; fi
	echo "     expected [$2], got [$1]" >&2
	return 1
}

# Nothing labelled with this run id may remain.
no_leftovers_of() {
	local id=$1 c n v
	c=$(docker ps -aq --filter "label=xdock.run=$id" | wc -l)
	n=$(docker network ls -q --filter "label=xdock.run=$id" | wc -l)
	v=$(docker volume ls -q --filter "label=xdock.run=$id" | wc -l)
	if [ "$c$n$v" != 000 ]; then
		echo "     run $id left $c container(s), $n network(s), $v volume(s)" >&2
		return 1
	fi
}

# xrun ARGS...: runs xdock with stdout/stderr to $T_TMP/out and $T_TMP/err,
# sets RC and XPID (its pid, which its owner label carries), so runs that
# fail before a report names their id can still be checked for leftovers.
xrun() {
	"$XDOCK_BIN" "$@" >"$T_TMP/out" 2>"$T_TMP/err" &
	XPID=$!
	wait "$XPID"
	RC=$?
}

# Nothing whose owner label names process PID may remain.
no_leftovers_of_pid() {
	local pid=$1 left
	left=$({
		docker ps -a --filter label=xdock.owner --format '{{.Label "xdock.owner"}}'
		docker network ls --filter label=xdock.owner --format '{{.Label "xdock.owner"}}'
	} | grep -c ":$pid:")
	if [ "$left" != 0 ]; then
		echo "     xdock pid $pid left $left object(s)" >&2
		return 1
	fi
}

# worker_container PID WORKER: the container of worker WORKER of the run
# xdock PID started (its owner label is host:PID:start-time).
worker_container() {
	docker ps -q --filter "label=xdock.worker=$2" --filter label=xdock.owner | while read -r id; do
		docker inspect -f '{{index .Config.Labels "xdock.owner"}} {{.Id}}' "$id"
	done | grep ":$1:" | cut -d' ' -f2 | head -n 1
}

# wait_mark DIR: waits (generously: a loaded machine only makes it slower)
# until a test has written a marker into DIR; prints its name.
wait_mark() {
	local f
	for _ in $(seq 1 1200); do
		f=$(ls "$1" 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			echo "$f"
			return 0
		fi
		kill -0 "$XPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# wait_for DESC CMD...: until CMD succeeds, up to 180 s (a loaded machine
# and an ASan build only make it slower); says what it waited for when
# it gives up.
wait_for() {
	local desc=$1
	shift
	for _ in $(seq 1800); do
		"$@" && return 0
		sleep 0.1
	done
	echo "     timed out waiting: $desc" >&2
	return 1
}

finish() {
	rm -rf "$T_TMP"
	echo "$T_NAME: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
}
