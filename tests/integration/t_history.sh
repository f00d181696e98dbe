#!/usr/bin/env bash
# The duration history (.xdock/durations.json in the project directory), on
# a suite of 24 sleep tests whose three long ones (2 s) come last in
# collection order, at -n 4: the first run writes every test's duration; the
# second splits the work by it (the three long tests on three workers, each
# worker in collection order) and so finishes sooner; --longest-first
# starts the long tests first; --no-history
# leaves the file alone; a full run prunes a test that left the suite; a -k
# run prunes nothing.
. "$(dirname "$0")/lib.sh"

trap 'rm -rf "$T_TMP"' EXIT
S=$T_TMP/suite
# A dot directory: pytest does not descend into it. A plain one is walked
# by a worker still collecting while others write records into it, and
# pytest 7 fails with an INTERNALERROR when a listed file is renamed
# before it looks again (its collectfile asserts is_file()).
REC=$S/.rec
H=$S/.xdock/durations.json
mkdir -p "$REC" && chmod 0777 "$REC" || exit 1

# conftest records, per test, the worker and when its setup started and its
# teardown ended (one file per test, in $HIST_REC), so scheduling is judged
# from what the workers did, free of container start-up noise.
cat >"$S/conftest.py" <<'PY'
import json, os, time, uuid
import pytest

@pytest.fixture(autouse=True)
def _trace(request):
	t0 = time.time()
	yield
	d = os.environ.get("HIST_REC")
	if d:
		rec = {"name": request.node.nodeid, "worker": os.environ.get("PYTEST_XDIST_WORKER"),
		       "start": t0, "end": time.time()}
		p = os.path.join(d, uuid.uuid4().hex)
		with open(p + ".tmp", "w") as f:
			json.dump(rec, f)
		os.rename(p + ".tmp", p + ".json")
PY
printf '[pytest]\naddopts = -p no:cacheprovider\n' >"$S/pytest.ini"
# write_suite SKIP...: 21 short tests, then the 3 long ones; SKIPped names left out.
write_suite() {
	local i name
	{
		echo "import time"
		for i in $(seq -w 0 20) long_1 long_2 long_3; do
			case $i in long_*) name=test_$i ;; *) name=test_short_$i ;; esac
			case " $* " in *" $name "*) continue ;; esac
			printf '\ndef %s():\n\ttime.sleep(%s)\n' "$name" "$(case $i in long_*) echo 2 ;; *) echo 0.1 ;; esac)"
		done
	} >"$S/test_hist.py"
}
write_suite
cd "$S" || exit 1
export HIST_REC=$REC

cat >"$T_TMP/an.py" <<'PY'
import glob, json, os, sys

def recs():
	return [json.load(open(p)) for p in glob.glob(os.path.join(os.environ["HIST_REC"], "*.json"))]

def first_per_worker():
	first = {}
	for x in sorted(recs(), key=lambda x: x["start"]):
		first.setdefault(x["worker"], x["name"])
	return sorted(first.values())

def makespan():
	rs = recs()
	return "%.3f" % (max(x["end"] for x in rs) - min(x["start"] for x in rs))

def longs_first():
	# Each long test is the first test its worker started, and the three
	# are on three workers.
	longs = sorted(x for x in [r["name"] for r in recs()] if "long" in x)
	first = first_per_worker()
	return "ok" if len(longs) == 3 and all(l in first for l in longs) else "first per worker: %s" % first

def index(name):
	# Collection order: short_00..short_20, then long_1..long_3.
	return 20 + int(name[-1]) if "long" in name else int(name[-2:])

def split_in_order():
	# Every worker's tests in collection order, the long ones on three
	# different workers.
	by = {}
	for x in sorted(recs(), key=lambda x: x["start"]):
		by.setdefault(x["worker"], []).append(index(x["name"]))
	bad = [w for w, v in by.items() if v != sorted(v)]
	longs = {x["worker"] for x in recs() if "long" in x["name"]}
	return "ok" if not bad and len(longs) == 3 else "out of order: %s, long tests on %s" % (bad, sorted(longs))

def shorts_first():
	# Without history the queue is collection order, the long tests last:
	# when one starts, every short test has been handed out and at most a
	# few per worker wait unstarted, so at least half have started. (Not
	# "every worker began with a short one": under load a worker may start
	# so late that the queue is at the long tests by then.)
	rs = sorted(recs(), key=lambda x: x["start"])
	names = [x["name"] for x in rs]
	before = [len([n for n in names[:i] if "short" in n]) for i, n in enumerate(names) if "long" in n]
	return "ok" if len(before) == 3 and min(before) >= 10 else "short tests started before each long one: %s" % before

def keys(path):
	return sorted(json.load(open(path))["tests"])

print(globals()[sys.argv[1]](*sys.argv[2:]))
PY
an() { python3 "$T_TMP/an.py" "$@"; }
hkeys() { an keys "$H"; }
suite_ids() { grep -o '^def test_[a-z0-9_]*' "$S/test_hist.py" | sed 's/^def /test_hist.py::/' | sort; }
pyl() { python3 -c 'import sys; print(sorted(sys.stdin.read().split()))'; }

