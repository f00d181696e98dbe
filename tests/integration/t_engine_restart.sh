#!/usr/bin/env bash
# The engine restarted mid-run: a run on two engines (the local one, and a
# second one over tcp+TLS) whose second engine's dockerd is killed while
# its workers run tests and started again at once on the same roots (the
# machine's own engine is never restarted: every engineer's containers
# live there). Whatever the restarted engine answers (it kills the
# containers it finds from before), every test has exactly one outcome,
# the run ends with exit 1 (the tests whose workers went are crashed)
# saying what happened, nothing of the run is left on the first engine,
# and `xdock gc --docker-host` leaves nothing of it on the second. The
# restart is what once took the first engine's docker0 with it: the
# second engine now lives in a network namespace of its own
# (lib_engine2.sh), and the first engine's docker0 is the same link
# (its ifindex) after the restart and still starts a container on its
# default bridge. Opt-in (XDOCK_ENGINE2=1): the longest of the four, see
# tests/CMakeLists.txt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_engine2.sh"

engine2_start || {
	echo "t_engine_restart: the second engine did not start" >&2
	exit 1
}
SOCK=unix:///var/run/docker.sock
engine2_busy_run || exit 1
check "the run got going on the first engine" test "$(ls marks | wc -l)" -ge 8
check "docker0 is there before the restart" ip link show docker0
ifindex=$(cat /sys/class/net/docker0/ifindex)
engine2_kill
engine2_restart
check "the second engine answers again" e2 version --format "{{.Server.Version}}"
check "docker0 is the same link after the restart (ifindex $ifindex)" \
	eq "$(cat /sys/class/net/docker0/ifindex 2>/dev/null)" "$ifindex"
restarted_at=$(date +%s)
wait "$XPID"
RC=$?
took=$(($(date +%s) - restarted_at))
tail -n 3 "$T_TMP/out"
check "exit code 1 (the tests whose workers went crashed) (got $RC)" eq "$RC" 1
check "the run ended ($took s after the restart)" test "$took" -lt 300
check "it says what happened to the second engine's workers" \
	grep -Eq "engine $E2_TCP lost|replacing worker" "$T_TMP/err"
check "every test has exactly one outcome" eq "$(json "$T_TMP/report.json" '
(len(r["tests"]), len({t["nodeid"] for t in r["tests"]}), r["summary"]["collected"])')" "(40, 40, 40)"
check "none is left without a result" eq "$(json "$T_TMP/report.json" '[t["nodeid"] for t in r["tests"] if t["outcome"] == "not run"] + [r["summary"]["not_run"]]')" "[0]"
crashed=$(json "$T_TMP/report.json" 'r["summary"]["crashed"]')
check "one or two crashes: the tests the second engine's workers were running ($crashed)" \
	test "$crashed" -ge 1 -a "$crashed" -le 2
check "every other test passed" eq "$(json "$T_TMP/report.json" 'r["summary"]["passed"] + r["summary"]["crashed"]')" 40
run=$(json "$T_TMP/report.json" 'r["run_id"]')
check "nothing of the run left on the first engine" no_leftovers_of_pid "$XPID"
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" gc --docker-host "$E2_TCP" >"$T_TMP/gc.out" 2>"$T_TMP/gc.err"
rc=$?
check "gc --docker-host on the restarted engine: exit 0 (got $rc)" eq "$rc" 0
left2=$({
	e2 ps -aq --filter "label=xdock.run=$run"
	e2 network ls -q --filter "label=xdock.run=$run"
	e2 volume ls -q --filter "label=xdock.run=$run"
} | wc -l)
check "nothing of the run left on the second engine" eq "$left2" 0

engine2_stop
check "the second engine is gone" engine2_gone
check "the first engine's docker0 is still there" ip link show docker0
check "docker0 is still the same link (ifindex $ifindex)" \
	eq "$(cat /sys/class/net/docker0/ifindex 2>/dev/null)" "$ifindex"
# A container of this test's own on the first engine's default bridge,
# removed by --rm (and by name if that fails).
c=xdock-t-engine-restart-$$
check "the first engine still starts a container on its default bridge" \
	docker run --rm --name "$c" --network bridge --label xdock.test=t_engine_restart \
	xdock/debian:bookworm sh -c 'ip -4 addr show eth0 2>/dev/null | grep -q inet || hostname -i 2>/dev/null | grep -q .'
docker rm -f "$c" >/dev/null 2>&1
finish
