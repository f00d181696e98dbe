#!/usr/bin/env bash
# An engine that stops answering on an open stream: a run on two engines
# (the local one, and a second one over tcp+TLS), with no --timeout, whose
# second engine's dockerd and containerd are frozen (SIGSTOP) once a test
# there has marked its start. Its connections stay open and nothing comes
# on them; no stream ends. The run still ends on its own: the second
# engine's workers go silent with tests in flight, the engine answers no
# ping, and it is lost as if its streams had ended: the test it was
# running is a crash naming the lost engine, every test has exactly one
# outcome (JSON and JUnit), what it held runs on the first engine, the
# teardown does not wait on it, and the run says what `xdock gc
# --docker-host` removes there. Thawed, the engine is swept by gc (the
# run's objects counted by its label before and after). Then a healthy
# engine whose one worker runs a test longer than the silence threshold
# is asked, answers, and is not lost. Opt-in (XDOCK_ENGINE2=1): see
# tests/CMakeLists.txt. --db none: the databases of a lost engine are
# t_engine_lost's; here only the shipped project and the agent travel.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_engine2.sh"

N=24
# How long after the freeze the run may take to end: the silence
# threshold (15 s), two pings (5 s each), the lost slots started again on
# the first engine and the rest of the tests, and a teardown, on a loaded
# machine in the ASan tree. Without the feature the run never ends.
BOUND=180

engine2_start || {
	echo "t_engine_silent: the second engine did not start" >&2
	exit 1
}
SOCK=unix:///var/run/docker.sock

# xdock PID ends within $1 s, or is ended (TERM, then KILL after 60 s);
# RC its exit code; 1 when it had to be ended.
wait_or_end() {
	local i ended=0
	for i in $(seq 1 $(($1 * 10))); do
		kill -0 "$XPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$XPID" 2>/dev/null; then
		ended=1
		kill -TERM "$XPID" 2>/dev/null
		for i in $(seq 1 600); do
			kill -0 "$XPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$XPID" 2>/dev/null
	fi
	wait "$XPID"
	RC=$?
	return "$ended"
}

# The run: N tests of two seconds each, each marking its start in marks/
# (the first engine's in the bind-mounted project, the second one's in its
# shipped copy, read from its volume: engine2_files).
mkdir -p "$T_TMP/p/marks" && cd "$T_TMP/p" || exit 1
cat >test_held.py <<PY
import os
import time

import pytest

@pytest.mark.parametrize("i", range($N))
def test_held(i):
    marks = os.path.join(os.path.dirname(__file__), "marks")
    os.makedirs(marks, exist_ok=True)  # an empty directory is not shipped
    open(os.path.join(marks, "%02d" % i), "w").close()
    time.sleep(2)
PY
: >conftest.py
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" run -n 4 --db none --docker-host "$SOCK" \
	--docker-host "$E2_TCP" --json-report "$T_TMP/report.json" --junitxml "$T_TMP/junit.xml" . \
	>"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
for _ in $(seq 1 3000); do
	[ -n "$(engine2_files marks)" ] && break
	kill -0 "$XPID" 2>/dev/null || break
	sleep 0.1
done
check "a test started on the second engine" test -n "$(engine2_files marks)"
engine2_freeze
frozen_at=$(date +%s)
started2=$(engine2_files marks | tr '\n' ' ')
echo "     frozen with these started on the second engine: $started2"
wait_or_end "$BOUND"
ended=$?
took=$(($(date +%s) - frozen_at))
tail -n 3 "$T_TMP/out"
grep "engine $E2_TCP lost" "$T_TMP/err" | cut -c 1-200
check "the run ended on its own, no --timeout ($took s after the freeze)" eq "$ended" 0
check "the loss is said, naming the engine and why" \
	grep -q "engine $E2_TCP lost: its workers said nothing for [0-9]* s while xdock waited on them, and it answered no ping" \
	"$T_TMP/err"
check "what is left there is named, with the command that removes it" \
	grep -q "engine $E2_TCP was lost: what run [0-9a-f]* left there .* goes with \`xdock gc --docker-host $E2_TCP\`" \
	"$T_TMP/err"
