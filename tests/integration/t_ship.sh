#!/usr/bin/env bash
# Symbolic links travel with --ship, on the local engine: a copy of
# fixtures/demo whose tests import a vendored module through a link to
# its directory and read a settings file through a link to a file (one
# absolute, one relative from a subdirectory); the links arrive as links,
# pointing inside the shipped project. A link leaving the project (by
# '..') refuses the run in one line, exit 4, with nothing left behind;
# naming it in .dockerignore lets the run go.
. "$(dirname "$0")/lib.sh"

cp -r "$XDOCK_SRC/fixtures/demo" "$T_TMP/demo" || exit 1
rm -rf "$T_TMP/demo/.xdock" "$T_TMP/demo/__pycache__" "$T_TMP/demo/.pytest_cache"
cd "$T_TMP/demo" || exit 1
mkdir -p vendor/greetlib-1.0/greetlib conf tests_sub
printf 'def greet(name):\n    return "hello " + name\n' >vendor/greetlib-1.0/greetlib/__init__.py
printf 'LEVEL = "shipped"\n' >conf/settings.py
ln -s vendor/greetlib-1.0/greetlib greetlib
ln -s "$T_TMP/demo/conf/settings.py" settings.py
ln -s ../conf/settings.py tests_sub/settings_copy.py
cat >test_links.py <<'PY'
import os

from greetlib import greet
import settings


def test_import_through_a_linked_directory():
    assert greet("x") == "hello x"


def test_links_arrive_as_links_inside_the_project():
    here = os.path.dirname(os.path.abspath(__file__))
    assert os.path.islink(os.path.join(here, "greetlib"))
    assert os.readlink(os.path.join(here, "greetlib")) == "vendor/greetlib-1.0/greetlib"
    assert os.readlink(os.path.join(here, "settings.py")) == "conf/settings.py"
    assert settings.LEVEL == "shipped"
    with open(os.path.join(here, "tests_sub", "settings_copy.py")) as f:
        assert "shipped" in f.read()
PY

xrun run -n 2 --ship --db none --json-report "$T_TMP/report.json" test_links.py
tail -n 3 "$T_TMP/out"
check "exit code 0" eq "$RC" 0
check "shipped, said on stderr" grep -Eq "shipped [0-9]+ files \([0-9.]+ MB\) to unix://" "$T_TMP/err"
check "both tests passed in the containers" eq "$(json "$T_TMP/report.json" \
	'(r["summary"]["collected"], r["summary"]["passed"])')" "(2, 2)"
run_id=$(json "$T_TMP/report.json" 'r["run_id"]')
check "nothing of run $run_id left" no_leftovers_of "$run_id"

# A link that leaves the project through '..'.
mkdir -p "$T_TMP/elsewhere" && echo x >"$T_TMP/elsewhere/secret.txt"
ln -s ../elsewhere/secret.txt escape.txt
xrun run -n 2 --ship --db none test_links.py
check "a link out of the project: exit 4" eq "$RC" 4
check "in one line naming the link and where it leads" grep -q \
	"escape.txt is a symbolic link to $T_TMP/elsewhere/secret.txt, outside the project" "$T_TMP/err"
check "the error is one line" eq "$(wc -l <"$T_TMP/err")" 1
check "nothing of that run left" no_leftovers_of_pid "$XPID"
echo escape.txt >.dockerignore
xrun run -n 2 --ship --db none test_links.py
check "named in .dockerignore, the run goes" eq "$RC" 0
check "nothing of that run left either" no_leftovers_of_pid "$XPID"
finish
