#!/bin/bash
# A throw-away xdock/postgres:15 for tests. Two ways to use it:
#
#   source pg_env.sh; pg_start <label>; ...; (trap pg_stop EXIT)
#       sets PG_CONTAINER, PG_NETWORK, PG_PORT, PG_ADMIN_URL (…/postgres), PG_BASE_URL
#       (no database) and returns as soon as the port is published, before
#       the server accepts connections (pg_wait waits for that).
#   source pg_env.sh; trap pg_stop EXIT; pg_up <label> || exit 1
#       pg_start, then pg_wait: for a test whose next step needs the server
#       answering (a --db-url run gives a server 5 s); pg_q queries it.
#   bash pg_env.sh CMD ARGS...
#       starts one, exports XDOCK_TEST_PG_URL (admin URL) and
#       XDOCK_TEST_PG_FRESH=1, runs CMD, removes the container on every exit.
#
# Not named t_*.sh on purpose: it is a helper, not a test of its own.

PG_IMAGE=${PG_IMAGE:-xdock/postgres:15}

# The owner label `xdock gc` reads (host:boot_id:pidns:pid:starttime, as
# gc_owner_self writes it): while this shell lives, a concurrent gc leaves
# the server alone; if the shell is killed, gc may sweep it. PG_OWNER
# overrides it.
pg_owner() {
	local stat rest
	stat=$(cat /proc/$$/stat)
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	echo "$(hostname):$(cat /proc/sys/kernel/random/boot_id):$(stat -L -c %i /proc/$$/ns/pid):$$:${20}"
}

pg_start() {
	local label=$1 i owner
	owner=${PG_OWNER:-$(pg_owner)}
	if ! docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
		echo "pg_env: image $PG_IMAGE missing (build it with images/build)" >&2
		return 1
	fi
	# A network of our own rather than the default bridge: nothing else
	# shares it, and it does not depend on docker0 being in place.
	PG_NETWORK=$(docker network create --label "xdock.run=$label" --label "xdock.owner=$owner" \
		"xdock-pg-$label") || return 1
	PG_CONTAINER=$(docker run -d --label "xdock.run=$label" --label "xdock.owner=$owner" \
		--network "$PG_NETWORK" --tmpfs /var/lib/postgresql/data -p 127.0.0.1::5432 "$PG_IMAGE") || return 1
	for i in $(seq 1 50); do
		PG_PORT=$(docker port "$PG_CONTAINER" 5432/tcp 2>/dev/null | head -n1 | sed 's/.*://')
		[ -n "$PG_PORT" ] && break
		sleep 0.1
	done
	if [ -z "$PG_PORT" ]; then
		echo "pg_env: no published port for $PG_CONTAINER" >&2
		return 1
	fi
	PG_BASE_URL="postgresql://xdock:xdock@127.0.0.1:$PG_PORT"
	PG_ADMIN_URL="$PG_BASE_URL/postgres"
}

# Waits until the server answers a query (up to $1 seconds, default 60).
pg_wait() {
	local limit=${1:-60} i
	for i in $(seq 1 $((limit * 10))); do
		if docker exec -e PGPASSWORD=xdock "$PG_CONTAINER" psql -h /tmp -U xdock -d postgres -Atc 'select 1' >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "pg_env: server in $PG_CONTAINER not ready after ${limit}s" >&2
	docker logs "$PG_CONTAINER" 2>&1 | tail -n 20 >&2
	return 1
}

# Runs SQL as the superuser inside the container (psql over the socket).
pg_psql() {
	docker exec -i -e PGPASSWORD=xdock "$PG_CONTAINER" psql -h /tmp -U xdock -v ON_ERROR_STOP=1 -q -At "$@"
}

# pg_up LABEL: a server started and answering (a loaded machine may take
# long: up to 120 s), or 1 with what went wrong said.
pg_up() {
	pg_start "$1" && pg_wait 120
}

# pg_q SQL: its rows as psql -At prints them, errors dropped (a check
# compares what comes out). PG_CONTAINER=ID pg_q asks another server of
# this image.
pg_q() {
	pg_psql -d postgres -c "$1" 2>/dev/null
}

pg_stop() {
	if [ -n "${PG_CONTAINER:-}" ]; then
		docker rm -f -v "$PG_CONTAINER" >/dev/null 2>&1 || true
		PG_CONTAINER=
	fi
	if [ -n "${PG_NETWORK:-}" ]; then
		docker network rm "$PG_NETWORK" >/dev/null 2>&1 || true
		PG_NETWORK=
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	if [ $# -eq 0 ]; then
		echo "usage: $0 CMD [ARGS...]" >&2
		exit 2
	fi
	trap pg_stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	pg_start "pg-env-$$" || exit 1
	export XDOCK_TEST_PG_URL=$PG_ADMIN_URL XDOCK_TEST_PG_FRESH=1
	# Not exec: the trap must outlive the command.
	"$@"
	exit $?
fi
