#!/usr/bin/env bash
# Every --dist mode in real containers, on fixtures/sched (-n 3, no
# database): every collected test exactly once (for `each`, once per
# worker); scope, file and group units never split across workers, proved
# from the JSON report and from the records the suite's fixtures write
# (which worker set up each class- and module-scoped fixture, which worker
# started each test); -x / --maxfail stop and list what did not run;
# --shard K/3 splits the collection into three disjoint parts that cover it.
. "$(dirname "$0")/lib.sh"

# The suite runs from a copy: its history (.xdock) and the records land in
# $T_TMP, never in the source tree. The records directory is world-writable
# because the containers may run as another user.
trap 'rm -rf "$T_TMP"' EXIT
S=$T_TMP/suite
# A dot directory: pytest does not descend into it. A plain one is walked
# by a worker still collecting while others write records into it, and
# pytest 7 fails with an INTERNALERROR when a listed file is renamed
# before it looks again (its collectfile asserts is_file()).
REC=$T_TMP/suite/.rec
cp -r "$XDOCK_SRC/fixtures/sched" "$S" || exit 1
rm -rf "$S/.xdock" "$S/__pycache__"
mkdir -p "$REC" && chmod 0777 "$REC" || exit 1
cd "$S" || exit 1

# The reference collection comes from pytest itself on the host (the same
# pytest as in the image), not from xdock.
PY=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import pytest' 2>/dev/null; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	echo "$T_NAME: no python3 with pytest on the host for the reference collection" >&2
	exit 1
fi
"$PY" -m pytest --collect-only -q -p no:cacheprovider . 2>/dev/null | grep '::' >"$T_TMP/coll"
NCOLL=$(wc -l <"$T_TMP/coll")
check "reference collection has the suite's 34 tests (got $NCOLL)" eq "$NCOLL" 34

# The analyses print "ok" or what is wrong; each check compares with "ok".
cat >"$T_TMP/an.py" <<'PY'
import collections, glob, json, os, sys

def report(p):
	return json.load(open(p))

def coll():
	return [l.strip() for l in open(os.environ["COLL"]) if l.strip()]

def recs(d, kind):
	out = []
	for p in glob.glob(os.path.join(d, kind + "-*.json")):
		out.append(json.load(open(p)))
	return out

def scope_key(nodeid):
	# Parameters may hold "::" and "[": cut them off before splitting.
	parts = nodeid.split("[", 1)[0].split("::")
	return "::".join(parts[:2]) if len(parts) == 3 else parts[0]

def file_key(nodeid):
	return nodeid.split("::", 1)[0]

def group_of(nodeid):
	# The suite's convention: a test marked xdist_group(name=G) has
	# "grouped_G" in its name.
	name = nodeid.split("[", 1)[0].split("::")[-1]
	return name.split("grouped_", 1)[1] if "grouped_" in name else None

# The report spells the outcome "not run" (the summary key is "not_run").
NOT_RUN = ("not run", "not_run")

def ran(r):
	return [t for t in r["tests"] if t["outcome"] not in NOT_RUN and t.get("worker")]

def once(r):
	ids = collections.Counter(t["nodeid"] for t in r["tests"])
	want = collections.Counter(coll())
	if ids == want:
		return "ok"
	return "missing %s, extra %s" % (sorted((want - ids).elements())[:5], sorted((ids - want).elements())[:5])

def units(r, key):
	by = collections.defaultdict(set)
	for t in ran(r):
		by[key(t["nodeid"])].add(t["worker"])
	split = {k: sorted(v) for k, v in by.items() if len(v) != 1}
	return by, split

def cmd_once(rp):
	return once(report(rp))

def cmd_nworkers(rp):
	return len({t["worker"] for t in ran(report(rp))})

def cmd_units(rp, what):
	r = report(rp)
	key = {"scope": scope_key, "file": file_key}[what]
	by, split = units(r, key)
	if split:
		return "split across workers: %s" % split
	if len({w for v in by.values() for w in v}) < 2:
		return "all %d units on one worker" % len(by)
	return "ok"

