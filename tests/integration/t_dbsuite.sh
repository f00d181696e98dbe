#!/usr/bin/env bash
# fixtures/dbsuite, a suite wired the way real database suites are (its own
# DSN variable and --dburi option, two-phase commits with fixed gids, an
# extension and a schema made by psql), runs with no plugin of its own:
# every test passes with --db-scope server, --db-option, --db-setup, --env
# and a placeholder in its option; without each of them, what needs it
# skips or fails. On one server the two workers' prepared transactions
# collide every time (the fixture's barrier makes them overlap).
# fixtures/dbsuite/soak.sh runs the passing command 20 times.
. "$(dirname "$0")/lib.sh"

cp -r "$XDOCK_SRC/fixtures/dbsuite" "$T_TMP/s"
cd "$T_TMP/s" || exit 1
SETUP="psql -v ON_ERROR_STOP=1 -q -f setup.sql"
TESTS=5

# outcomes NODE-SUBSTRING: the outcomes of the tests whose id contains it,
# sorted and joined (a run of one worker).
outcomes() {
	json "$T_TMP/r.json" "','.join(sorted(t['outcome'] for t in r['tests'] if '$1' in t['nodeid']))"
}
# pytest's last line: with --dist each it counts every worker's run of a test.
summary() {
	grep -E '^=+ .* in [0-9.]+s' "$T_TMP/out" | tail -n 1 | sed -E 's/^=+ (.*) in [0-9.]+s.*/\1/'
}
# failed NODE: how many workers' runs of NODE failed.
failed() {
	grep -c "^FAILED $1 " "$T_TMP/out"
}

xrun run -n 2 --dist each -p no:cacheprovider --db-scope server --db-option max_prepared_transactions=4 \
	--db-setup "$SETUP" --env 'DBSUITE_DSN={database_url}' --json-report "$T_TMP/r.json" . --dburi '{database_url}'
check "server scope, every feature: all passed (rc $RC)" eq "$RC" 0
check "server scope: every test on both workers passed, no skips" eq "$(summary)" "$((2 * TESTS)) passed"
check "server scope: nothing left" no_leftovers_of_pid "$XPID"

# One server for both workers: one of each pair of prepared transactions
# finds its gid in use.
xrun run -n 2 --dist each -p no:cacheprovider --db-option max_prepared_transactions=4 \
	--db-setup "$SETUP" --env 'DBSUITE_DSN={database_url}' --json-report "$T_TMP/r.json" . --dburi '{database_url}'
check "database scope: the gids collide (rc $RC)" eq "$RC" 1
check "database scope: one of each two-phase pair failed, the rest passed" \
	eq "$(summary)" "2 failed, $((2 * TESTS - 2)) passed"
check "database scope: test_tpc_commit failed once" eq "$(failed test_tpc.py::test_tpc_commit)" 1
check "database scope: test_tpc_rollback_and_recover failed once" \
	eq "$(failed test_tpc.py::test_tpc_rollback_and_recover)" 1
check "database scope: PostgreSQL says the gid is in use" grep -q "is already in use" "$T_TMP/out"

# Without --db-option the two-phase tests skip (as real suites do), without
# --db-setup the schema is missing, without a --dburi value its test skips.
xrun run -n 1 -p no:cacheprovider --db-scope server --env 'DBSUITE_DSN={database_url}' \
	--json-report "$T_TMP/r.json" .
check "no option, setup or --dburi: not green (rc $RC)" eq "$RC" 1
check "no --db-option: the two-phase tests skip" eq "$(outcomes test_tpc)" "skipped,skipped"
check "no --db-setup: the hstore test fails" eq "$(outcomes test_schema.py::test_hstore)" "failed"
check "no --db-setup: the exclusion test fails" eq "$(outcomes test_schema.py::test_btree)" "failed"
check "no --dburi: its test skips" eq "$(outcomes test_dburi)" "skipped"

# Without --env the suite finds no DSN: everything but --dburi's test skips.
# (--dburi's test fails without --db-setup above: it reads the schema.)
xrun run -n 1 -p no:cacheprovider --db-scope server --db-option max_prepared_transactions=4 \
	--db-setup "$SETUP" --json-report "$T_TMP/r.json" . --dburi '{database_url}'
check "no --env: green but skipped (rc $RC)" eq "$RC" 0
check "no --env: the DSN's tests skip" eq "$(json "$T_TMP/r.json" 'r["summary"].get("skipped")')" $((TESTS - 1))
finish
