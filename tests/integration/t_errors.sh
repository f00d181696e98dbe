#!/usr/bin/env bash
# Bad input gets one clear line and pytest's exit code, and leaves nothing:
# an unknown image, an unreachable --db-url, a bad option, a pytest usage
# error inside the container, a missing project path.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
printf 'def test_ok():\n    assert True\n' >"$T_TMP/suite/test_ok.py"
cd "$T_TMP/suite" || exit 1

xrun run -n 2 --db none --image xdock/no-such-image:1 .
check "unknown image: exit 4" eq "$RC" 4
check "unknown image: names the image" grep -q "No such image: xdock/no-such-image:1" "$T_TMP/err"
check "unknown image: says how to build it" grep -q "images/build" "$T_TMP/err"
check "unknown image: one line on stderr" eq "$(wc -l <"$T_TMP/err")" 1
check "unknown image: nothing left" no_leftovers_of_pid "$XPID"

t0=$(date +%s%N)
xrun run -n 2 --db-url "postgresql://u:s3cret@127.0.0.1:1/postgres" .
took_ms=$((($(date +%s%N) - t0) / 1000000))
check "unreachable --db-url: exit 3" eq "$RC" 3
check "unreachable --db-url: names the server" grep -q "127.0.0.1:1" "$T_TMP/err"
check "unreachable --db-url: password masked" bash -c "! grep -q s3cret '$T_TMP/err' '$T_TMP/out'"
check "unreachable --db-url: *** shown in its place" grep -q 'postgresql://u:\*\*\*@127.0.0.1:1/' "$T_TMP/err"
# Retried for the documented 5 s: a lower bound (a loaded machine only
# makes it longer), from the message and from the clock.
check "unreachable --db-url: retried 5 s, more than once (took $took_ms ms)" eq "$(sed -n \
	's/.*gave up after \([0-9]*\) ms (\([0-9]*\) attempts).*/\1 \2/p' "$T_TMP/err" | {
	read -r ms n && [ "$ms" -ge 5000 ] && [ "$n" -ge 2 ] && [ "$took_ms" -ge 5000 ] && echo yes; })" yes
check "unreachable --db-url: nothing left" no_leftovers_of_pid "$XPID"

xrun run -n 1 --db none --frobnicate .
check "unknown option: exit 4" eq "$RC" 4
check "unknown option: named" grep -q -- "--frobnicate" "$T_TMP/err"

xrun run -n 1 --db none . --no-such-pytest-flag
check "pytest usage error in the container: exit 4 (got $RC)" eq "$RC" 4
check "pytest usage error: pytest's message shown" grep -q -- "--no-such-pytest-flag" "$T_TMP/err"
# pytest's own usage message, from the controller as under pytest-xdist,
# every time (not only when it came before the worker's), then xdock's
# one line.
check "pytest usage error: pytest's usage message, as pytest prints it" grep -q "^ERROR: usage: " "$T_TMP/err"
check "pytest usage error: xdock's own words are one line, the last" eq \
	"$(grep -c '^xdock:' "$T_TMP/err")/$(tail -n 1 "$T_TMP/err" | cut -c1-6)" "1/xdock:"
check "pytest usage error: nothing left" no_leftovers_of_pid "$XPID"

xrun run -n 1 --db none -p no_such_plugin_xyz .
check "plugin that fails to import: pytest's own exit code 1 (got $RC)" eq "$RC" 1
# pytest's traceback from the controller, as pytest-xdist shows it, then
# xdock's one line naming the plugin, last.
check "plugin that fails to import: pytest's own traceback" grep -q "^ImportError: Error importing plugin \"no_such_plugin_xyz\"" "$T_TMP/err"
check "plugin that fails to import: one line of xdock's naming it, the last" eq \
	"$(grep -c '^xdock:' "$T_TMP/err")/$(tail -n 1 "$T_TMP/err" | grep -c '^xdock: .*no_such_plugin_xyz')" 1/1

xrun run -n 1 --db none does/not/exist
check "missing path: exit 4 like pytest (got $RC)" eq "$RC" 4
check "missing path: nothing left" no_leftovers_of_pid "$XPID"

xrun run -n 2 --db none --docker-host unix:///nonexistent/docker.sock .
check "engine unreachable: exit 3 (got $RC)" eq "$RC" 3
check "engine unreachable: names the address and a fix" grep -q "/nonexistent/docker.sock.*scripts/setup" "$T_TMP/err"
check "engine unreachable: one line" eq "$(wc -l <"$T_TMP/err")" 1

# Workers that collect different tests: indexes on the wire would mean
# different tests, so the run stops and names the difference.
mkdir -p "$T_TMP/skew"
cat >"$T_TMP/skew/conftest.py" <<'PY'
import os
def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER") == "gw1":
        items[:] = [i for i in items if "second" not in i.nodeid]
PY
printf 'def test_first():\n    pass\n\ndef test_second():\n    pass\n' >"$T_TMP/skew/test_skew.py"
cd "$T_TMP/skew" || exit 1
xrun run -n 2 --db none .
check "collection mismatch: exit 3 (got $RC)" eq "$RC" 3
check "collection mismatch: says so and names both workers" grep -Eq "different tests were collected: gw[01] collected [12] tests, gw[01] collected [12]" "$T_TMP/err"
check "collection mismatch: nothing left" no_leftovers_of_pid "$XPID"
cd "$T_TMP/suite" || exit 1

xrun run -n 1 --db-setup "echo migrating; echo broken migration >&2; exit 7" .
check "--db-setup that fails: exit 4 (got $RC)" eq "$RC" 4
check "--db-setup that fails: its status and output are shown" grep -q "exited with 7.*" "$T_TMP/err"
check "--db-setup that fails: its output is shown" grep -q "broken migration" "$T_TMP/err"
check "--db-setup that fails: its standard output too" grep -q "^migrating" "$T_TMP/err"
check "--db-setup that fails: nothing left" no_leftovers_of_pid "$XPID"

xrun run -n -1 .
check "-n -1: exit 4" eq "$RC" 4
finish
