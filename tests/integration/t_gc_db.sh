#!/usr/bin/env bash
# xdock gc --db-url: the databases a killed run left on a shared server go,
# a live run's stay. Run A (-n 3) is SIGKILLed in its test: its template and
# test_db_gw0..2 stay on the server, each marked in its COMMENT with A's run
# id and owner. Run B (-n 1) then takes the server (A's lock went with its
# connection), re-creates the template and test_db_gw0 as its own, drops
# A's gw1 and gw2 at its start (a run sweeps a shared server it holds) and
# is held in its test. A's gw1 and gw2 are then made again here with A's
# mark, as a dead run's databases that no start sweep has seen. gc from a sibling PID namespace, where neither run's
# process can be seen (so only the advisory lock B holds on the server tells
# the runs apart), drops A's gw1 and gw2 and leaves B's; a gc from ours drops
# nothing more; B, whose test reads its database before and after, passes.
# A --keep-dbs run's databases lose the mark at its end: gc leaves them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_env.sh"

apid=
bpid=
cleanup() {
	[ -n "$apid" ] && kill -9 "$apid" 2>/dev/null
	[ -n "$bpid" ] && kill -9 "$bpid" 2>/dev/null
	pg_stop
	rm -rf "$T_TMP"
}
trap cleanup EXIT
pg_up "t-gc-db-$$" || exit 1
port=$PG_PORT
url=$PG_ADMIN_URL
# name, then the run id of its mark ("-" when unmarked), one line each
marks() {
	pg_q "select datname || ' ' || coalesce(substring(shobj_description(oid, 'pg_database') from '^xdock\.run=([0-9a-f]+) '), '-')
	   from pg_database where datname like 'test_db_%' order by 1"
}

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cp "$XDOCK_SRC/fixtures/seeded/migrate.py" . || exit 1
cp "$XDOCK_SRC/fixtures/seeded/test_hold_released.py" test_hold.py || exit 1
# exec: the background job's pid is xdock's own (its owner label's).
xd() { exec "$XDOCK_BIN" run -p no:cacheprovider --db-url "$url" --db-setup "python3 migrate.py" "$@" .; }

# A gc given a URL libpq cannot read: a usage error naming it, masked.
"$XDOCK_BIN" gc --db-url "postgresql://u:topsecret@[::1/postgres" >"$T_TMP/gc-bad.out" 2>"$T_TMP/gc-bad.err"
rc=$?
check "gc with a bad --db-url: exit 4 (got $rc)" eq "$rc" 4
check "gc with a bad --db-url: refused before anything was swept" eq "$(wc -c <"$T_TMP/gc-bad.out")" 0
check "gc with a bad --db-url: one line naming the problem" \
	bash -c "[ \$(wc -l <'$T_TMP/gc-bad.err') = 1 ] && grep -q 'matching \"]\"' '$T_TMP/gc-bad.err'"
check "gc with a bad --db-url: password masked" \
	bash -c "! grep -q topsecret '$T_TMP/gc-bad.err' && grep -q 'u:\*\*\*@' '$T_TMP/gc-bad.err'"

xd -n 3 --env PHASE=a >"$T_TMP/a.out" 2>"$T_TMP/a.err" &
apid=$!
a_ready() { [ -e started-a ] && [ "$(pg_q "select count(*) from pg_database where datname like 'test_db_gw%'")" = 3 ]; }
check "run A: in its test with three worker databases" wait_for "run A" a_ready
runa=$(marks | awk '$1 == "test_db_gw0" { print $2 }')
check "run A's databases are marked with its run id" eq "$(marks | awk -v r="$runa" '$2 == r' | wc -l)" 4
owner=$(pg_q "select shobj_description(oid, 'pg_database') from pg_database where datname = 'test_db_gw1'")
check "the mark names run A's process as its container labels do ($owner)" \
	eq "$(echo "$owner" | sed -n 's/.* xdock\.owner=[^:]*:[^:]*:[^:]*:\([0-9]*\):.*/\1/p')" "$apid"
kill -9 "$apid"
wait "$apid" 2>/dev/null
apid=
check "after SIGKILL run A's four databases are left" eq "$(marks | awk -v r="$runa" '$2 == r' | wc -l)" 4

xd -n 1 --env PHASE=b >"$T_TMP/b.out" 2>"$T_TMP/b.err" &
bpid=$!
check "run B: in its test" wait_for "run B" test -e started-b
runb=$(marks | awk '$1 == "test_db_gw0" { print $2 }')
check "run B re-made the template and gw0 as its own, its start dropped A's others (run $runb)" \
	eq "$(marks | tr '\n' ' ')" "test_db_gw0 $runb test_db_template $runb "
for d in test_db_gw1 test_db_gw2; do
	pg_q "CREATE DATABASE $d" >/dev/null
	pg_q "COMMENT ON DATABASE $d IS '$owner'" >/dev/null
done
check "A's gw1 and gw2 made again with A's mark" \
	eq "$(marks | tr '\n' ' ')" "test_db_gw0 $runb test_db_gw1 $runa test_db_gw2 $runa test_db_template $runb "

unshare --pid --fork --mount-proc "$XDOCK_BIN" gc --db-url "$url" >"$T_TMP/gc-sibling.out" 2>"$T_TMP/gc-sibling.err"
rc=$?
check "gc in a sibling namespace: exit 0 (got $rc)" eq "$rc" 0
check "gc in a sibling namespace: says it dropped two databases" \
	grep -q "dropped 2 databases on postgresql://xdock:\*\*\*@127.0.0.1:$port/postgres" "$T_TMP/gc-sibling.out"
check "gc in a sibling namespace: the killed run's databases are gone, the live run's are there" \
	eq "$(marks | tr '\n' ' ')" "test_db_gw0 $runb test_db_template $runb "
"$XDOCK_BIN" gc --db-url "$url" >"$T_TMP/gc-host.out" 2>"$T_TMP/gc-host.err"
rc=$?
check "gc in our namespace: exit 0 (got $rc)" eq "$rc" 0
check "gc in our namespace: dropped nothing more" grep -q "dropped 0 databases" "$T_TMP/gc-host.out"
check "gc in our namespace: the live run's databases are there" \
	eq "$(marks | tr '\n' ' ')" "test_db_gw0 $runb test_db_template $runb "

touch release-b
wait "$bpid"
rc=$?
bpid=
check "run B passed: its database was never dropped under it (rc $rc)" eq "$rc" 0
check "run B: no database left on the server" eq "$(marks | wc -l)" 0
# --keep-dbs keeps the databases on purpose: unmarked at the end, gc leaves them.
touch release-c
(xd -n 1 --keep-dbs --env PHASE=c) >"$T_TMP/c.out" 2>"$T_TMP/c.err"
rc=$?
check "--keep-dbs run passed (rc $rc)" eq "$rc" 0
check "--keep-dbs: its databases are kept, unmarked" eq "$(marks | tr '\n' ' ')" "test_db_gw0 - test_db_template - "
"$XDOCK_BIN" gc --db-url "$url" >"$T_TMP/gc-keep.out" 2>"$T_TMP/gc-keep.err"
check "--keep-dbs: gc dropped none of them" grep -q "dropped 0 databases" "$T_TMP/gc-keep.out"
check "--keep-dbs: still there after gc" eq "$(marks | wc -l)" 2

check "run A: nothing left (gc removed its containers)" no_leftovers_of "$runa"
check "run B: nothing left" no_leftovers_of "$runb"
finish