def cmd_fixtures(rp, d, kind):
	# Each class (module) fixture set up exactly once, by the worker the
	# report names for that class's (file's) tests.
	r = report(rp)
	key = scope_key if kind == "class" else file_key
	by, _ = units(r, key)
	if kind == "class":
		by = {k: v for k, v in by.items() if "::" in k}
	setups = collections.defaultdict(list)
	for x in recs(d, kind):
		setups[x["name"]].append(x["worker"])
	bad = {}
	for k, ws in by.items():
		if len(setups.get(k, [])) != 1 or set(setups[k]) != ws:
			bad[k] = (sorted(ws), setups.get(k, []))
	for k in setups:
		if k not in by:
			bad[k] = ([], setups[k])
	if not by:
		return "no %s units in the report" % kind
	return "ok" if not bad else "report workers vs fixture setups: %s" % bad

def cmd_testrec(rp, d):
	# The report's worker for each test is the worker that started it.
	r = report(rp)
	started = collections.defaultdict(list)
	for x in recs(d, "test"):
		started[x["name"]].append(x["worker"])
	bad = {t["nodeid"]: (t["worker"], started.get(t["nodeid"])) for t in ran(r)
	       if started.get(t["nodeid"]) != [t["worker"]]}
	return "ok" if not bad else "report vs started: %s" % dict(list(bad.items())[:5])

def cmd_groups(rp):
	r = report(rp)
	by = collections.defaultdict(set)
	bad_field = []
	for t in ran(r):
		g = group_of(t["nodeid"])
		if t.get("group") != g:
			bad_field.append((t["nodeid"], t.get("group")))
		by[g].add(t["worker"])
	split = {g: sorted(v) for g, v in by.items() if g and len(v) != 1}
	if bad_field:
		return "report group field wrong: %s" % bad_field[:5]
	if split:
		return "group split across workers: %s" % split
	if len(by.get(None, ())) < 2:
		return "ungrouped tests did not spread: %s" % sorted(by.get(None, ()))
	if len([g for g in by if g]) != 3:
		return "expected groups db, cache, solo, got %s" % sorted(g for g in by if g)
	return "ok"

def cmd_each_records(d, n):
	# Every test started exactly once on every worker; every class fixture
	# set up exactly once per worker.
	n = int(n)
	want = {"gw%d" % i for i in range(n)}
	started = collections.defaultdict(list)
	for x in recs(d, "test"):
		started[x["name"]].append(x["worker"])
	bad = {k: sorted(started.get(k, [])) for k in coll()
	       if sorted(started.get(k, [])) != sorted(want)}
	if bad or len(started) != len(coll()):
		return "tests not started once per worker: %s" % dict(list(bad.items())[:5])
	cls = collections.defaultdict(list)
	for x in recs(d, "class"):
		cls[x["name"]].append(x["worker"])
	badc = {k: v for k, v in cls.items() if sorted(v) != sorted(want)}
	if len(cls) != 5 or badc:
		return "class fixtures not once per worker: %s" % badc
	return "ok"

def cmd_order(rp, d):
	r = report(rp)
	ws = {t["worker"] for t in r["tests"]}
	if ws != {"gw0"}:
		return "workers in the report: %s" % sorted(ws, key=str)
	st = sorted(recs(d, "test"), key=lambda x: x["t"])
	if {x["worker"] for x in st} != {"gw0"}:
		return "records name workers %s" % sorted({x["worker"] for x in st})
	got = [x["name"] for x in st]
	if got != coll():
		i = next((i for i, (a, b) in enumerate(zip(got, coll())) if a != b), min(len(got), len(coll())))
		return "start order differs from collection at %d: %s" % (i, got[i:i + 3])
	if [t["nodeid"] for t in r["tests"]] != coll():
		return "report order differs from collection order"
	return "ok"

