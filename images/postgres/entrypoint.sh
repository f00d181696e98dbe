#!/bin/sh
# Initialises a throw-away cluster and runs the server in the foreground.
set -eu
user=${XDOCK_PG_USER:-xdock}
password=${XDOCK_PG_PASSWORD:-xdock}
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pwfile=$(mktemp)
	printf '%s\n' "$password" >"$pwfile"
	chown postgres "$pwfile"
	su postgres -c "initdb -D '$PGDATA' -U '$user' --pwfile='$pwfile' -A scram-sha-256 --no-sync -E UTF8 --locale=C.UTF-8" >/dev/null
	rm -f "$pwfile"
	echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
	echo "host all all ::/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
# Durability buys nothing for a database thrown away after the run.
exec su postgres -c "exec postgres -D '$PGDATA' -c listen_addresses='*' \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off \
	-c max_connections=${XDOCK_PG_MAX_CONNECTIONS:-300} -c shared_buffers=128MB \
	-c unix_socket_directories=/tmp"
