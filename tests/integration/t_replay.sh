#!/usr/bin/env bash
# Order-dependent failures: a suite with a planted polluter (test_polluter
# changes module state; test_victim, later on the same worker, fails).
# The run records each worker's sequence; `xdock replay` runs it again on
# a fresh container and reproduces the failure; `xdock bisect` names the
# polluter and prints a plain pytest command that fails; under --reruns
# with --reruns-replay the victim is order-dependent and a test that
# fails once on its own is flaky on its own (JSON, pytest's JUnit file,
# terminal).
. "$(dirname "$0")/lib.sh"

S=$T_TMP/suite
mkdir -p "$S/.marks"
cat >"$S/state.py" <<'PY'
DIRTY = []
PY
cat >"$S/test_pollute.py" <<'PY'
import state

def test_i1(): pass
def test_i2(): pass
def test_polluter():
    state.DIRTY.append("left behind")
def test_i3(): pass
def test_i4(): pass
def test_i5(): pass
def test_victim():
    assert not state.DIRTY, "module state changed by an earlier test"
PY
cat >"$S/test_other.py" <<'PY'
def test_o1(): pass
def test_o2(): pass
PY
# Collected after the victim: on the victim's worker it fails later.
cat >"$S/test_zflaky.py" <<'PY'
import os

def test_flaky_alone():
    mark = os.path.join(os.path.dirname(__file__), ".marks", "flaky")
    first = not os.path.exists(mark)
    open(mark, "a").close()
    assert not first, "fails the first time only"
PY
cd "$S" || exit 1
V=test_pollute.py::test_victim
P=test_pollute.py::test_polluter

# --- the run records every worker's sequence --------------------------------
xrun run -n 2 --dist loadfile --json-report "$T_TMP/r.json" --junitxml "$T_TMP/r.xml" .
check "the run fails (got $RC)" eq "$RC" 1
check "without --reruns the JUnit file is pytest's alone: no property" python3 -c "
import sys, xml.etree.ElementTree as ET
x = ET.parse('$T_TMP/r.xml')
sys.exit(not (len(list(x.iter('testcase'))) == 10 and not list(x.iter('properties'))))"
check "last-run.json is written" test -s .xdock/last-run.json
seqof() { # FILE: "worker:node,node,..." of the lane that ran the victim
	json "$1" "[l['worker'] + ':' + ','.join(t['nodeid'].split('::')[1] for t in l['tests']) for l in r['sequences'] if any(t['nodeid'] == '$V' for t in l['tests'])][0]"
}
LANE=$(seqof "$T_TMP/r.json")
W=${LANE%%:*}
check "the report records the victim's worker in order (got $LANE)" eq "${LANE#*:}" \
	"$(json "$T_TMP/r.json" "','.join(t['nodeid'].split('::')[1] for l in r['sequences'] if l['worker'] == '$W' for t in l['tests'])")"
check "the polluter ran before the victim on $W" python3 -c "import sys; s='${LANE#*:}'.split(','); sys.exit(not s.index('test_polluter') < s.index('test_victim'))"
check "last-run.json holds the same sequence" eq "$(seqof .xdock/last-run.json)" "$LANE"
check "a sequence names its container, database and times" eq "$(json "$T_TMP/r.json" "[(len(l['container']) == 64, l['database'], l['tests'][-1]['outcome'], 0 < l['collected'] <= l['tests'][0]['start'] <= l['tests'][-1]['end'] <= r['duration']) for l in r['sequences'] if l['worker'] == '$W'][0]")" "(True, 'test_db_$W', 'failed', True)"
check "the image is recorded by id" python3 -c "
import json, re, sys
sys.exit(not re.fullmatch(r'sha256:[0-9a-f]{64}', json.load(open('.xdock/last-run.json'))['invocation']['image_id']))"
check "the record is small (no test output)" test "$(stat -c %s .xdock/last-run.json)" -lt 4000
check "nothing left" no_leftovers_of_pid "$XPID"

# --- replay: the same tests, the same order, a fresh worker -----------------
xrun replay "$W" --json-report "$T_TMP/replay.json"
check "replay $W: reproduced, exit 1 (got $RC)" eq "$RC" 1
check "replay says reproduced" grep -q "reproduced: $V failed again" "$T_TMP/out"
UPTO=$(echo "${LANE#*:}" | sed 's/\(.*test_victim\).*/\1/')
check "replay ran exactly the recorded sequence up to the victim, in order" eq "$(seqof "$T_TMP/replay.json" | cut -d: -f2-)" "$UPTO"
check "replay ran on one fresh worker and database" eq "$(json "$T_TMP/replay.json" "(len(r['sequences']), r['sequences'][0]['database'], r['sequences'][0]['container'] != '$(json "$T_TMP/r.json" "[l['container'] for l in r['sequences'] if l['worker'] == '$W'][0]")')")" "(1, 'test_db_gw0', True)"
# The recorded image by id; only when another build removed it meanwhile,
# the tag, with a warning.
check "replay ran the recorded image id" python3 -c "
import json, sys
img = json.load(open('$T_TMP/replay.json'))['image']
rec = json.load(open('.xdock/last-run.json'))['invocation']['image_id']
sys.exit(not (img == rec or (img == 'xdock/python:bookworm' and 'is gone' in open('$T_TMP/err').read())))"
check "replay did not overwrite the record" eq "$(seqof .xdock/last-run.json)" "$LANE"
check "nothing left" no_leftovers_of_pid "$XPID"

