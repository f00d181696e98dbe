#!/usr/bin/env bash
# A remote engine works like the local one: fixtures/demo on a second
# engine reached over tcp+TLS (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), whose
# image store starts empty. The images come from the first engine (said,
# with size and time), the project and the agent are shipped (no bind
# mount: a file git ignores is not there), every test passes with one
# database per worker, pytest's cache and --junitxml come back, and
# nothing of the run is left on either engine; --lf then reads the cache
# that came back. Opt-in (XDOCK_ENGINE2=1): its path (tcp+TLS, the copy,
# shipping) is t_engines' too, which runs by default; see
# tests/CMakeLists.txt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_engine2.sh"

engine2_start || {
	echo "t_remote: the second engine did not start" >&2
	exit 1
}
check "the second engine starts with no image" eq "$(e2 images -q | wc -l)" 0

cp -r "$XDOCK_SRC/fixtures/demo" "$T_TMP/demo" || exit 1
rm -rf "$T_TMP/demo/.xdock" "$T_TMP/demo/__pycache__" "$T_TMP/demo/.pytest_cache"
cd "$T_TMP/demo" || exit 1
# A work tree: what git tracks and what it does not ignore travel; what
# .gitignore or .dockerignore names stays here.
git init -q . && printf 'local-only.txt\n' >.gitignore && printf 'docker-only.txt\n' >.dockerignore
echo secret >local-only.txt
echo secret >docker-only.txt
echo notes >untracked-notes.txt
git add conftest.py migrate.py && git -c user.name=t -c user.email=t@t commit -qm init
cat >test_shipped.py <<'PY'
import os

def test_the_project_was_shipped_not_mounted():
    here = os.path.dirname(os.path.abspath(__file__))
    assert os.path.exists(os.path.join(here, "untracked-notes.txt"))
    assert not os.path.exists(os.path.join(here, "local-only.txt"))
    assert not os.path.exists(os.path.join(here, "docker-only.txt"))
PY
printf 'def test_fails():\n    assert False\n' >test_zfail.py

DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS xrun run -n 2 --docker-host "$E2_TCP" \
	--db-setup "python3 migrate.py" --json-report "$T_TMP/report.json" --junitxml "$T_TMP/junit.xml" .
tail -n 3 "$T_TMP/out"
check "exit code 1 (one test fails)" eq "$RC" 1
check "the test image was copied, with size and time" \
	grep -Eq "image xdock/python:bookworm copied from .* to $E2_TCP: [0-9.]+ MB in [0-9.]+s" "$T_TMP/err"
check "the database image was copied" grep -q "image xdock/postgres:15 copied from" "$T_TMP/err"
check "both are on the second engine now" eq "$(e2 images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" \
	"xdock/postgres:15 xdock/python:bookworm "
check "the shipping cost is printed" grep -Eq "shipped [0-9]+ files \([0-9.]+ MB\) to $E2_TCP in [0-9.]+s" "$T_TMP/err"
check "and recorded as a start-up phase" eq "$(json "$T_TMP/report.json" '"ship" in r["startup_phases"]')" True
collected=$(json "$T_TMP/report.json" 'r["summary"]["collected"]')
check "the demo and two more tests collected ($collected)" test "$collected" -ge 202
check "all passed but the failing one, as on the local engine" eq \
	"$(json "$T_TMP/report.json" '(r["summary"]["passed"], r["summary"]["failed"]) == (r["summary"]["collected"] - 1, 1)')" True
check "one database per worker" eq "$(json "$T_TMP/report.json" '",".join(w["database"] for w in r["workers"])')" \
	test_db_gw0,test_db_gw1
check "junit xml came back and counts" eq "$(python3 -c '
import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot().find("testsuite")
print(s.get("tests"), s.get("failures"))' "$T_TMP/junit.xml")" "$collected 1"
check "pytest's cache came back into the project" test -s "$T_TMP/demo/.pytest_cache/v/cache/nodeids"
check "the history is written here" test -s "$T_TMP/demo/.xdock/durations.json"
run_id=$(json "$T_TMP/report.json" 'r["run_id"]')
check "nothing of run $run_id left on the first engine" no_leftovers_of "$run_id"
check "nothing of run $run_id left on the second engine" eq "$(e2 ps -aq --filter "label=xdock.run=$run_id"
	e2 volume ls -q --filter "label=xdock.run=$run_id"
	e2 network ls -q --filter "label=xdock.run=$run_id")" ""
check "no container at all on the second engine" eq "$(e2 ps -aq | wc -l)" 0
check "no volume on the second engine" eq "$(e2 volume ls -q | wc -l)" 0

# --lf reads the cache that came back: only the test that failed runs.
cat >test_zfail.py <<'PY'
def test_fails():
    assert True
PY
DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS xrun run -n 2 --docker-host "$E2_TCP" --db-setup "python3 migrate.py" \
	--json-report "$T_TMP/report2.json" --lf .
check "--lf after a remote run reruns only the failed test" eq \
	"$(json "$T_TMP/report2.json" '[t["nodeid"] for t in r["tests"]]')" "['test_zfail.py::test_fails']"

engine2_stop
check "the second engine is gone (dockerd, bridge, rule, files)" engine2_gone
finish
