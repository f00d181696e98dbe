#!/usr/bin/env bash
# Dead runs' databases go without `gc --db-url`:
#  - on a --db-url server, a run sweeps them at its start: run A (-n 2) is
#    SIGKILLed with both workers in the test, leaving its template,
#    test_db_gw0 and test_db_gw1; run B (-n 1) re-makes the template and
#    gw0 as its own, and its start dropped A's gw1, which no later run
#    would have made again. B's test says whether gw1 was still there when it ran.
#  - on a kept --reuse-db server, plain `xdock gc` sweeps them: run K is
#    SIGKILLed the same way; gc drops what it left there. The kept server
#    is this test's own (a --db-option unique to it), removed at the end.
# The killed runs are --dist each: every worker gets the test, so both are
# in it at once. With --dist load the worker that collects first is given
# up to three tests: both of a two-test run, the other worker none.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_env.sh"

opt="application_name=t-gc-dead-$$"
kept() { docker ps -a --no-trunc --filter label=xdock.role=db --format '{{.ID}} {{.Label "xdock.db-options"}}' |
	awk -v o="$opt" '$2 == o { print $1 }'; }
xpid=
cleanup() {
	[ -n "$xpid" ] && kill -9 "$xpid" 2>/dev/null
	pg_stop
	for id in $(kept); do docker rm -f "$id" >/dev/null 2>&1; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT
pg_up "t-gc-dead-$$" || exit 1
pg=$PG_CONTAINER
url=$PG_ADMIN_URL
# dbs CONTAINER: the test_db_* databases on that server, in one line.
dbs() {
	PG_CONTAINER=$1 pg_q "select string_agg(datname, ' ' order by datname) from pg_database where datname like 'test_db_%'"
}

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cat >test_hold.py <<'PY'
import os
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))


def test_hold():
    phase = os.environ["PHASE"]
    worker = os.environ["PYTEST_XDIST_WORKER"]
    c = psycopg2.connect(os.environ["DATABASE_URL"])
    c.autocommit = True
    with c.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test_db_gw%' ORDER BY 1")
        seen = " ".join(r[0] for r in cur.fetchall())
    c.close()
    with open(os.path.join(HERE, "seen-%s-%s" % (phase, worker)), "w") as f:
        f.write(seen)
    open(os.path.join(HERE, "started-%s-%s" % (phase, worker)), "w").close()
    for _ in range(1800):
        if os.path.exists(os.path.join(HERE, "release-" + phase)):
            return
        time.sleep(0.1)
    raise AssertionError("never released")
PY
# kill_in_tests PHASE ARGS...: a run at -n 2, both workers held in the
# test, SIGKILLed.
kill_in_tests() {
	local phase=$1
	shift
	"$XDOCK_BIN" run -p no:cacheprovider -n 2 --dist each --env "PHASE=$phase" "$@" . \
		>"$T_TMP/$phase.out" 2>"$T_TMP/$phase.err" &
	xpid=$!
	check "run $phase: both workers in the test" wait_for "run $phase" \
		bash -c "[ -e started-$phase-gw0 ] && [ -e started-$phase-gw1 ]"
	kill -9 "$xpid"
	wait "$xpid" 2>/dev/null
	killed=$xpid
	xpid=
}

kill_in_tests a --db-url "$url"
check "run A left its template and two worker databases" eq "$(dbs "$pg")" "test_db_gw0 test_db_gw1 test_db_template"
touch release-b
xrun run -p no:cacheprovider -n 1 --env PHASE=b --db-url "$url" .
check "run B passed (rc $RC)" eq "$RC" 0
check "run B's test saw only its own gw0: its start dropped A's gw1" eq "$(cat seen-b-gw0 2>&1)" "test_db_gw0"
check "run B: nothing of A left on the server after it" eq "$(dbs "$pg")" ""
check "run B: nothing left" no_leftovers_of_pid "$XPID"
check "run A: its containers gone (B's start swept them)" no_leftovers_of_pid "$killed"

kill_in_tests k --reuse-db --db-option "$opt"
srv=$(kept)
check "run K: a kept server of its own settings" test -n "$srv"
check "run K left its template and two worker databases on it" \
	eq "$(dbs "$srv")" "test_db_gw0 test_db_gw1 test_db_template"
"$XDOCK_BIN" gc >"$T_TMP/gc.out" 2>"$T_TMP/gc.err"
rc=$?
check "plain gc: exit 0 (got $rc)" eq "$rc" 0
check "plain gc: says what it dropped on the kept servers" \
	grep -Eq "dropped [0-9]+ databases? on [0-9]+ kept --reuse-db servers?" "$T_TMP/gc.out"
check "plain gc: nothing of K left on its kept server" eq "$(dbs "$srv")" ""
check "plain gc: the kept server stays" eq "$(docker inspect -f '{{.State.Running}}' "$srv" 2>&1)" true
check "run K: its containers gone" no_leftovers_of_pid "$killed"
finish
