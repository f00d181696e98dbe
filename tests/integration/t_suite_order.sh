#!/usr/bin/env bash
# The suite's order survives the duration history. A project shaped like a
# Django one: migrations seed reference rows into the template; a conftest
# orders tests as pytest-django does (tests that run inside a transaction
# rolled back at the end first, "transactional" ones after), and each
# transactional test empties the tables when it ends, as Django's
# TransactionTestCase does. The transactional tests are the slow ones, so a
# history that ran the longest first would put them first and every plain
# test after them on that worker would find the seeded rows gone.
#
# Three runs in a row with the history on (the first writes it, the next
# two schedule by it) all pass; --longest-first, which does reorder, fails
# on this suite (so the check above can fail).
. "$(dirname "$0")/lib.sh"

trap 'rm -rf "$T_TMP"' EXIT
S=$T_TMP/suite
H=$S/.xdock/durations.json
mkdir -p "$S" || exit 1

cat >"$S/migrate.py" <<'PY'
import os
import psycopg2

conn = psycopg2.connect(os.environ["DATABASE_URL"])
with conn, conn.cursor() as cur:
	cur.execute("CREATE TABLE category (id integer PRIMARY KEY, name text NOT NULL)")
	cur.execute("INSERT INTO category VALUES (1, 'books'), (2, 'music'), (3, 'games')")
conn.close()  # the template cannot be cloned while a session is open
PY
cat >"$S/conftest.py" <<'PY'
import os
import psycopg2
import pytest


def pytest_configure(config):
	config.addinivalue_line("markers", "transactional: commits; the tables are emptied afterwards")


def pytest_collection_modifyitems(items):
	# pytest-django's order: plain database tests, then transactional ones.
	items.sort(key=lambda item: item.get_closest_marker("transactional") is not None)


@pytest.fixture
def db(request):
	conn = psycopg2.connect(os.environ["DATABASE_URL"])
	if request.node.get_closest_marker("transactional"):
		conn.autocommit = True
		yield conn
		with conn.cursor() as cur:
			cur.execute("DELETE FROM category")  # Django's flush
	else:
		yield conn
		conn.rollback()
	conn.close()
PY
# Collected first by file name; the conftest moves it after the plain tests.
cat >"$S/test_a_flush.py" <<'PY'
import time
import pytest

pytestmark = pytest.mark.transactional


@pytest.mark.parametrize("n", range(3))
def test_add_category(db, n):
	time.sleep(1.5)
	with db.cursor() as cur:
		cur.execute("INSERT INTO category VALUES (%s, 'new')", (100 + n,))
		cur.execute("SELECT count(*) FROM category WHERE id = %s", (100 + n,))
		assert cur.fetchone()[0] == 1
PY
cat >"$S/test_b_catalog.py" <<'PY'
import time
import pytest


@pytest.mark.parametrize("n", range(10))
def test_seeded_categories(db, n):
	time.sleep(0.01)
	with db.cursor() as cur:
		cur.execute("SELECT name FROM category ORDER BY id")
		assert [r[0] for r in cur.fetchall()] == ["books", "music", "games"]
PY
printf '[pytest]\naddopts = -p no:cacheprovider\n' >"$S/pytest.ini"
cd "$S" || exit 1

for i in 1 2 3; do
	xrun run -n 2 --db-setup "python3 migrate.py" --json-report "$T_TMP/r$i.json" .
	check "run $i with history: exit 0 (got $RC)" eq "$RC" 0
	check "run $i with history: 13 passed" eq "$(json "$T_TMP/r$i.json" 'r["summary"].get("passed")')" 13
	check "nothing left (run $i)" no_leftovers_of_pid "$XPID"
	if [ "$i" = 1 ]; then
		check "the first run wrote a history in which the transactional tests are the longest" eq \
			"$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["tests"]
flush = sorted(v for k, v in t.items() if "flush" in k); plain = sorted(v for k, v in t.items() if "flush" not in k)
print(len(t), flush[0] > plain[-1])' "$H")" "13 True"
	fi
done

# --longest-first puts the transactional tests first on both workers.
xrun run -n 2 --longest-first --db-setup "python3 migrate.py" --json-report "$T_TMP/r4.json" .
check "--longest-first breaks this suite's order: exit 1 (got $RC)" eq "$RC" 1
check "--longest-first: plain tests found the seeded rows gone" \
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not r["summary"].get("failed", 0) > 0)' \
	"$T_TMP/r4.json"
check "nothing left (--longest-first)" no_leftovers_of_pid "$XPID"
finish
