#!/usr/bin/env bash
# --reruns: a failed or crashed test runs again on a fresh container with a
# fresh database, never in the process that failed; fails-then-passes is
# flaky (kept attempts, counts as passed unless --fail-on-flaky).
# --quarantine: listed tests run and are reported, their failures do not
# fail the run.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite/marks"
chmod 777 "$T_TMP/suite/marks"
cat >"$T_TMP/suite/test_reruns.py" <<'PY'
import os, socket
MARKS = os.environ["MARK_DIR"]

def _dirty(name):
    # Whether an earlier try of this test left its table in this database
    # (1: not a fresh clone), then leaves it for the next try to find.
    # -1 without a database.
    url = os.environ.get("DATABASE_URL")
    if not url:
        return -1
    import psycopg2
    c = psycopg2.connect(url)
    cur = c.cursor()
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", ("public.dirt_" + name,))
    seen = cur.fetchone()[0]
    cur.execute("CREATE TABLE IF NOT EXISTS dirt_%s (x int)" % name)
    c.commit()
    c.close()
    return int(seen)

def container():
    # This container's own writable layer (the overlay upperdir of its
    # root mount): a run's workers share one network namespace, and with
    # it the host name and the files /etc/hostname and /etc/hosts.
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                for opt in fields[-1].split(","):
                    if opt.startswith("upperdir="):
                        return opt[len("upperdir="):]
    return socket.gethostname()

def _record(name):
    # One line per try: which container ran it, which database it saw, its
    # process, and whether an earlier try had dirtied that database.
    dirty = _dirty(name)
    with open(os.path.join(MARKS, name + ".tries"), "a") as f:
        f.write("%s %s %d %d\n" % (container(), os.environ.get("PGDATABASE", "-"), os.getpid(), dirty))
    with open(os.path.join(MARKS, name + ".tries")) as f:
        return len(f.readlines())

def test_ok():
    pass

def test_flaky():
    assert _record("flaky") > 1, "fails the first time"

def test_crash_once():
    if _record("crash") == 1:
        os._exit(7)

def test_always_fails():
    _record("always")
    assert False, "always"

def test_quarantined():
    assert False, "known to fail"
PY
echo "test_reruns.py::test_quarantined" >"$T_TMP/suite/quarantine.txt"
cd "$T_TMP/suite" || exit 1

xrun run -n 2 --reruns 2 --quarantine quarantine.txt --env "MARK_DIR=$T_TMP/suite/marks" \
	--json-report "$T_TMP/r.json" .
check "a test that always fails still fails the run (got $RC)" eq "$RC" 1
attr() { json "$T_TMP/r.json" "[t.get('$2') for t in r['tests'] if t['nodeid'].endswith('::$1')][0]"; }
check "flaky: passed" eq "$(attr test_flaky outcome)" passed
check "flaky: marked flaky" eq "$(attr test_flaky flaky)" True
check "flaky: the failed try is kept" eq "$(json "$T_TMP/r.json" "[len(t['attempts']) for t in r['tests'] if t['nodeid'].endswith('::test_flaky')][0]")" 1
check "crash once: passed on the rerun, flaky" eq "$(attr test_crash_once outcome)/$(attr test_crash_once flaky)" passed/True
check "always fails: failed after 3 tries" eq "$(wc -l <marks/always.tries)" 3
check "always fails: each try on another container" eq "$(cut -d' ' -f1 marks/always.tries | sort -u | wc -l)" 3
# Read back what each try recorded: a worker database, a process of its
# own (container and pid), a fresh clone (no earlier try's table in it).
tries_ok() {
	python3 - "$1" "$2" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
want = int(sys.argv[2])
bad = []
if len(rows) != want:
    bad.append("%d tries, want %d" % (len(rows), want))
if not all(r[1].startswith("test_db_gw") for r in rows):
    bad.append("databases %s" % [r[1] for r in rows])
if len({(r[0], r[2]) for r in rows}) != len(rows):
    bad.append("a process ran two tries: %s" % [(r[0], r[2]) for r in rows])
if [r[3] for r in rows] != ["0"] * len(rows):
    bad.append("a try found an earlier try's table (not a fresh clone): %s" % [r[3] for r in rows])
print("; ".join(bad) or "ok")
PY
}
check "always fails: each try in its own process on a fresh clone of the template" eq "$(tries_ok marks/always.tries 3)" ok
check "flaky: the rerun in its own process on a fresh clone" eq "$(tries_ok marks/flaky.tries 2)" ok
check "crash once: the rerun in its own process on a fresh clone" eq "$(tries_ok marks/crash.tries 2)" ok
check "always fails: two attempts kept" eq "$(json "$T_TMP/r.json" "[len(t['attempts']) for t in r['tests'] if t['nodeid'].endswith('::test_always_fails')][0]")" 2
check "flaky: the rerun ran in another container" eq "$(cut -d' ' -f1 marks/flaky.tries | sort -u | wc -l)" 2
check "quarantined: failed and marked" eq "$(attr test_quarantined outcome)/$(attr test_quarantined quarantined)" failed/True
check "summary counts flaky and quarantined" eq "$(json "$T_TMP/r.json" '(r["summary"]["flaky"], r["summary"]["quarantined_failures"], r["summary"]["collected"], len(r["tests"]))')" "(2, 1, 5, 5)"
# pytest's own summary (the controller's) counts the failed tries as reruns.
check "terminal summary counts the reruns" grep -Eq "[0-9]+ rerun" "$T_TMP/out"
check "nothing left" no_leftovers_of_pid "$XPID"

rm -f marks/*
xrun run -n 2 --db none --reruns 1 --quarantine quarantine.txt --env "MARK_DIR=$T_TMP/suite/marks" . -k "not always"
check "flaky and quarantined only: exit 0 (got $RC)" eq "$RC" 0

rm -f marks/*
xrun run -n 2 --db none --reruns 1 --fail-on-flaky --quarantine quarantine.txt --env "MARK_DIR=$T_TMP/suite/marks" . -k "not always"
check "--fail-on-flaky: exit 1 (got $RC)" eq "$RC" 1

rm -f marks/*
xrun run -n 2 --db none --env "MARK_DIR=$T_TMP/suite/marks" . -k "flaky"
check "without --reruns a flaky test fails (got $RC)" eq "$RC" 1
check "nothing left" no_leftovers_of_pid "$XPID"
finish
