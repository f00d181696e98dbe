#!/usr/bin/env bash
# Faults inside tests: os._exit, a segfault, a hang past --timeout, and a
# worker container killed from outside. Every collected test must end with
# exactly one outcome, crashed workers are replaced, the run goes on, and
# nothing is left behind.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_faults.py" <<'PY'
import os, signal, time, pytest

@pytest.mark.parametrize("i", range(12))
def test_before(i):
    time.sleep(0.02)

def test_exit():
    os._exit(3)

def test_segv():
    os.kill(os.getpid(), signal.SIGSEGV)

def test_hang():
    time.sleep(120)

@pytest.mark.parametrize("i", range(12))
def test_after(i):
    time.sleep(0.02)

def test_killed_from_outside():
    # The test harness kills this container with `docker kill` once it
    # sees the marker file; until then, wait.
    open(os.environ["MARK_DIR"] + "/killme-" + os.environ["PYTEST_XDIST_WORKER"], "w").close()
    time.sleep(60)
PY
mkdir -p "$T_TMP/suite/marks"
chmod 777 "$T_TMP/suite/marks"
cd "$T_TMP/suite" || exit 1

# Watches for the marker and kills the container of the worker that wrote
# it, from outside, as an operator or the OOM killer of the host would.
(
	for _ in $(seq 1 600); do
		f=$(ls marks 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			w=${f#killme-}
			c=$(docker ps -q --filter "label=xdock.worker=$w" --filter "label=xdock.owner" | head -n 1)
			[ -n "$c" ] && docker kill "$c" >/dev/null 2>&1
			exit 0
		fi
		sleep 0.1
	done
) &
killer=$!

"$XDOCK_BIN" run -n 2 --db none --timeout 3 --env "MARK_DIR=$T_TMP/suite/marks" --json-report "$T_TMP/r.json" . \
	-o "python_files=test_*.py" >"$T_TMP/out" 2>&1 &
XPID=$!
wait "$XPID"
RC=$?
kill "$killer" 2>/dev/null
wait "$killer" 2>/dev/null
tail -n 8 "$T_TMP/out"

check "exit code 1 (got $RC)" eq "$RC" 1
check "report written" test -s "$T_TMP/r.json"
check "every collected test has exactly one entry" eq \
	"$(json "$T_TMP/r.json" 'len(r["tests"]) == len(set(t["nodeid"] for t in r["tests"])) == r["summary"]["collected"] == 28')" True
check "no test left without an outcome" eq "$(json "$T_TMP/r.json" 'r["summary"]["not_run"]')" 0
outcome() { json "$T_TMP/r.json" "[t['outcome'] for t in r['tests'] if t['nodeid'].endswith('$1')][0]"; }
check "os._exit is crashed" eq "$(outcome ::test_exit)" crashed
check "segfault is crashed" eq "$(outcome ::test_segv)" crashed
check "segfault names signal 11" eq "$(json "$T_TMP/r.json" "[t for t in r['tests'] if t['nodeid'].endswith('::test_segv')][0]['longrepr'].count('signal 11') > 0")" True
check "hang is timeout" eq "$(outcome ::test_hang)" timeout
check "hang's stack is in the report" eq "$(json "$T_TMP/r.json" "'test_hang' in [t for t in r['tests'] if t['nodeid'].endswith('::test_hang')][0].get('stdout','')")" True
check "killed from outside is crashed" eq "$(outcome ::test_killed_from_outside)" crashed
check "the other 24 tests passed" eq "$(json "$T_TMP/r.json" 'r["summary"]["passed"]')" 24
check "workers were replaced" grep -q "replacing worker" "$T_TMP/out"
check "nothing left of the run" no_leftovers_of_pid "$XPID"

# Past the container's memory limit: the kernel kills the runner, the agent
# reads the cgroup's OOM counter and says so.
mkdir -p "$T_TMP/oom"
cat >"$T_TMP/oom/test_oom.py" <<'PY'
def test_before():
    assert True

def test_hog():
    hoard = []
    for _ in range(4096):
        hoard.append(bytearray(1 << 20))

def test_after():
    assert True
PY
cd "$T_TMP/oom" || exit 1
xrun run -n 1 --db none --memory 200m --json-report "$T_TMP/oom.json" .
check "OOM: exit 1 (got $RC)" eq "$RC" 1
check "OOM: the hog is crashed" eq "$(json "$T_TMP/oom.json" "[t['outcome'] for t in r['tests'] if t['nodeid'].endswith('::test_hog')][0]")" crashed
check "OOM: the reason says OOM killed" eq "$(json "$T_TMP/oom.json" "'OOM killed' in [t['longrepr'] for t in r['tests'] if t['nodeid'].endswith('::test_hog')][0]")" True
check "OOM: the run went on (2 passed)" eq "$(json "$T_TMP/oom.json" 'r["summary"]["passed"]')" 2
check "OOM: nothing left" no_leftovers_of_pid "$XPID"
# The agent itself stops answering (its container frozen with docker
# pause): past --timeout and a grace the orchestrator kills the container,
# the test is a crash, and a fresh worker runs the rest.
mkdir -p "$T_TMP/frozen/marks"
chmod 777 "$T_TMP/frozen/marks"
cat >"$T_TMP/frozen/test_frozen.py" <<'PY'
import os, time
def test_before():
    pass
def test_frozen():
    open(os.environ["MARK_DIR"] + "/freeze-" + os.environ["PYTEST_XDIST_WORKER"], "w").close()
    time.sleep(3)
def test_after():
    pass
PY
cd "$T_TMP/frozen" || exit 1
"$XDOCK_BIN" run -n 1 --db none --timeout 1 --env "MARK_DIR=$T_TMP/frozen/marks" \
	--json-report "$T_TMP/frozen.json" . >"$T_TMP/frozen.out" 2>&1 &
XPID=$!
for _ in $(seq 1 600); do
	if [ -n "$(ls marks)" ]; then
		c=$(docker ps -q --filter label=xdock.worker=gw0 --filter label=xdock.owner | while read -r id; do
			docker inspect -f '{{index .Config.Labels "xdock.owner"}} {{.Id}}' "$id"
		done | grep ":$XPID:" | cut -d' ' -f2)
		[ -n "$c" ] && docker pause "$c" >/dev/null
		break
	fi
	sleep 0.1
done
wait "$XPID"
RC=$?
check "silent agent: exit 1 (got $RC)" eq "$RC" 1
check "silent agent: the frozen test is crashed, saying why" eq "$(json "$T_TMP/frozen.json" \
	"[t['outcome'] + ':' + str('stopped answering' in t['longrepr']) for t in r['tests'] if t['nodeid'].endswith('::test_frozen')][0]")" crashed:True
check "silent agent: a fresh worker ran the rest" eq "$(json "$T_TMP/frozen.json" 'r["summary"]["passed"]')" 2
check "silent agent: nothing left" no_leftovers_of_pid "$XPID"

# Every test crashes its worker: past --max-worker-restart the run stops,
# the tests it did not reach are reported not run with the reason.
mkdir -p "$T_TMP/crashy"
cat >"$T_TMP/crashy/test_crashy.py" <<'PY'
import os, pytest
@pytest.mark.parametrize("i", range(6))
def test_crash(i):
    os._exit(1)
PY
cd "$T_TMP/crashy" || exit 1
xrun run -n 1 --db none --max-worker-restart 2 --json-report "$T_TMP/crashy.json" .
check "restart limit: exit 1 (got $RC)" eq "$RC" 1
check "restart limit: 3 crashed (1 + 2 replacements), 3 not run" eq \
	"$(json "$T_TMP/crashy.json" '(r["summary"]["crashed"], r["summary"]["not_run"], len(r["tests"]))')" "(3, 3, 6)"
check "restart limit: the reason names the limit" eq "$(json "$T_TMP/crashy.json" \
	'all("--max-worker-restart" in t["reason"] for t in r["tests"] if t["outcome"] == "not run")')" True
check "restart limit: nothing left" no_leftovers_of_pid "$XPID"
finish
