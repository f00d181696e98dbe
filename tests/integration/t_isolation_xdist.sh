#!/bin/bash
# Why xdock exists, shown with plain pytest-xdist on the host: the demo
# suite (fixtures/demo) FAILS when 4 xdist workers share one database and
# PASSES when each worker has a migrated database of its own.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${XDOCK_SRC:-$(cd "$here/../.." && pwd)}
# shellcheck source=pg_env.sh
source "$here/pg_env.sh"

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
		passed=$((passed + 1))
	else
		echo "FAIL: $what"
		failed=$((failed + 1))
	fi
}

# The interpreter that has pytest, pytest-xdist and psycopg2 (Debian's
# python3-*; a pyenv shim earlier on PATH may lack them).
python=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import pytest, xdist, psycopg2' 2>/dev/null; then
		python=$p
		break
	fi
done
if [ -z "$python" ]; then
	echo "isolation: no python3 with pytest, pytest-xdist and psycopg2"
	exit 1
fi

work=$(mktemp -d)
cleanup() {
	pg_stop
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start "t-iso-$$" || exit 1
pg_wait 60 || exit 1

# From a copy: pytest on the host writes caches beside the suite.
demo=$work/demo
cp -r "$src/fixtures/demo" "$demo" || exit 1
rm -rf "$demo/.xdock" "$demo/__pycache__"

migrate() { # migrate DBNAME
	DATABASE_URL="$PG_BASE_URL/$1" "$python" "$demo/migrate.py" >"$work/migrate-$1.log" 2>&1
}

# Parses "N failed" / "N passed" from pytest's last summary line.
count() { # count WORD LOGFILE
	tail -n 1 "$2" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

run_demo() { # run_demo LOG  (env decides the database)
	(cd "$demo" && "$python" -m pytest -n 4 -p no:cacheprovider -q -o console_output_style=classic . \
		>"$1" 2>&1)
}

# 1. One database shared by all four workers.
pg_psql -d postgres -c 'CREATE DATABASE demo_shared' || exit 1
check "migrate the shared database" migrate demo_shared
check "migrate is idempotent" migrate demo_shared
check "second migrate applied nothing" grep -q "applied 0" "$work/migrate-demo_shared.log"

t0=$(date +%s.%N)
DATABASE_URL="$PG_BASE_URL/demo_shared" run_demo "$work/shared.log"
rc=$?
t1=$(date +%s.%N)
shared_failed=$(count failed "$work/shared.log")
shared_errors=$(count errors? "$work/shared.log")
echo "shared database: exit $rc, $(tail -n 1 "$work/shared.log") ($(elapsed "$t0" "$t1") s)"
grep -E '^(FAILED|ERROR) ' "$work/shared.log" | head -n 5 | sed 's/^/  /'
check "shared database: pytest exits 1" test "$rc" -eq 1
check "shared database: at least 5 tests fail or error" test $((shared_failed + shared_errors)) -ge 5
# Collisions, not a broken setup: the failures are the database kind.
check "shared database: failures are collisions" \
	grep -qE 'UniqueViolation|assert .* == |LockNotAvailable|DeadlockDetected|DuplicateTable|DuplicateColumn|UndefinedTable|UndefinedColumn|ObjectInUse' \
	"$work/shared.log"

# 2. The same suite, one migrated database per worker.
for w in gw0 gw1 gw2 gw3; do
	pg_psql -d postgres -c "CREATE DATABASE demo_$w" || exit 1
	check "migrate demo_$w" migrate "demo_$w"
done
t0=$(date +%s.%N)
DATABASE_URL="$PG_BASE_URL/demo_shared" DEMO_DB_PER_WORKER_TEMPLATE="$PG_BASE_URL/demo_{worker}" \
	run_demo "$work/isolated.log"
rc=$?
t1=$(date +%s.%N)
iso_passed=$(count passed "$work/isolated.log")
echo "database per worker: exit $rc, $(tail -n 1 "$work/isolated.log") ($(elapsed "$t0" "$t1") s)"
[ "$rc" -eq 0 ] || tail -n 30 "$work/isolated.log"
check "database per worker: pytest exits 0" test "$rc" -eq 0
check "database per worker: at least 200 tests passed" test "$iso_passed" -ge 200
# Every worker really had its own database: each logged a connection.
for w in gw0 gw1 gw2 gw3; do
	check "worker $w ran tests in demo_$w" \
		test "$(pg_psql -d "demo_$w" -c "SELECT count(*) FROM pg_stat_database WHERE datname = 'demo_$w' AND xact_commit + xact_rollback > 50")" = 1
done

# 3. Serial on one (clean) database: the timing, and a control.
t0=$(date +%s.%N)
(cd "$demo" && DATABASE_URL="$PG_BASE_URL/demo_gw0" "$python" -m pytest -p no:xdist -p no:cacheprovider -q . \
	>"$work/serial.log" 2>&1)
rc=$?
t1=$(date +%s.%N)
echo "serial on one database: exit $rc, $(tail -n 1 "$work/serial.log") ($(elapsed "$t0" "$t1") s)"
check "serial run on one database passes" test "$rc" -eq 0

echo "isolation: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