# A failure that does not come back: not reproduced, exit 0.
xrun replay --until test_zflaky.py::test_flaky_alone
check "replay of a fails-once test: not reproduced, exit 0 (got $RC)" eq "$RC" 0
check "replay says not reproduced" grep -q "not reproduced: test_zflaky.py::test_flaky_alone passed" "$T_TMP/out"
xrun replay gw9
check "replay of an unknown worker: usage error (got $RC)" eq "$RC" 4

# --- --reruns --reruns-replay: order-dependent or flaky on its own ----------
rm -f .marks/*
xrun run -n 2 --dist loadfile --db none --reruns 1 --reruns-replay --json-report "$T_TMP/f.json" --junitxml "$T_TMP/f.xml" .
check "flaky tests pass on the rerun: exit 0 (got $RC)" eq "$RC" 0
kind() { json "$T_TMP/f.json" "[(t.get('flaky'), t.get('flaky_kind')) for t in r['tests'] if t['nodeid'] == '$1'][0]"; }
check "the victim is order-dependent" eq "$(kind "$V")" "(True, 'order-dependent')"
check "the fails-once test is flaky on its own" eq "$(kind test_zflaky.py::test_flaky_alone)" "(True, 'flaky on its own')"
check "the victim's failed try names its worker and what ran before it" python3 -c "
import json, sys
r = json.load(open('$T_TMP/f.json'))
a = [t for t in r['tests'] if t['nodeid'] == '$V'][0]['attempts'][0]
lane = [l for l in r['sequences'] if l['round'] == 0 and l['worker'] == a['worker']][0]
ids = [t['nodeid'] for t in lane['tests']]
sys.exit(not (a['ran_before_count'] == ids.index('$V') and a['ran_before'] == ids[:ids.index('$V')][-20:] and '$P' in a['ran_before']))"
check "the victim's rerun ran on a fresh container" python3 -c "
import json, sys
r = json.load(open('$T_TMP/f.json'))
first = {l['container'] for l in r['sequences'] if l['round'] == 0}
again = [l['container'] for l in r['sequences'] if l['round'] == 1 and any(t['nodeid'] == '$V' for t in l['tests'])]
sys.exit(not (len(again) == 1 and again[0] not in first))"
# The JUnit file is pytest's own (the controller's junitxml), with each
# flaky test's kind and the workers of its failed tries as properties of
# its <testcase>, as record_property writes them; other tests have none.
junit_props() { # FILE NAME: the properties of NAME's testcases
	python3 -c "
import sys, xml.etree.ElementTree as ET
print(sorted({(p.get('name'), p.get('value')) for t in ET.parse('$1').iter('testcase') if t.get('name') == '$2'
       for p in t.iter('property')}))"
}
FW=$(json "$T_TMP/f.json" "[a['worker'] for t in r['tests'] if t['nodeid'] == '$V' for a in t['attempts']][0]")
check "JUnit: the victim is order-dependent, failed on $FW" eq "$(junit_props "$T_TMP/f.xml" test_victim)" \
	"[('failed_on', '$FW'), ('flaky', 'order-dependent')]"
check "JUnit: the fails-once test is flaky on its own" python3 -c "
import sys, xml.etree.ElementTree as ET
sys.exit(not [p for t in ET.parse('$T_TMP/f.xml').iter('testcase') if t.get('name') == 'test_flaky_alone'
              for p in t.iter('property') if (p.get('name'), p.get('value')) == ('flaky', 'flaky on its own')])"
check "JUnit: a test that passed at once has no property" eq "$(junit_props "$T_TMP/f.xml" test_i1)" "[]"
check "the terminal says order-dependent" grep -q "flaky: $V: order-dependent" "$T_TMP/out"
check "the terminal says flaky on its own" grep -q "flaky: test_zflaky.py::test_flaky_alone: flaky on its own" "$T_TMP/out"
check "nothing left" no_leftovers_of_pid "$XPID"
# --- bisect: the polluter, and a plain pytest command -----------------------
# From the report of the run above (--db none: quicker; its first round
# recorded the victim's failure).
xrun bisect "$V" --report "$T_TMP/f.json"
check "bisect: found, exit 1 (got $RC)" eq "$RC" 1
check "bisect names the polluter alone" eq "$(sed -n '/fails after this test:/{n;p}' "$T_TMP/out")" "  $P"
CMD=$(grep -A1 'reproduce with plain pytest' "$T_TMP/out" | tail -1 | sed 's/^ *//')
check "bisect's command is plain pytest with the polluter then the victim" eq "$CMD" "python3 -m pytest -p no:randomly -o addopts= $P $V"
plain() {
	docker run --rm --label "xdock.test=$T_NAME" -v "$S:$S" -w "$S" xdock/python:bookworm sh -c "$1 -p no:cacheprovider -q" >"$T_TMP/plain" 2>&1
}
plain "$CMD"
check "the plain pytest command fails (got $?)" grep -q "1 failed, 1 passed" "$T_TMP/plain"
plain "python3 -m pytest -p no:randomly $V"
check "the victim alone passes with plain pytest" grep -q "1 passed" "$T_TMP/plain"
xrun bisect test_pollute.py::test_i1 --report "$T_TMP/f.json"
check "bisect of a test that did not fail: usage error (got $RC)" eq "$RC" 4
check "nothing left" no_leftovers_of_pid "$XPID"

finish
