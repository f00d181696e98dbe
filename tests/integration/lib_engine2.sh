# A second Docker engine for one test, next to the machine's own: its own
# dockerd (and the containerd it starts) with its own --data-root,
# --exec-root, --pidfile, unix socket and a TCP listener on 127.0.0.1 with
# TLS certificates made here, its own bridge (-b) and address pool. Its
# image store starts empty. Source it after lib.sh:
#
#   engine2_start            E2_UNIX (unix://...), E2_TCP (tcp://127.0.0.1:P),
#                            E2_CERTS (ca.pem cert.pem key.pem for clients),
#                            E2_PID; stopped and removed when the test exits
#   e2 ARGS...               the docker CLI against it (unix socket)
#   engine2_kill             SIGKILL to its dockerd only ("the engine is lost")
#   engine2_lose             the same, and engine2_stop will not start it
#                            again: it ends what the dead engine left by PID
#   engine2_restart          a killed engine started again on the same roots
#   engine2_stop             everything removed; the machine as it was
#
# Two traps of a second dockerd on a machine that runs one already, and
# how they are avoided here (never by touching the first engine):
#  - `--bridge=none` makes dockerd delete the existing docker0 (the first
#    engine's); this one gets a bridge of its own with -b, created here.
#  - it runs with --iptables=false (its own rules would mix with the first
#    engine's chains), and the first engine's FORWARD policy DROP then
#    drops its containers' traffic, even between two containers on its own
#    bridge; one DOCKER-USER rule per direction lets its pool through, and
#    goes with engine2_stop.
# Only processes this file started are ended, by their PIDs: dockerd's
# from its --pidfile, and those whose command line names its exec root
# (its containerd and shims, left behind when dockerd was killed).

E2_PID=
E2_DIR=
E2_UP=0
E2_NORESTART=0

# Opt-in: a second dockerd on a machine whose first engine others use is
# a hazard to them. A second dockerd has been seen to delete the first
# engine's docker0 although it had a bridge of its own (-b): it happened
# in the minute a second engine was killed and started again, and the
# first engine then started no container on its default bridge until it
# was restarted. Tests that source this file are skipped (77) unless
# XDOCK_ENGINE2=1 says this machine's first engine may take that risk.
if [ "${XDOCK_ENGINE2:-0}" != 1 ]; then
	rm -rf "$T_TMP"
	echo "$T_NAME: skipped: needs a second dockerd next to the first engine (XDOCK_ENGINE2=1; see lib_engine2.sh)" >&2
	exit 77
fi

_e2_pool() {
	# One /16 per test process, out of 10.200.0.0/13, so two tests at once
	# (or another user of 10.x) do not clash; the bridge takes the first
	# /24, networks the engine creates come out of the upper half.
	local n=$((200 + $$ % 8))
	E2_NET=10.$n.0.0/16
	E2_BRIDGE_CIDR=10.$n.0.1/24
	E2_POOL=10.$n.128.0/17
	E2_BR=xdk2b$(($$ % 100000))
}

_e2_certs() {
	local d=$E2_DIR/tls
	mkdir -p "$d" "$E2_CERTS" || return 1
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 \
			-subj "/CN=xdock test engine CA" &&
			openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr \
				-subj "/CN=127.0.0.1" &&
			printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
				-out server.pem -days 2 -extfile server.ext &&
			openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj "/CN=xdock client" &&
			printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
			openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
				-out cert.pem -days 2 -extfile client.ext
	) >"$E2_DIR/openssl.log" 2>&1 || return 1
	cp "$d/ca.pem" "$d/cert.pem" "$d/key.pem" "$E2_CERTS/"
}

