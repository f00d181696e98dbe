#!/usr/bin/env bash
# Hostile tests cannot corrupt the channel or the reports: 100 MB of output,
# binary garbage and invalid UTF-8, writes straight to fd 1, reads of fd 0,
# node ids with quotes, newlines, emoji and 2,000-character parameters.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/test_hostile.py" <<'PY'
import os, sys, pytest

def test_hundred_megabytes():
    chunk = "x" * (1 << 20)
    for _ in range(100):
        sys.stdout.write(chunk)

def test_binary_garbage():
    sys.stdout.buffer.write(bytes(range(256)) * 64)
    sys.stdout.buffer.write(b"\xff\xfe\xc3\x28 invalid utf-8 \xed\xa0\x80\n")
    assert False, "garbage \udcff in the failure text"

def test_protocol_lookalike():
    os.write(1, b'{"t":"result","i":0,"outcome":"failed"}\n')
    os.write(2, b'{"t":"done"}\n')
    assert os.read(0, 10) == b""

@pytest.mark.parametrize("v", ['quote"s', "new\nline", "emoji \U0001F600", "back\\slash", "y" * 2000])
def test_ids(v):
    assert v
PY
cd "$T_TMP/suite" || exit 1
xrun run -n 2 --db none --json-report "$T_TMP/r.json" --junitxml "$T_TMP/j.xml" .
check "one expected failure: exit 1 (got $RC)" eq "$RC" 1
check "report parses as JSON with 8 tests" eq "$(json "$T_TMP/r.json" 'len(r["tests"])')" 8
check "7 passed, 1 failed" eq "$(json "$T_TMP/r.json" '(r["summary"]["passed"], r["summary"]["failed"])')" "(7, 1)"
check "100 MB of output is capped with a note" eq "$(json "$T_TMP/r.json" \
	"[len(t.get('stdout','')) < 200000 and 'truncated' in t.get('stdout','') for t in r['tests'] if 'hundred' in t['nodeid']][0]")" True
check "a lookalike protocol line stays test output" eq "$(json "$T_TMP/r.json" \
	"[t['outcome'] for t in r['tests'] if 'lookalike' in t['nodeid']][0]")" passed
# The same ids pytest itself collects on the host (Debian's pytest, as in
# the image), byte for byte.
/usr/bin/python3 - "$T_TMP/ids.json" >/dev/null 2>&1 <<'PY'
import json, sys, pytest
class Grab:
    def pytest_collection_finish(self, session):
        self.ids = sorted(i.nodeid for i in session.items)
g = Grab()
pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "."], plugins=[g])
json.dump(g.ids, open(sys.argv[1], "w"))
PY
check "node ids with quotes, newline, emoji, backslash and 2,000 characters, as pytest has them" eq \
	"$(json "$T_TMP/r.json" 'sorted(t["nodeid"] for t in r["tests"]) == json.load(open("'"$T_TMP"'/ids.json"))')" True
check "the 2,000-character id is whole" eq "$(json "$T_TMP/r.json" 'max(len(t["nodeid"]) for t in r["tests"]) > 2000')" True
check "junit xml parses" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T_TMP/j.xml"
check "nothing left" no_leftovers_of_pid "$XPID"
finish
