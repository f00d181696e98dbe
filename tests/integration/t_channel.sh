#!/usr/bin/env bash
# The local channel: on an engine that bind-mounts this machine's files,
# the protocol goes over a unix socket beside the attach stream, past the
# engine. Shown by what the engine itself saw (a worker's `docker logs`
# holds no protocol line; with --no-local-channel it does), by the report,
# by the socket directory (empty while the run goes, gone after it), and by
# an image whose user cannot reach the socket: its agents fall back to the
# attach stream by themselves and the run is the same.
. "$(dirname "$0")/lib.sh"

proj=$T_TMP/proj
mkdir -p "$proj"
cat >"$proj/test_chan.py" <<'EOF'
import os
import time


def test_hold():
    # Holds its worker at a marker until the test script has looked.
    mark = os.environ["CHAN_MARKS"]
    open(os.path.join(mark, os.environ["PYTEST_XDIST_WORKER"]), "w").close()
    go = os.path.join(mark, "..", "go")
    for _ in range(1800):
        if os.path.exists(go):
            return
        time.sleep(0.1)
    raise AssertionError("never told to go on")


def test_a():
    assert 1 + 1 == 2


def test_b():
    assert "x".upper() == "X"


def test_fails():
    assert False
EOF
chmod -R a+rX "$T_TMP"

# held_run LABEL ARGS...: a run held at test_hold's marker; while it is
# held, $T_TMP/LABEL.logs gets the holding worker's stdout as the engine
# saw it and $T_TMP/LABEL.socks what the socket directory holds.
held_run() {
	local label=$1 mark w c
	shift
	# Inside the project: the containers see nothing else of this disk.
	mark=$proj/held/$label/marks
	mkdir -p "$mark" && chmod -R a+rwx "$proj/held"
	"$XDOCK_BIN" run -n 2 --no-history --db none --image "${IMG:-xdock/python:bookworm}" \
		--env CHAN_MARKS="$mark" --json-report "$T_TMP/$label.json" "$@" "$proj" \
		>"$T_TMP/out" 2>"$T_TMP/err" &
	XPID=$!
	w=$(wait_mark "$mark")
	c=$(worker_container "$XPID" "$w")
	echo "$c" >"$T_TMP/$label.cid"
	docker logs "$c" >"$T_TMP/$label.logs" 2>&1
	find "$proj/.xdock" -path '*/chan-*' 2>/dev/null >"$T_TMP/$label.socks"
	touch "$proj/held/$label/go"
	wait "$XPID"
	RC=$?
}

outcomes() {
	json "$1" 'sorted((t["nodeid"], t["outcome"]) for t in r["tests"])'
}

# Two socket directories a killed run could have left: one whose owner
# is gone (a pid that exited) is removed by the next run; one whose owner
# lives (this script) is not.
sleep 0 &
gone=$!
wait "$gone"
stat_start() { cut -d' ' -f22 <"/proc/$1/stat"; }
owner_of() { echo "$(hostname):$(cat /proc/sys/kernel/random/boot_id):$(stat -L -c %i /proc/self/ns/pid):$1:$2"; }
mkdir -p "$proj/.xdock/chan-$(owner_of "$gone" 1)" "$proj/.xdock/chan-$(owner_of $$ "$(stat_start $$)")"
touch "$proj/.xdock/chan-$(owner_of "$gone" 1)/gw0"

held_run chan
check "channel: a dead run's socket directory was removed" test ! -e "$proj/.xdock/chan-$(owner_of "$gone" 1)"
check "channel: a live owner's socket directory was left alone" test -d "$proj/.xdock/chan-$(owner_of $$ "$(stat_start $$)")"
rmdir "$proj/.xdock/chan-$(owner_of $$ "$(stat_start $$)")"
check "channel: exit 1, a test failed (got $RC)" eq "$RC" 1
check "channel: the held test was held, and passed" \
	eq "$(json "$T_TMP/chan.json" '[t["outcome"] for t in r["tests"] if t["nodeid"].endswith("test_hold")]')" "['passed']"
check "channel: every worker's protocol went over the local channel" \
	eq "$(json "$T_TMP/chan.json" '[w["channel"] for w in r["workers"]]')" "['local', 'local']"
check "channel: the engine relayed no protocol line of a held worker" \
	bash -c "! grep -q '\"t\":\"' '$T_TMP/chan.logs'"
check "channel: the held worker's container was found" test -s "$T_TMP/chan.cid"
check "channel: its socket was unlinked once its container started" \
	eq "$(grep -v 'chan-[^/]*$' "$T_TMP/chan.socks")" ""
check "channel: its socket directory was there, named by its owner" grep -q "/chan-[^/]*:$XPID:[0-9]*\$" "$T_TMP/chan.socks"
check "channel: no socket directory left" eq "$(find "$proj/.xdock" -path '*/chan-*')" ""
check "channel: nothing left on the engine" no_leftovers_of "$(json "$T_TMP/chan.json" 'r["run_id"]')"

held_run attach --no-local-channel
check "attach: exit 1 (got $RC)" eq "$RC" 1
check "attach: every worker's protocol over the attach stream" \
	eq "$(json "$T_TMP/attach.json" '[w["channel"] for w in r["workers"]]')" "['attach', 'attach']"
check "attach: the engine relayed the held worker's protocol" grep -q '"t":"start"' "$T_TMP/attach.logs"
check "attach: the same outcomes as over the channel" eq "$(outcomes "$T_TMP/attach.json")" "$(outcomes "$T_TMP/chan.json")"
check "attach: nothing left on the engine" no_leftovers_of "$(json "$T_TMP/attach.json" 'r["run_id"]')"

# An image whose user is not this one's: the 0700 socket directory is
# closed to it, so its agents cannot connect and say so.
img=xdock-test/chan-nobody:$$
printf 'FROM xdock/python:bookworm\nUSER 65534:65534\nLABEL xdock.test=t_channel\n' |
	docker build -q -t "$img" - >/dev/null 2>&1
if [ "$(id -u)" = 0 ]; then
	IMG=$img held_run nobody -p no:cacheprovider
	check "fallback: exit 1 (got $RC)" eq "$RC" 1
	check "fallback: the workers fell back to the attach stream" \
		eq "$(json "$T_TMP/nobody.json" '[w["channel"] for w in r["workers"]]')" "['attach', 'attach']"
	check "fallback: the engine relayed the held worker's protocol" grep -q '"t":"start"' "$T_TMP/nobody.logs"
	check "fallback: its agent said it could not reach the channel" grep -q '"t":"nochan"' "$T_TMP/nobody.logs"
	check "fallback: the same outcomes" eq "$(outcomes "$T_TMP/nobody.json")" "$(outcomes "$T_TMP/chan.json")"
	check "fallback: no socket directory left" eq "$(find "$proj/.xdock" -path '*/chan-*')" ""
	check "fallback: nothing left on the engine" no_leftovers_of "$(json "$T_TMP/nobody.json" 'r["run_id"]')"
fi
docker rmi -f "$img" >/dev/null
finish
