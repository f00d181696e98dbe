#!/usr/bin/env bash
# Soak: N consecutive runs (default 30) of a mixed suite, each with one
# fault picked at random and injected at a random moment (after a random
# number of finished tests): a worker container killed (docker kill) or
# frozen (docker pause), the run's PostgreSQL killed, SIGINT to xdock, a
# test that writes garbage to the event pipe, or none. After every run:
# the exit code is one the docs give for that fault, every collected test
# has exactly one outcome in --json-report, and nothing of the run is left
# on the engine or, for runs on the soak's own --db-url server, on that
# server. Not part of ctest (about 15 to 25 minutes on 2 cores):
#
#   tests/soak/soak.sh [RUNS] [SEED]     (XDOCK_BIN/XDOCK_BUILD as for the
#                                        integration tests)
#
# Prints one line per run and a summary; exits 1 if any check failed. A
# failed run's files are kept in SOAK_KEEP (default: a new /tmp directory).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/pg_env.sh"
set -m

RUNS=${1:-30}
# A failed run's stdout, stderr and report are kept here (not removed).
KEEP=${SOAK_KEEP:-$(mktemp -d /tmp/xdock-soak-failed.XXXXXX)}
RANDOM=${2:-$$}
echo "soak: $RUNS runs, seed ${2:-$$}"

mkdir -p "$T_TMP/suite"
cd "$T_TMP/suite" || exit 1
cat >test_mixed.py <<'PY'
import os, random, time, pytest

@pytest.mark.parametrize("i", range(20))
def test_db(i):
    import psycopg2
    time.sleep(random.uniform(0.05, 0.3))
    with psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=5) as c, c.cursor() as cur:
        cur.execute("create table if not exists t (w text, i int)")
        cur.execute("insert into t values (%s, %s)", (os.environ["PYTEST_XDIST_WORKER"], i))
        cur.execute("select count(*) from t where w <> %s", (os.environ["PYTEST_XDIST_WORKER"],))
        assert cur.fetchone() == (0,), "another worker's rows in my database"

@pytest.mark.parametrize("i", range(20))
def test_plain(i):
    time.sleep(random.uniform(0.05, 0.4))

def test_garbage_to_the_event_pipe():
    if os.environ.get("SOAK_GARBAGE") != "1":
        return
    fd = os.environ.get("XDOCK_EVT_FD")
    targets = [int(fd)] if fd else [int(f) for f in os.listdir("/proc/self/fd") if int(f) > 2]
    for f in targets:
        try:
            os.write(f, b'{"t":"start","i":100000000}\n\x00\xff garbage {{{\n{"t":"result","i":-1}\n')
        except OSError:
            pass
PY

pg_start "soak-$$" >/dev/null || exit 1
trap pg_stop EXIT
pg_wait 60 || exit 1

progress() { grep -E '^[.FEsxXCT]+( |$)' "$1" 2>/dev/null | tr -cd '.FECT' | wc -c; }
# A running worker / the database container of the run of xdock pid $1.
# A worker, gwN: the controller container carries xdock.worker too, and
# freezing it is another fault (its row in docs/faults.md).
worker_of() {
	docker ps --filter label=xdock.worker --format '{{.Label "xdock.owner"}} {{.ID}} {{.Label "xdock.worker"}}' |
		awk -v p=":$1:" 'index($1, p) && $3 ~ /^gw/ { print $2; found = 1; exit } END { exit !found }'
}
db_of() {
	docker ps --filter label=xdock.owner --filter 'name=-db$' --format '{{.Label "xdock.owner"}} {{.ID}}' |
		awk -v p=":$1:" 'index($1, p) { print $2; found = 1; exit } END { exit !found }'
}
dbs_left() {
	pg_psql -d postgres -c "select datname from pg_database where datname not in ('postgres','template0','template1','xdock')" | wc -l
}

