#!/usr/bin/env bash
# Every byte a worker sends is untrusted. Tests that write forged protocol
# lines to the runner's event pipe (a start with an index far out of
# range, a crash of a test that is not running, a result for a test the
# worker was not given, a line that is no message) break the protocol:
# that worker is killed and replaced, the test gets `crashed` with a
# reason that says so, and the run goes on. xdock itself must not crash
# and must leave nothing behind.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_forge.py" <<'PY'
import os, sys

def _evt():
    # The plugin takes the fd out of os.environ; a test can still find
    # it in the plugin's module, and xdock must assume it does.
    plugin = sys.modules.get("xdock_plugin")
    fd = getattr(plugin, "_EVT_FD", None) or os.environ.get("XDOCK_EVT_FD")
    assert fd is not None, "no event fd to forge on"
    return int(fd)

def _forge(line):
    os.write(_evt(), line)

def test_a_fine():
    pass

def test_b_start_out_of_range():
    _forge(b'{"t":"start","i":100000000}\n')
    os._exit(0)

def test_c_crash_bad_index():
    _forge(b'{"t":"crash","i":100000000,"status":1,"signal":0,"reason":"forged"}\n')

def test_d_result_not_given():
    _forge(b'{"t":"result","i":0,"outcome":"failed","duration":0,"when":"call"}\n')

def test_e_garbage():
    _forge(b"this is no protocol line\n")

def test_f_fine():
    pass

def test_g_fine():
    pass
PY
cd "$T_TMP/suite" || exit 1
xrun run -n 2 --db none --json-report "$T_TMP/r.json" .
check "xdock did not crash: exit 1 for the crashed tests (got $RC)" eq "$RC" 1
check "report has all 7 tests" eq "$(json "$T_TMP/r.json" 'len(r["tests"])')" 7
check "the four forging tests are crashed" eq "$(json "$T_TMP/r.json" \
	"sorted(t['nodeid'].split('::')[1] for t in r['tests'] if t['outcome'] == 'crashed')")" \
	"['test_b_start_out_of_range', 'test_c_crash_bad_index', 'test_d_result_not_given', 'test_e_garbage']"
check "each crash says the worker broke the protocol" eq "$(json "$T_TMP/r.json" \
	"all('broke the protocol' in t['longrepr'] for t in r['tests'] if t['outcome'] == 'crashed')")" True
check "the forged result did not count: test_a_fine passed" eq "$(json "$T_TMP/r.json" \
	"[t['outcome'] for t in r['tests'] if t['nodeid'].endswith('test_a_fine')][0]")" passed
check "the run went on: the other tests passed" eq "$(json "$T_TMP/r.json" \
	"sorted(t['nodeid'].split('::')[1] for t in r['tests'] if t['outcome'] == 'passed')")" \
	"['test_a_fine', 'test_f_fine', 'test_g_fine']"
check "the broken workers were replaced" grep -q "replacing worker" "$T_TMP/err"
RUN_ID=$(json "$T_TMP/r.json" 'r["run_id"]')
check "nothing left (run $RUN_ID)" no_leftovers_of "$RUN_ID"
check "nothing left of pid $XPID" no_leftovers_of_pid "$XPID"

# Early exits: a --quarantine file that does not exist is a usage error,
# said in one line, before anything is created.
xrun run -n 2 --db none --quarantine "$T_TMP/missing.txt" .
check "--quarantine missing.txt: exit 4 (got $RC)" eq "$RC" 4
check "--quarantine missing.txt: one line on stderr" eq "$(wc -l <"$T_TMP/err")" 1
check "--quarantine missing.txt: it names the file" grep -q "missing.txt" "$T_TMP/err"
check "--quarantine missing.txt: nothing left" no_leftovers_of_pid "$XPID"
# A bad --db-url fails before any container starts.
xrun run -n 2 --db-url "mysql://nope" .
check "bad --db-url: exit 4 (got $RC)" eq "$RC" 4
check "bad --db-url: one line on stderr" eq "$(wc -l <"$T_TMP/err")" 1
check "bad --db-url: nothing left" no_leftovers_of_pid "$XPID"
finish
