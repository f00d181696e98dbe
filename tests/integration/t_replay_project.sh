#!/usr/bin/env bash
# replay and bisect run the recorded run as it ran, from anywhere in the
# project: the record is looked up in the rootdir (where run wrote it, as
# pytest finds its cache), not in the current directory; the settings of
# the project's config that shape a worker's environment ([xdock] db-env
# here) hold in the replay as in the run; and the workers do not apply
# the project's addopts a second time (an option that appends would have
# its value twice).
# Each planted test fails in the replay when one of the three is missing.
. "$(dirname "$0")/lib.sh"

P=$T_TMP/proj
mkdir -p "$P/tests/sub"
cat >"$P/pytest.ini" <<'INI'
[pytest]
addopts = --planted=once

[xdock]
db-env = url
INI
cat >"$P/conftest.py" <<'PY'
def pytest_addoption(parser):
    parser.addoption("--planted", action="append", default=[])
PY
cat >"$P/tests/test_env.py" <<'PY'
import os

def test_addopts_once(request):
    # addopts' value, given once: the workers run with -o addopts=.
    assert request.config.getoption("planted") == ["once"]

def test_db_env_url():
    # [xdock] db-env = url: DATABASE_URL and no PG* variables.
    assert "DATABASE_URL" in os.environ
    assert "PGHOST" not in os.environ

def test_zfails():
    assert False, "planted"
PY
: >"$P/tests/sub/test_nothing.py"
cd "$P" || exit 1
T=tests/test_env.py

outcomes() { # REPORT: "name=outcome ..." of the tests gw0 ran
	json "$1" "' '.join(t['nodeid'].split('::')[1] + '=' + t['outcome'] for l in r['sequences'] if l['worker'] == 'gw0' for t in l['tests'])"
}
WANT="test_addopts_once=passed test_db_env_url=passed test_zfails=failed"

xrun run -n 1 --json-report "$T_TMP/run.json" tests
check "the run fails on the planted test (got $RC)" eq "$RC" 1
check "in the run, only the planted test fails" eq "$(outcomes "$T_TMP/run.json")" "$WANT"
check "the record is in the rootdir" test -s "$P/.xdock/last-run.json"
check "the record keeps db-env and where the run happened" eq \
	"$(json "$P/.xdock/last-run.json" "(r['invocation']['db_env'], r['invocation']['rootdir'], r['invocation']['workdir'])")" \
	"('url', '$P', '$P')"
check "nothing left" no_leftovers_of_pid "$XPID"

# --- replay from a subdirectory of the project -------------------------------
cd "$P/tests/sub" || exit 1
xrun replay gw0 --json-report "$T_TMP/replay.json"
check "replay from tests/sub finds the run and reproduces, exit 1 (got $RC)" eq "$RC" 1
check "replay says reproduced" grep -q "reproduced: $T::test_zfails failed again" "$T_TMP/out"
check "in the replay, only the planted test fails (db-env, addopts once)" eq "$(outcomes "$T_TMP/replay.json")" "$WANT"
check "nothing written into the subdirectory" test ! -e "$P/tests/sub/.xdock"
check "nothing left" no_leftovers_of_pid "$XPID"

# --- bisect from there too ---------------------------------------------------
# The planted test fails alone: the whole sequence and the test alone run
# in one run, and the bisect stops there.
xrun bisect "$T::test_zfails" --json-report "$T_TMP/bisect.json"
check "bisect: fails on its own, exit 0 (got $RC)" eq "$RC" 0
check "bisect says it fails on its own" grep -q "fails on its own" "$T_TMP/out"
check "in bisect's whole sequence, only the planted test fails" eq "$(outcomes "$T_TMP/bisect.json")" "$WANT"
check "bisect's plain pytest command does not read addopts again" eq \
	"$(grep -A1 'reproduce with plain pytest' "$T_TMP/out" | tail -1 | sed 's/^ *//')" \
	"python3 -m pytest -p no:randomly -o addopts= --planted=once $T::test_zfails"
check "nothing left" no_leftovers_of_pid "$XPID"

finish
