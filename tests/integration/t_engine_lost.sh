#!/usr/bin/env bash
# An engine lost mid-run: a run on two engines (the local one, and a
# second one over tcp+TLS) whose second engine's dockerd is killed while
# its workers run tests. The run goes on on the first engine: the tests
# the lost workers were running are crashes naming the lost engine, every
# other test passes, every test has exactly one outcome, the lost slots
# are started again on the first engine, the run ends (its teardown does
# not wait on the dead engine) and says what `xdock gc --docker-host`
# removes there later; nothing is left on the first engine. Runs by
# default where the machine can give the second engine a network
# namespace (lib_engine2.sh); the killed engine is never started again.
E2_DEFAULT=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_engine2.sh"

engine2_start || {
	echo "t_engine_lost: the second engine did not start" >&2
	exit 1
}
SOCK=unix:///var/run/docker.sock
engine2_busy_run || exit 1
check "the run got going on the first engine" test "$(ls marks | wc -l)" -ge 8
engine2_lose
lost_at=$(date +%s)
wait "$XPID"
RC=$?
took=$(($(date +%s) - lost_at))
tail -n 3 "$T_TMP/out"
check "exit code 1 (the lost workers' tests crashed)" eq "$RC" 1
check "the run ended after the loss, its teardown not stuck on the dead engine ($took s)" test "$took" -lt 300
check "the loss is said, naming the engine" grep -q "engine $E2_TCP lost" "$T_TMP/err"
check "what is left there is named, with the command that removes it" \
	grep -q "engine $E2_TCP was lost: what run [0-9a-f]* left there .* goes with \`xdock gc --docker-host $E2_TCP\`" \
	"$T_TMP/err"
check "the lost slots were started again" grep -q "replacing worker gw[13]" "$T_TMP/err"
check "every test has exactly one outcome" eq "$(json "$T_TMP/report.json" '
(len(r["tests"]), len({t["nodeid"] for t in r["tests"]}), r["summary"]["collected"])')" "(40, 40, 40)"
check "none is left without a result" eq "$(json "$T_TMP/report.json" '[t["nodeid"] for t in r["tests"] if t["outcome"] == "not run"] + [r["summary"]["not_run"]]')" "[0]"
crashed=$(json "$T_TMP/report.json" 'r["summary"]["crashed"]')
check "one or two crashes: the tests the two lost workers were running ($crashed)" test "$crashed" -ge 1 -a "$crashed" -le 2
check "each crash names the lost engine" eq "$(json "$T_TMP/report.json" '
all("was lost" in (t.get("longrepr") or "") + (t.get("reason") or "") for t in r["tests"] if t["outcome"] == "crashed")')" True
check "every other test passed" eq "$(json "$T_TMP/report.json" 'r["summary"]["passed"] + r["summary"]["crashed"]')" 40
check "the lost slots ended on the first engine" eq "$(json "$T_TMP/report.json" '[w["engine"] for w in r["workers"]]')" \
	"['$SOCK', '$SOCK', '$SOCK', '$SOCK']"
check "nothing of the run left on the first engine" no_leftovers_of_pid "$XPID"

engine2_stop
check "the second engine is gone" engine2_gone
check "the first engine's docker0 is still there" ip link show docker0
finish