def cmd_stopped(rp, d, nfail):
	r = report(rp)
	s = r["summary"]
	nr = [t for t in r["tests"] if t["outcome"] in NOT_RUN]
	if s["failed"] != int(nfail):
		return "failed=%d, want %s" % (s["failed"], nfail)
	if s["not_run"] == 0 or s["not_run"] != len(nr):
		return "summary.not_run=%d, tests not run in the list: %d" % (s["not_run"], len(nr))
	noreason = [t["nodeid"] for t in nr if not t.get("reason")]
	if noreason:
		return "not run without a reason: %s" % noreason[:3]
	started = {x["name"] for x in recs(d, "test")}
	liar = [t["nodeid"] for t in nr if t["nodeid"] in started]
	if liar:
		return "reported not run but started: %s" % liar[:3]
	never = [t["nodeid"] for t in ran(r) if t["nodeid"] not in started]
	if never:
		return "reported as run but never started: %s" % never[:3]
	return "ok"

def cmd_shards(*rps):
	parts = [[t["nodeid"] for t in report(p)["tests"]] for p in rps]
	flat = [i for p in parts for i in p]
	dup = [k for k, v in collections.Counter(flat).items() if v > 1]
	if dup:
		return "in more than one shard (or twice): %s" % dup[:5]
	if sorted(flat) != sorted(coll()):
		return "union differs: missing %s, extra %s" % (sorted(set(coll()) - set(flat))[:5], sorted(set(flat) - set(coll()))[:5])
	if any(not p for p in parts):
		return "an empty shard: sizes %s" % [len(p) for p in parts]
	return "ok"

print(globals()["cmd_" + sys.argv[1]](*sys.argv[2:]))
PY
export COLL=$T_TMP/coll
an() { python3 "$T_TMP/an.py" "$@"; }

