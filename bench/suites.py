"""The benchmark suites: generated, deterministic (seeded) pytest projects.

Each generator writes a self-contained project directory (pytest.ini, test
files, and for the database suite conftest.py and migrate.py) and returns a
description of it (test count, files, expected work) for the report. The
same seed and sizes give byte-identical files, so runs on different days
measure the same thing.
"""
import os
import random
import shutil

# Sizes: full run, and --quick (smaller, so the whole quick run stays
# under three minutes on a 2-core machine).
SIZES = {
    "full": {"trivial": 2000, "skewed": 200, "database": 400, "cpu": 200, "connect": 400},
    "quick": {"trivial": 400, "skewed": 60, "database": 100, "cpu": 40, "connect": 100},
}

# The database migration: 60 tables, in migrations of 5 tables each (one
# transaction per migration, like Django/Alembic). Seed rows per table
# make it take a few seconds of real work (inserts, index builds): 3.7 s
# alone on the reference machine (2 cores), a template clone 0.5 s.
DB_TABLES = 60
DB_TABLES_PER_MIGRATION = 5
DB_SEED_ROWS = 5000

PYTEST_INI = """\
[pytest]
addopts = -p no:cacheprovider
"""


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _fresh_dir(path):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    _write(os.path.join(path, "pytest.ini"), PYTEST_INI)


def _split(n, per_file):
    """Yields (file index, [test indexes]) filling files of per_file tests."""
    for f, start in enumerate(range(0, n, per_file)):
        yield f, list(range(start, min(n, start + per_file)))


