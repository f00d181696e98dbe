#!/usr/bin/env bash
# The recipes of docs/usage.md "Moving a suite from pytest-xdist", run as
# written there (the Django one is t_django.sh):
# - fixtures/sqla: an SQLAlchemy suite whose --db-setup makes an extension
#   and a schema with psql, then the tables; every test passes;
# - fixtures/driver: a driver-style suite reading its own DSN variable and
#   --dburi option, given per worker by placeholders; every test passes
#   (one checks that the variable and the option agree).
. "$(dirname "$0")/lib.sh"

cp -r "$XDOCK_SRC/fixtures/sqla" "$T_TMP/sqla" || exit 1
cp -r "$XDOCK_SRC/fixtures/driver" "$T_TMP/driver" || exit 1

cd "$T_TMP/sqla" || exit 1
xrun run -n 2 --db-setup "psql -v ON_ERROR_STOP=1 -f setup.sql && python3 schema.py" \
	--json-report "$T_TMP/sqla.json" .
check "sqla: exit 0" eq "$RC" 0
check "sqla: every test passed" eq \
	"$(json "$T_TMP/sqla.json" 'r["summary"]["passed"] == r["summary"]["collected"] > 8')" True
ids="$(json "$T_TMP/sqla.json" 'r["run_id"]')"

cd "$T_TMP/driver" || exit 1
xrun run -n 2 --env 'DRIVER_TESTDB_DSN={database_url}' --json-report "$T_TMP/driver.json" . \
	-- --dburi '{database_url}'
check "driver: exit 0" eq "$RC" 0
check "driver: every test passed, none skipped" eq \
	"$(json "$T_TMP/driver.json" 'r["summary"]["passed"] == r["summary"]["collected"] > 10')" True
ids="$ids $(json "$T_TMP/driver.json" 'r["run_id"]')"

for id in $ids; do
	check "no containers or networks of run $id left" no_leftovers_of "$id"
done
cd / && finish
