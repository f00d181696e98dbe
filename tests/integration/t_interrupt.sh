#!/usr/bin/env bash
# Ctrl-C and SIGTERM stop a run cleanly: exit 2, the partial summary with
# the completed tests' outcomes, everything removed. SIGKILL leaves the
# containers to `xdock gc`, which removes them and only them.
. "$(dirname "$0")/lib.sh"
# Job control: background jobs then keep SIGINT, as a terminal's would.
set -m

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_slow.py" <<'PY'
import time, pytest
@pytest.mark.parametrize("i", range(60))
def test_slow(i):
    time.sleep(0.4)
PY
cd "$T_TMP/suite" || exit 1

# Waits until the run's output shows at least N finished tests.
wait_progress() {
	for _ in $(seq 1 600); do
		# Progress characters only, not the dots of the header line.
		if [ "$(grep -E '^[.FEsxXCT]+( |$)' "$T_TMP/$1" 2>/dev/null | tr -cd . | wc -c)" -ge "$2" ]; then return 0; fi
		sleep 0.1
	done
	return 1
}

for sig in INT TERM; do
	"$XDOCK_BIN" run -n 2 --json-report "$T_TMP/$sig.json" . >"$T_TMP/$sig.out" 2>&1 &
	pid=$!
	check "SIG$sig: tests were running" wait_progress "$sig.out" 6
	start=$(date +%s)
	kill -s "$sig" "$pid"
	wait "$pid"
	rc=$?
	took=$(($(date +%s) - start))
	check "SIG$sig: exit 2 (got $rc)" eq "$rc" 2
	check "SIG$sig: stopped within 15 s (took $took s)" test "$took" -le 15
	check "SIG$sig: says it was interrupted" grep -q "interrupted" "$T_TMP/$sig.out"
	check "SIG$sig: partial summary printed" grep -Eq "= [0-9]+ passed, [0-9]+ not run in" "$T_TMP/$sig.out"
	check "SIG$sig: every test accounted for" eq "$(json "$T_TMP/$sig.json" \
		'r["summary"]["passed"] + r["summary"]["not_run"] == r["summary"]["collected"] == 60 and r["summary"]["passed"] >= 6')" True
	check "SIG$sig: nothing left" no_leftovers_of_pid "$pid"
done

"$XDOCK_BIN" run -n 2 . >"$T_TMP/KILL.out" 2>&1 &
pid=$!
check "SIGKILL: tests were running" wait_progress KILL.out 4
kill -KILL "$pid"
wait "$pid" 2>/dev/null
left=$(docker ps -a --filter label=xdock.owner --format '{{.Label "xdock.owner"}}' | grep -c ":$pid:")
check "SIGKILL: the run's containers are still there ($left)" test "$left" -ge 2
# The agents see end of input and leave on their own.
for _ in $(seq 1 100); do
	running=$(docker ps --filter label=xdock.worker --format '{{.Label "xdock.owner"}}' | grep -c ":$pid:")
	[ "$running" = 0 ] && break
	sleep 0.1
done
check "SIGKILL: the workers exit by themselves" eq "$running" 0
"$XDOCK_BIN" gc >"$T_TMP/gc.out" 2>&1
check "gc: exit 0" eq "$?" 0
check "gc: says what it removed" grep -Eq "removed [1-9][0-9]* object" "$T_TMP/gc.out"
check "gc: nothing of the killed run left" no_leftovers_of_pid "$pid"
finish