check "the lost slots were started again" grep -q "replacing worker gw[13]" "$T_TMP/err"
check "every test has exactly one outcome in the JSON report" eq "$(json "$T_TMP/report.json" '
(len(r["tests"]), len({t["nodeid"] for t in r["tests"]}), r["summary"]["collected"])')" "($N, $N, $N)"
check "every test has exactly one outcome in the JUnit report" eq "$(python3 -c '
import sys, xml.etree.ElementTree as ET
cases = [(c.get("classname"), c.get("name")) for c in ET.parse(sys.argv[1]).iter("testcase")]
print(len(cases), len(set(cases)))' "$T_TMP/junit.xml")" "$N $N"
check "none is left without a result" eq "$(json "$T_TMP/report.json" '
([t["nodeid"] for t in r["tests"] if t["outcome"] == "not run"], r["summary"]["not_run"])')" "([], 0)"
crashed=$(json "$T_TMP/report.json" 'r["summary"]["crashed"]')
check "at most two crashes: the tests the two frozen workers were running ($crashed)" test "$crashed" -le 2
check "each crash names the lost engine" eq "$(json "$T_TMP/report.json" '
all("was lost" in (t.get("longrepr") or "") + (t.get("reason") or "") for t in r["tests"] if t["outcome"] == "crashed")')" True
check "every other test passed" eq "$(json "$T_TMP/report.json" 'r["summary"]["passed"] + r["summary"]["crashed"]')" "$N"
check "exit code 1 with a crash, 0 without (got $RC, $crashed crashed)" eq "$RC" "$([ "$crashed" -gt 0 ] && echo 1 || echo 0)"
# What the second engine held and never reported ran on the first: every
# test not started there before the freeze has its mark on the first.
check "every test not started on the second engine before the freeze ran on the first" eq "$(python3 -c '
import os, sys
first = set(os.listdir("marks"))
before = set(sys.argv[2].split())
print(sorted({"%02d" % i for i in range(int(sys.argv[1]))} - before - first))' "$N" "$started2")" "[]"
check "the lost slots ended on the first engine" eq "$(json "$T_TMP/report.json" '[w["engine"] for w in r["workers"]]')" \
	"['$SOCK', '$SOCK', '$SOCK', '$SOCK']"
check "nothing of the run left on the first engine" no_leftovers_of_pid "$XPID"

engine2_thaw
check "the second engine answers once thawed" e2 version --format "{{.Server.Version}}"
run=$(json "$T_TMP/report.json" 'r["run_id"]')
left2() {
	{
		e2 ps -aq --filter "label=xdock.run=$run"
		e2 network ls -q --filter "label=xdock.run=$run"
		e2 volume ls -q --filter "label=xdock.run=$run"
	} | wc -l
}
check "the run's objects were left on the lost engine (nothing was sent to it)" test "$(left2)" -gt 0
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" gc --docker-host "$E2_TCP" >"$T_TMP/gc.out" 2>"$T_TMP/gc.err"
rc=$?
check "gc --docker-host on the thawed engine: exit 0 (got $rc)" eq "$rc" 0
check "nothing of the run left on the second engine" eq "$(left2)" 0

# A healthy engine whose one worker is silent in a test longer than the
# silence threshold: asked (-v says so), it answers and is not lost.
mkdir -p "$T_TMP/q" && cd "$T_TMP/q" || exit 1
cat >test_long.py <<'PY'
import time

def test_long():
    time.sleep(24)
PY
: >conftest.py
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" run -n 1 -v --db none --docker-host "$E2_TCP" \
	--json-report "$T_TMP/report2.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
wait_or_end 300
check "the long test's run ended: exit 0 (got $RC)" eq "$RC" 0
check "the long test passed" eq "$(json "$T_TMP/report2.json" '[t["outcome"] for t in r["tests"]]')" "['passed']"
check "the silent worker's engine was asked and answered" \
	grep -q "engine $E2_TCP answers, its workers silent for [0-9]* s: not lost" "$T_TMP/out" "$T_TMP/err"
check "the healthy engine was not lost" eq "$(grep -c "engine [^ ]* lost\|was lost" "$T_TMP/err")" 0
check "nothing of the long test's run left on the second engine" eq "$(run=$(json "$T_TMP/report2.json" 'r["run_id"]') left2)" 0

engine2_stop
check "the second engine is gone" engine2_gone
check "the first engine's docker0 is still there" ip link show docker0
finish