def gen_trivial(path, n, seed):
    """n tests that pass immediately, 100 per file: dispatch overhead."""
    del seed  # nothing random here; the signature is uniform
    _fresh_dir(path)
    for f, idx in _split(n, 100):
        body = "".join(f"def test_t{i:05d}():\n    pass\n\n\n" for i in idx)
        _write(os.path.join(path, f"test_trivial_{f:03d}.py"), body)
    return {"tests": n, "files": (n + 99) // 100, "expected_work_s": 0.0}


def skewed_durations(n, seed, scale):
    """Heavy-tailed durations (Pareto, alpha 1.16: the 80/20 shape), capped
    at 4 s, in collection order: the longest tenth last, the rest shuffled.
    Returned in the order the tests are collected."""
    rng = random.Random(seed)
    d = [min(4.0, scale * rng.paretovariate(1.16)) for _ in range(n)]
    d.sort()
    k = max(1, n // 10)
    head, tail = d[:-k], d[-k:]
    rng.shuffle(head)
    rng.shuffle(tail)
    return [round(x, 4) for x in head + tail]


def gen_skewed(path, n, seed, scale=0.05):
    """n sleep-based tests (measures scheduling, not CPU), 20 per file; the
    long ones fall in the last files."""
    _fresh_dir(path)
    durs = skewed_durations(n, seed, scale)
    for f, idx in _split(n, 20):
        body = "import time\n\n\n" + "".join(
            f"def test_s{i:04d}():\n    time.sleep({durs[i]!r})\n\n\n" for i in idx)
        _write(os.path.join(path, f"test_skewed_{f:03d}.py"), body)
    return {"tests": n, "files": (n + 19) // 20, "expected_work_s": round(sum(durs), 3),
            "longest_s": max(durs), "durations": durs}


def gen_cpu(path, n, seed, base_iters=60000):
    """n CPU-bound tests: a chained sha256 loop of 0.5-1.5 x base_iters
    iterations (about 30 ms per 60,000 on this machine), 20 per file."""
    _fresh_dir(path)
    rng = random.Random(seed)
    iters = [int(base_iters * (0.5 + rng.random())) for _ in range(n)]
    for f, idx in _split(n, 20):
        body = "import hashlib\n\n\ndef spin(n):\n    h = b'xdock'\n    for _ in range(n):\n" \
               "        h = hashlib.sha256(h).digest()\n    return h\n\n\n"
        body += "".join(f"def test_c{i:04d}():\n    assert len(spin({iters[i]})) == 32\n\n\n" for i in idx)
        _write(os.path.join(path, f"test_cpu_{f:03d}.py"), body)
    return {"tests": n, "files": (n + 19) // 20, "total_iterations": sum(iters)}


MIGRATE_PY = '''\
#!/usr/bin/env python3
"""Schema migrations of the database benchmark suite: {tables} tables in
migrations of {per} tables, one transaction each, recorded in
schema_migrations; applying again applies nothing.

    DATABASE_URL=postgresql://... python3 migrate.py

Importable: migrate(url) is what the xdist conftest calls in every worker,
as pytest-django does. The connection is closed before returning, so the
database can serve as a template.
"""
import os
import sys

import psycopg2

TABLES = {tables}
PER_MIGRATION = {per}
SEED_ROWS = {rows}
LOCK_KEY = 550_017_003


def _table_sql(t):
    ref = f"t{{t - 1:02d}}" if t % PER_MIGRATION else None
    fk = f", parent_id integer REFERENCES {{ref}}(id)" if ref else ""
    return f"""
        CREATE TABLE t{{t:02d}} (
            id serial PRIMARY KEY,
            code text NOT NULL UNIQUE,
            name text NOT NULL,
            amount numeric(12, 2) NOT NULL DEFAULT 0,
            qty integer NOT NULL CHECK (qty >= 0),
            created_at timestamptz NOT NULL DEFAULT now(){{fk}}
        );
        CREATE INDEX t{{t:02d}}_name ON t{{t:02d}} (name);
        CREATE INDEX t{{t:02d}}_amount ON t{{t:02d}} (amount, qty);
        INSERT INTO t{{t:02d}} (code, name, amount, qty{{', parent_id' if ref else ''}})
            SELECT 'c' || g, md5(g::text), (g % 997) * 1.25, g % 50{{', 1 + g % 100' if ref else ''}}
            FROM generate_series(1, {{SEED_ROWS}}) g;
        ANALYZE t{{t:02d}};
    """


def migrate(url):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)")
            conn.commit()
            cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            done = cur.fetchone()[0]
            applied = 0
            for v, first in enumerate(range(0, TABLES, PER_MIGRATION), start=1):
                if v <= done:
                    continue
                for t in range(first, first + PER_MIGRATION):
                    cur.execute(_table_sql(t))
                cur.execute("INSERT INTO schema_migrations VALUES (%s)", (v,))
                conn.commit()
                applied += 1
            cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            conn.commit()
        return applied
    finally:
        conn.close()


if __name__ == "__main__":
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("migrate.py: DATABASE_URL is not set")
    print(f"migrate.py: applied {{migrate(url)}} migrations")
'''

DB_CONFTEST = '''\
"""Database fixtures of the benchmark's database suite.

Under xdock, DATABASE_URL is this worker's own database, already migrated
(cloned from the template). Under plain pytest and pytest-xdist, what users
do today (pytest-django's way): every worker creates its own database on
the server BENCH_DB_ADMIN_URL names, runs all migrations into it, and drops
it at the end.
"""
import os

import psycopg2
import pytest

import migrate


def _worker(config):
    wi = getattr(config, "workerinput", None)
    return wi["workerid"] if wi else "master"


@pytest.fixture(scope="session")
def database_url(request):
    admin = os.environ.get("BENCH_DB_ADMIN_URL")
    if not admin:
        url = os.environ.get("DATABASE_URL")
        if not url:
            pytest.exit("neither BENCH_DB_ADMIN_URL nor DATABASE_URL is set", returncode=4)
        yield url
        return
    name = "bench_" + _worker(request.config)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + "/" + name
    migrate.migrate(url)
    try:
        yield url
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


@pytest.fixture(scope="session")
def db_conn(database_url):
    conn = psycopg2.connect(database_url)
    yield conn
    conn.close()


@pytest.fixture
def db(db_conn):
    """A cursor in a transaction rolled back after the test."""
    with db_conn.cursor() as cur:
        yield cur
    db_conn.rollback()
'''


def gen_database(path, n, seed, seed_rows=DB_SEED_ROWS):
    """n tests doing a few queries each (insert, aggregate, join, update)
    against their worker's database, 20 per file, behind migrate.py."""
    _fresh_dir(path)
    _write(os.path.join(path, "migrate.py"), MIGRATE_PY.format(
        tables=DB_TABLES, per=DB_TABLES_PER_MIGRATION, rows=seed_rows))
    _write(os.path.join(path, "conftest.py"), DB_CONFTEST)
    rng = random.Random(seed)
    for f, idx in _split(n, 20):
        body = ""
        for i in idx:
            t = rng.randrange(DB_TABLES)
            parent = t - 1 if t % DB_TABLES_PER_MIGRATION else None
            code = f"x{i}"
            lines = [
                f"def test_d{i:04d}(db):",
                f'    db.execute("INSERT INTO t{t:02d} (code, name, amount, qty) VALUES (%s, %s, %s, %s) RETURNING id",',
                f'               ("{code}", "bench {i}", {rng.randrange(1, 999)}, {rng.randrange(50)}))',
                "    new_id = db.fetchone()[0]",
                f'    db.execute("SELECT count(*), sum(amount) FROM t{t:02d} WHERE qty < %s", ({rng.randrange(1, 50)},))',
                "    assert db.fetchone()[0] >= 0",
                f'    db.execute("UPDATE t{t:02d} SET qty = qty + 1 WHERE id = %s", (new_id,))',
                "    assert db.rowcount == 1",
            ]
            if parent is not None:
                lines += [
                    f'    db.execute("SELECT count(*) FROM t{t:02d} c JOIN t{parent:02d} p ON p.id = c.parent_id '
                    f'WHERE p.qty = %s", ({rng.randrange(50)},))',
                    "    assert db.fetchone()[0] >= 0",
                ]
            lines += [
                f'    db.execute("SELECT code FROM t{t:02d} WHERE id = %s", (new_id,))',
                f'    assert db.fetchone()[0] == "{code}"',
            ]
            body += "\n".join(lines) + "\n\n\n"
        _write(os.path.join(path, f"test_db_{f:03d}.py"), body)
    return {"tests": n, "files": (n + 19) // 20, "tables": DB_TABLES,
            "migrations": DB_TABLES // DB_TABLES_PER_MIGRATION, "seed_rows_per_table": seed_rows}


CONNECT_MIGRATE_PY = '''\
#!/usr/bin/env python3
"""Schema of the connection-per-test suite: one small table.

    DATABASE_URL=postgresql://... python3 migrate.py
"""
import os
import sys

import psycopg2


def migrate(url):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS item (id serial PRIMARY KEY, name text NOT NULL,"
                        " qty integer NOT NULL DEFAULT 0)")
        conn.commit()
    finally:
        conn.close()


if __name__ == "__main__":
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("migrate.py: DATABASE_URL is not set")
    migrate(url)
'''

CONNECT_CONFTEST = '''\
"""The connection-per-test suite's fixtures: every test opens a connection
of its own, as driver, ORM and Django suites do, so a connection's cost
(TCP, authentication, backend start) is part of every test.

Under xdock, DATABASE_URL is this worker's database. Under pytest-xdist,
every worker creates bench_conn_<worker> on BENCH_DB_ADMIN_URL's server.
"""
import os

import psycopg2
import pytest

import migrate


def _worker(config):
    wi = getattr(config, "workerinput", None)
    return wi["workerid"] if wi else "master"


@pytest.fixture(scope="session")
def database_url(request):
    admin = os.environ.get("BENCH_DB_ADMIN_URL")
    if not admin:
        url = os.environ.get("DATABASE_URL")
        if not url:
            pytest.exit("neither BENCH_DB_ADMIN_URL nor DATABASE_URL is set", returncode=4)
        yield url
        return
    name = "bench_conn_" + _worker(request.config)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")
    url = admin.rsplit("/", 1)[0] + "/" + name
    migrate.migrate(url)
    try:
        yield url
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


@pytest.fixture
def conn(database_url):
    c = psycopg2.connect(database_url)
    yield c
    c.close()
'''


def gen_connect(path, n, seed):
    """n tests that each open a new connection and run three statements
    (insert, select, update) on it, 20 per file: the per-connection cost."""
    _fresh_dir(path)
    _write(os.path.join(path, "migrate.py"), CONNECT_MIGRATE_PY)
    _write(os.path.join(path, "conftest.py"), CONNECT_CONFTEST)
    rng = random.Random(seed)
    for f, idx in _split(n, 20):
        body = ""
        for i in idx:
            body += "\n".join([
                f"def test_c{i:04d}(conn):",
                "    with conn.cursor() as cur:",
                f'        cur.execute("INSERT INTO item (name, qty) VALUES (%s, %s) RETURNING id", ("c{i}", {rng.randrange(50)}))',
                "        new_id = cur.fetchone()[0]",
                '        cur.execute("SELECT name FROM item WHERE id = %s", (new_id,))',
                f'        assert cur.fetchone()[0] == "c{i}"',
                '        cur.execute("UPDATE item SET qty = qty + 1 WHERE id = %s", (new_id,))',
                "        assert cur.rowcount == 1",
                "    conn.commit()",
            ]) + "\n\n\n"
        _write(os.path.join(path, f"test_conn_{f:03d}.py"), body)
    return {"tests": n, "files": (n + 19) // 20, "statements_per_test": 3}


def generate(name, path, n, seed, quick=False):
    if name == "trivial":
        return gen_trivial(path, n, seed)
    if name == "skewed":
        return gen_skewed(path, n, seed, scale=0.02 if quick else 0.05)
    if name == "database":
        # --quick: a lighter migration (about 1 s), same 60 tables.
        return gen_database(path, n, seed, seed_rows=1000 if quick else DB_SEED_ROWS)
    if name == "cpu":
        return gen_cpu(path, n, seed)
    if name == "connect":
        return gen_connect(path, n, seed)
    raise ValueError(f"unknown suite {name}")


SUITES = ("trivial", "skewed", "database", "cpu", "connect")
# Suites that need a PostgreSQL: migrate.py as --db-setup under xdock, a
# server for pytest and pytest-xdist.
DB_SUITES = ("database", "connect")
