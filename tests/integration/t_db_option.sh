#!/usr/bin/env bash
# --db-option NAME=VALUE reaches the embedded server's command line: a
# two-phase commit works with max_prepared_transactions set (skipped or
# refused without it); a name or value PostgreSQL refuses is a one-line
# usage error quoting PostgreSQL, and nothing is left behind. Per-worker
# placeholders in --env values and pytest arguments: a suite's own
# variable and a --dburi-style option get the worker's database, and the
# controller, which imports the conftest as well, gets them expanded.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cat >conftest.py <<'PY'
import os

# xdock's controller imports this too, as it imports a settings module:
# the placeholders must be expanded there as well ("{port}" is no number).
if "APP_WHERE" in os.environ:
    int(os.environ["APP_WHERE"].split(":")[1].split("/")[0])


def pytest_addoption(parser):
    parser.addoption("--dburi")


def pytest_configure(config):
    assert "{" not in (config.getoption("--dburi") or ""), config.getoption("--dburi")
PY
cat >test_values.py <<'PY'
import os


def test_suite_variable_and_option(request):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert os.environ["APP_TESTDB"] == "test_db_" + worker
    assert os.environ["APP_WHERE"] == "xdock-db:5432/" + worker
    assert request.config.getoption("--dburi") == os.environ["DATABASE_URL"]
PY
cat >test_2pc.py <<'PY'
import os

import psycopg2


def test_two_phase_commit():
    c = psycopg2.connect(os.environ["DATABASE_URL"])
    with c.cursor() as cur:
        cur.execute("SHOW max_prepared_transactions")
        assert cur.fetchone()[0] == "7"
        cur.execute("SHOW work_mem")
        assert cur.fetchone()[0] == "6MB"
    c.rollback()
    xid = c.xid(1, "t-" + os.environ["PYTEST_XDIST_WORKER"], "b")
    c.tpc_begin(xid)
    with c.cursor() as cur:
        cur.execute("CREATE TABLE t (x int)")
    c.tpc_prepare()
    c.tpc_commit()
    c.close()
PY
xrun run -n 2 -p no:cacheprovider --db-option max_prepared_transactions=7 --db-option work_mem=6MB \
	--env 'APP_TESTDB={database}' --env 'APP_WHERE={host}:{port}/{worker}' --json-report "$T_TMP/r.json" . --dburi '{database_url}'
check "settings applied, two-phase commit works, placeholders expanded (rc $RC)" eq "$RC" 0
check "both tests passed" eq "$(json "$T_TMP/r.json" 'r["summary"].get("passed")')" 2
check "nothing left" no_leftovers_of_pid "$XPID"

xrun run -n 1 -p no:cacheprovider --json-report "$T_TMP/r.json" . --dburi '{database_url}'
check "without the options the tests fail (rc $RC)" eq "$RC" 1
check "without the options: both failed" eq "$(json "$T_TMP/r.json" 'r["summary"].get("failed")')" 2

xrun run -n 1 -p no:cacheprovider --db-option no_such_setting=1 .
check "unknown name: exit 4 (got $RC)" eq "$RC" 4
check "unknown name: PostgreSQL's message quoted" \
	grep -q 'db-option: PostgreSQL: unrecognized configuration parameter "no_such_setting"' "$T_TMP/err"
check "unknown name: one line" eq "$(grep -c . "$T_TMP/err")" 1
check "unknown name: nothing left" no_leftovers_of_pid "$XPID"

xrun run -n 1 -p no:cacheprovider --db-option max_prepared_transactions=many .
check "bad value: exit 4 (got $RC)" eq "$RC" 4
check "bad value: PostgreSQL's message quoted" \
	grep -q 'invalid value for parameter "max_prepared_transactions": "many"' "$T_TMP/err"

xrun run -n 1 --db-option 'not a setting' .
check "malformed: exit 4 (got $RC)" eq "$RC" 4
xrun run -n 1 --db-url postgresql://u:p@127.0.0.1:1/d --db-option work_mem=1MB .
check "with --db-url: exit 4 (got $RC)" eq "$RC" 4
check "with --db-url: says why" grep -q "set it on your server" "$T_TMP/err"

# --db-env: what workers get of their database by default.
mkdir -p "$T_TMP/e"
cd "$T_TMP/e" || exit 1
cat >test_env.py <<'PY'
import os


def test_env():
    want = os.environ["WANT"]
    have = sorted(k for k in ("DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
                  if k in os.environ)
    assert ",".join(have) == want
PY
xrun run -n 1 -p no:cacheprovider --env WANT=DATABASE_URL,PGDATABASE,PGHOST,PGPASSWORD,PGPORT,PGUSER .
check "--db-env default: DATABASE_URL and PG* (rc $RC)" eq "$RC" 0
xrun run -n 1 -p no:cacheprovider --db-env url --env WANT=DATABASE_URL .
check "--db-env url: DATABASE_URL only (rc $RC)" eq "$RC" 0
xrun run -n 1 -p no:cacheprovider --db-env none --env WANT= .
check "--db-env none: nothing (rc $RC)" eq "$RC" 0
xrun run -n 1 --db-env some .
check "--db-env some: exit 4 (got $RC)" eq "$RC" 4
finish