faults=(none kill pause pgkill sigint garbage)
declare -A expect=([none]="0" [kill]="0 1" [pause]="0 1" [pgkill]="0 1" [sigint]="2" [garbage]="1 3")
declare -A seen_codes
pass=0; fail=0; injected=0; missed=0
t_start=$(date +%s)
for n in $(seq 1 "$RUNS"); do
	fault=${faults[RANDOM % ${#faults[@]}]}
	moment=$((1 + RANDOM % 30))
	dbmode=embedded
	args=(-n 3 --timeout 3 --json-report "$T_TMP/r.json")
	# Half the runs without a fault of the database go to the soak's server.
	if [ "$fault" != pgkill ] && [ $((RANDOM % 2)) = 0 ]; then
		dbmode=url
		args+=(--db-url "$PG_ADMIN_URL")
	fi
	rm -f "$T_TMP/r.json"
	t0=$(date +%s)
	SOAK_GARBAGE=$([ "$fault" = garbage ] && echo 1 || echo 0) \
		"$XDOCK_BIN" run "${args[@]}" --env SOAK_GARBAGE -p no:randomly . >"$T_TMP/out" 2>"$T_TMP/err" &
	pid=$!
	did=no
	if [ "$fault" != none ] && [ "$fault" != garbage ]; then
		while kill -0 "$pid" 2>/dev/null; do
			if [ "$(progress "$T_TMP/out")" -ge "$moment" ]; then
				case $fault in
				kill) c=$(worker_of "$pid") && docker kill "$c" >/dev/null 2>&1 && did=yes ;;
				pause) c=$(worker_of "$pid") && docker pause "$c" >/dev/null 2>&1 && did=yes ;;
				pgkill) c=$(db_of "$pid") && docker kill "$c" >/dev/null 2>&1 && did=yes ;;
				sigint) kill -INT "$pid" && did=yes ;;
				esac
				break
			fi
			sleep 0.05
		done
	else
		did=yes
	fi
	wait "$pid"
	rc=$?
	took=$(($(date +%s) - t0))
	[ "$did" = yes ] && [ "$fault" != none ] && injected=$((injected + 1))
	# A fault that came too late (the run had ended) leaves a clean run.
	ok_codes=${expect[$fault]}
	if [ "$did" != yes ]; then
		missed=$((missed + 1))
		ok_codes="0"
	fi
	problems=()
	case " $ok_codes " in *" $rc "*) ;; *) problems+=("exit $rc, want one of: $ok_codes") ;; esac
	if [ -s "$T_TMP/r.json" ]; then
		one=$(json "$T_TMP/r.json" 'len(r["tests"]) == r["summary"]["collected"] == len(set(t["nodeid"] for t in r["tests"])) and all(t.get("outcome") for t in r["tests"])')
		[ "$one" = True ] || problems+=("not exactly one outcome per collected test")
		collected=$(json "$T_TMP/r.json" 'r["summary"]["collected"]')
	else
		collected=0
		[ "$rc" = 3 ] || problems+=("no report")
	fi
	left=$(
		docker ps -a --filter label=xdock.owner --format '{{.Label "xdock.owner"}}'
		docker network ls --filter label=xdock.owner --format '{{.Label "xdock.owner"}}'
	)
	left=$(grep -c ":$pid:" <<<"$left")
	[ "$left" = 0 ] || problems+=("$left object(s) left on the engine")
	if [ "$dbmode" = url ]; then
		d=$(dbs_left)
		[ "$d" = 0 ] || problems+=("$d database(s) left on the server")
	fi
	seen_codes[$fault]="${seen_codes[$fault]:-} $rc"
	if [ ${#problems[@]} = 0 ]; then
		pass=$((pass + 1))
		printf 'run %2d: %-7s at %2d, db %-8s exit %d, %2d collected, %3d s: ok\n' "$n" "$fault" "$moment" "$dbmode" "$rc" "$collected" "$took"
	else
		fail=$((fail + 1))
		printf 'run %2d: %-7s at %2d, db %-8s exit %d, %2d collected, %3d s: FAIL: %s\n' "$n" "$fault" "$moment" "$dbmode" "$rc" "$collected" "$took" "$(IFS=';'; echo "${problems[*]}")"
		tail -n 5 "$T_TMP/err" | sed 's/^/        | /'
		# What failed, and where its files are kept for a closer look.
		if [ -s "$T_TMP/r.json" ]; then
			json "$T_TMP/r.json" '"\n".join("%s %s: %s" % (t["outcome"], t["nodeid"], (t.get("longrepr") or "").strip().splitlines()[-1][:160]) for t in r["tests"] if t.get("outcome") not in ("passed", "skipped"))' |
				head -n 5 | sed 's/^/        > /'
		fi
		mkdir -p "$KEEP/run$n"
		cp "$T_TMP/out" "$T_TMP/err" "$KEEP/run$n/" 2>/dev/null
		cp "$T_TMP/r.json" "$KEEP/run$n/" 2>/dev/null
		echo "        kept in $KEEP/run$n"
		# Leave nothing behind for the next run either.
		"$XDOCK_BIN" gc >/dev/null 2>&1
	fi
done
echo "soak: $RUNS runs in $(($(date +%s) - t_start)) s: $pass ok, $fail failed; faults injected $injected, too late $missed"
for f in "${faults[@]}"; do echo "soak:   $f: exit codes${seen_codes[$f]:- (none drawn)}"; done
rm -rf "$T_TMP"
[ "$fail" = 0 ]
