#!/usr/bin/env bash
# The whole-container OOM path: the container ends while its cgroup has
# seen an OOM kill, so the agent cannot say why and the orchestrator asks
# the engine (State.OOMKilled). The kernel never picks the agent itself:
# it is the container's PID 1, which the OOM killer passes over even with
# oom_score_adj 1000 (tried), so the test reaches that state the way a
# real one does: a process of the test dies of the memory limit (the
# cgroup's OOM kill, pytest survives), and then the container ends from
# outside (`docker kill` after the test's marker; as the host's OOM killer
# or an operator would). The reason must be the engine's ("OOM killed"),
# not the agent's ("... (the container's memory limit)"), not a plain exit
# code; the run goes on with a fresh worker.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/p/marks"
chmod 777 "$T_TMP/p/marks"
cat >"$T_TMP/p/test_oom_container.py" <<'PY'
import os, subprocess, sys, time

def test_1_before():
    pass

def test_2_hog_then_killed():
    hog = "h = []\nwhile True: h.append(bytearray(1 << 20))"
    rc = subprocess.run([sys.executable, "-c", hog]).returncode
    # The hog, not pytest, died of the cgroup's limit: SIGKILL.
    assert rc == -9, rc
    open(os.path.join(os.environ["MARK_DIR"], "oom-seen"), "w").close()
    time.sleep(600)

def test_3_after():
    pass
PY
cd "$T_TMP/p" || exit 1
"$XDOCK_BIN" run -n 1 --db none --no-history --memory 200m --env "MARK_DIR=$T_TMP/p/marks" \
	--json-report "$T_TMP/r.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
killed=
if wait_mark "$T_TMP/p/marks" >/dev/null; then
	c=$(worker_container "$XPID" gw0)
	[ -n "$c" ] && docker kill "$c" >/dev/null && killed=$c
fi
wait "$XPID"
RC=$?
out() { json "$T_TMP/r.json" "[t['$2'] for t in r['tests'] if t['nodeid'].endswith('::$1')][0]"; }
check "the hog died of the limit and our own worker's container was killed" test -n "$killed"
check "exit 1 (got $RC)" eq "$RC" 1
check "the test is crashed" eq "$(out test_2_hog_then_killed outcome)" crashed
# Only the engine's State.OOMKilled (set when the container ends) gives
# exactly this line; the agent's reason and an exit code read otherwise.
check "the reason is the engine's OOMKilled, not the agent's nor an exit code" eq \
	"$(out test_2_hog_then_killed longrepr | tail -n 1)" "OOM killed"
check "the run went on (2 passed)" eq "$(json "$T_TMP/r.json" 'r["summary"]["passed"]')" 2
check "the worker was replaced once" eq "$(grep -c "replacing worker" "$T_TMP/err")" 1
check "nothing left" no_leftovers_of_pid "$XPID"
finish
