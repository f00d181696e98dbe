#!/usr/bin/env bash
# PostgreSQL restarts in the middle of a run: the tests that needed it fail
# with the database's error, the run still completes with an outcome for
# every test, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

# The restart follows the tests' own markers, not the progress line (the
# controller may print it late on a loaded machine): tests 0-5 pass and
# leave a marker each, the later ones wait for the restart to begin.
mkdir -p "$T_TMP/suite/marks"
chmod 777 "$T_TMP/suite/marks"
cat >"$T_TMP/suite/test_pg.py" <<'PY'
import os, time, pytest, psycopg2

MARKS = os.environ["MARK_DIR"]

# The pause comes first: a test that finds the database down fails at
# once, and the run must outlast the restart (else its teardown removes
# the container while docker restart is between stop and start).
@pytest.mark.parametrize("i", range(40))
def test_query(i):
    if i >= 6:
        for _ in range(1200):
            if os.path.exists(os.path.join(MARKS, "restarting")):
                break
            time.sleep(0.1)
    time.sleep(0.3)
    with psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=3) as c, c.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
    if i < 6:
        open(os.path.join(MARKS, "passed-%d" % i), "w").close()
PY
cd "$T_TMP/suite" || exit 1
"$XDOCK_BIN" run -n 2 -p no:randomly --env "MARK_DIR=$T_TMP/suite/marks" --json-report "$T_TMP/r.json" . \
	>"$T_TMP/out" 2>&1 &
XPID=$!
# Once six tests passed, restart the run's own database container from outside.
restarted=no
for _ in $(seq 1 1200); do
	kill -0 "$XPID" 2>/dev/null || break
	if [ "$(ls "$T_TMP/suite/marks" | grep -c '^passed-')" -eq 6 ]; then
		db=$(docker ps -q --filter label=xdock.owner --filter 'name=-db$' | while read -r c; do
			docker inspect -f '{{index .Config.Labels "xdock.owner"}} {{.Id}}' "$c"
		done | grep ":$XPID:" | cut -d' ' -f2 | head -n 1)
		if [ -n "$db" ]; then
			touch "$T_TMP/suite/marks/restarting"
			docker restart -t 1 "$db" >/dev/null && restarted=yes
		fi
		break
	fi
	sleep 0.1
done
touch "$T_TMP/suite/marks/restarting"
wait "$XPID"
RC=$?
check "the database was restarted mid-run" eq "$restarted" yes
check "the run completed with pytest's failure code (got $RC)" eq "$RC" 1
check "every test has exactly one outcome" eq \
	"$(json "$T_TMP/r.json" 'len(r["tests"]) == len(set(t["nodeid"] for t in r["tests"])) == 40 and r["summary"]["not_run"] == 0')" True
check "tests before the restart passed, some after failed" eq \
	"$(json "$T_TMP/r.json" 'r["summary"]["passed"] >= 6 and r["summary"]["failed"] + r["summary"]["error"] >= 1')" True
check "the failures carry the database's error" eq "$(json "$T_TMP/r.json" \
	'any("psycopg2" in (t.get("longrepr") or "") for t in r["tests"] if t["outcome"] in ("failed", "error"))')" True
check "nothing left" no_leftovers_of_pid "$XPID"
finish
