#!/usr/bin/env bash
# --junitxml as pytest reads it: relative to the directory xdock runs in,
# even where that leaves the project ("../../reports"), into a directory that
# does not exist yet (pytest makes it; xdock makes it on the host so the
# controller's container can write there), and from a working directory
# outside the project.
. "$(dirname "$0")/lib.sh"

P="$T_TMP/proj"
mkdir -p "$P/sub"
printf '[pytest]\n' >"$P/pytest.ini"
cat >"$P/sub/test_a.py" <<'PY'
def test_a():
    pass
PY

cd "$P/sub" || exit 1
xrun run -n 1 --junitxml=../../reports/deep/j.xml .
check "--junitxml=../../reports/deep/j.xml from a subdirectory: exit 0 (got $RC)" eq "$RC" 0
check "the file is where pytest puts it, its directory made" grep -q 'name="test_a"' "$T_TMP/reports/deep/j.xml"
check "nothing of it inside the project" eq "$(find "$P" -name j.xml | wc -l)" 0
check "nothing left" no_leftovers_of_pid "$XPID"

cd "$T_TMP" || exit 1
xrun run -n 1 --junitxml=reports2/j.xml proj/sub
check "--junitxml=reports2/j.xml from outside the project: exit 0 (got $RC)" eq "$RC" 0
check "the file is next to where xdock ran" grep -q 'name="test_a"' "$T_TMP/reports2/j.xml"
check "nothing left (outside)" no_leftovers_of_pid "$XPID"
finish
