#!/usr/bin/env bash
# --reuse-db keeps the embedded PostgreSQL and the template between runs,
# keyed by the files --db-setup-key names: unchanged files, no migration at
# all; a changed file, migrations again. Ordinary cleanup leaves the kept
# server alone. --db-url runs against a server the user owns and drops what
# it created there.
#
# The engine is shared (another test tree, a user's run): the kept server
# (one per engine, `xdock-reuse-db`) may exist before this test and be used
# by others during it. So this test never runs `xdock gc --all` (it would
# remove the server from under them), keys its template with a file of its
# own so that no other run's template counts as its cache, and removes the
# kept server at the end, by id, only if it created it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_env.sh"

# Docker matches the name filter against "/name", Podman against "name".
kept_id() { docker ps -aq --no-trunc --filter label=xdock.reuse=1 --filter 'name=^/?xdock-reuse-db$'; }
before=$(kept_id)
ours=
cleanup() {
	[ -n "$ours" ] && docker rm -f "$ours" >/dev/null 2>&1
	pg_stop
	rm -rf "$T_TMP"
}
trap cleanup EXIT

cp -r "$XDOCK_SRC/fixtures/demo" "$T_TMP/demo"
cd "$T_TMP/demo" || exit 1
rm -rf .xdock
echo "t_reuse_db $$ $(date +%s.%N)" >.reuse-key
run_demo() {
	xrun run -n 2 -v --reuse-db --db-setup "python3 migrate.py" --db-setup-key "{migrate.py,.reuse-key}" \
		--json-report "$T_TMP/r.json" . -k "customers"
}
run_demo
id1=$(kept_id)
[ -z "$before" ] && ours=$id1
check "first run: exit 0 (got $RC)" eq "$RC" 0
check "first run: migrated" grep -q "(migrated)" "$T_TMP/err"
check "first run: the server is kept (${id1:0:12}; before: ${before:0:12})" test -n "$id1"
check "first run: nothing else left" no_leftovers_of_pid "$XPID"

run_demo
check "second run: exit 0 (got $RC)" eq "$RC" 0
check "second run: no migration (cached template)" bash -c "! grep -q '(migrated)' '$T_TMP/err'"
check "second run: same kept server" eq "$(kept_id)" "$id1"
check "second run: nothing else left" no_leftovers_of_pid "$XPID"

echo "# schema changed" >>migrate.py
run_demo
check "changed schema file: exit 0 (got $RC)" eq "$RC" 0
check "changed schema file: migrated again" grep -q "(migrated)" "$T_TMP/err"
check "changed schema file: nothing else left" no_leftovers_of_pid "$XPID"

"$XDOCK_BIN" gc >"$T_TMP/gc.out" 2>&1
gc_rc=$?
check "gc: exit 0 (got $gc_rc)" eq "$gc_rc" 0
check "plain gc leaves the kept server" eq "$(kept_id)" "$id1"

# --db-url: a server of the user's own; xdock creates its databases there
# and drops them at the end.
# xdock gives a --db-url server 5 s: wait until this one, just started,
# answers (as long as a loaded machine needs) so the run starts on a live one.
check "--db-url: the server answers" pg_up "t-reuse-$$"
url=$PG_ADMIN_URL
xrun run -n 2 --db-url "$url" --db-setup "python3 migrate.py" --json-report "$T_TMP/u.json" . -k "orders"
check "--db-url: exit 0 (got $RC)" eq "$RC" 0
check "--db-url: password never printed" bash -c "! grep -q 'xdock:xdock@' '$T_TMP/out' '$T_TMP/err'"
left=$(pg_q "select count(*) from pg_database where datname like 'test_db_%'")
check "--db-url: no test_db_* databases left on the server (got $left)" eq "$left" 0
check "--db-url: nothing left" no_leftovers_of_pid "$XPID"
finish
