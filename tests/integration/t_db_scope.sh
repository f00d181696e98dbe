#!/usr/bin/env bash
# --db-scope server: every worker has a PostgreSQL server of its own, a
# copy of the run's server taken once --db-setup built the template (its
# tables and the server-wide objects it made, a role here), with the same
# environment as before pointing at that server. A crashed worker's
# replacement and a rerun get a fresh clone in their own server; nothing is
# left behind; the combinations that cannot work are one-line usage errors.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cat >setup.sh <<'SH'
set -e
psql -v ON_ERROR_STOP=1 -q -c "CREATE ROLE app_reader" -c "CREATE TABLE item (x int)" -c "INSERT INTO item VALUES (1)"
# Where it ran: the controller's container (the run's host name, the
# controller's own environment), not a container of its own.
echo "$(hostname) ${XDOCK_WORKERS:-none}" >setup_where
SH
cat >conftest.py <<'PY'
def pytest_addoption(parser):
    parser.addoption("--dburi")
PY
cat >test_scope.py <<'PY'
import os
import socket

import psycopg2


def q(sql):
    c = psycopg2.connect(os.environ["DATABASE_URL"])
    with c.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    c.close()
    return rows


def test_own_server(request):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert os.environ["PGHOST"] == "xdock-db-" + worker
    assert os.environ["PGDATABASE"] == "test_db_" + worker
    assert os.environ["APP_HOST"] == "xdock-db-" + worker
    assert request.config.getoption("--dburi") == os.environ["DATABASE_URL"]
    assert "@xdock-db-%s:5432/test_db_%s" % (worker, worker) in os.environ["DATABASE_URL"]
    # Alone on its server: no other worker's database there.
    names = [r[0] for r in q("SELECT datname FROM pg_database WHERE datname LIKE 'test_db_gw%' ORDER BY 1")]
    assert names == ["test_db_" + worker]


def test_setup_ran_in_the_controller():
    host, workers = open(os.path.join(os.path.dirname(__file__), "setup_where")).read().split()
    assert host == socket.gethostname()
    assert workers == "2"


def test_template_copied():
    assert q("SELECT x FROM item") == [(1,)]
    assert q("SELECT rolname FROM pg_roles WHERE rolname = 'app_reader'") == [("app_reader",)]
PY
xrun run -n 2 -p no:cacheprovider --db-scope server --db-setup "sh setup.sh" --env 'APP_HOST={host}' \
	--json-report "$T_TMP/r.json" . --dburi '{database_url}'
check "server scope: every test passed (rc $RC)" eq "$RC" 0
check "server scope: 3 passed (--db-setup ran in the controller's container)" \
	eq "$(json "$T_TMP/r.json" 'r["summary"].get("passed")')" 3
check "server scope: nothing left" no_leftovers_of_pid "$XPID"

# The same suite in the default scope: both workers' databases on one
# server, which the first test sees.
xrun run -n 2 -p no:cacheprovider --db-setup "sh setup.sh" --env 'APP_HOST={host}' \
	--json-report "$T_TMP/r.json" . --dburi '{database_url}'
check "database scope: the own-server test fails (rc $RC)" eq "$RC" 1

# A crashed worker's replacement and a rerun get a fresh clone of the
# template in their own server.
mkdir -p "$T_TMP/c"
cd "$T_TMP/c" || exit 1
cat >test_fresh.py <<'PY'
import os

import psycopg2

HERE = os.path.dirname(__file__)


def once(name):
    mark = os.path.join(HERE, name)
    if os.path.exists(mark):
        return False
    open(mark, "w").close()
    return True


def query(sql):
    c = psycopg2.connect(os.environ["DATABASE_URL"])
    with c.cursor() as cur:
        cur.execute(sql)
        row = cur.fetchone() if cur.description else None
    c.commit()
    c.close()
    return row


def rows(table):
    """Rows table had before this call added one (committed)."""
    query("CREATE TABLE IF NOT EXISTS %s (x int)" % table)
    n = query("SELECT count(*) FROM %s" % table)[0]
    query("INSERT INTO %s VALUES (1)" % table)
    return n


def test_a_crashes_once():
    assert rows("a") == 0
    if once("crashed"):
        os._exit(3)


def test_b_after_replacement():
    # The crash committed a row into a: the replacement's clone is fresh.
    assert query("SELECT to_regclass('a')")[0] is None


def test_c_fails_once():
    assert rows("c") == 0
    assert not once("failed"), "first try"
PY
xrun run -n 1 -p no:cacheprovider --db-scope server --reruns 1 --json-report "$T_TMP/r.json" .
check "replacement and rerun: fresh clones, all pass in the end (rc $RC)" eq "$RC" 0
check "replacement and rerun: 3 passed" eq "$(json "$T_TMP/r.json" 'r["summary"].get("passed")')" 3
check "replacement and rerun: a worker was replaced" grep -q "replacing worker gw0" "$T_TMP/err"
check "replacement and rerun: a rerun round ran" grep -q "rerunning 2 tests" "$T_TMP/err"
check "replacement and rerun: nothing left" no_leftovers_of_pid "$XPID"

xrun run -n 1 --db-scope server --db-url postgresql://u:p@127.0.0.1:1/d .
check "with --db-url: exit 4 (got $RC)" eq "$RC" 4
check "with --db-url: one line" eq "$(grep -c . "$T_TMP/err")" 1
check "with --db-url: says why" grep -q "db-scope server starts a server per worker; not with --db-url" "$T_TMP/err"
xrun run -n 1 --db-scope server --reuse-db .
check "with --reuse-db: exit 4 (got $RC)" eq "$RC" 4
xrun run -n 1 --db-scope server --db none .
check "with --db none: exit 4 (got $RC)" eq "$RC" 4
xrun run -n 1 --db-scope cluster .
check "--db-scope cluster: exit 4 (got $RC)" eq "$RC" 4
finish
