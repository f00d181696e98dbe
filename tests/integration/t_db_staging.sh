#!/usr/bin/env bash
# A run killed between CREATE DATABASE and the statement that marks the
# database as its own still leaves nothing gc cannot attribute. The
# database is made under a staging name that names the run, then marked
# and renamed in one transaction. To stop a run in that window the test
# holds a SHARE lock on pg_shdescription (where COMMENT ON DATABASE
# writes): the run's first database is created, its marking waits on the
# lock; the run is SIGKILLed there and its waiting session ended. gc
# --db-url then drops what it left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_env.sh"

xpid=
lpid=
cleanup() {
	[ -n "$xpid" ] && kill -9 "$xpid" 2>/dev/null
	[ -n "$lpid" ] && kill -9 "$lpid" 2>/dev/null
	pg_stop
	rm -rf "$T_TMP"
}
trap cleanup EXIT
pg_up "t-db-staging-$$" || exit 1
url=$PG_ADMIN_URL
# The databases besides the server's own: name and comment.
left() { pg_q "select datname || ' ' || coalesce(shobj_description(oid, 'pg_database'), '-') from pg_database
	    where datname not in ('postgres', 'template0', 'template1') order by 1"; }

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
echo 'def test_nothing(): pass' >test_one.py

docker exec -e PGPASSWORD=xdock -e PGAPPNAME=t-db-staging-lock "$PG_CONTAINER" psql -U xdock -h 127.0.0.1 -d postgres \
	-c "BEGIN; LOCK TABLE pg_catalog.pg_shdescription IN SHARE MODE; SELECT pg_sleep(3600)" \
	>/dev/null 2>&1 &
lpid=$!
lock_held() {
	[ "$(pg_q "select count(*) from pg_locks l join pg_stat_activity a using (pid)
		where a.application_name = 't-db-staging-lock'
		and l.relation = 'pg_catalog.pg_shdescription'::regclass and l.granted")" = 1 ]
}
check "the test holds the lock on pg_shdescription" wait_for "the lock" lock_held

"$XDOCK_BIN" run -p no:cacheprovider -n 1 --db-url "$url" . >"$T_TMP/x.out" 2>"$T_TMP/x.err" &
xpid=$!
marking_waits() {
	[ "$(pg_q "select count(*) from pg_stat_activity where wait_event_type = 'Lock'
		and query like 'COMMENT ON DATABASE%' and application_name <> 't-db-staging-lock'")" = 1 ]
}
check "the run's first database is made, its marking waits on the lock" wait_for "the marking" marking_waits
made=$(left)
killed=$xpid
kill -9 "$xpid"
wait "$xpid" 2>/dev/null
xpid=
# A backend finds its client gone only when it next talks to it: the
# waiting statement would still run once the lock is free. Ending the
# killed run's sessions first is the kill landing before that statement
# was sent.
pg_q "select pg_terminate_backend(pid) from pg_stat_activity where wait_event_type = 'Lock'
   and query like 'COMMENT ON DATABASE%' and application_name <> 't-db-staging-lock'" >/dev/null
pg_q "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 't-db-staging-lock'" >/dev/null
wait "$lpid" 2>/dev/null
lpid=
check "the killed run left one database ($made)" eq "$(left | wc -l)" 1
check "it is made under a name that names a run, with no comment yet ($made)" \
	bash -c "echo '$made' | grep -Eq '^xdock\.new\.[0-9a-f]{12}\.[0-9a-f]{8} -$'"

"$XDOCK_BIN" gc --db-url "$url" >"$T_TMP/gc.out" 2>"$T_TMP/gc.err"
rc=$?
check "gc --db-url: exit 0 (got $rc)" eq "$rc" 0
check "gc --db-url: says it dropped one database" grep -q "dropped 1 database on" "$T_TMP/gc.out"
check "gc --db-url: nothing of the killed run left on the server" eq "$(left | wc -l)" 0
check "gc: the killed run's containers and network removed too" no_leftovers_of_pid "$killed"

# A run that is not stopped makes the same databases, marked, with their
# names, and leaves none.
xrun run -p no:cacheprovider -n 1 --db-url "$url" --keep-dbs .
check "a whole run: exit 0 (got $RC)" eq "$RC" 0
check "a whole run: its databases have their names, no staging name left" \
	eq "$(left | cut -d' ' -f1 | tr '\n' ' ')" "test_db_gw0 test_db_template "
check "a whole run: nothing else left" no_leftovers_of_pid "$XPID"
finish
