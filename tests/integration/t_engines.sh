#!/usr/bin/env bash
# Two engines in one run: the local one over its unix socket (bind
# mounts) and a second one over tcp+TLS (an empty image store: the images
# are copied to it; the project is shipped). fixtures/demo has workers on
# both, one database per worker on its own engine's server (the template
# migrated on each), the same outcomes as on one engine, and nothing of
# the run is left on either engine. Runs by default where the machine can
# give the second engine a network namespace (lib_engine2.sh).
E2_DEFAULT=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_engine2.sh"

engine2_start || {
	echo "t_engines: the second engine did not start" >&2
	exit 1
}
SOCK=unix:///var/run/docker.sock
cp -r "$XDOCK_SRC/fixtures/demo" "$T_TMP/demo" || exit 1
rm -rf "$T_TMP/demo/.xdock" "$T_TMP/demo/__pycache__" "$T_TMP/demo/.pytest_cache"
cd "$T_TMP/demo" || exit 1
# Which server each worker's database is on, reported back through the
# test's own output (a shipped project's files stay on its engine).
cat >test_zserver.py <<'PY'
import os
import psycopg2

def test_record_server():
    with psycopg2.connect(os.environ["DATABASE_URL"]) as c, c.cursor() as cur:
        cur.execute("SELECT inet_server_addr()")
        addr = cur.fetchone()[0]
    print("XDOCK-SERVER", os.environ["PYTEST_XDIST_WORKER"], addr, os.environ["PGDATABASE"])
    assert False, "server %s %s %s" % (os.environ["PYTEST_XDIST_WORKER"], addr, os.environ["PGDATABASE"])
PY

DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS xrun run -n 4 -v --docker-host "$SOCK" --docker-host "$E2_TCP" \
	--db-setup "python3 migrate.py" --json-report "$T_TMP/report.json" . \
	--deselect test_zserver.py::test_record_server
tail -n 2 "$T_TMP/out"
check "exit code 0" eq "$RC" 0
check "the images were copied to the second engine" \
	grep -Eq "image xdock/python:bookworm copied from .* to $E2_TCP" "$T_TMP/err"
check "the project was shipped to it (and not to the local engine)" eq \
	"$(grep -c "shipped [0-9]* files" "$T_TMP/err") $(grep -c "shipped [0-9]* files .* to $E2_TCP" "$T_TMP/err")" "1 1"
check "-v names both engines, two workers each" eq \
	"$(grep -Ec "^xdock: engine [01] ($SOCK|$E2_TCP): [0-9]+ CPUs, 2 workers$" "$T_TMP/err")" 2
collected=$(json "$T_TMP/report.json" 'r["summary"]["collected"]')
check "the demo collected ($collected)" test "$collected" -ge 200
check "all passed, as on one engine" eq "$(json "$T_TMP/report.json" 'r["summary"]["passed"] == r["summary"]["collected"]')" True
check "gw0..gw3 alternate between the engines" eq \
	"$(json "$T_TMP/report.json" '" ".join(w["name"] + "@" + w["engine"] for w in r["workers"])')" \
	"gw0@$SOCK gw1@$E2_TCP gw2@$SOCK gw3@$E2_TCP"
check "one database per worker" eq "$(json "$T_TMP/report.json" '",".join(w["database"] for w in r["workers"])')" \
	test_db_gw0,test_db_gw1,test_db_gw2,test_db_gw3
# Each engine's workers ran tests (not necessarily every worker: one
# admitted late, its engine's server slower to start, may find the queue
# empty: xdock hands out tests as soon as a worker is admitted). On a
# loaded machine a whole engine's workers can be that late: an engine
# that ran nothing passes only if, when the run's last test began, none
# of its workers had collected or the last clone (its engine's server
# comes up later) was not made yet.
check "workers on both engines ran tests, or one's were not ready before the queue was empty" eq \
	"$(json "$T_TMP/report.json" '(lambda last: sorted(e for e in (0, 1) if
	any(w["tests"] > 0 for w in r["workers"] if w["engine_index"] == e) or
	r["startup_spans"]["db_clones"][1] > last or
	all(s.get("collected") is None or s["collected"] > last for s in r["sequences"] for w in r["workers"]
	    if w["engine_index"] == e and w["name"] == s["worker"])))(
	max(t["start"] for s in r["sequences"] for t in s["tests"]))')" "[0, 1]"
