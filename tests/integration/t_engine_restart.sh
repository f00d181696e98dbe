#!/usr/bin/env bash
# The engine restarted mid-run: a second engine (tcp+TLS, the project
# shipped) whose dockerd is killed while tests run and started again. The
# run ends (exit 3) instead of hanging; every test has exactly one
# outcome (those done keep theirs, the ones in flight crashed, the rest
# not run); the cleanup says what it could not remove; once the engine is
# back, `xdock gc` removes the run's containers and volumes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_engine2.sh"

engine2_start || {
	echo "t_engine_restart: the second engine did not start" >&2
	exit 1
}
mkdir -p "$T_TMP/suite" && cd "$T_TMP/suite" || exit 1
cat >test_slow.py <<'PY'
import time, pytest

@pytest.mark.parametrize("i", range(40))
def test_slow(i):
    time.sleep(0.5)
PY

DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" run -n 2 -v --db none --docker-host "$E2_TCP" --json-report "$T_TMP/r.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
# Killed once some tests are done (the image copy comes first).
for _ in $(seq 1 900); do
	[ "$(grep -c PASSED "$T_TMP/out")" -ge 6 ] && break
	kill -0 "$XPID" 2>/dev/null || break
	sleep 0.2
done
done_before=$(grep -c PASSED "$T_TMP/out")
engine2_kill
t0=$(date +%s)
sleep 2
engine2_restart
check "the engine came back" test "$E2_UP" = 1
for _ in $(seq 1 120); do
	kill -0 "$XPID" 2>/dev/null || break
	sleep 0.5
done
wait "$XPID"
RC=$?
check "the run ended within 60 s of the kill" test $(($(date +%s) - t0)) -le 60
check "exit 3 (the engine failed the run)" eq "$RC" 3
check "tests were done before the kill ($done_before)" test "$done_before" -ge 6
check "every test exactly one outcome" eq "$(json "$T_TMP/r.json" \
	'len(r["tests"]) == len(set(t["nodeid"] for t in r["tests"])) == r["summary"]["collected"] == 40')" True
check "the tests done before keep their outcome" test "$(json "$T_TMP/r.json" 'r["summary"]["passed"]')" -ge "$done_before"
check "the tests in flight crashed" test "$(json "$T_TMP/r.json" 'r["summary"]["crashed"]')" -ge 1
check "the others are not run" eq "$(json "$T_TMP/r.json" \
	'r["summary"]["passed"] + r["summary"]["crashed"] + r["summary"]["not_run"]')" 40
check "the cleanup says what it could not remove" grep -q "xdock: cleanup: .*$E2_TCP\|xdock: cleanup: .*Connection refused" "$T_TMP/err"
run_id=$(json "$T_TMP/r.json" 'r["run_id"]')
check "the run's containers outlived the engine's restart" test "$(e2 ps -aq --filter "label=xdock.run=$run_id" | wc -l)" -ge 1
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" gc --docker-host "$E2_TCP" >"$T_TMP/gc" 2>&1
check "xdock gc on the engine: exit 0" eq "$?" 0
check "after gc nothing of run $run_id left on the engine" eq "$(e2 ps -aq --filter "label=xdock.run=$run_id"
	e2 volume ls -q --filter "label=xdock.run=$run_id"
	e2 network ls -q --filter "label=xdock.run=$run_id")" ""
check "nothing of run $run_id on the first engine" no_leftovers_of "$run_id"
engine2_stop
check "the second engine is gone (dockerd, bridge, rule, files)" engine2_gone
finish
