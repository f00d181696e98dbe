#!/usr/bin/env bash
# The integration suite against Podman's Docker-compatible API, rootful.
#
#   tests/podman/run.sh [--all] [--store DIR] [ctest -R regex]
#
# Starts `podman system service` on a socket of its own, with a store,
# run directory and network configuration of its own (nothing of the
# machine's default podman store is touched), copies the test images into
# it from the Docker engine (`docker save | docker load` through Podman's
# API), and runs the integration tests with DOCKER_HOST pointing at it:
# xdock and the tests' own `docker` commands both talk to Podman.
#
# By default the tests listed in tests/podman/known-failures are left out
# (each line says why; docs/podman.md has the detail); --all runs them too.
# --store DIR keeps the store (and its loaded images) in DIR between runs:
# the copy of the images is the slow part of the setup (about a minute).
#
# At the end, on every path: the service is stopped (by its PID), what it
# created is removed (containers, networks, the overlay mounts, the store
# unless --store), and the netavark firewall chains are removed if they
# were not there before. Needs root, podman (Debian's apt: podman), the
# Docker engine with the images built, and a built tree ($XDOCK_BUILD,
# default build/). Exit: ctest's; 77 when podman is missing; 1 on a
# setup failure.
#
# Takes about as long as the integration suite on Docker plus the image
# copy: not in CI's default path (scripts/test does not run it).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
XDOCK_SRC=${XDOCK_SRC:-$(cd "$here/../.." && pwd)}
XDOCK_BUILD=${XDOCK_BUILD:-$XDOCK_SRC/build}
IMAGES=(xdock/python:bookworm xdock/postgres:15)

all=0
store=
regex=
while [ $# -gt 0 ]; do
	case $1 in
	--all) all=1 ;;
	--store) store=${2:?--store needs a directory}; shift ;;
	--store=*) store=${1#--store=} ;;
	-h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "podman: unknown option $1" >&2; exit 4 ;;
	*) regex=$1 ;;
	esac
	shift
done

say() { echo "podman: $*" >&2; }

if ! command -v podman >/dev/null 2>&1; then
	say "podman is not installed (apt-get install podman); skipped"
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	say "needs root (the rootful service; rootless is described in docs/podman.md)"
	exit 1
fi
if [ ! -x "$XDOCK_BUILD/xdock" ]; then
	say "no xdock in $XDOCK_BUILD (build first, or set XDOCK_BUILD)"
	exit 1
fi
for img in "${IMAGES[@]}"; do
	if ! docker image inspect "$img" >/dev/null 2>&1; then
		say "image $img is missing on the Docker engine (images/build)"
		exit 1
	fi
done

if [ -n "$store" ]; then
	mkdir -p "$store" || exit 1
	dir=$(cd "$store" && pwd)
else
	dir=$(mktemp -d /var/tmp/xdock-podman.XXXXXX) || exit 1
