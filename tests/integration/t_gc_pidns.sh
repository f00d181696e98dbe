#!/usr/bin/env bash
# gc's owner identity across PID namespaces: two xdock processes with one
# host name in different PID namespaces (CI jobs in containers on the host
# network) must not take each other for dead. The run below is pid 1 of
# its own namespace; a gc in a sibling namespace, where pid 1 is another
# process, must leave it alone; a gc from the initial namespace sees it
# alive, and after it was SIGKILLed, sees it gone.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_wait.py" <<'PY'
import os, time
def test_waits_for_release():
    # Says it runs (the run's containers are all up by then), and is
    # released by the script once the gcs are done; 120 s is a safety net.
    open(os.path.join(os.path.dirname(__file__), "running"), "w").close()
    for _ in range(1200):
        if os.path.exists(os.path.join(os.path.dirname(__file__), "release")):
            return
        time.sleep(0.1)
    raise AssertionError("never released")
PY
cd "$T_TMP/suite" || exit 1

# run_in_ns LOG: an xdock run as pid 1 of a new PID namespace.
run_in_ns() {
	unshare --pid --fork --kill-child --mount-proc "$XDOCK_BIN" run -n 1 --db none . >"$T_TMP/$1" 2>&1 &
	NSPID=$!
}

# Waits until a worker whose owner is in another PID namespace than ours
# runs; sets RUN to its run id.
wait_foreign_run() {
	local me
	me=$(stat -L -c %i /proc/self/ns/pid)
	for _ in $(seq 1 600); do
		RUN=$(docker ps --filter label=xdock.worker --format '{{.Label "xdock.run"}} {{.Label "xdock.owner"}}' |
			awk -v me="$me" '{ n = split($2, f, ":"); if (n == 5 && f[3] != me && f[4] == 1) { print $1; exit } }')
		[ -n "$RUN" ] && return 0
		sleep 0.1
	done
	return 1
}

workers_of() { docker ps -q --filter "label=xdock.run=$1" | wc -l; }

# Until the test says it runs: a count taken while the run still starts
# its containers would differ from one taken later without any removal.
wait_running() {
	for _ in $(seq 1 1200); do
		[ -e running ] && return 0
		sleep 0.1
	done
	return 1
}

run_in_ns live.out
check "a run in its own PID namespace started" wait_foreign_run
live=$RUN
check "its test runs" wait_running
before=$(workers_of "$live")

unshare --pid --fork --mount-proc "$XDOCK_BIN" gc >"$T_TMP/gc-sibling.out" 2>&1
check "gc in a sibling namespace: exit 0" eq "$?" 0
check "gc in a sibling namespace: the live run's containers are still there" eq "$(workers_of "$live")" "$before"
"$XDOCK_BIN" gc >"$T_TMP/gc-host.out" 2>&1
check "gc in the initial namespace: exit 0" eq "$?" 0
check "gc in the initial namespace: the live run's containers are still there" eq "$(workers_of "$live")" "$before"
touch release
wait "$NSPID"
rc=$?
check "the live run passed (got $rc)" eq "$rc" 0
check "the live run: nothing left" no_leftovers_of "$live"

# The same run SIGKILLed with its namespace: the initial namespace sees
# the namespace gone and removes what it left.
rm -f release running
run_in_ns killed.out
check "a second run in its own PID namespace started" wait_foreign_run
killed=$RUN
child=$(pgrep -P "$NSPID")
# (unshare ignores SIGTERM while it waits: its pid 1 is what gets killed.)
unshare --pid --fork --kill-child --mount-proc sleep 600 &
SIBPID=$!
for _ in $(seq 1 100); do
	sib=$(pgrep -P "$SIBPID")
	[ -n "$sib" ] && break
	sleep 0.1
done
# unshare --kill-child: its child, pid 1 of the namespace, dies with it,
# and every process of the namespace with that.
kill -KILL "$NSPID"
wait "$NSPID" 2>/dev/null
for _ in $(seq 1 100); do
	[ -e "/proc/$child" ] || break
	sleep 0.1
done
check "the namespace's xdock is gone" test ! -e "/proc/$child"
# The sibling's gc runs in a namespace made before the kill: the kernel
# hands a dead namespace's inode number to the next one made, and a
# sibling made now could carry the killed run's very number.
nsenter --target "$sib" --pid --mount "$XDOCK_BIN" gc >"$T_TMP/gc-sibling2.out" 2>&1
kill -KILL "$sib" 2>/dev/null
wait "$SIBPID" 2>/dev/null
check "gc in a sibling namespace leaves even a dead namespace's run (it cannot see it)" test "$(docker ps -aq --filter "label=xdock.run=$killed" | wc -l)" -ge 1
"$XDOCK_BIN" gc >"$T_TMP/gc-host2.out" 2>&1
check "gc in the initial namespace: exit 0" eq "$?" 0
check "gc in the initial namespace removes the killed run's objects" no_leftovers_of "$killed"
finish
