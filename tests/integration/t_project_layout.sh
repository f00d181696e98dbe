#!/usr/bin/env bash
# A project as users have it, run the way they run pytest: pytest.ini with
# addopts = -n 2 (and --timeout, which xdock takes over), fixtures in a
# parent conftest, a run from a subdirectory, an absolute path from
# elsewhere, options after the paths, [xdock] and [tool.xdock] settings,
# PYTEST_ADDOPTS, default and named variables passed from the host. Node
# ids and rootdir are compared with host pytest's.
. "$(dirname "$0")/lib.sh"

P=$T_TMP/proj
mkdir -p "$P/tests/sub" "$T_TMP/elsewhere"
cat >"$P/pytest.ini" <<'INI'
[pytest]
addopts = -n 2 --timeout=60
    -p no:randomly

[xdock]
db = none
env =
    FROM_INI=ini
    PASS_ME
INI
cat >"$P/tests/conftest.py" <<'PY'
import pytest

@pytest.fixture
def root_fixture():
    return 42
PY
cat >"$P/tests/sub/test_sub.py" <<'PY'
import os

def test_parent_fixture(root_fixture):
    assert root_fixture == 42

def test_environment():
    assert os.environ["FROM_INI"] == "ini"
    assert os.environ["PASS_ME"] == "host value"
    assert os.environ["CI"] == "from the host"
    if "EXPECT_CWD" in os.environ:
        assert os.getcwd() == os.environ["EXPECT_CWD"]
PY
cat >"$P/tests/test_top.py" <<'PY'
def test_top():
    pass
PY
# CI is one of the variables passed by default (DJANGO_SETTINGS_MODULE is
# another, but the test image's pytest-django would then want Django).
export PASS_ME="host value" CI="from the host"
# The host's pytest and pytest-xdist, from Debian.
HOST_PY=/usr/bin/python3

# host pytest's node ids for a set of arguments, from a directory.
host_ids() {
	(cd "$1" && shift && "$HOST_PY" -m pytest -p no:xdist -o addopts= --co -q "$@" 2>/dev/null | grep '::' | sort)
}
report_ids() {
	json "$1" "'\n'.join(sorted(t['nodeid'] for t in r['tests']))"
}

# 1. From tests/sub, no arguments: rootdir and inifile found above, the
# parent conftest seen, the workers in tests/sub, addopts' -n 2 used by
# xdock and kept away from the workers' pytest.
cd "$P/tests/sub" || exit 1
export EXPECT_CWD=$PWD
xrun run -v --env EXPECT_CWD --json-report "$T_TMP/sub.json"
check "from a subdirectory: exit 0 (got $RC)" eq "$RC" 0
check "from a subdirectory: addopts' -n 2 gives 2 workers" eq "$(jq '.workers | length' "$T_TMP/sub.json")" 2
check "from a subdirectory: both tests passed" eq "$(json "$T_TMP/sub.json" "r['summary']['passed']")" 2
check "from a subdirectory: node ids are host pytest's" eq "$(report_ids "$T_TMP/sub.json")" "$(host_ids "$PWD")"
check "-v names rootdir and inifile" grep -q "rootdir: $P, inifile: $P/pytest.ini" "$T_TMP/err"
check "rootdir is host pytest's" grep -q "^rootdir: $P" <(cd "$PWD" && "$HOST_PY" -m pytest -p no:xdist -o addopts= --co 2>&1)
check "-v says where env came from" grep -q "env: $P/pytest.ini \[xdock\]" "$T_TMP/err"
check "-v says where addopts came from" grep -q "addopts: $P/pytest.ini" "$T_TMP/err"
check "nothing left" no_leftovers_of_pid "$XPID"
unset EXPECT_CWD

# 2. An absolute path from elsewhere, pytest's options first, xdock's after
# the path.
cd "$T_TMP/elsewhere" || exit 1
xrun run -rfE "$P/tests" -n 3 --json-report "$T_TMP/abs.json"
check "absolute path from elsewhere: exit 0 (got $RC)" eq "$RC" 0
check "absolute path from elsewhere: -n 3 after the path" eq "$(jq '.workers | length' "$T_TMP/abs.json")" 3
check "absolute path from elsewhere: 3 passed" eq "$(json "$T_TMP/abs.json" "r['summary']['passed']")" 3
check "absolute path from elsewhere: node ids are host pytest's" eq "$(report_ids "$T_TMP/abs.json")" \
	"$(host_ids "$PWD" "$P/tests")"

# 3. Paths that share no directory but / cannot be mounted: exit 4, the
# message says so; nothing started.
xrun run "$P/tests" /usr/share
check "unmountable paths: exit 4 (got $RC)" eq "$RC" 4
check "unmountable paths: one line that says why" grep -q "share no directory but /" "$T_TMP/err"

# 4. --pdb: the words and the exit code of pytest-xdist.
(cd "$P" && "$HOST_PY" -m pytest -o addopts= -n 2 --pdb) >/dev/null 2>"$T_TMP/host_pdb"
HOST_RC=$?
xrun run -n 2 --pdb "$P/tests"
check "--pdb: exit $HOST_RC as under pytest-xdist (got $RC)" eq "$RC" "$HOST_RC"
check "--pdb: pytest-xdist's message" eq "$(sed 's/^xdock: //' "$T_TMP/err")" "$(sed 's/^ERROR: //' "$T_TMP/host_pdb")"

# 5. pyproject.toml: addopts as a list, [tool.xdock] settings, then
# PYTEST_ADDOPTS, then the command line.
Q=$T_TMP/toml
mkdir -p "$Q"
cat >"$Q/pyproject.toml" <<'TOML'
[tool.pytest.ini_options]
addopts = ["-n", "2", "-k", "not skipme"]

[tool.xdock]
db = "none"
no-history = true
env = ["FROM_TOML=toml"]
TOML
cat >"$Q/test_q.py" <<'PY'
import os

def test_toml_env():
    assert os.environ["FROM_TOML"] == "toml"

def test_skipme():
    assert False, "deselected by addopts"

def test_by_env_addopts():
    assert False, "deselected by PYTEST_ADDOPTS"
PY
cd "$Q" || exit 1
PYTEST_ADDOPTS="-n 1 -k 'not skipme and not by_env'" xrun run -v --json-report "$T_TMP/toml.json"
check "pyproject.toml: exit 0 (got $RC)" eq "$RC" 0
check "pyproject.toml: PYTEST_ADDOPTS' -n 1 over addopts' -n 2" eq "$(jq '.workers | length' "$T_TMP/toml.json")" 1
check "pyproject.toml: the selection of PYTEST_ADDOPTS (1 test)" eq \
	"$(json "$T_TMP/toml.json" "[t['nodeid'] for t in r['tests']]")" "['test_q.py::test_toml_env']"
check "pyproject.toml: -v names [tool.xdock]" grep -q "no-history: $Q/pyproject.toml \[tool.xdock\]" "$T_TMP/err"
check "pyproject.toml: no-history honoured" test ! -e "$Q/.xdock/durations.json"
check "nothing left" no_leftovers_of_pid "$XPID"
finish
