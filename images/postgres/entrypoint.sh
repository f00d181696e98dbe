#!/bin/sh
# Runs a throw-away cluster in the foreground. "xdock-postgres seed", run
# once when the image is built, makes a cluster for the default user and
# password in $SEED; at start a copy of it (60 ms) replaces initdb (about
# 0.8 s), unless another user or password is asked for.
set -eu
user=${XDOCK_PG_USER:-xdock}
password=${XDOCK_PG_PASSWORD:-xdock}
SEED=/var/lib/postgresql/seed

# init_cluster DIR: a new cluster in DIR for $user/$password, reachable
# over TCP with a password.
init_cluster() {
	pwfile=$(mktemp)
	printf '%s\n' "$password" >"$pwfile"
	chown postgres "$pwfile"
	su postgres -c "initdb -D '$1' -U '$user' --pwfile='$pwfile' -A scram-sha-256 --no-sync -E UTF8 --locale=C.UTF-8" >/dev/null
	rm -f "$pwfile"
	echo "host all all 0.0.0.0/0 scram-sha-256" >>"$1/pg_hba.conf"
	echo "host all all ::/0 scram-sha-256" >>"$1/pg_hba.conf"
}

if [ "${1:-}" = seed ]; then
	mkdir -p "$SEED"
	chown postgres:postgres "$SEED"
	chmod 700 "$SEED"
	init_cluster "$SEED"
	exit 0
fi

mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ "$user" = xdock ] && [ "$password" = xdock ] && [ -s "$SEED/PG_VERSION" ]; then
		cp -a "$SEED/." "$PGDATA/"
	else
		init_cluster "$PGDATA"
	fi
fi
# Durability buys nothing for a database thrown away after the run.
exec su postgres -c "exec postgres -D '$PGDATA' -c listen_addresses='*' \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off \
	-c max_connections=${XDOCK_PG_MAX_CONNECTIONS:-300} -c shared_buffers=128MB \
	-c unix_socket_directories=/tmp"
