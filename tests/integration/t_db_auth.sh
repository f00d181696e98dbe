#!/usr/bin/env bash
# The embedded server lets the run's own containers in without a password
# (a SCRAM exchange per connection was the largest per-test cost of a
# database suite), while the host, through the published port or the
# container's address on the run network, still has to give the right one.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cat >test_auth.py <<'PY'
import os
import time

import psycopg2


def test_worker_needs_no_password():
    # A wrong password: only trust lets this in.
    c = psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], user=os.environ["PGUSER"],
                         dbname=os.environ["PGDATABASE"], password="not-the-password")
    with c.cursor() as cur:
        cur.execute("SELECT current_database()")
        assert cur.fetchone()[0] == os.environ["PGDATABASE"]
    c.close()


def test_hold_until_host_checked():
    # Keeps the run (and its server) alive while the script probes it.
    deadline = time.time() + 240
    while not os.path.exists("host-checked") and time.time() < deadline:
        time.sleep(0.2)
    assert os.path.exists("host-checked")
PY
"$XDOCK_BIN" run -n 2 -p no:cacheprovider --json-report "$T_TMP/r.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
db=
for _ in $(seq 600); do
	db=$(docker ps --filter label=xdock.owner --filter 'name=-db$' --format '{{.ID}} {{.Label "xdock.owner"}}' |
		awk -v p=":$XPID:" 'index($2, p) { print $1 }')
	[ -n "$db" ] && docker exec "$db" test -s /var/lib/postgresql/data/postmaster.pid 2>/dev/null && break
	db=
	sleep 0.2
done
check "the run's server is up" test -n "$db"
port=$(docker port "$db" 5432/tcp | head -n 1 | sed 's/.*://')
addr=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$db")
# probe HOST PORT PASSWORD: "ok" or the server's refusal.
probe() {
	/usr/bin/python3 - "$@" <<'PY'
import sys
import time

import psycopg2

host, port, pw = sys.argv[1:]
for _ in range(100):
    try:
        psycopg2.connect(host=host, port=port, user="xdock", password=pw, dbname="postgres", connect_timeout=5).close()
        print("ok")
        break
    except psycopg2.OperationalError as e:
        if "password authentication failed" in str(e):
            print("refused")
            break
        time.sleep(0.3)  # still starting
PY
}
check "host, published port, wrong password: refused" eq "$(probe 127.0.0.1 "$port" wrong)" refused
check "host, published port, right password: admitted" eq "$(probe 127.0.0.1 "$port" xdock)" ok
check "host, run network address, wrong password: refused" eq "$(probe "$addr" 5432 wrong)" refused
touch host-checked
wait "$XPID"
RC=$?
check "the run passed: workers connect without the password (rc $RC)" eq "$RC" 0
check "both tests passed" eq "$(json "$T_TMP/r.json" 'r["summary"].get("passed")')" 2
check "nothing left" no_leftovers_of_pid "$XPID"
finish
