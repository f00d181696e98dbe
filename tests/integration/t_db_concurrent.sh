#!/usr/bin/env bash
# Two runs at once on one --db-url server: both use test_db_template and
# test_db_gwN there, so without the server-side lock the second drops the
# first's databases under its tests (their connections are ended by DROP
# ... WITH (FORCE)). With it, the second waits, says so, and both pass;
# nothing is left on the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_env.sh"

trap 'pg_stop; rm -rf "$T_TMP"' EXIT
pg_up "t-concurrent-$$" || exit 1
url=$PG_ADMIN_URL

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
left=$(pg_q "select count(*) from pg_database where datname like 'test_db_%'")
check "no test_db_* databases left on the server (got $left)" eq "$left" 0
finish