# mode NAME [xdock args...]: one run with fresh records; report in $T_TMP/NAME.json.
mode() {
	local name=$1
	shift
	rm -f "$REC"/*
	xrun run -n 3 --db none --env "SCHED_RECORD_DIR=$REC" --json-report "$T_TMP/$name.json" "$@"
}

mode load --dist load .
check "load: exit 0 (got $RC)" eq "$RC" 0
check "load: every collected test exactly once" eq "$(an once "$T_TMP/load.json")" ok
check "load: summary counts 34 collected, 34 passed" eq \
	"$(json "$T_TMP/load.json" '(r["summary"]["collected"], r["summary"]["passed"])')" "(34, 34)"
check "load: the report's workers started those tests" eq "$(an testrec "$T_TMP/load.json" "$REC")" ok
check "nothing left (load)" no_leftovers_of_pid "$XPID"

mode loadscope --dist loadscope .
check "loadscope: exit 0 (got $RC)" eq "$RC" 0
check "loadscope: every collected test exactly once" eq "$(an once "$T_TMP/loadscope.json")" ok
check "loadscope: each class / module-level unit on one worker (report)" eq \
	"$(an units "$T_TMP/loadscope.json" scope)" ok
check "loadscope: each class fixture set up once, on that worker (records)" eq \
	"$(an fixtures "$T_TMP/loadscope.json" "$REC" class)" ok
check "loadscope: the report's workers started those tests" eq "$(an testrec "$T_TMP/loadscope.json" "$REC")" ok
check "nothing left (loadscope)" no_leftovers_of_pid "$XPID"

mode loadfile --dist loadfile .
check "loadfile: exit 0 (got $RC)" eq "$RC" 0
check "loadfile: every collected test exactly once" eq "$(an once "$T_TMP/loadfile.json")" ok
check "loadfile: each file on one worker (report)" eq "$(an units "$T_TMP/loadfile.json" file)" ok
check "loadfile: each module fixture set up once, on that worker (records)" eq \
	"$(an fixtures "$T_TMP/loadfile.json" "$REC" module)" ok
check "loadfile: each class fixture set up once, on that worker (records)" eq \
	"$(an fixtures "$T_TMP/loadfile.json" "$REC" class)" ok
check "nothing left (loadfile)" no_leftovers_of_pid "$XPID"

mode loadgroup --dist loadgroup .
check "loadgroup: exit 0 (got $RC)" eq "$RC" 0
check "loadgroup: every collected test exactly once, ids without @group" eq "$(an once "$T_TMP/loadgroup.json")" ok
check "loadgroup: each xdist_group on one worker, ungrouped tests spread" eq "$(an groups "$T_TMP/loadgroup.json")" ok
check "loadgroup: the report's workers started those tests" eq "$(an testrec "$T_TMP/loadgroup.json" "$REC")" ok
check "nothing left (loadgroup)" no_leftovers_of_pid "$XPID"

mode worksteal --dist worksteal .
check "worksteal: exit 0 (got $RC)" eq "$RC" 0
check "worksteal: every collected test exactly once" eq "$(an once "$T_TMP/worksteal.json")" ok
check "worksteal: more than one worker did work" test "$(an nworkers "$T_TMP/worksteal.json")" -gt 1
check "worksteal: the report's workers started those tests" eq "$(an testrec "$T_TMP/worksteal.json" "$REC")" ok
check "nothing left (worksteal)" no_leftovers_of_pid "$XPID"

mode each --dist each .
check "each: exit 0 (got $RC)" eq "$RC" 0
check "each: every test started on every worker, class fixtures once per worker (records)" eq \
	"$(an each_records "$REC" 3)" ok
# What the report shows for `each`: one entry per test (the first outcome
# to arrive); workers[].tests should still count what each worker ran.
check "each: one report entry per collected test" eq "$(an once "$T_TMP/each.json")" ok
check "each: workers[].tests counts each worker's 34 runs" eq \
	"$(json "$T_TMP/each.json" '[w["tests"] for w in r["workers"]]')" "[34, 34, 34]"
check "nothing left (each)" no_leftovers_of_pid "$XPID"
# A failure that only one worker sees must fail the run.
mode each-fail --dist each --env SCHED_FAIL=test_gamma_last@gw2 .
check "each: a test failing on gw2 only fails the run (exit $RC)" eq "$RC" 1
check "nothing left (each, failing on gw2)" no_leftovers_of_pid "$XPID"

mode no --dist no .
check "no: exit 0 (got $RC)" eq "$RC" 0
check "no: every collected test exactly once" eq "$(an once "$T_TMP/no.json")" ok
check "no: gw0 ran everything, in collection order" eq "$(an order "$T_TMP/no.json" "$REC")" ok
check "nothing left (no)" no_leftovers_of_pid "$XPID"

# -x: the first test in collection order fails. --no-history keeps that
# order (the history the runs above left would reorder the queue, and the
# failing test could come late).
# The other workers' tests wait (SCHED_HOLD) until the failure has been
# reported and the stop has had 5 s to reach them (a head start for the
# feature, not a window the check needs); once released, a worker that got
# stop starts nothing more, one that got bye would run what it was sent.
rm -f "$REC"/* "$S/.go"
"$XDOCK_BIN" run -n 3 --db none --env "SCHED_RECORD_DIR=$REC" --env "SCHED_HOLD=$S/.go" \
	--json-report "$T_TMP/x.json" --dist load --no-history -x --env SCHED_FAIL=test_alpha_first . \
	>"$T_TMP/out" 2>"$T_TMP/err" &
XPID=$!
for _ in $(seq 1 3000); do
	grep -Eq '^[.FEsxXCT]*F' "$T_TMP/out" && break
	kill -0 "$XPID" 2>/dev/null || break
	sleep 0.1
done
check "-x: the failure was reported while the others were held" grep -Eq '^[.FEsxXCT]*F' "$T_TMP/out"
sleep 5
released=$(date +%s.%N)
touch "$S/.go"
wait "$XPID"
RC=$?
rm -f "$S/.go"
check "-x: no test started after the failure was reported (stop, not bye, took back the queued work)" eq \
	"$(python3 -c '
import glob, json, sys
late = [r["name"] for r in map(lambda p: json.load(open(p)), glob.glob(sys.argv[1] + "/test-*.json")) if r["t"] > float(sys.argv[2])]
print(late or "none")' "$REC" "$released")" none
check "-x: exit 2, as pytest-xdist's Interrupted (got $RC)" eq "$RC" 2
check "-x: every collected test exactly once in the report" eq "$(an once "$T_TMP/x.json")" ok
check "-x: one failure, the rest listed as not run with a reason, none of them started" eq \
	"$(an stopped "$T_TMP/x.json" "$REC" 1)" ok
check "-x: the run stopped early (fewer than 12 of 34 ran)" test \
	"$(json "$T_TMP/x.json" 'len([t for t in r["tests"] if t["outcome"] not in ("not run", "not_run")])')" -lt 12
check "nothing left (-x)" no_leftovers_of_pid "$XPID"

mode maxfail --dist load --no-history --maxfail 2 --env SCHED_FAIL=test_alpha_first,test_alpha_fourth .
check "--maxfail 2: exit 2, as pytest-xdist's Interrupted (got $RC)" eq "$RC" 2
check "--maxfail 2: every collected test exactly once in the report" eq "$(an once "$T_TMP/maxfail.json")" ok
check "--maxfail 2: two failures, the rest not run with a reason, none of them started" eq \
	"$(an stopped "$T_TMP/maxfail.json" "$REC" 2)" ok
check "nothing left (--maxfail)" no_leftovers_of_pid "$XPID"

# --shard K/3 without history, then with the history the runs above left
# (restored before each shard so every shard sees the same one).
for k in 1 2 3; do
	mode "shard$k" --no-history --shard "$k/3" .
	check "shard $k/3 --no-history: exit 0 (got $RC)" eq "$RC" 0
	check "nothing left (shard $k/3)" no_leftovers_of_pid "$XPID"
done
check "--no-history shards: disjoint, non-empty, their union is the collection" eq \
	"$(an shards "$T_TMP/shard1.json" "$T_TMP/shard2.json" "$T_TMP/shard3.json")" ok

check "the history exists and names every test" eq \
	"$(python3 -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))["tests"]) == sorted(open(sys.argv[2]).read().split("\n")[:-1]))' \
		"$S/.xdock/durations.json" "$COLL")" True
cp "$S/.xdock/durations.json" "$T_TMP/hist.json"
for k in 1 2 3; do
	cp "$T_TMP/hist.json" "$S/.xdock/durations.json"
	mode "hshard$k" --shard "$k/3" .
	check "shard $k/3 with history: exit 0 (got $RC)" eq "$RC" 0
done
check "history shards: disjoint, non-empty, their union is the collection" eq \
	"$(an shards "$T_TMP/hshard1.json" "$T_TMP/hshard2.json" "$T_TMP/hshard3.json")" ok
cp "$T_TMP/hist.json" "$S/.xdock/durations.json"
mode "hshard1b" --shard 1/3 .
check "the same history gives the same shard 1/3 again" eq \
	"$(json "$T_TMP/hshard1b.json" 'sorted(t["nodeid"] for t in r["tests"])')" \
	"$(json "$T_TMP/hshard1.json" 'sorted(t["nodeid"] for t in r["tests"])')"
check "nothing left (shards)" no_leftovers_of_pid "$XPID"

check "the suite wrote nothing into its source directory" eq \
	"$(cd "$XDOCK_SRC/fixtures/sched" && ls -A | tr '\n' ' ')" "conftest.py pytest.ini test_alpha.py test_beta.py test_delta.py test_gamma.py "
finish
