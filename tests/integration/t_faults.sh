#!/usr/bin/env bash
# Faults inside tests: os._exit, a segfault, a hang past --timeout, and a
# worker container killed from outside. Every collected test must end with
# exactly one outcome, crashed workers are replaced (a fresh container with
# a fresh clone of the template), the run goes on, and nothing is left
# behind. Everything this test looks at, kills or pauses belongs to its own
# runs (found by the owner label that carries xdock's pid): other runs may
# share the engine.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_faults.py" <<'PY'
import os, signal, time, pytest

@pytest.mark.parametrize("i", range(12))
def test_before(i):
    time.sleep(0.02)

def test_exit():
    os._exit(3)

def test_segv():
    os.kill(os.getpid(), signal.SIGSEGV)

def test_hang():
    time.sleep(120)

@pytest.mark.parametrize("i", range(12))
def test_after(i):
    time.sleep(0.02)
PY
cd "$T_TMP/suite" || exit 1

xrun run -n 2 --db none --timeout 3 --json-report "$T_TMP/r.json" . -o "python_files=test_*.py"
tail -n 8 "$T_TMP/out"

check "exit code 1 (got $RC)" eq "$RC" 1
check "report written" test -s "$T_TMP/r.json"
check "every collected test has exactly one entry" eq \
	"$(json "$T_TMP/r.json" 'len(r["tests"]) == len(set(t["nodeid"] for t in r["tests"])) == r["summary"]["collected"] == 27')" True
check "no test left without an outcome" eq "$(json "$T_TMP/r.json" 'r["summary"]["not_run"]')" 0
outcome() { json "$T_TMP/r.json" "[t['outcome'] for t in r['tests'] if t['nodeid'].endswith('$1')][0]"; }
check "os._exit is crashed" eq "$(outcome ::test_exit)" crashed
check "segfault is crashed" eq "$(outcome ::test_segv)" crashed
check "segfault names signal 11" eq "$(json "$T_TMP/r.json" "[t for t in r['tests'] if t['nodeid'].endswith('::test_segv')][0]['longrepr'].count('signal 11') > 0")" True
check "hang is timeout" eq "$(outcome ::test_hang)" timeout
check "hang's stack is in the report" eq "$(json "$T_TMP/r.json" "'test_hang' in [t for t in r['tests'] if t['nodeid'].endswith('::test_hang')][0].get('stdout','')")" True
check "the other 24 tests passed" eq "$(json "$T_TMP/r.json" 'r["summary"]["passed"]')" 24
# One replacement per crash; one more when the tests held behind the hung
# one come back after the other worker was told bye (a fresh worker then
# takes them).
nrep=$(cat "$T_TMP/out" "$T_TMP/err" | grep -c "replacing worker")
check "workers were replaced, one per crash at least (got $nrep)" test "$nrep" -ge 3 -a "$nrep" -le 4
check "nothing left of the run" no_leftovers_of_pid "$XPID"

# With a database, one worker: a test dirties the worker's database, the
# next one crashes the worker (os._exit), and the one after that must find
# a fresh clone of the template on a fresh container; then the same after
# a `docker kill` from outside (as an operator or the host's OOM killer
# would). The kill waits for the test's marker, and the test waits for the
# kill as long as it takes: no window.
mkdir -p "$T_TMP/db/marks"
chmod 777 "$T_TMP/db/marks"
cat >"$T_TMP/db/setup.py" <<'PY'
import os, psycopg2
c = psycopg2.connect(os.environ["DATABASE_URL"])
c.cursor().execute("CREATE TABLE dirt (who text)")
c.commit()
c.close()
PY
cat >"$T_TMP/db/test_db_faults.py" <<'PY'
import os, socket, time, psycopg2

def _container():
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

def _trace(name, n):
    with open(os.path.join(os.environ["MARK_DIR"], "..", "trace"), "a") as f:
        f.write("%s %s %s %d\n" % (name, _container(), os.environ["PGDATABASE"], n))

def _dirt(add=None):
    c = psycopg2.connect(os.environ["DATABASE_URL"])
    cur = c.cursor()
    cur.execute("SELECT count(*) FROM dirt")
    n = cur.fetchone()[0]
    if add:
        cur.execute("INSERT INTO dirt VALUES (%s)", (add,))
    c.commit()
    c.close()
    return n

def test_1_dirty():
    _trace("dirty", _dirt("dirty"))

def test_2_exit():
    os._exit(3)

def test_3_fresh_after_exit():
    n = _dirt("dirty again")
    _trace("after-exit", n)
    assert n == 0, "the database after the crash still holds %d row(s)" % n

def test_4_killed_from_outside():
    open(os.path.join(os.environ["MARK_DIR"], "killme"), "w").close()
    time.sleep(600)

def test_5_fresh_after_kill():
    n = _dirt()
    _trace("after-kill", n)
    assert n == 0, "the database after the kill still holds %d row(s)" % n
PY
cd "$T_TMP/db" || exit 1
"$XDOCK_BIN" run -n 1 --no-history --db-setup "python3 setup.py" --env "MARK_DIR=$T_TMP/db/marks" \
	--json-report "$T_TMP/db.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
killed=
if wait_mark "$T_TMP/db/marks" >/dev/null; then
	c=$(worker_container "$XPID" gw0)
	[ -n "$c" ] && docker kill "$c" >/dev/null && killed=$c
