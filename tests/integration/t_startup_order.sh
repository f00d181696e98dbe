#!/usr/bin/env bash
# Start-up overlaps: the workers import pytest and collect while the
# template is still being migrated, yet no test starts before its worker's
# clone exists. The migration here takes a while on purpose (it waits for
# both workers to have collected, or 120 s), so a worker admitted before
# its clone would run its tests against a database that is not there and
# fail them. Every time below is the project's own marker files', written
# by the fixtures, never xdock's output.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cat >migrate.py <<'PY'
import glob, os, time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
# Both workers' collections first: what the run must allow (a bounded wait,
# so that a run that does not overlap still ends, and fails the checks).
deadline = time.time() + 120
while len(glob.glob(os.path.join(HERE, "collected-gw*"))) < 2 and time.time() < deadline:
    time.sleep(0.1)
time.sleep(1)
c = psycopg2.connect(os.environ["DATABASE_URL"])
with c, c.cursor() as cur:
    cur.execute("CREATE TABLE item (x int)")
    cur.execute("INSERT INTO item VALUES (42)")
c.close()
with open(os.path.join(HERE, "migrated"), "w") as f:
    f.write(repr(time.time()))
PY
cat >conftest.py <<'PY'
import os, time

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_finish(session):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        with open(os.path.join(HERE, "collected-" + worker), "w") as f:
            f.write(repr(time.time()))
PY
cat >test_order.py <<'PY'
import os, time

import psycopg2
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("n", range(10))
def test_sees_its_clone(n):
    # Started: the clone must exist, migrated (the template's row).
    started = time.time()
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(os.path.join(HERE, "started-%s-%d" % (worker, n)), "w") as f:
        f.write(repr(started))
    c = psycopg2.connect(os.environ["DATABASE_URL"])
    with c.cursor() as cur:
        cur.execute("SELECT current_database(), x FROM item")
        assert cur.fetchall() == [("test_db_" + worker, 42)]
    c.close()
PY

xrun run -n 2 -p no:cacheprovider --db-setup "python3 migrate.py" --json-report "$T_TMP/r.json" .
check "every test passed against its clone (rc $RC)" eq "$RC" 0
check "10 passed" eq "$(json "$T_TMP/r.json" 'r["summary"].get("passed")')" 10
check "both workers collected" test -e collected-gw0 -a -e collected-gw1
check "the template was migrated" test -e migrated
# The markers' times, in one Python: collection before the migration's end,
# every test's start after it.
order() {
	python3 - <<'PY'
import glob
def t(p):
    return float(open(p).read())
migrated = t("migrated")
collected = [t(p) for p in glob.glob("collected-gw*")]
started = [t(p) for p in glob.glob("started-*")]
ok = len(collected) == 2 and len(started) == 10
ok = ok and max(collected) < migrated and min(started) > migrated
if not ok:
    print("     collected %s, migrated %s, first test %s" % (collected, migrated, min(started, default=None)))
raise SystemExit(0 if ok else 1)
PY
}
check "the workers collected while the template was migrated; no test started before it" order
check "the report's phases say when each ran" eq "$(json "$T_TMP/r.json" \
	'all(k in r["startup_spans"] for k in ("containers_start", "db_connect", "db_template", "db_clones"))')" True
check "nothing left" no_leftovers_of_pid "$XPID"
finish