# 1. No history yet: collection order, the long tests start last.
xrun run -n 4 --db none --env HIST_REC --json-report "$T_TMP/r1.json" .
check "first run: exit 0 (got $RC)" eq "$RC" 0
check "first run: 24 tests passed" eq "$(json "$T_TMP/r1.json" 'r["summary"]["passed"]')" 24
check "first run: collection order, the long tests handed out last (the suite is skewed as meant)" eq \
	"$(an shorts_first)" ok
check "first run created .xdock/durations.json" test -s "$H"
check "the history names every test of the suite" eq "$(hkeys)" "$(suite_ids | pyl)"
check "the history holds setup+call+teardown: long tests >= 2 s, short ones < 1 s" eq \
	"$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tests"]; print(all((v >= 2.0) == ("long" in k) and v < 3 for k, v in t.items()))' "$H")" True
check "nothing left (first run)" no_leftovers_of_pid "$XPID"
m1=$(an makespan)

# 2. With history: the split, not the order, changes.
rm -f "$REC"/*.json
xrun run -n 4 --db none --env HIST_REC --json-report "$T_TMP/r2.json" .
check "second run: exit 0 (got $RC)" eq "$RC" 0
check "second run: the long tests on three workers, each worker in collection order" eq "$(an split_in_order)" ok
m2=$(an makespan)
echo "     test phase: first run ${m1}s, second ${m2}s; report duration: $(json "$T_TMP/r1.json" 'r["duration"]')s, $(json "$T_TMP/r2.json" 'r["duration"]')s"
# That the second run finishes sooner is a matter of timing, measured in
# bench/ (docs/scheduling.md), not asserted here: on a loaded machine a
# fraction of a second decides nothing. The order above is what the
# history changes, and it is checked from what the workers did.
check "the history still names every test" eq "$(hkeys)" "$(suite_ids | pyl)"
check "nothing left (second run)" no_leftovers_of_pid "$XPID"

# 2b. --longest-first: the long tests start first, one per worker.
rm -f "$REC"/*.json
xrun run -n 4 --db none --env HIST_REC --longest-first .
check "--longest-first: exit 0 (got $RC)" eq "$RC" 0
check "--longest-first: the long tests started first, one per worker" eq "$(an longs_first)" ok
check "nothing left (--longest-first)" no_leftovers_of_pid "$XPID"

# 3. --no-history: the file is not touched.
sum=$(sha256sum <"$H")
mt=$(stat -c %Y.%y "$H")
sleep 1
xrun run -n 4 --db none --env HIST_REC --no-history .
check "--no-history run: exit 0 (got $RC)" eq "$RC" 0
check "--no-history leaves the file's content alone" eq "$(sha256sum <"$H")" "$sum"
check "--no-history leaves the file's mtime alone" eq "$(stat -c %Y.%y "$H")" "$mt"
check "nothing left (--no-history)" no_leftovers_of_pid "$XPID"

# 4. A test leaves the suite: a full run prunes it.
write_suite test_short_00
xrun run -n 4 --db none --env HIST_REC .
check "full run without test_short_00: exit 0 (got $RC)" eq "$RC" 0
check "the full run pruned test_short_00 from the history" eq "$(hkeys)" "$(suite_ids | pyl)"
check "... and kept the other 23" eq "$(hkeys | python3 -c 'import sys; print(len(eval(sys.stdin.read())))')" 23
check "nothing left (pruning run)" no_leftovers_of_pid "$XPID"

# 5. A -k run prunes nothing: neither the tests it deselected nor one that
# left the suite meanwhile (it cannot tell them apart), and it keeps their
# durations as they were.
cp "$H" "$T_TMP/before-k.json"
write_suite test_short_00 test_short_01
xrun run -n 4 --db none --env HIST_REC --json-report "$T_TMP/rk.json" . -k "short_02 or short_03"
check "-k run: exit 0 (got $RC)" eq "$RC" 0
check "-k run: the two selected tests ran, nothing else" eq \
	"$(json "$T_TMP/rk.json" '(r["summary"]["collected"], r["summary"]["passed"], sorted(t["nodeid"] for t in r["tests"]))')" \
	"(2, 2, ['test_hist.py::test_short_02', 'test_hist.py::test_short_03'])"
check "-k run pruned nothing" eq "$(hkeys)" "$(an keys "$T_TMP/before-k.json")"
check "-k run kept the deselected tests' durations" eq \
	"$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["tests"]; b = json.load(open(sys.argv[2]))["tests"]
print([k for k in a if "short_02" not in k and "short_03" not in k and a[k] != b.get(k)])' "$T_TMP/before-k.json" "$H")" "[]"
check "nothing left (-k run)" no_leftovers_of_pid "$XPID"
finish