fi
wait "$XPID"
RC=$?
dbo() { json "$T_TMP/db.json" "[t['outcome'] for t in r['tests'] if t['nodeid'].endswith('::$1')][0]"; }
check "with a database: exit 1 (got $RC)" eq "$RC" 1
check "os._exit with a database is crashed" eq "$(dbo test_2_exit)" crashed
check "after os._exit: a fresh clone (the dirtying test's row is gone)" eq "$(dbo test_3_fresh_after_exit)" passed
check "killed from outside: our own worker's container was killed" test -n "$killed"
check "killed from outside is crashed" eq "$(dbo test_4_killed_from_outside)" crashed
check "after the kill: a fresh clone (the row written after the first crash is gone)" eq "$(dbo test_5_fresh_after_kill)" passed
check "each crash got a fresh container (3 containers, one database name)" eq \
	"$(cut -d' ' -f2 trace | sort -u | wc -l)/$(cut -d' ' -f3 trace | sort -u | wc -l)" 3/1
check "with a database: workers were replaced twice" eq "$(cat "$T_TMP/out" "$T_TMP/err" | grep -c "replacing worker")" 2
check "with a database: nothing left" no_leftovers_of_pid "$XPID"

# Past the container's memory limit: the kernel kills the runner, the agent
# reads the cgroup's OOM counter and says so.
mkdir -p "$T_TMP/oom"
cat >"$T_TMP/oom/test_oom.py" <<'PY'
def test_before():
    assert True

def test_hog():
    hoard = []
    for _ in range(4096):
        hoard.append(bytearray(1 << 20))

def test_after():
    assert True
PY
cd "$T_TMP/oom" || exit 1
xrun run -n 1 --db none --memory 200m --json-report "$T_TMP/oom.json" .
check "OOM: exit 1 (got $RC)" eq "$RC" 1
check "OOM: the hog is crashed" eq "$(json "$T_TMP/oom.json" "[t['outcome'] for t in r['tests'] if t['nodeid'].endswith('::test_hog')][0]")" crashed
# The agent's path (it survives and reads the cgroup's counter), not the
# orchestrator's (the container died; Docker's OOMKilled): their texts differ.
check "OOM: the agent's reason (the cgroup's counter), not the dead container's" eq "$(json "$T_TMP/oom.json" \
	"[t['longrepr'] for t in r['tests'] if t['nodeid'].endswith('::test_hog')][0].endswith(': OOM killed (the container\\'s memory limit)')")" True
check "OOM: the run went on (2 passed)" eq "$(json "$T_TMP/oom.json" 'r["summary"]["passed"]')" 2
check "OOM: nothing left" no_leftovers_of_pid "$XPID"
# The agent itself stops answering (its container frozen with docker
# pause): past --timeout and a grace the orchestrator kills the container,
# the test is a crash, and a fresh worker runs the rest. The pause follows
# the test's marker; --timeout 10 leaves it 10 s to land before the agent
# would time the test out by itself (which the outcome check would show).
mkdir -p "$T_TMP/frozen/marks"
chmod 777 "$T_TMP/frozen/marks"
cat >"$T_TMP/frozen/test_frozen.py" <<'PY'
import os, time
def test_before():
    pass
def test_frozen():
    open(os.environ["MARK_DIR"] + "/freeze-" + os.environ["PYTEST_XDIST_WORKER"], "w").close()
    time.sleep(300)
def test_after():
    pass
PY
cd "$T_TMP/frozen" || exit 1
"$XDOCK_BIN" run -n 1 --db none --timeout 10 --env "MARK_DIR=$T_TMP/frozen/marks" \
	--json-report "$T_TMP/frozen.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
paused=
if wait_mark marks >/dev/null; then
	c=$(worker_container "$XPID" gw0)
	[ -n "$c" ] && docker pause "$c" >/dev/null && paused=$c
fi
wait "$XPID"
RC=$?
check "silent agent: our own worker's container was paused" test -n "$paused"
check "silent agent: exit 1 (got $RC)" eq "$RC" 1
check "silent agent: the frozen test is crashed, saying why" eq "$(json "$T_TMP/frozen.json" \
	"[t['outcome'] + ':' + str('stopped answering' in t['longrepr']) for t in r['tests'] if t['nodeid'].endswith('::test_frozen')][0]")" crashed:True
check "silent agent: a fresh worker ran the rest" eq "$(json "$T_TMP/frozen.json" 'r["summary"]["passed"]')" 2
check "silent agent: nothing left" no_leftovers_of_pid "$XPID"

# Every test crashes its worker: past --max-worker-restart the run stops,
# the tests it did not reach are reported not run with the reason.
mkdir -p "$T_TMP/crashy"
cat >"$T_TMP/crashy/test_crashy.py" <<'PY'
import os, pytest
@pytest.mark.parametrize("i", range(6))
def test_crash(i):
    os._exit(1)
PY
cd "$T_TMP/crashy" || exit 1
xrun run -n 1 --db none --max-worker-restart 2 --json-report "$T_TMP/crashy.json" .
check "restart limit: exit 1 (got $RC)" eq "$RC" 1
check "restart limit: 3 crashed (1 + 2 replacements), 3 not run" eq \
	"$(json "$T_TMP/crashy.json" '(r["summary"]["crashed"], r["summary"]["not_run"], len(r["tests"]))')" "(3, 3, 6)"
check "restart limit: the reason names the limit" eq "$(json "$T_TMP/crashy.json" \
	'all("--max-worker-restart" in t["reason"] for t in r["tests"] if t["outcome"] == "not run")')" True
check "restart limit: nothing left" no_leftovers_of_pid "$XPID"
finish
