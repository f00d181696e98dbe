# A second Docker engine for one test, next to the machine's own, in a
# network namespace of its own. Its dockerd (and the containerd it
# starts) runs with its own --data-root, --exec-root, --pidfile and unix
# socket, inside a namespace made here: a veth pair joins it to the
# host's (E2_HOST_IP on this side, E2_IP on its side, both out of the
# test's own /16), and its TCP listener on E2_IP:2376 takes TLS
# certificates made here for that address. Its bridge, its address pool,
# its iptables chains and the ports its containers publish (on E2_IP, as
# for any engine reached over tcp) live in that namespace only. Its image
# store starts empty. Source it after lib.sh:
#
#   engine2_start            E2_UNIX (unix://...), E2_TCP (tcp://E2_IP:2376),
#                            E2_CERTS (ca.pem cert.pem key.pem for clients),
#                            E2_PID; stopped and removed when the test exits
#   e2 ARGS...               the docker CLI against it (unix socket)
#   engine2_kill             SIGKILL to its dockerd only ("the engine is lost")
#   engine2_lose             the same, and engine2_stop will not start it
#                            again: it ends what the dead engine left by PID
#   engine2_restart          a killed engine started again on the same roots
#   engine2_freeze           SIGSTOP to its dockerd and its containerd: the
#                            connections stay open, nothing answers ("the
#                            engine stops answering"); its containers run on
#   engine2_thaw             SIGCONT to both (engine2_stop thaws first)
#   engine2_files PATH       the files at PATH in its volumes (a shipped
#                            project's), read from this machine's disk
#   engine2_busy_run         a run of 40 one-second tests over both engines,
#                            in the background (XPID), once it is under way
#   engine2_stop             everything removed (processes by PID, the
#                            namespace, the veth pair, the files); fails,
#                            loudly, if the first engine's docker0 is gone
#   engine2_gone             whether anything of it is left
#
# Why a namespace: a second dockerd in the host's namespace shares it with
# the first engine. Its bridge code acts on links by name and its
# iptables code on the first engine's chains; one was seen to delete the
# first engine's docker0 (in the minute a second engine was killed and
# started again, although it had a bridge of its own), after which the
# first engine started no container on its default bridge until it was
# restarted. In a namespace of its own the second engine sees only its
# own links (its docker0 is its own) and its own netfilter tables, so it
# runs with its defaults (a bridge, --iptables) and needs no rule in the
# first engine's chains: its containers' traffic never leaves the
# namespace, and the host reaches it through the veth pair alone.
#
# The tests that source this file need `ip netns` and nsenter (root, a
# kernel with network namespaces); where the machine cannot make one they
# are skipped (77) saying why. A test that sets E2_DEFAULT=1 before
# sourcing this file runs by default; the others only with
# XDOCK_ENGINE2=1 (they take long: see docs/testing.md).
# XDOCK_ENGINE2=0 skips them all.
#
# Only processes this file started are ended, by their PIDs: dockerd's
# from its --pidfile, those left in its namespace (`ip netns pids`: its
# containerd) and those whose command line names its exec root (the
# shims), and after a lost engine its containers' processes through
# their cgroups.

E2_PID=
E2_DIR=
E2_NS=
E2_UP=0
E2_NORESTART=0
E2_FROZEN=

_e2_skip() {
	rm -rf "$T_TMP"
	echo "$T_NAME: skipped: $1" >&2
	exit 77
}

# Whether this machine can give the second engine a namespace of its own:
# one made and removed here, with a veth pair into it.
_e2_can() {
	local ns=xdk2p$$ ok=1
	command -v dockerd >/dev/null && command -v nsenter >/dev/null || return 1
	ip netns add "$ns" 2>/dev/null || return 1
	ip link add "xdk2q$$" type veth peer name "xdk2r$$" netns "$ns" 2>/dev/null || ok=0
	ip link del "xdk2q$$" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	[ "$ok" = 1 ]
}

case "${XDOCK_ENGINE2:-}" in
1) ;;
0) _e2_skip "XDOCK_ENGINE2=0 turns off the tests that need a second dockerd" ;;
*) [ "${E2_DEFAULT:-0}" = 1 ] ||
	_e2_skip "opt-in (long; see docs/testing.md): XDOCK_ENGINE2=1 runs it" ;;
