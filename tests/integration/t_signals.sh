#!/usr/bin/env bash
# A signal is heard in every phase of a run: start-up, the database's
# connect retries, --db-setup, the tests (SIGHUP here; SIGINT and SIGTERM
# in t_interrupt.sh), a --reruns round and the teardown. Each time: exit 2,
# the run over within 15 s, nothing of it left. A second signal during the
# teardown ends it at once and says what `xdock gc` will clean, and gc
# does. The signal goes when the event that marks the phase is seen (a
# container exists, a connection arrives, a marker file appears), never
# after a guessed sleep.
. "$(dirname "$0")/lib.sh"
set -m

mkdir -p "$T_TMP/suite"
cd "$T_TMP/suite" || exit 1
cat >test_phases.py <<'PY'
import os, time
HERE = os.path.dirname(os.path.abspath(__file__))

def mark(name):
    open(os.path.join(HERE, name), "w").close()

def test_quick():
    pass

def test_waits_in_run():
    if os.environ.get("PHASE") == "run":
        mark("running")
        time.sleep(600)

def test_fails_once_then_waits():
    if os.environ.get("PHASE") != "rerun":
        return
    if not os.path.exists(os.path.join(HERE, "failed_once")):
        mark("failed_once")
        assert False, "first try"
    mark("rerunning")
    time.sleep(600)
PY

# until_seen CMD...: polls (20 ms) until CMD succeeds, at most 120 s.
until_seen() {
	for _ in $(seq 1 6000); do
		"$@" && return 0
		sleep 0.02
	done
	return 1
}
has_container_of_pid() {
	docker ps -a --filter label=xdock.owner --format '{{.Label "xdock.owner"}}' | grep -q ":$PID:"
}

# begin NAME XDOCK-ARGS...: starts a run in the background (PID).
begin() {
	NAME=$1
	shift
	rm -f running failed_once rerunning setup_started
	PHASE=$NAME "$XDOCK_BIN" run "$@" >"$T_TMP/$NAME.out" 2>"$T_TMP/$NAME.err" &
	PID=$!
}

# interrupted SIGNAL WAIT-CMD...: once WAIT-CMD succeeds (the phase is
# reached), signals the run and checks exit 2, the time and leftovers.
interrupted() {
	local sig=$1 rc took start
	shift
	check "$NAME: the phase was reached" until_seen "$@"
	start=$(date +%s%N)
	kill -s "$sig" "$PID"
	wait "$PID"
	rc=$?
	took=$((($(date +%s%N) - start) / 1000000))
	check "$NAME: exit 2 (got $rc)" eq "$rc" 2
	check "$NAME: over within 15 s (took $took ms)" test "$took" -le 15000
	check "$NAME: says it was interrupted" grep -q "interrupted" "$T_TMP/$NAME.out" "$T_TMP/$NAME.err"
	check "$NAME: nothing left" no_leftovers_of_pid "$PID"
}

# Start-up: the run's first container exists.
begin startup -n 2 --db none --env PHASE .
interrupted INT has_container_of_pid

# The database's connect retries: a "server" that accepts and never
# answers; the signal goes once xdock's connection arrived.
port=$((20000 + RANDOM % 20000))
python3 - "$port" "$T_TMP/suite/connected" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
held = []
while True:
    held.append(s.accept()[0])
    open(sys.argv[2], "w").close()
PY
silent=$!
until_seen bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
rm -f connected
begin db_connect -n 1 --db-url "postgresql://u:p@127.0.0.1:$port/postgres" .
interrupted INT test -e connected
kill "$silent"
wait "$silent" 2>/dev/null

# --db-setup: the command says it started, then would run for 10 minutes.
begin db_setup -n 1 --db-setup "touch setup_started; sleep 600" .
interrupted INT test -e setup_started

# The tests, with SIGHUP (a closed terminal).
begin run -n 2 --db none --env PHASE .
interrupted HUP test -e running

# A --reruns round: the first try failed, the rerun is under way.
begin rerun -n 1 --db none --reruns 1 --env PHASE .
interrupted INT test -e rerunning

# The teardown: the report is written just before it starts.
rm -f "$T_TMP/teardown.json"
begin teardown -n 4 --db none --json-report "$T_TMP/teardown.json" .
interrupted INT test -e "$T_TMP/teardown.json"

# A second signal during the teardown ends it at once, saying what gc
# will clean; gc does.
rm -f "$T_TMP/second.json"
begin second -n 4 --db none --json-report "$T_TMP/second.json" .
check "second: the phase was reached" until_seen test -e "$T_TMP/second.json"
# Two of one kind sent at once merge into one pending signal (as two
# quick Ctrl-Cs never do): the second is a SIGTERM.
kill -INT "$PID"
kill -TERM "$PID"
start=$(date +%s%N)
wait "$PID"
rc=$?
took=$((($(date +%s%N) - start) / 1000000))
check "second: exit 2 (got $rc)" eq "$rc" 2
check "second: over within 3 s (took $took ms)" test "$took" -le 3000
check "second: says what xdock gc will clean" grep -q 'containers and networks labelled xdock.run=.* goes with `xdock gc`' "$T_TMP/second.err"
"$XDOCK_BIN" gc >/dev/null 2>&1
check "second: after xdock gc nothing left" no_leftovers_of_pid "$PID"
finish
