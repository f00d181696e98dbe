#!/usr/bin/env bash
# --reuse-db runs at once. The engine is shared with other test trees whose
# runs use the kept server of no --db-option (`xdock-reuse-db`): this test
# gives every run a --db-option of its own (application_name, unique to
# this process), so it has kept servers of its own, one per option set,
# and removes them by id at the end.
#  - Two runs that find no kept server start together: one server is made
#    and both use it (one waits for the other through the server's lock),
#    both pass, neither says the name is taken.
#  - Whether two runs collide depends on their start-up times; the moment
#    a collision is about is set up for sure too: a kept server made and
#    not yet started (as by another run between its create and its start,
#    made here with the labels a run gives it). The run waits for it to
#    run and uses it; it does not take it for a stopped one and remove it.
#  - A run with another --db-option while a run is in its test on the
#    first server: a second server; the first is not restarted under the
#    live run, whose database stays.
. "$(dirname "$0")/lib.sh"

opt_a="application_name=t-reuse-a-$$"
opt_b="application_name=t-reuse-b-$$"
opt_c="application_name=t-reuse-c-$$"
# The kept servers of this test's option sets: "id options" per line.
ours() {
	docker ps -a --no-trunc --filter label=xdock.role=db --format '{{.ID}} {{.Label "xdock.db-options"}}' |
		awk -v a="$opt_a" -v b="$opt_b" -v c="$opt_c" '$2 == a || $2 == b || $2 == c'
}
p1=
p2=
cleanup() {
	[ -n "$p1" ] && kill -9 "$p1" 2>/dev/null
	[ -n "$p2" ] && kill -9 "$p2" 2>/dev/null
	ours | while read -r id _; do docker rm -f "$id" >/dev/null 2>&1; done
	rm -rf "$T_TMP"
}
trap cleanup EXIT

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cp "$XDOCK_SRC/fixtures/seeded/migrate.py" . || exit 1
cat >test_hold.py <<'PY'
import os
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))


def seeded(cur):
    cur.execute("SELECT count(*) FROM seeded")
    return cur.fetchone()[0]


def test_database_stays_mine():
    phase = os.environ["PHASE"]
    c = psycopg2.connect(os.environ["DATABASE_URL"])
    c.autocommit = True
    with c.cursor() as cur:
        assert seeded(cur) == 1
        open(os.path.join(HERE, "started-" + phase), "w").close()
        for _ in range(1800):
            if os.path.exists(os.path.join(HERE, "release-" + phase)):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("never released")
        # A server restarted under this run would have ended this session.
        assert seeded(cur) == 1
    c.close()
PY
xd() { exec "$XDOCK_BIN" run -p no:cacheprovider -n 1 --reuse-db --db-setup "python3 migrate.py" "$@" .; }

check "no kept server of this test's settings before it" eq "$(ours | wc -l)" 0
touch release-1 release-2
(xd --db-option "$opt_a" --env PHASE=1) >"$T_TMP/1.out" 2>"$T_TMP/1.err" &
p1=$!
(xd --db-option "$opt_a" --env PHASE=2) >"$T_TMP/2.out" 2>"$T_TMP/2.err" &
p2=$!
pids="$p1 $p2"
wait "$p1"
rc1=$?
wait "$p2"
rc2=$?
p1=
p2=
check "two runs at once: the first passed (rc $rc1)" eq "$rc1" 0
check "two runs at once: the second passed (rc $rc2)" eq "$rc2" 0
check "two runs at once: neither found the name taken" \
	bash -c "! grep -qi 'conflict\|already in use' '$T_TMP/1.err' '$T_TMP/2.err'"
check "two runs at once: one kept server, running" \
	eq "$(ours | awk '{ print $2 }' | tr '\n' ' ')" "$opt_a "
id_a=$(ours | awk -v a="$opt_a" '$2 == a { print $1 }')
started_a=$(docker inspect -f '{{.State.StartedAt}}' "$id_a" 2>/dev/null)

docker create --label xdock.reuse=1 --label xdock.role=db --label "xdock.db-options=$opt_c" \
	--label "xdock.test=t-reuse-$$" -e XDOCK_PG_TRUST=joined --tmpfs /var/lib/postgresql/data \
	-p 127.0.0.1::5432 xdock/postgres:15 -c "$opt_c" >"$T_TMP/made.id"
made=$(cat "$T_TMP/made.id")
(xd --db-option "$opt_c" --env PHASE=2) >"$T_TMP/c.out" 2>"$T_TMP/c.err" &
p2=$!
pids="$pids $p2"
run_net() {
	docker network ls --filter label=xdock.owner --format '{{.Label "xdock.owner"}}' | grep -q ":$p2:"
}
check "a run with a server made and not started: its network is up" wait_for "the run network" run_net
sleep 3
check "it did not remove the server another run made" eq "$(docker inspect -f '{{.State.Status}}' "$made" 2>&1)" created
docker start "$made" >/dev/null
wait "$p2"
rc=$?
p2=
check "it used that server once started, and passed (rc $rc)" eq "$rc" 0
check "that server is still the one made" eq "$(ours | awk -v c="$opt_c" '$2 == c { print $1 }')" "$made"

(xd --db-option "$opt_a" --env PHASE=hold) >"$T_TMP/hold.out" 2>"$T_TMP/hold.err" &
p1=$!
pids="$pids $p1"
check "a run of the first settings is in its test" wait_for "the held run" test -e started-hold
(xd --db-option "$opt_b" --env PHASE=2) >"$T_TMP/b.out" 2>"$T_TMP/b.err" &
pids="$pids $!"
wait "$!"
rc=$?
check "a run with another --db-option meanwhile passed (rc $rc)" eq "$rc" 0
check "it got a kept server of its own: one per option set" eq "$(ours | wc -l)" 3
check "the live run's server is the same container, never restarted" \
	eq "$(docker inspect -f '{{.State.Running}} {{.State.StartedAt}}' "$id_a" 2>&1)" "true $started_a"
touch release-hold
wait "$p1"
rc=$?
p1=
check "the live run passed: its database stayed (rc $rc)" eq "$rc" 0
for pid in $pids; do
	check "run of pid $pid: nothing left" no_leftovers_of_pid "$pid"
done
finish