fi
mkdir -p "$dir/root" "$dir/run" "$dir/tmp" "$dir/net"
sock=$dir/podman.sock
pm=(podman --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp" --network-config-dir "$dir/net")
export CONTAINERS_CONF=$dir/containers.conf
svc_pid=
chains_before=$(iptables -S 2>/dev/null | grep -c '^-N NETAVARK_')
# netavark keeps its address allocations and DNS configuration in
# /run/containers/networks whatever the store: removed at the end if this
# run made it.
netrun=/run/containers/networks
netrun_before=0
[ -e "$netrun" ] && netrun_before=1

stop_service() {
	if [ -n "$svc_pid" ] && kill -0 "$svc_pid" 2>/dev/null; then
		kill "$svc_pid"
		wait "$svc_pid" 2>/dev/null
	fi
	svc_pid=
}

cleanup() {
	local rc=$?
	stop_service
	# Only this store's objects: the commands carry its --root.
	"${pm[@]}" rm -af -t 0 >/dev/null 2>&1
	"${pm[@]}" network prune -f >/dev/null 2>&1
	if [ -z "$store" ]; then
		"${pm[@]}" rmi -af >/dev/null 2>&1
	fi
	# The storage driver's mounts under this directory, deepest first.
	awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
	if [ -z "$store" ]; then
		rm -rf "$dir"
	else
		rm -f "$sock"
	fi
	[ "$netrun_before" = 0 ] && rm -rf "$netrun" && rmdir /run/containers 2>/dev/null
	# netavark adds its chains to the host's filter table and leaves them
	# when its last network goes; remove them if this run brought them.
	if [ "$chains_before" = 0 ] && iptables -S 2>/dev/null | grep -q '^-N NETAVARK_'; then
		iptables -D FORWARD -j NETAVARK_ISOLATION_1 2>/dev/null
		iptables -D FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD 2>/dev/null
		for c in $(iptables -S | awk '/^-N NETAVARK_/ { print $2 }'); do iptables -F "$c"; done
		for c in $(iptables -S | awk '/^-N NETAVARK_/ { print $2 }'); do iptables -X "$c"; done
		for t in nat; do
			iptables -t $t -S 2>/dev/null | grep -q '^-N NETAVARK' || continue
			iptables -t $t -S | awk '/^-A (PREROUTING|OUTPUT|POSTROUTING) .*NETAVARK/ { sub(/^-A/, "-D"); print }' |
				while read -r rule; do eval iptables -t $t "$rule"; done
			for c in $(iptables -t $t -S | awk '/^-N NETAVARK/ { print $2 }'); do iptables -t $t -F "$c"; done
			for c in $(iptables -t $t -S | awk '/^-N NETAVARK/ { print $2 }'); do iptables -t $t -X "$c"; done
		done
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

# start_service: the service on $sock; its PID in svc_pid.
start_service() {
	rm -f "$sock"
	# In the store's directory: conmon writes a file named "oom" into its
	# working directory (the service's) when a container is OOM-killed.
	(cd "$dir" && exec "${pm[@]}" system service --time=0 "unix://$sock") >>"$dir/service.log" 2>&1 &
	svc_pid=$!
	for _ in $(seq 100); do
		curl -sf --unix-socket "$sock" http://podman/_ping >/dev/null 2>&1 && return 0
		kill -0 "$svc_pid" 2>/dev/null || break
		sleep 0.1
	done
	say "the service did not answer on $sock:"
	tail -n 5 "$dir/service.log" >&2
	return 1
}

# Rootful Podman gives every container RLIMIT_NOFILE and RLIMIT_NPROC of
# 1048576 unless told otherwise; raising a hard limit above the service's
# own needs CAP_SYS_RESOURCE, which a container or a restricted VM (this
# machine) does not have, and then no container starts ("error setting
# rlimit type 7: operation not permitted"). Docker passes its own limits
# on. So: start the service once to learn its limits (podman lowers its
# NPROC at start-up), then again with those as the containers' defaults.
echo '[containers]' >"$CONTAINERS_CONF"
start_service || exit 1
nofile=$(awk '/^Max open files/ { print $4 }' "/proc/$svc_pid/limits")
nproc=$(awk '/^Max processes/ { print $3 }' "/proc/$svc_pid/limits")
stop_service
cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
EOF
start_service || exit 1
export DOCKER_HOST=unix://$sock
say "service pid $svc_pid on $DOCKER_HOST, store $dir"

missing=()
for img in "${IMAGES[@]}"; do
	docker image inspect "$img" >/dev/null 2>&1 || missing+=("$img")
done
if [ ${#missing[@]} -gt 0 ]; then
	t0=$(date +%s)
	if ! DOCKER_HOST= docker save "${missing[@]}" | docker load >/dev/null; then
		say "could not copy ${missing[*]} into podman's store"
		exit 1
	fi
	say "copied ${missing[*]} in $(($(date +%s) - t0)) s"
fi

exclude=
if [ "$all" = 0 ] && [ -s "$here/known-failures" ]; then
	exclude=$(grep -v '^#' "$here/known-failures" | awk 'NF { print $1 }' | paste -sd'|')
fi
args=(--test-dir "$XDOCK_BUILD" -L integration --output-on-failure)
[ -n "$regex" ] && args+=(-R "$regex")
[ -n "$exclude" ] && args+=(-E "$exclude") && say "left out (known-failures): $exclude"
ctest "${args[@]}"
