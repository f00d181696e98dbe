#!/usr/bin/env bash
# The end-to-end promise: fixtures/demo (database-heavy, colliding if the
# workers shared a database) passes at -n 4 with one database per worker,
# the reports say so, and nothing of the run remains.
. "$(dirname "$0")/lib.sh"

# From a copy: the run writes its history (.xdock/durations.json) into the
# project directory, and the source tree must stay as it is.
cp -r "$XDOCK_SRC/fixtures/demo" "$T_TMP/demo" || exit 1
rm -rf "$T_TMP/demo/.xdock" "$T_TMP/demo/__pycache__"
src_before=$(cd "$XDOCK_SRC/fixtures/demo" && ls -A)
cd "$T_TMP/demo" || exit 1
"$XDOCK_BIN" run -n 4 --db-setup "python3 migrate.py" \
	--json-report "$T_TMP/report.json" --junitxml "$T_TMP/junit.xml" . >"$T_TMP/out.txt" 2>&1
rc=$?
tail -n 5 "$T_TMP/out.txt"
check "exit code 0" eq "$rc" 0
check "json report written" test -s "$T_TMP/report.json"
collected=$(json "$T_TMP/report.json" 'r["summary"]["collected"]')
check "at least 200 tests collected ($collected)" test "$collected" -ge 200
check "all passed" eq "$(json "$T_TMP/report.json" 'r["summary"]["passed"] == r["summary"]["collected"]')" True
check "0 failed" eq "$(json "$T_TMP/report.json" 'r["summary"]["failed"] + r["summary"]["error"] + r["summary"]["crashed"]')" 0
check "four workers gw0..gw3" eq "$(json "$T_TMP/report.json" '",".join(w["name"] for w in r["workers"])')" gw0,gw1,gw2,gw3
check "one database per worker" eq "$(json "$T_TMP/report.json" '",".join(w["database"] for w in r["workers"])')" \
	test_db_gw0,test_db_gw1,test_db_gw2,test_db_gw3
check "every worker ran tests" eq "$(json "$T_TMP/report.json" 'all(w["tests"] > 0 for w in r["workers"])')" True
check "every test has a worker and a duration" eq \
	"$(json "$T_TMP/report.json" 'all(t["worker"] and t["duration"] >= 0 for t in r["tests"])')" True
check "worker test counts add up" eq \
	"$(json "$T_TMP/report.json" 'sum(w["tests"] for w in r["workers"]) == len(r["tests"])')" True
check "summary line printed" grep -Eq "^=+ [0-9]+ passed in [0-9.]+s( \([0-9:]+\))? =+$" "$T_TMP/out.txt"
check "progress reaches 100%" grep -q "\[100%\]" "$T_TMP/out.txt"
check "junit xml parses and counts" eq "$(python3 -c '
import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot().find("testsuite")
print(s.get("tests"), s.get("failures"), s.get("errors"))' "$T_TMP/junit.xml")" "$collected 0 0"
run_id=$(json "$T_TMP/report.json" 'r["run_id"]')
check "no containers, networks or volumes of run $run_id left" no_leftovers_of "$run_id"
check "the run wrote its history into the copy" test -s "$T_TMP/demo/.xdock/durations.json"
check "nothing written into fixtures/demo of the source tree" eq "$(cd "$XDOCK_SRC/fixtures/demo" && ls -A)" "$src_before"
finish