esac
_e2_can || _e2_skip "needs a second dockerd in a network namespace of its own, and this machine cannot make one (ip netns add and a veth pair, as root; nsenter, dockerd)"

_e2_pool() {
	# One /16 per test process, out of 10.200.0.0/13, so two tests at once
	# (or another user of 10.x) do not clash. Inside the namespace the
	# engine's bridge takes the first /24 and the networks it creates the
	# upper half; the veth pair a /30 between them.
	local n=$((200 + $$ % 8))
	E2_NET=10.$n.0.0/16
	E2_BRIDGE_CIDR=10.$n.0.1/24
	E2_POOL=10.$n.128.0/17
	E2_HOST_IP=10.$n.64.1
	E2_IP=10.$n.64.2
	E2_NS=xdk2n$$
	E2_VH=xdk2h$$
	E2_VN=xdk2v$$
}

_e2_certs() {
	local d=$E2_DIR/tls
	mkdir -p "$d" "$E2_CERTS" || return 1
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 \
			-subj "/CN=xdock test engine CA" &&
			openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr \
				-subj "/CN=$E2_IP" &&
			printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$E2_IP" >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
				-out server.pem -days 2 -extfile server.ext &&
			openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj "/CN=xdock client" &&
			printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
			openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
				-out cert.pem -days 2 -extfile client.ext
	) >"$E2_DIR/openssl.log" 2>&1 || return 1
	cp "$d/ca.pem" "$d/cert.pem" "$d/key.pem" "$E2_CERTS/"
}

# The namespace, loopback up in it, and the veth pair between it and the
# host's.
_e2_netns() {
	ip netns add "$E2_NS" || return 1
	E2_NS_MADE=1
	ip -n "$E2_NS" link set lo up &&
		ip link add "$E2_VH" type veth peer name "$E2_VN" netns "$E2_NS" &&
		ip addr add "$E2_HOST_IP/30" dev "$E2_VH" && ip link set "$E2_VH" up &&
		ip -n "$E2_NS" addr add "$E2_IP/30" dev "$E2_VN" && ip -n "$E2_NS" link set "$E2_VN" up
}

# Runs dockerd on E2_DIR's roots in the namespace; waits until it
# answers. nsenter enters the network namespace only (`ip netns exec`
# would mount a sysfs of its own over /sys and hide the cgroups) and
# execs dockerd, so $! is dockerd's PID.
_e2_dockerd() {
	echo '{}' >"$E2_DIR/daemon.json"
	nsenter --net="/run/netns/$E2_NS" dockerd --config-file "$E2_DIR/daemon.json" \
		--data-root "$E2_DIR/data" --exec-root "$E2_DIR/exec" --pidfile "$E2_DIR/dockerd.pid" \
		-H "$E2_UNIX" -H "tcp://$E2_IP:2376" \
		--tlsverify --tlscacert "$E2_DIR/tls/ca.pem" --tlscert "$E2_DIR/tls/server.pem" \
		--tlskey "$E2_DIR/tls/server-key.pem" \
		--bip "$E2_BRIDGE_CIDR" --default-address-pool "base=$E2_POOL,size=24" \
		--storage-driver overlay2 --log-level warn >>"$E2_DIR/dockerd.log" 2>&1 &
	E2_PID=$!
	local i
	for i in $(seq 1 120); do
		if e2 version >/dev/null 2>&1; then
			E2_UP=1
			return 0
		fi
		if ! kill -0 "$E2_PID" 2>/dev/null; then
			break
		fi
		sleep 0.5
	done
	echo "engine2: dockerd did not come up; its log ends with:" >&2
	tail -n 15 "$E2_DIR/dockerd.log" >&2
	return 1
}

e2() {
	docker -H "$E2_UNIX" "$@"
}

# The EXIT trap: what is left goes, also when a check failed, the test
# was interrupted (INT, TERM, HUP end it through exit) or the engine did
# not start; a docker0 that went makes the test fail whatever it said.
_e2_exit() {
	local rc=$?
	engine2_stop || rc=1
	exit "$rc"
}

