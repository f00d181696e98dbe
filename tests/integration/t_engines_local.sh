#!/usr/bin/env bash
# Several engines in one run, on one machine without a second dockerd:
# the local engine given twice is two engines to xdock (each its own run
# network, embedded PostgreSQL and template, names kept apart), so the
# placement, the per-engine databases and the teardown of each are what
# runs here. fixtures/demo passes as on one engine, the workers alternate
# between the engines, the two halves use two different PostgreSQL
# servers, and nothing is left. XDOCK_DOCKER_HOSTS says the same with -n
# auto: the engines' CPUs summed. (t_engines does it with a real second
# engine over tcp+TLS, in a network namespace of its own.)
. "$(dirname "$0")/lib.sh"

SOCK=unix:///var/run/docker.sock
cp -r "$XDOCK_SRC/fixtures/demo" "$T_TMP/demo" || exit 1
rm -rf "$T_TMP/demo/.xdock" "$T_TMP/demo/__pycache__" "$T_TMP/demo/.pytest_cache"
cd "$T_TMP/demo" || exit 1
# Which server each worker's database lives on: the server's address on
# its engine's run network (each engine's network has its own subnet),
# one file per worker. Under --dist each both workers run
# every test: the demo's schema checks pass against both servers' template.
mkdir -p servers
cat >test_zserver.py <<PY
import os
import psycopg2

def test_record_server():
    with psycopg2.connect(os.environ["DATABASE_URL"]) as c, c.cursor() as cur:
        cur.execute("SELECT inet_server_addr()")
        ident = cur.fetchone()[0]
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(os.path.join(os.path.dirname(__file__), "servers", worker), "w") as f:
        f.write(str(ident))
PY

xrun run -n 2 -v --dist each --docker-host "$SOCK" --docker-host "$SOCK" --db-setup "python3 migrate.py" \
	--json-report "$T_TMP/report.json" .
tail -n 2 "$T_TMP/out"
check "exit code 0" eq "$RC" 0
check "-v names both engines with their workers" eq "$(grep -c "^xdock: engine [01] $SOCK: [0-9]* CPUs, 1 worker$" "$T_TMP/err")" 2
collected=$(json "$T_TMP/report.json" 'r["summary"]["collected"]')
check "the demo collected ($collected)" test "$collected" -ge 200
check "all passed, as on one engine" eq "$(json "$T_TMP/report.json" 'r["summary"]["passed"] == r["summary"]["collected"]')" True
check "gw0 and gw1, one database each" eq \
	"$(json "$T_TMP/report.json" '",".join(w["name"] + ":" + w["database"] for w in r["workers"])')" \
	gw0:test_db_gw0,gw1:test_db_gw1
check "the report names each worker's engine and its place" eq "$(json "$T_TMP/report.json" '[(w["engine"], w["engine_index"]) for w in r["workers"]]')" \
	"[('$SOCK', 0), ('$SOCK', 1)]"
check "both workers wrote their server's id" test -s "$T_TMP/demo/servers/gw0" -a -s "$T_TMP/demo/servers/gw1"
check "two engines, two PostgreSQL servers" test "$(cat "$T_TMP/demo/servers/gw0")" != "$(cat "$T_TMP/demo/servers/gw1")"
run_id=$(json "$T_TMP/report.json" 'r["run_id"]')
check "nothing of run $run_id left" no_leftovers_of "$run_id"

# The list in the environment, comma- and space-separated; -n auto sums
# the engines' CPUs.
ncpu=$(docker info --format '{{.NCPU}}')
mkdir -p "$T_TMP/plain" && cd "$T_TMP/plain" || exit 1
printf 'import pytest\n\n@pytest.mark.parametrize("i", range(8))\ndef test_one(i):\n    pass\n' >test_plain.py
XDOCK_DOCKER_HOSTS="$SOCK, $SOCK" xrun run -n auto --db none --json-report "$T_TMP/auto.json" .
check "XDOCK_DOCKER_HOSTS: exit code 0" eq "$RC" 0
check "-n auto over two engines of $ncpu CPUs: $((2 * ncpu)) workers" eq \
	"$(json "$T_TMP/auto.json" 'len(r["workers"])')" "$((2 * ncpu))"
run_id=$(json "$T_TMP/auto.json" 'r["run_id"]')
check "nothing of run $run_id left" no_leftovers_of "$run_id"

# An engine's own TLS settings: a mistake in them is one line, exit 4,
# before any engine is touched (the settings working over TLS are
# t_engines', which needs a second dockerd).
XDOCK_DOCKER_HOSTS="$SOCK, tcp://127.0.0.1:9,certs=$T_TMP/no-such-dir" xrun run -n 2 --db none .
check "certs= naming no directory: exit 4" eq "$RC" 4
check "said in one line" eq "$(wc -l <"$T_TMP/err")" 1
check "naming the setting" grep -q "certs=$T_TMP/no-such-dir is no directory" "$T_TMP/err"
xrun run -n 2 --db none --docker-host "$SOCK,certs=$T_TMP" .
check "TLS settings on a unix socket: exit 4" eq "$RC" 4
check "said so" grep -q "TLS settings are for a tcp:// engine" "$T_TMP/err"
check "nothing of either run left" no_leftovers_of_pid "$XPID"

finish
