#!/usr/bin/env bash
# PostgreSQL restarts in the middle of a run: the tests that needed it fail
# with the database's error, the run still completes with an outcome for
# every test, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_pg.py" <<'PY'
import os, time, pytest, psycopg2

# The pause comes first: a test that finds the database down fails at
# once, and the run must outlast the restart (else its teardown removes
# the container while docker restart is between stop and start).
@pytest.mark.parametrize("i", range(40))
def test_query(i):
    time.sleep(0.3)
    with psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=3) as c, c.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
PY
cd "$T_TMP/suite" || exit 1
"$XDOCK_BIN" run -n 2 --json-report "$T_TMP/r.json" . >"$T_TMP/out" 2>&1 &
XPID=$!
# Once tests run, restart the run's own database container from outside.
restarted=no
for _ in $(seq 1 600); do
	if grep -Eq '^\.{4}' "$T_TMP/out"; then
		db=$(docker ps -q --filter label=xdock.owner --filter name=-db | while read -r c; do
			docker inspect -f '{{index .Config.Labels "xdock.owner"}} {{.Id}}' "$c"
		done | grep ":$XPID:" | cut -d' ' -f2 | head -n 1)
		if [ -n "$db" ]; then
			docker restart -t 1 "$db" >/dev/null && restarted=yes
		fi
		break
	fi
	sleep 0.1
done
wait "$XPID"
RC=$?
check "the database was restarted mid-run" eq "$restarted" yes
check "the run completed with pytest's failure code (got $RC)" eq "$RC" 1
check "every test has exactly one outcome" eq \
	"$(json "$T_TMP/r.json" 'len(r["tests"]) == len(set(t["nodeid"] for t in r["tests"])) == 40 and r["summary"]["not_run"] == 0')" True
check "tests before the restart passed, some after failed" eq \
	"$(json "$T_TMP/r.json" 'r["summary"]["passed"] >= 4 and r["summary"]["failed"] + r["summary"]["error"] >= 1')" True
check "the failures carry the database's error" eq "$(json "$T_TMP/r.json" \
	'any("psycopg2" in (t.get("longrepr") or "") for t in r["tests"] if t["outcome"] in ("failed", "error"))')" True
check "nothing left" no_leftovers_of_pid "$XPID"
finish