engine2_start() {
	_e2_pool
	# Short: containerd's socket paths under the exec root must fit in
	# sun_path.
	E2_DIR=$(mktemp -d /tmp/xdk2.XXXXXX) || return 1
	E2_UNIX=unix://$E2_DIR/docker.sock
	E2_CERTS=$E2_DIR/client
	E2_TCP=tcp://$E2_IP:2376
	trap _e2_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	_e2_certs || {
		echo "engine2: openssl failed:" >&2
		tail -n 5 "$E2_DIR/openssl.log" >&2
		return 1
	}
	_e2_netns || {
		echo "engine2: cannot make its network namespace $E2_NS" >&2
		return 1
	}
	_e2_dockerd || return 1
	export E2_UNIX E2_TCP E2_CERTS E2_PID
}

engine2_kill() {
	[ -n "$E2_PID" ] && kill -KILL "$E2_PID" 2>/dev/null
	wait "$E2_PID" 2>/dev/null
	E2_UP=0
}

# A lost engine is not started again by engine2_stop: its leftovers are
# ended by PID instead (the test says what a dead engine leaves).
engine2_lose() {
	engine2_kill
	E2_NORESTART=1
}

# What a killed engine left running, ended without it: the processes of
# its containers (its data root lists their ids; cgroupfs puts each under
# docker/<id> of every controller), then their cgroups.
_e2_reap() {
	local id d p i
	for id in $(ls "$E2_DIR/data/containers" 2>/dev/null); do
		for i in 1 2 3 4 5; do
			p=$(cat /sys/fs/cgroup/*/docker/"$id"/cgroup.procs 2>/dev/null | sort -u)
			[ -n "$p" ] || break
			# shellcheck disable=SC2086
			kill -KILL $p 2>/dev/null
			sleep 0.2
		done
		for d in /sys/fs/cgroup/*/docker/"$id"; do
			[ -d "$d" ] && rmdir "$d" 2>/dev/null
		done
	done
}

# The engine frozen: its dockerd and the containerd it started (its
# child), so neither its API nor its streams answer, while the kernel
# keeps their connections open. E2_FROZEN holds the PIDs to thaw.
engine2_freeze() {
	local ctrd
	ctrd=$(pgrep -P "$E2_PID" -x containerd)
	E2_FROZEN="$E2_PID $ctrd"
	# shellcheck disable=SC2086
	kill -STOP $E2_FROZEN
}

engine2_thaw() {
	[ -n "$E2_FROZEN" ] || return 0
	# shellcheck disable=SC2086
	kill -CONT $E2_FROZEN 2>/dev/null
	E2_FROZEN=
}

# The names of the files at PATH (relative to a volume's root) in the
# engine's volumes: what a test on it wrote into its shipped project.
engine2_files() {
	local d
	for d in "$E2_DIR"/data/volumes/*/_data/"$1"; do
		[ -d "$d" ] && find "$d" -maxdepth 1 -type f -printf '%f\n'
	done | sort -u
}

# dockerd waits a short while for the containerd it starts; on a loaded
# machine the one that takes back a killed engine's shims has been seen
# to take longer (dockerd then exits: "timeout waiting for containerd"),
# and a second start, with the shims taken back, comes up.
engine2_restart() {
	local i
	for i in 1 2 3; do
		_e2_dockerd && return 0
		echo "engine2: start $i on the same roots failed; again" >&2
	done
	return 1
}

# Processes of this engine that outlive a SIGKILL to its dockerd: those
# in its namespace (its containerd) and those whose command line names
# its exec root (its shims). $1: that root, E2_DIR by default.
_e2_orphans() {
	local p dir=${1:-$E2_DIR}
	[ -n "$dir" ] || return 0
	{
		[ "${E2_NS_MADE:-0}" = 1 ] && ip netns pids "$E2_NS" 2>/dev/null
		for p in /proc/[0-9]*; do
			if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$dir/"; then
				echo "${p#/proc/}"
			fi
		done
	} | sort -u
}

engine2_stop() {
	local i p m
	trap - EXIT INT TERM HUP
	[ -n "$E2_DIR" ] || return 0
	engine2_thaw
	if [ "$E2_UP" = 0 ] && [ "${E2_NORESTART:-0}" = 1 ]; then
		_e2_reap
	elif [ "$E2_UP" = 0 ] && [ -d "$E2_DIR/data" ] && [ -z "$(_e2_orphans)" ]; then
		:
	elif [ "$E2_UP" = 0 ] && [ -d "$E2_DIR/data" ]; then
		# Killed with containers still running: a start on the same
		# roots takes them back, and its own stop ends them cleanly.
		_e2_dockerd >/dev/null 2>&1
	fi
	if [ "$E2_UP" = 1 ]; then
		# Its containers first, so none outlives its engine.
		e2 ps -aq 2>/dev/null | xargs -r docker -H "$E2_UNIX" rm -f >/dev/null 2>&1
		kill -TERM "$E2_PID" 2>/dev/null
		for i in $(seq 1 60); do
			kill -0 "$E2_PID" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$E2_PID" 2>/dev/null
		wait "$E2_PID" 2>/dev/null
		E2_UP=0
	fi
	for p in $(_e2_orphans); do
		kill -KILL "$p" 2>/dev/null
	done
	# Mounts it left (overlays, its containers' namespaces), deepest first.
	for m in $(awk -v d="$E2_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	# The namespace goes with its last process; its end of the veth pair,
	# and so the pair, with it.
	if [ "${E2_NS_MADE:-0}" = 1 ]; then
		ip netns del "$E2_NS" 2>/dev/null
		E2_NS_MADE=0
	fi
	ip link del "$E2_VH" 2>/dev/null
	rm -rf "$E2_DIR"
	E2_LAST_DIR=$E2_DIR
	E2_DIR=
	if ! ip link show docker0 >/dev/null 2>&1; then
		echo "engine2: THE FIRST ENGINE'S docker0 IS GONE (ip link show docker0 fails)" >&2
		return 1
	fi
}

# engine2_busy_run: in a new project under $T_TMP/p (the working directory
# after it), 40 tests of a second each, each marking its start in marks/
# (seen here only from the first engine, whose project is bind-mounted), so
# the second engine's workers are in the middle of one when their engine
# goes; then `xdock run -n 4` over both engines in the background (XPID;
# report in $T_TMP/report.json, output in $T_TMP/out and err), returning
# once eight tests have started on the first engine (the second one's
# workers have collected and run too) or the run ended first.
engine2_busy_run() {
	mkdir -p "$T_TMP/p/marks" && cd "$T_TMP/p" || return 1
	cat >test_slow.py <<'PY'
import os
import time

import pytest

@pytest.mark.parametrize("i", range(40))
def test_slow(i):
    marks = os.path.join(os.path.dirname(__file__), "marks")
    os.makedirs(marks, exist_ok=True)  # an empty directory is not shipped
    open(os.path.join(marks, "%02d" % i), "w").close()
    time.sleep(1)
PY
	: >conftest.py
	DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$E2_CERTS "$XDOCK_BIN" run -n 4 --docker-host unix:///var/run/docker.sock \
		--docker-host "$E2_TCP" --json-report "$T_TMP/report.json" . >"$T_TMP/out" 2>"$T_TMP/err" &
	XPID=$!
	for _ in $(seq 1 1800); do
		[ "$(ls marks | wc -l)" -ge 8 ] && break
		kill -0 "$XPID" 2>/dev/null || break
		sleep 0.1
	done
}

# Whether anything of the second engine is left on the machine.
engine2_gone() {
	local left=""
	[ -n "${E2_LAST_DIR:-}" ] && [ -e "$E2_LAST_DIR" ] && left="$left dir"
	ip netns list | grep -qw -- "$E2_NS" && left="$left netns"
	ip link show "$E2_VH" >/dev/null 2>&1 && left="$left veth"
	[ -n "$E2_PID" ] && kill -0 "$E2_PID" 2>/dev/null && left="$left dockerd"
	[ -n "${E2_LAST_DIR:-}" ] && [ -n "$(_e2_orphans "$E2_LAST_DIR")" ] && left="$left processes"
	if [ -n "$left" ]; then
		echo "     second engine left:$left" >&2
		return 1
	fi
}
