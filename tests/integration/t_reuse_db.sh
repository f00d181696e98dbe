#!/usr/bin/env bash
# --reuse-db keeps the embedded PostgreSQL and the template between runs,
# keyed by the files --db-setup-key names: unchanged files, no migration at
# all; a changed file, migrations again. Ordinary cleanup leaves the kept
# server alone; `xdock gc --all` removes it. --db-url runs against a server
# the user owns and drops what it created there.
. "$(dirname "$0")/lib.sh"

reuse_containers() { docker ps -aq --filter label=xdock.reuse=1 | wc -l; }
# A kept server from before this test would change what it proves.
"$XDOCK_BIN" gc --all >/dev/null 2>&1
trap '"$XDOCK_BIN" gc --all >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT

cp -r "$XDOCK_SRC/fixtures/demo" "$T_TMP/demo"
cd "$T_TMP/demo" || exit 1
rm -rf .xdock
run_demo() {
	xrun run -n 2 -v --reuse-db --db-setup "python3 migrate.py" --db-setup-key "migrate.py" \
		--json-report "$T_TMP/r.json" . -k "customers"
}
run_demo
check "first run: exit 0 (got $RC)" eq "$RC" 0
check "first run: migrated" grep -q "(migrated)" "$T_TMP/out"
check "first run: the server is kept" eq "$(reuse_containers)" 1
check "first run: nothing else left" no_leftovers_of_pid "$XPID"

run_demo
check "second run: exit 0 (got $RC)" eq "$RC" 0
check "second run: no migration (cached template)" bash -c "! grep -q '(migrated)' '$T_TMP/out'"
check "second run: same kept server" eq "$(reuse_containers)" 1

echo "# schema changed" >>migrate.py
run_demo
check "changed schema file: exit 0 (got $RC)" eq "$RC" 0
check "changed schema file: migrated again" grep -q "(migrated)" "$T_TMP/out"

"$XDOCK_BIN" gc >/dev/null 2>&1
check "plain gc leaves the kept server" eq "$(reuse_containers)" 1
"$XDOCK_BIN" gc --all >"$T_TMP/gc.out" 2>&1
check "gc --all removes it" eq "$(reuse_containers)" 0

# --db-url: a server of the user's own; xdock creates its databases there
# and drops them at the end.
docker run -d --label "xdock.test=t-reuse-$$" --tmpfs /var/lib/postgresql/data -p 127.0.0.1::5432 \
	xdock/postgres:15 >"$T_TMP/pg.id"
pg=$(cat "$T_TMP/pg.id")
trap 'docker rm -f "$pg" >/dev/null 2>&1; "$XDOCK_BIN" gc --all >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
port=$(docker port "$pg" 5432/tcp | head -n 1 | sed 's/.*://')
url="postgresql://xdock:xdock@127.0.0.1:$port/postgres"
xrun run -n 2 --db-url "$url" --db-setup "python3 migrate.py" --json-report "$T_TMP/u.json" . -k "orders"
check "--db-url: exit 0 (got $RC)" eq "$RC" 0
check "--db-url: password never printed" bash -c "! grep -q 'xdock:xdock@' '$T_TMP/out' '$T_TMP/err'"
left=$(docker exec -e PGPASSWORD=xdock "$pg" psql -U xdock -h 127.0.0.1 -d postgres -Atc \
	"select count(*) from pg_database where datname like 'test_db_%'" 2>/dev/null)
check "--db-url: no test_db_* databases left on the server (got $left)" eq "$left" 0
check "--db-url: nothing left" no_leftovers_of_pid "$XPID"
finish
