#!/usr/bin/env bash
# A project whose path holds characters the engine's old "src:dst" bind
# syntax could not carry (a colon, a space, a comma) runs as any other:
# mounts go to the engine field by field (HostConfig.Mounts).
. "$(dirname "$0")/lib.sh"

P="$T_TMP/pro:ject, with space"
mkdir -p "$P"
cat >"$P/test_here.py" <<'PY'
import os

def test_sees_its_own_path():
    assert os.getcwd().endswith("pro:ject, with space")
    assert os.path.exists("test_here.py")
PY
cd "$P" || exit 1
xrun run -n 1 --db none --json-report "$T_TMP/r.json" .
check "a path with ':' , ',' and ' ': exit 0 (got $RC)" eq "$RC" 0
check "the test ran in that directory" eq "$(json "$T_TMP/r.json" '[t["outcome"] for t in r["tests"]]')" "['passed']"
check "nothing left" no_leftovers_of_pid "$XPID"
finish
