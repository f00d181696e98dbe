#!/usr/bin/env bash
# pytest-django with no glue: fixtures/djangoproj (no conftest.py, settings
# that read DATABASE_URL or PG*, a data migration that seeds a catalogue,
# db / transactional_db / reset_sequences / serialized_rollback tests) runs
# at -n 2 on xdock's per-worker databases, cloned from the template that
# `manage.py migrate` built once. The server is one of this test's own,
# logging every DDL statement, so the checks read what really happened:
# - plain pytest-django + pytest-xdist on it first: its workers create and
#   migrate test_djangoproj_gwN (the log shows it, so the check below can
#   see such a thing);
# - xdock: the same outcomes test by test, the migrations run once (in the
#   template), no test_test_db_* database is ever created;
# - settings that do not name the worker's database: pytest-django's own
#   setup runs and xdock says so in one line;
# - no --db-setup: each worker migrates its own clone, said in one line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_env.sh"

label="t-django-$$"
trap pg_stop EXIT
pg_start "$label" || exit 1
pg_wait 60 || exit 1
pg_psql -d postgres -c "ALTER SYSTEM SET log_statement = 'ddl'" -c "SELECT pg_reload_conf()" >/dev/null
pg_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$PG_CONTAINER")

# The server's log from line $1 on.
log_since() {
	docker logs "$PG_CONTAINER" 2>&1 | tail -n "+$1"
}
log_lines() {
	docker logs "$PG_CONTAINER" 2>&1 | wc -l
}
# The outcome lines of pytest's -rA summary, sorted, without xdist's
# "@group" suffix.
outcomes() {
	grep -E '^(PASSED|FAILED|ERROR) ' "$1" | sed -E 's/@[A-Za-z_]+( |$)/\1/' | LC_ALL=C sort
}

# From copies: runs write their history and caches into the project.
src_before=$(cd "$XDOCK_SRC/fixtures/djangoproj" && ls -AR)
cp -r "$XDOCK_SRC/fixtures/djangoproj" "$T_TMP/plain" || exit 1
cp -r "$XDOCK_SRC/fixtures/djangoproj" "$T_TMP/proj" || exit 1

# 1. Plain pytest-django + pytest-xdist, in a container of the test image.
from=$(($(log_lines) + 1))
docker run --rm --label "xdock.run=$label" --network "$PG_NETWORK" -v "$T_TMP/plain:$T_TMP/plain" \
	-w "$T_TMP/plain" -e PGHOST="$pg_ip" -e PGUSER=xdock -e PGPASSWORD=xdock -e PGDATABASE=djangoproj \
	xdock/python:bookworm python3 -m pytest -n 2 --dist loadgroup -p no:cacheprovider -rA \
	>"$T_TMP/plain.txt" 2>&1
check "plain pytest-django + xdist: exit 0" eq "$?" 0
log_since "$from" >"$T_TMP/plain.log"
check "plain: each xdist worker created its own test database" eq \
	"$(grep -Eo 'CREATE DATABASE "test_djangoproj_gw[01]"' "$T_TMP/plain.log" | LC_ALL=C sort -u | wc -l)" 2
check "plain: each worker migrated (two CREATE TABLE shop_category)" eq \
	"$(grep -c 'CREATE TABLE "shop_category"' "$T_TMP/plain.log")" 2

# 2. xdock, same project, same server.
from=$(($(log_lines) + 1))
cd "$T_TMP/proj" || exit 1
xrun run -n 2 --dist loadgroup --db-url "$PG_ADMIN_URL" --db-setup "python3 manage.py migrate" \
	--json-report "$T_TMP/report.json" -rA .
cp "$T_TMP/out" "$T_TMP/xdock.txt"
log_since "$from" >"$T_TMP/xdock.log"
check "xdock: exit 0" eq "$RC" 0
check "xdock: every test passed" eq \
	"$(json "$T_TMP/report.json" 'r["summary"]["passed"] == r["summary"]["collected"] > 15')" True
check "xdock: the xdock-only test ran and passed (test_db_gwN, rows seeded in test_db_template)" eq \
	"$(json "$T_TMP/report.json" '[t["outcome"] for t in r["tests"] if t["nodeid"].endswith("test_uses_the_workers_cloned_database")]')" \
	"['passed']"
check "xdock: the same outcomes as plain pytest-django + xdist, test by test (plus the xdock-only test)" eq \
	"$(outcomes "$T_TMP/xdock.txt")" \
	"$( (outcomes "$T_TMP/plain.txt"; echo "PASSED tests/test_catalogue.py::test_uses_the_workers_cloned_database") | LC_ALL=C sort)"
