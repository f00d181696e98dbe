#!/usr/bin/env bash
# --timeline FILE.html in a real browser: headless Chromium from Debian
# loads the page from file:// (no network, a fresh profile), renders it to
# a PNG and dumps the DOM: the page loads without errors, fetches nothing,
# and shows one row per worker and one bar per test with its hover text.
# Skipped (exit 77) only when chromium is not installed: scripts/setup
# installs it.
. "$(dirname "$0")/lib.sh"

if ! command -v chromium >/dev/null 2>&1; then
	echo "$T_NAME: skipped: chromium is not installed (scripts/setup installs it: apt-get install chromium)"
	rm -rf "$T_TMP"
	exit 77
fi

S=$T_TMP/suite
mkdir -p "$S"
cat >"$S/test_t.py" <<'PY'
import time, pytest

@pytest.mark.parametrize("i", range(6))
def test_pass(i):
    time.sleep(0.05 * i)

def test_fail():
    assert False

def test_skip():
    pytest.skip("no")

def test_sleep_long():
    time.sleep(1)
PY
cd "$S" || exit 1
xrun run -n 3 --db none --timeline "$T_TMP/tl.html" --json-report "$T_TMP/r.json" .
check "the run ends as pytest would (got $RC)" eq "$RC" 1
check "the timeline is written" test -s "$T_TMP/tl.html"
check "the page is self-contained: no script, no external reference" python3 -c "
import re, sys
t = open('$T_TMP/tl.html').read()
sys.exit(bool(re.search(r'<script|<link|<img|<iframe|@import|url\(|https?:|src=', t, re.I)))"

# chromium [args...] FILE: a fresh profile each time, file:// only, none of
# its background traffic.
chromium_run() {
	local prof
	prof=$(mktemp -d "$T_TMP/profile.XXXXXX")
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$prof" \
		--enable-logging=stderr --v=0 "$@"
}
chromium_run --screenshot="$T_TMP/tl.png" --window-size=1280,400 "file://$T_TMP/tl.html" \
	>"$T_TMP/shot.out" 2>"$T_TMP/shot.err"
check "chromium rendered it (exit $?)" test -s "$T_TMP/tl.png"
check "the screenshot is a 1280x400 PNG" eq "$(python3 -c "
import struct
d = open('$T_TMP/tl.png', 'rb').read(24)
print(d[:8] == b'\x89PNG\r\n\x1a\n', struct.unpack('>II', d[16:24]))")" "True (1280, 400)"
chromium_run --dump-dom "file://$T_TMP/tl.html" >"$T_TMP/dom.html" 2>"$T_TMP/dom.err"
check "the DOM came back whole" grep -q "</svg>" "$T_TMP/dom.html"
check "the page loaded without errors (no console error, no failed load)" python3 -c "
import re, sys
log = open('$T_TMP/shot.err').read() + open('$T_TMP/dom.err').read()
bad = [l for l in log.splitlines() if re.search(r'CONSOLE|Uncaught|net::ERR|Failed to load|Not allowed to load', l)]
print('\n'.join(bad[:5]), file=sys.stderr)
sys.exit(bool(bad))"
NW=$(json "$T_TMP/r.json" "len(r['workers'])")
check "one row per worker in the rendered DOM" eq "$(grep -o '<g class="worker"' "$T_TMP/dom.html" | wc -l)" "$NW"
check "each worker's row is named" eq "$(grep -o 'data-worker="gw[0-9]*"' "$T_TMP/dom.html" | sort -u | wc -l)" "$NW"
check "one bar per test run" eq "$(grep -o '<rect class="test ' "$T_TMP/dom.html" | wc -l)" "$(json "$T_TMP/r.json" "sum(len(l['tests']) for l in r['sequences'])")"
check "the failed test's bar is red and says so on hover" grep -q '<rect class="test failed[^"]*"[^>]*><title>test_t.py::test_fail — failed' "$T_TMP/dom.html"
check "the critical path is the worker that finished last" eq "$(grep -o 'Critical path: gw[0-9]*' "$T_TMP/dom.html" | cut -d' ' -f3)" "$(json "$T_TMP/r.json" "r['timeline']['critical_path']['worker']")"
check "the JSON report carries the timeline's phases" eq "$(json "$T_TMP/r.json" "[p['name'] for p in r['timeline']['phases']][:2]")" "['engine', 'network']"
check "nothing left" no_leftovers_of_pid "$XPID"
finish