_e2_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs dockerd on E2_DIR's roots; waits until it answers.
_e2_dockerd() {
	echo '{}' >"$E2_DIR/daemon.json"
	dockerd --config-file "$E2_DIR/daemon.json" \
		--data-root "$E2_DIR/data" --exec-root "$E2_DIR/exec" --pidfile "$E2_DIR/dockerd.pid" \
		-H "$E2_UNIX" -H "tcp://127.0.0.1:$E2_PORT" \
		--tlsverify --tlscacert "$E2_DIR/tls/ca.pem" --tlscert "$E2_DIR/tls/server.pem" \
		--tlskey "$E2_DIR/tls/server-key.pem" \
		-b "$E2_BR" --iptables=false --ip-forward=false --ip-masq=false \
		--default-address-pool "base=$E2_POOL,size=24" \
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

engine2_start() {
	_e2_pool
	# Short: containerd's socket paths under the exec root must fit in
	# sun_path.
	E2_DIR=$(mktemp -d /tmp/xdk2.XXXXXX) || return 1
	E2_UNIX=unix://$E2_DIR/docker.sock
	E2_CERTS=$E2_DIR/client
	E2_PORT=$(_e2_free_port)
	E2_TCP=tcp://127.0.0.1:$E2_PORT
	trap engine2_stop EXIT
	_e2_certs || {
		echo "engine2: openssl failed:" >&2
		tail -n 5 "$E2_DIR/openssl.log" >&2
		return 1
	}
	ip link add name "$E2_BR" type bridge || return 1
	ip addr add "$E2_BRIDGE_CIDR" dev "$E2_BR" && ip link set "$E2_BR" up || return 1
	iptables -I DOCKER-USER -s "$E2_NET" -j ACCEPT &&
		iptables -I DOCKER-USER -d "$E2_NET" -j ACCEPT || return 1
	E2_RULES=1
	_e2_dockerd || return 1
	export E2_UNIX E2_TCP E2_CERTS E2_PID
}

engine2_kill() {
	[ -n "$E2_PID" ] && kill -KILL "$E2_PID" 2>/dev/null
	wait "$E2_PID" 2>/dev/null
	E2_UP=0
}

# A lost engine is never started again: a second dockerd killed and
# started again is when the first engine's docker0 was seen to go.
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

engine2_restart() {
	_e2_dockerd
}

# Processes that name this engine's exec root (its containerd, its
# shims): after a SIGKILL to dockerd they outlive it.
_e2_orphans() {
	local p
	for p in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$E2_DIR/"; then
			echo "${p#/proc/}"
		fi
	done
}

engine2_stop() {
	local i p m
	trap - EXIT
	[ -n "$E2_DIR" ] || return 0
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
	# Mounts it left (overlays, network namespaces), deepest first.
	for m in $(awk -v d="$E2_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	if [ "${E2_RULES:-0}" = 1 ]; then
		iptables -D DOCKER-USER -s "$E2_NET" -j ACCEPT 2>/dev/null
		iptables -D DOCKER-USER -d "$E2_NET" -j ACCEPT 2>/dev/null
		E2_RULES=0
	fi
	ip link del "$E2_BR" 2>/dev/null
	# Bridges of networks it created and did not remove.
	for p in $(ip -o addr show 2>/dev/null | awk -v pre="${E2_NET%.0.0/16}." '$3 == "inet" && index($4, pre) == 1 { print $2 }'); do
		ip link del "$p" 2>/dev/null
	done
	rm -rf "$E2_DIR"
	E2_LAST_DIR=$E2_DIR
	E2_DIR=
}

# Whether anything of the second engine is left on the machine.
engine2_gone() {
	local left=""
	[ -n "${E2_LAST_DIR:-}" ] && [ -e "$E2_LAST_DIR" ] && left="$left dir"
	ip link show "$E2_BR" >/dev/null 2>&1 && left="$left bridge"
	iptables -S DOCKER-USER | grep -qF -- "$E2_NET" && left="$left rule"
	[ -n "$E2_PID" ] && kill -0 "$E2_PID" 2>/dev/null && left="$left dockerd"
	if [ -n "$left" ]; then
		echo "     second engine left:$left" >&2
		return 1
	fi
}
