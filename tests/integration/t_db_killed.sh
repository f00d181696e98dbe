#!/usr/bin/env bash
# The embedded PostgreSQL is killed mid-run and does not come back: the
# tests that need it fail with the database's error, a worker that
# crashes afterwards cannot get a fresh clone (its replacement fails and
# its slot stays empty), the run still ends with one outcome for every
# test, in bounded time, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

# The kill is driven by events, not by the progress line (the controller
# may print it late on a loaded machine): tests 0-5 query and leave a
# marker each; the later tests wait for the kill's own marker before they
# run, so the kill lands after exactly six passes and before the crash.
mkdir -p "$T_TMP/suite/marks"
chmod 777 "$T_TMP/suite/marks"
cat >"$T_TMP/suite/test_pg.py" <<'PY'
import os, time, pytest, psycopg2

MARKS = os.environ["MARK_DIR"]

@pytest.mark.parametrize("i", range(30))
def test_query(i):
    if i >= 6:
        for _ in range(1200):
            if os.path.exists(os.path.join(MARKS, "killed")):
                break
            time.sleep(0.1)
    if i == 20:
        os._exit(3)  # a crash after the kill: its replacement needs a clone
    with psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=3) as c, c.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
    if i < 6:
        open(os.path.join(MARKS, "passed-%d" % i), "w").close()
PY
cd "$T_TMP/suite" || exit 1
"$XDOCK_BIN" run -n 2 -p no:randomly --env "MARK_DIR=$T_TMP/suite/marks" --json-report "$T_TMP/r.json" . \
	>"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
killed=no
for _ in $(seq 1 1200); do
	kill -0 "$XPID" 2>/dev/null || break
	if [ "$(ls "$T_TMP/suite/marks" | grep -c '^passed-')" -eq 6 ]; then
		db=$(docker ps -q --filter label=xdock.owner --filter 'name=-db$' | while read -r c; do
			docker inspect -f '{{index .Config.Labels "xdock.owner"}} {{.Id}}' "$c"
		done | grep ":$XPID:" | cut -d' ' -f2 | head -n 1)
		if [ -n "$db" ]; then
			docker kill "$db" >/dev/null && killed=yes
		fi
		break
	fi
	sleep 0.1
done
touch "$T_TMP/suite/marks/killed"
start=$(date +%s)
wait "$XPID"
RC=$?
took=$(($(date +%s) - start))
check "the database was killed mid-run" eq "$killed" yes
check "the run ended with pytest's failure code (got $RC)" eq "$RC" 1
check "the run ended within 120 s of the kill (took $took s)" test "$took" -le 120
check "every test has exactly one outcome" eq \
	"$(json "$T_TMP/r.json" 'len(r["tests"]) == len(set(t["nodeid"] for t in r["tests"])) == 30')" True
check "the six tests before the kill passed, the later ones failed" eq \
	"$(json "$T_TMP/r.json" '(r["summary"]["passed"], r["summary"]["failed"] + r["summary"]["error"])')" "(6, 23)"
check "the failures carry the database's error" eq "$(json "$T_TMP/r.json" \
	'any("psycopg2" in (t.get("longrepr") or "") for t in r["tests"] if t["outcome"] in ("failed", "error"))')" True
check "the crash after the kill is crashed" eq "$(json "$T_TMP/r.json" \
	'[t["outcome"] for t in r["tests"] if t["nodeid"].endswith("[20]")]')" "['crashed']"
check "nothing left" no_leftovers_of_pid "$XPID"
finish
