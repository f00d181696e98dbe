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
	# A deadline, generous for ASan on a loaded machine; "at once" is
	# what the partial summary and the not-run reasons show.
	check "SIG$sig: stopped within 60 s (took $took s)" test "$took" -le 60
	check "SIG$sig: says it was interrupted" grep -q "interrupted" "$T_TMP/$sig.out"
	check "SIG$sig: partial summary printed" grep -Eq "= [0-9]+ passed, [0-9]+ not run in" "$T_TMP/$sig.out"
	check "SIG$sig: every test accounted for" eq "$(json "$T_TMP/$sig.json" \
		'r["summary"]["passed"] + r["summary"]["not_run"] == r["summary"]["collected"] == 60 and r["summary"]["passed"] >= 6')" True
	check "SIG$sig: nothing left" no_leftovers_of_pid "$pid"
done

# The SIGKILLed run and the gc after it live in a PID and mount namespace
# of this test's own (held by a sleep), where /proc/sys/kernel/random/boot_id
# reads as a boot id of our own making. gc never judges an owner of another
# boot, so no other run's gc or start-up sweep on this engine takes our
# killed run's leftovers, and our gc (which reads the same boot id, in the
# same namespace) judges only runs of this namespace: nothing of anyone
# else's.
unshare --pid --fork --kill-child --mount-proc sleep 3600 &
holder_unshare=$!
holder=
for _ in $(seq 1 100); do
	holder=$(pgrep -P "$holder_unshare" sleep)
	[ -n "$holder" ] && break
	sleep 0.1
done
ns=$(stat -L -c %i "/proc/$holder/ns/pid")
# Entering its mount namespace would start at /: keep the working directory.
in_ns() { nsenter -t "$holder" -p -m --wd="$PWD" -- "$@"; }
python3 -c 'import uuid; print(uuid.uuid4())' >"$T_TMP/boot_id"
in_ns mount --bind "$T_TMP/boot_id" /proc/sys/kernel/random/boot_id
check "SIGKILL: the run's namespace has a boot id of its own" eq \
	"$(in_ns cat /proc/sys/kernel/random/boot_id)" "$(cat "$T_TMP/boot_id")"
# The run's id: the one whose owner label names our namespace.
run_of_ns() {
	docker ps -a --filter label=xdock.owner --format '{{.Label "xdock.run"}} {{.Label "xdock.owner"}}' |
		awk -v ns="$ns" '{ n = split($2, f, ":"); if (n == 5 && f[3] == ns) { print $1; exit } }'
}
in_ns "$XDOCK_BIN" run -n 2 . >"$T_TMP/KILL.out" 2>&1 &
nsenter_pid=$!
check "SIGKILL: tests were running" wait_progress KILL.out 4
# xdock's pid here: the one process named xdock in the namespace.
pid=
for _ in $(seq 1 300); do
	pid=$(pgrep --ns "$holder" --nslist pid -x xdock)
	[ -n "$pid" ] && break
	sleep 0.1
done
check "SIGKILL: the run's xdock found (pid $pid)" test -n "$pid"
kill -KILL "$pid"
wait "$nsenter_pid" 2>/dev/null
run=$(run_of_ns)
left=$(docker ps -aq --filter "label=xdock.run=$run" | wc -l)
check "SIGKILL: the run's containers are still there ($left of run $run)" test -n "$run" -a "$left" -ge 2
# The agents see end of input and leave on their own.
for _ in $(seq 1 600); do
	running=$(docker ps -q --filter "label=xdock.run=$run" --filter label=xdock.worker | wc -l)
	[ "$running" = 0 ] && break
	sleep 0.1
done
check "SIGKILL: the workers exit by themselves" eq "$running" 0
in_ns "$XDOCK_BIN" gc >"$T_TMP/gc.out" 2>&1
gc_rc=$?
check "gc: exit 0 (got $gc_rc)" eq "$gc_rc" 0
check "gc: says what it removed" grep -Eq "removed [1-9][0-9]* object" "$T_TMP/gc.out"
check "gc: nothing of the killed run left" no_leftovers_of "$run"
# The holder is pid 1 of its namespace: only SIGKILL ends it.
kill -KILL "$holder" 2>/dev/null
wait "$holder_unshare" 2>/dev/null
finish
