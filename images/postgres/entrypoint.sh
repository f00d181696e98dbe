#!/bin/sh
# Runs a throw-away cluster in the foreground; arguments go to postgres. "xdock-postgres seed", run
# once when the image is built, makes a cluster for the default user and
# password in $SEED; at start a copy of it (60 ms) replaces initdb (about
# 0.8 s), unless another user is asked for (another password is set on
# the copy). With
# XDOCK_PG_FOLLOW=HOST (--db-scope server: a worker's own server), the
# cluster is instead a copy of HOST's, taken once a session named
# $XDOCK_PG_READY shows there (the orchestrator's, once the template is
# built): roles, extensions and settings that --db-setup made come along.
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

# hba_trust MODE: pg_hba lines, first match wins, that let the run's own
# containers in without a password: a SCRAM key derivation costs more than
# the rest of a connection (docs/benchmarks.md). "samenet" is every subnet
# this container is attached to, re-read at each connection. Always
# excluded: the host, which reaches a published port or any network of
# ours through that network's gateway (the default route's, and the first
# address of a subnet, which Docker gives its gateways). MODE "network":
# the orchestrator started us on the run's private network only, so all of
# samenet is the run's. MODE "joined" (a --reuse-db server): the networks
# attached at start (the engine's shared default bridge) keep the
# password; only the run networks joined later are trusted.
hba_trust() {
	perl -e '
		my ($mode) = @ARGV;
		sub ip { join ".", reverse unpack "C4", pack "N", hex $_[0] }
		sub bits { my $n = unpack "%32b*", pack "N", hex $_[0]; $n }
		open my $f, "<", "/proc/net/route" or die "/proc/net/route: $!\n";
		<$f>;
		my (@gw, @net);
		while (<$f>) {
			my ($if, $dst, $gw, $flags, undef, undef, undef, $mask) = split;
			next if $if eq "lo";
			push @gw, ip($gw) if hex($flags) & 2;
			push @net, ip($dst) . "/" . bits($mask) if !(hex($flags) & 2);
		}
		print "host all all $_/32 scram-sha-256\n" for @gw;
		print "host all all 0.0.0.1 0.0.0.255 scram-sha-256\n";
		if ($mode eq "joined") { print "host all all $_ scram-sha-256\n" for @net }
		print "host all all samenet trust\n";
		print "host replication all samenet trust\n";
	' "$1"
}

# follow HOST: copies HOST's cluster into $PGDATA once the orchestrator says
# the template is ready. pg_basebackup rather than a dump: one stream of
# files, no SQL replayed, server-wide objects included (docs/usage.md,
# "Server scope"). A full house of WAL senders refuses a copy: retried.
follow() {
	export PGPASSWORD="$password" PGCONNECT_TIMEOUT=5
	# One session that waits (a COMMIT per turn refreshes what
	# pg_stat_activity shows), not a psql every few milliseconds: the
	# machine is busy starting the run.
	wait_sql="DO \$\$ BEGIN LOOP EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity
		WHERE application_name = '${XDOCK_PG_READY:?}'); COMMIT; PERFORM pg_sleep(0.05); END LOOP; END \$\$"
	until runuser -u postgres -- psql -h "$1" -U "$user" -d postgres -Xqc "$wait_sql" 2>/dev/null; do
		sleep 0.2
	done
	tries=0
	until runuser -u postgres -- pg_basebackup -h "$1" -U "$user" -D "$PGDATA" -X fetch --checkpoint=fast --no-sync; do
		tries=$((tries + 1))
		[ "$tries" -lt 100 ] || exit 1
		find "$PGDATA" -mindepth 1 -delete
		sleep 0.2
	done
	# The copy's pg_hba.conf is the source's, trust lines included: start
	# from the seed's again, as a fresh cluster would.
	cp "$SEED/pg_hba.conf" "$PGDATA/pg_hba.conf"
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
	if [ -n "${XDOCK_PG_FOLLOW:-}" ]; then
		follow "$XDOCK_PG_FOLLOW"
	elif [ "$user" = xdock ] && [ -s "$SEED/PG_VERSION" ]; then
		cp -a "$SEED/." "$PGDATA/"
		if [ "$password" != xdock ]; then
			# Another password (a run's own, on an engine whose network
			# reaches the published port): one statement in single-user
			# mode on the copy, a fraction of an initdb.
			printf "ALTER ROLE \"%s\" PASSWORD '%s';\n" "$user" "$(printf %s "$password" | sed "s/'/''/g")" |
				runuser -u postgres -- postgres --single -D "$PGDATA" -c fsync=off postgres >/dev/null
		fi
	else
		init_cluster "$PGDATA"
	fi
	case ${XDOCK_PG_TRUST:-} in
	network | joined)
		hba=$(mktemp)
		{ echo "# xdock: the run's own containers ($XDOCK_PG_TRUST)"; hba_trust "$XDOCK_PG_TRUST"; cat "$PGDATA/pg_hba.conf"; } >"$hba"
		cat "$hba" >"$PGDATA/pg_hba.conf"
		rm -f "$hba"
		;;
	esac
fi
# Durability buys nothing for a database thrown away after the run. The
# arguments (-c NAME=VALUE, from --db-option) come last and so win; a name
# or value PostgreSQL refuses ends the server with its FATAL line, which the
# orchestrator reads from the logs.
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*' \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off \
	-c max_connections="${XDOCK_PG_MAX_CONNECTIONS:-300}" -c shared_buffers=128MB \
	-c unix_socket_directories=/tmp "$@"