check "xdock: migrations ran once, in the template (one CREATE TABLE shop_category)" eq \
	"$(grep -c 'CREATE TABLE "shop_category"' "$T_TMP/xdock.log")" 1
# On a shared server a clone is made under a staging name and renamed to
# test_db_gwN once it carries its run's mark (db_database.c).
check "xdock: the workers' databases are clones of the template" eq \
	"$(grep -Ec 'CREATE DATABASE .* TEMPLATE "?test_db_template"?' "$T_TMP/xdock.log") $(grep -Ec 'RENAME TO "?test_db_gw[01]\b' "$T_TMP/xdock.log")" "2 2"
check "xdock: pytest-django created no database of its own (no test_test_db_*)" eq \
	"$(grep -ci 'CREATE DATABASE "*test_test_' "$T_TMP/xdock.log")" 0
check "xdock: nothing to say at start-up" eq "$(grep -c '^xdock: pytest-django' "$T_TMP/xdock.txt")" 0

# 3. Settings that name another database: pytest-django's own setup, said
# once (not once per worker); the one test that checks xdock's wiring
# fails, the others pass. --db-setup sees the --env values as the
# controller does, so here it clears the name to migrate the template.
cp -r "$XDOCK_SRC/fixtures/djangoproj" "$T_TMP/other" || exit 1
from=$(($(log_lines) + 1))
cd "$T_TMP/other" || exit 1
xrun run -n 2 --db-url "$PG_ADMIN_URL" --db-setup "DJANGOPROJ_DB_NAME= python3 manage.py migrate" \
	--env DJANGOPROJ_DB_NAME=djangoproj_other \
	--json-report "$T_TMP/report2.json" .
log_since "$from" >"$T_TMP/other.log"
check "other database: exit 1, only the test of xdock's wiring failed" eq "$RC:$(json "$T_TMP/report2.json" \
	'[t["nodeid"].split("::")[-1] for t in r["tests"] if t["outcome"] != "passed"]')" \
	"1:['test_uses_the_workers_cloned_database']"
check "other database: pytest-django created its own in each worker" eq \
	"$(grep -Eo 'CREATE DATABASE "test_djangoproj_other_gw[01]"' "$T_TMP/other.log" | LC_ALL=C sort -u | wc -l)" 2
check "other database: said once, at start-up" eq \
	"$(grep -c '^xdock: pytest-django: no database in DATABASES is named test_db_gwN' "$T_TMP/out")" 1

# 4. No --db-setup: the clones lack every migration; each worker migrates
# its own in place (not a database of pytest-django's), said once.
cp -r "$XDOCK_SRC/fixtures/djangoproj" "$T_TMP/nosetup" || exit 1
from=$(($(log_lines) + 1))
cd "$T_TMP/nosetup" || exit 1
xrun run -n 2 --dist loadgroup --db-url "$PG_ADMIN_URL" --json-report "$T_TMP/report3.json" .
log_since "$from" >"$T_TMP/nosetup.log"
check "no --db-setup: exit 1, only the test of the template's rows failed" eq "$RC:$(json "$T_TMP/report3.json" \
	'[t["nodeid"].split("::")[-1] for t in r["tests"] if t["outcome"] != "passed"]')" \
	"1:['test_uses_the_workers_cloned_database']"
check "no --db-setup: said once, at start-up" eq \
	"$(grep -c '^xdock: pytest-django: test_db_gwN lacks [0-9]* migrations' "$T_TMP/out")" 1
check "no --db-setup: each worker migrated its own clone (two CREATE TABLE shop_category)" eq \
	"$(grep -c 'CREATE TABLE "shop_category"' "$T_TMP/nosetup.log")" 2
check "no --db-setup: still no test_test_db_*" eq "$(grep -ci 'CREATE DATABASE "*test_test_' "$T_TMP/nosetup.log")" 0

for r in report.json report2.json report3.json; do
	run_id=$(json "$T_TMP/$r" 'r["run_id"]')
	check "no containers or networks of run $run_id left" no_leftovers_of "$run_id"
done
check "no test database left on the server" eq \
	"$(pg_psql -d postgres -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'test_%'")" 0
check "nothing written into fixtures/djangoproj of the source tree" eq \
	"$(cd "$XDOCK_SRC/fixtures/djangoproj" && ls -AR)" "$src_before"
cd / && finish
