#!/usr/bin/env bash
# Two runs at once on one --db-url server: both use test_db_template and
# test_db_gwN there, so without the server-side lock the second drops the
# first's databases under its tests (their connections are ended by DROP
# ... WITH (FORCE)). With it, the second waits, says so, and both pass;
# nothing is left on the server.
. "$(dirname "$0")/lib.sh"

docker run -d --label "xdock.test=t-concurrent-$$" --tmpfs /var/lib/postgresql/data -p 127.0.0.1::5432 \
	xdock/postgres:15 >"$T_TMP/pg.id"
pg=$(cat "$T_TMP/pg.id")
trap 'docker rm -f "$pg" >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
port=$(docker port "$pg" 5432/tcp | head -n 1 | sed 's/.*://')
url="postgresql://xdock:xdock@127.0.0.1:$port/postgres"
for _ in $(seq 300); do
	docker exec "$pg" pg_isready -q -h 127.0.0.1 && break
	sleep 0.2
done

mkdir -p "$T_TMP/p"
cd "$T_TMP/p" || exit 1
cp "$XDOCK_SRC/fixtures/seeded/migrate.py" . || exit 1
cp "$XDOCK_SRC/fixtures/seeded/test_hold_reading.py" test_hold.py || exit 1
run_one() {
	"$XDOCK_BIN" run -n 2 -p no:cacheprovider --db-url "$url" --db-setup "python3 migrate.py" . >"$T_TMP/out$1" 2>"$T_TMP/err$1"
	echo $? >"$T_TMP/rc$1"
}
run_one a &
a=$!
sleep 1
run_one b &
b=$!
wait "$a" "$b"
check "first run passed (rc $(cat "$T_TMP/rca"))" eq "$(cat "$T_TMP/rca")" 0
check "second run passed (rc $(cat "$T_TMP/rcb"))" eq "$(cat "$T_TMP/rcb")" 0
check "one of them waited and said so" \
	bash -c "cat '$T_TMP/erra' '$T_TMP/errb' | grep -q 'another xdock run is using this database server'"
left=$(docker exec -e PGPASSWORD=xdock "$pg" psql -U xdock -h 127.0.0.1 -d postgres -Atc \
	"select count(*) from pg_database where datname like 'test_db_%'" 2>/dev/null)
check "no test_db_* databases left on the server (got $left)" eq "$left" 0
finish
