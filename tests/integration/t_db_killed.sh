#!/usr/bin/env bash
# The embedded PostgreSQL is killed mid-run and does not come back: the
# tests that need it fail with the database's error, a worker that
# crashes afterwards cannot get a fresh clone (its replacement fails and
# its slot stays empty), the run still ends with one outcome for every
# test, in bounded time, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_pg.py" <<'PY'
import os, time, pytest, psycopg2

@pytest.mark.parametrize("i", range(30))
def test_query(i):
    time.sleep(0.3)
    if i == 20:
        os._exit(3)  # a crash after the kill: its replacement needs a clone
    with psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=3) as c, c.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
PY
cd "$T_TMP/suite" || exit 1
"$XDOCK_BIN" run -n 2 -p no:randomly --json-report "$T_TMP/r.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
killed=no
for _ in $(seq 1 600); do
	if grep -Eq '^\.{4}' "$T_TMP/out"; then
		db=$(docker ps -q --filter label=xdock.owner --filter name=-db | while read -r c; do
			docker inspect -f '{{index .Config.Labels "xdock.owner"}} {{.Id}}' "$c"
		done | grep ":$XPID:" | cut -d' ' -f2 | head -n 1)
		if [ -n "$db" ]; then
			docker kill "$db" >/dev/null && killed=yes
		fi
		break
	fi
	sleep 0.1
done
start=$(date +%s)
wait "$XPID"
RC=$?
took=$(($(date +%s) - start))
check "the database was killed mid-run" eq "$killed" yes
check "the run ended with pytest's failure code (got $RC)" eq "$RC" 1
check "the run ended within 120 s of the kill (took $took s)" test "$took" -le 120
check "every test has exactly one outcome" eq \
	"$(json "$T_TMP/r.json" 'len(r["tests"]) == len(set(t["nodeid"] for t in r["tests"])) == 30')" True
check "tests before the kill passed, some after failed" eq \
	"$(json "$T_TMP/r.json" 'r["summary"]["passed"] >= 4 and r["summary"]["failed"] + r["summary"]["error"] >= 1')" True
check "the failures carry the database's error" eq "$(json "$T_TMP/r.json" \
	'any("psycopg2" in (t.get("longrepr") or "") for t in r["tests"] if t["outcome"] in ("failed", "error"))')" True
check "the crash after the kill is crashed" eq "$(json "$T_TMP/r.json" \
	'[t["outcome"] for t in r["tests"] if t["nodeid"].endswith("[20]")]')" "['crashed']"
check "nothing left" no_leftovers_of_pid "$XPID"
finish