run_id=$(json "$T_TMP/report.json" 'r["run_id"]')
check "nothing of run $run_id left on the first engine" no_leftovers_of "$run_id"
check "nothing of run $run_id left on the second engine" eq "$(e2 ps -aq --filter "label=xdock.run=$run_id"
	e2 volume ls -q --filter "label=xdock.run=$run_id"
	e2 network ls -q --filter "label=xdock.run=$run_id")" ""

# Each engine's workers use that engine's server: under --dist each every
# worker runs the probe, which fails on purpose to show its server.
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS xrun run -n 2 --dist each --docker-host "$SOCK" \
	--docker-host "$E2_TCP" --db-setup "python3 migrate.py" test_zserver.py
check "the probe ran on both workers" eq "$(grep -Eo "server gw[01] [0-9.]+ test_db_gw[01]" "$T_TMP/out" | sort -u | wc -l)" 2
s0=$(grep -Eo "server gw0 [0-9.]+" "$T_TMP/out" | head -n 1 | cut -d' ' -f3)
s1=$(grep -Eo "server gw1 [0-9.]+" "$T_TMP/out" | head -n 1 | cut -d' ' -f3)
check "gw0 and gw1 use two servers ($s0, $s1)" test -n "$s0" -a -n "$s1" -a "$s0" != "$s1"
check "gw1's server is on the second engine's address pool" eq "${s1%.*.*}" "${E2_NET%.*.*}"

# An engine elsewhere publishes its server's port on its own address,
# where its network reaches it: the server has a password of the run's
# own there, not the image's; and --reuse-db, which would keep such a
# server, is refused. The test sleeps while the host knocks.
mkdir -p "$T_TMP/knock" && cd "$T_TMP/knock" || exit 1
printf 'import time\n\ndef test_wait():\n    time.sleep(60)\n' >test_wait.py
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" run -n 1 --docker-host "$E2_TCP" . \
	>"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
db=
for _ in $(seq 1 600); do
	db=$(e2 ps -q --filter "label=xdock.owner" --filter "name=-db$" | head -n 1)
	[ -n "$db" ] && [ "$(e2 inspect -f '{{.State.Running}}' "$db" 2>/dev/null)" = true ] && break
	kill -0 "$XPID" 2>/dev/null || break
	sleep 0.1
done
port=$(e2 port "$db" 5432/tcp 2>/dev/null | head -n 1 | sed 's/.*://')
pw=$(e2 inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$db" 2>/dev/null | sed -n 's/^XDOCK_PG_PASSWORD=//p')
check "the server's password is the run's own (32 hex digits)" eq "$(printf %s "$pw" | grep -Ec '^[0-9a-f]{32}$')" 1
knock() { # knock PASSWORD: what the published port says to it
	local i out
	for i in $(seq 1 100); do
		out=$(PGPASSWORD=$1 PGCONNECT_TIMEOUT=5 psql -h "$E2_IP" -p "$port" -U xdock -d postgres -Atc 'SELECT 1' 2>&1)
		case $out in
		1) echo ok && return ;;
		*"password authentication failed"*) echo refused && return ;;
		esac
		sleep 0.2
	done
	echo "no answer: $out"
}
check "the published port refuses the image's password" eq "$(knock xdock)" refused
check "and takes the run's" eq "$(knock "$pw")" ok
kill -INT "$XPID"
wait "$XPID"
check "nothing of the knocked run left on the second engine" eq "$(e2 ps -aq --filter "label=xdock.owner")" ""
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS xrun run -n 1 --docker-host "$E2_TCP" --reuse-db .
check "--reuse-db on an engine elsewhere: exit 4" eq "$RC" 4
check "saying why in one line" eq "$(grep -c 'reuse-db keeps the embedded server on an engine elsewhere' "$T_TMP/err")" 1

engine2_stop
check "the second engine is gone" engine2_gone
check "the first engine's docker0 is still there" ip link show docker0
finish
