#!/usr/bin/env bash
# xdock-agent as a real binary: driven over pipes by agent_driver.py on the
# host (hello, collection, relay, crashes, timeout, EOF, signals), then once
# inside a real container of xdock/python:bookworm.
set -euo pipefail

: "${XDOCK_AGENT:?set by ctest: path to xdock-agent}"
: "${XDOCK_SRC:?set by ctest: source tree}"
HERE="$XDOCK_SRC/tests/integration"
SUITE="$HERE/agent_suite"
IMAGE=xdock/python:bookworm
LABEL="t-agent-$$"

# A python3 that has pytest: PATH may lead to one without (pyenv shims).
PY=""
for cand in /usr/bin/python3 python3; do
	if "$cand" -c 'import pytest' 2>/dev/null; then
		PY=$(command -v "$cand")
		break
	fi
done
if [ -z "$PY" ]; then
	echo "t_agent: no python3 with pytest on this host (apt-get install python3-pytest)" >&2
	exit 1
fi

cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=xdock.run=$LABEL" 2>/dev/null || true)
	if [ -n "$ids" ]; then
		docker rm -f $ids >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT INT TERM

docker_args=()
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
	docker_args=(--docker-image "$IMAGE" --label "$LABEL")
else
	echo "t_agent: image $IMAGE missing; build it with images/build" >&2
	exit 1
fi

"$PY" "$HERE/agent_driver.py" --agent "$XDOCK_AGENT" --suite "$SUITE" --python "$PY" "${docker_args[@]}"

# Optional (slow): the host checks again with the agent under valgrind.
# The suppressions cover only static glibc's internals.
if [ "${XDOCK_AGENT_VALGRIND:-0}" = 1 ]; then
	"$PY" "$HERE/agent_driver.py" --agent "$XDOCK_AGENT" --suite "$SUITE" --python "$PY" \
		--wrap "valgrind -q --error-exitcode=99 --suppressions=$XDOCK_SRC/agent/valgrind-static.supp"
fi

left=$(docker ps -aq --filter "label=xdock.run=$LABEL")
if [ -n "$left" ]; then
	echo "t_agent: containers left behind: $left" >&2
	exit 1
fi
