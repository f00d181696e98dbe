#!/usr/bin/env bash
# Every outcome once, counted right, with pytest's exit codes; -k and -m
# selection pass through to pytest in the containers; the JUnit XML and the
# JSON report agree; a worker sees the environment pytest-xdist sets.
. "$(dirname "$0")/lib.sh"

# From a copy: a run writes its history (.xdock/) into the project
# directory, never into the source tree.
cp -r "$XDOCK_SRC/fixtures/mixed" "$T_TMP/mixed" || exit 1
rm -rf "$T_TMP/mixed/.xdock" "$T_TMP/mixed/__pycache__"
cd "$T_TMP/mixed" || exit 1
xrun run -n 2 --json-report "$T_TMP/r.json" --junitxml "$T_TMP/j.xml" .
check "a failing suite exits 1 (got $RC)" eq "$RC" 1
for kv in collected=8 passed=3 failed=1 error=1 skipped=1 xfailed=1 xpassed=1 crashed=0 timeout=0; do
	check "summary ${kv%=*} is ${kv#*=}" eq "$(json "$T_TMP/r.json" "r['summary']['${kv%=*}']")" "${kv#*=}"
done
check "summary line in pytest's order" grep -Eq \
	"= 1 failed, 3 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 error in [0-9.]+s =" "$T_TMP/out"
check "the failure's text is shown" grep -q "FAILED test_mixed.py::test_beta_fails" "$T_TMP/out"
check "junit: 8 tests, 1 failure, 1 error, 2 skipped" eq "$(python3 -c '
import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot().find("testsuite")
print(s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped"))' "$T_TMP/j.xml")" "8 1 1 2"
check "junit classname and name as pytest writes them" eq "$(python3 -c '
import sys, xml.etree.ElementTree as E
c = [t for t in E.parse(sys.argv[1]).iter("testcase") if t.get("name") == "test_beta_fails"][0]
print(c.get("classname"), c.find("failure") is not None)' "$T_TMP/j.xml")" "test_mixed True"
check "database per worker in the report" eq "$(json "$T_TMP/r.json" '[w["database"] for w in r["workers"]]')" \
	"['test_db_gw0', 'test_db_gw1']"
check "nothing left" no_leftovers_of_pid "$XPID"

xrun run -n 2 --db none --json-report "$T_TMP/k.json" . -k alpha
check "-k alpha: exit 0 (got $RC)" eq "$RC" 0
check "-k alpha: exactly the three alpha tests" eq \
	"$(json "$T_TMP/k.json" 'sorted(t["nodeid"] for t in r["tests"])')" \
	"['test_mixed.py::test_alpha_one', 'test_mixed.py::test_alpha_three', 'test_mixed.py::test_alpha_two']"

xrun run -n 2 --db none --json-report "$T_TMP/m.json" -m slowish .
check "-m before the path passes through: exit 0 (got $RC)" eq "$RC" 0
check "-m slowish: one test" eq "$(json "$T_TMP/m.json" '[t["nodeid"] for t in r["tests"]]')" \
	"['test_mixed.py::test_alpha_three']"

xrun run -n 2 --db none . -k no_such_test_name
check "nothing selected: exit 5 like pytest (got $RC)" eq "$RC" 5

xrun run -n 2 --db none --json-report "$T_TMP/n.json" test_mixed.py::test_alpha_one test_mixed.py::test_beta_xpass
check "node ids pass through: two tests, exit 0 (got $RC)" eq "$RC/$(json "$T_TMP/n.json" 'len(r["tests"])')" "0/2"

xrun run -n 4 --db none --json-report "$T_TMP/few.json" test_mixed.py::test_alpha_one test_mixed.py::test_alpha_two
check "fewer tests than workers: exit 0 (got $RC)" eq "$RC/$(json "$T_TMP/few.json" 'r["summary"]["passed"]')" "0/2"
check "fewer tests than workers: nothing left" no_leftovers_of_pid "$XPID"

# What a worker sees: the variables pytest-xdist sets, and its database.
mkdir -p "$T_TMP/env"
cat >"$T_TMP/env/test_env.py" <<'PY'
import os
def test_env(worker_id, testrun_uid):
    w = os.environ["PYTEST_XDIST_WORKER"]
    assert w == worker_id and w.startswith("gw")
    assert os.environ["PYTEST_XDIST_WORKER_COUNT"] == "3"
    assert os.environ["PYTEST_XDIST_TESTRUNUID"] == testrun_uid
    assert os.environ["DATABASE_URL"].endswith("/test_db_" + w)
    assert os.environ["PGDATABASE"] == "test_db_" + w
    for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"):
        assert os.environ[k]
    import psycopg2
    with psycopg2.connect(os.environ["DATABASE_URL"]) as c, c.cursor() as cur:
        cur.execute("select current_database()")
        assert cur.fetchone()[0] == "test_db_" + w
PY
cd "$T_TMP/env" || exit 1
xrun run -n 3 --json-report "$T_TMP/e.json" .
check "worker environment as under pytest-xdist (got $RC)" eq "$RC" 0
check "nothing left" no_leftovers_of_pid "$XPID"
finish
