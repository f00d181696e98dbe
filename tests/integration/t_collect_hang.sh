#!/usr/bin/env bash
# A collection that never ends (a conftest that blocks at import) is
# bounded by --timeout: past --timeout + 15 s without a word from the
# worker, its container is killed and the run stops as pytest's collection
# errors do (exit 2), saying why; nothing is left. Without --timeout there
# is no limit, as with pytest-timeout.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
cat >"$T_TMP/suite/conftest.py" <<'PY'
import time
time.sleep(600)  # collection never ends
PY
printf 'def test_ok():\n    pass\n' >"$T_TMP/suite/test_ok.py"
cd "$T_TMP/suite" || exit 1

start=$(date +%s)
# The outer timeout only keeps a broken build from hanging CI.
timeout -s KILL 150 "$XDOCK_BIN" run -v -n 2 --db none --timeout 2 --json-report "$T_TMP/r.json" . \
	>"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
wait "$XPID"
RC=$?
took=$(($(date +%s) - start))
check "collection hang: exit 2 like a collection error (got $RC)" eq "$RC" 2
check "collection hang: stopped after --timeout + 15 s, not later (took $took s)" test "$took" -le 60
check "collection hang: says so" grep -q "collection did not finish within --timeout + 15 s; its container was killed" "$T_TMP/err"
# pytest's output is stdout; xdock's own lines (the -v start-up line
# with the run id among them) are stderr.
run=$(sed -n 's/^xdock .*, run \([0-9a-f]*\)$/\1/p' "$T_TMP/err")
check "collection hang: the run named itself" test -n "$run"
check "collection hang: nothing left" no_leftovers_of "$run"
check "collection hang: nothing left of its pid" no_leftovers_of_pid "$XPID"
finish
