#!/usr/bin/env bash
# The Debian package installs on a clean Debian 12 and works there: cpack
# builds it from this build tree; a fresh container of the project's base
# image (xdock/debian:bookworm, debootstrap minbase: none of xdock's
# libraries) gets it with dpkg -i, together with the library packages it
# depends on that the base image lacks (apt on the host computes them
# against the image's own dpkg database and downloads them; the container
# itself has no network but the host's). The installed /usr/bin/xdock then
# finds its agent in /usr/libexec/xdock and runs fixtures/demo's suite
# against the host's engine, as a user would.
#
# Needs: the images, dpkg-dev (dpkg-shlibdeps) and apt sources on the host.
# Run: ctest --test-dir build -L package (about a minute).
. "$(dirname "$0")/../integration/lib.sh"

trap 'rm -rf "$T_TMP"; [ -n "${CID:-}" ] && docker rm -f "$CID" >/dev/null 2>&1' EXIT
BASE=xdock/debian:bookworm
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
	echo "t_deb: image $BASE is missing (images/build builds it)" >&2
	exit 1
fi

# 1. The package.
(cd "$XDOCK_BUILD" && cpack -G DEB -B "$T_TMP/pkg") >"$T_TMP/cpack.log" 2>&1
check "cpack builds a .deb" test -n "$(ls "$T_TMP"/pkg/xdock_*.deb 2>/dev/null)"
DEB=$(ls "$T_TMP"/pkg/xdock_*.deb | head -n 1)
check "the package holds /usr/bin/xdock and /usr/libexec/xdock/xdock-agent" eq \
	"$(dpkg-deb -c "$DEB" | awk '{print $6}' | grep -E '^\./usr/(bin/xdock|libexec/xdock/xdock-agent)$' | sort | tr '\n' ' ')" \
	"./usr/bin/xdock ./usr/libexec/xdock/xdock-agent "
check "the package depends on libcurl, libpq and libcjson" \
	bash -c "dpkg-deb -f '$DEB' Depends | grep -q libcurl && dpkg-deb -f '$DEB' Depends | grep -q libpq && dpkg-deb -f '$DEB' Depends | grep -q libcjson"

# 2. What the base image lacks, computed by apt against its dpkg database.
CID=$(docker create "$BASE" true)
docker cp "$CID:/var/lib/dpkg/status" "$T_TMP/status" >/dev/null
docker rm "$CID" >/dev/null
CID=
mkdir -p "$T_TMP/debs/partial" "$T_TMP/aptstate/lists"
cp "$DEB" "$T_TMP/debs/"
apt-get -q -y --no-install-recommends -o Dir::State::status="$T_TMP/status" -o Dir::Cache::archives="$T_TMP/debs" \
	-o Debug::NoLocking=1 install --download-only "$DEB" >"$T_TMP/apt.log" 2>&1
check "apt computes and fetches the dependencies missing from $BASE" test $? -eq 0
rm -rf "$T_TMP/debs/partial" "$T_TMP/debs/lock"

# 3. Installed in a fresh container, it runs the demo suite. The project
# directory keeps its host path (the engine mounts it from the host); host
# networking, so the embedded server's port published on the host's
# loopback is reachable from xdock as on a real machine. The engine also
# bind-mounts the agent from the host, where /usr/libexec/xdock does not
# exist: so the installed tree is also copied to a directory that has the
# same path on both sides, and the demo runs from there, with the
# libraries dpkg installed and the same ../libexec/xdock layout.
P=$T_TMP/demo
INST=$T_TMP/inst
mkdir -p "$INST"
cp -r "$XDOCK_SRC/fixtures/demo" "$P"
rm -rf "$P/.xdock" "$P/.pytest_cache"
docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock \
	-v "$T_TMP/debs:/debs:ro" -v "$P:$P" -v "$INST:$INST" -w "$P" "$BASE" sh -c '
		dpkg -i /debs/*.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 90; }
		command -v xdock
		xdock version || exit 91
		# The installed xdock finds its agent: it gets as far as the
		# engine (a socket that is not there), not "xdock-agent not found".
		xdock run -n 1 --db none --docker-host unix:///nonexistent . >/tmp/lookup.out 2>&1
		echo "lookup: $? $(tail -n 1 /tmp/lookup.out)"
		mkdir -p '"$INST"'/bin '"$INST"'/libexec
		cp -a /usr/bin/xdock '"$INST"'/bin/ && cp -a /usr/libexec/xdock '"$INST"'/libexec/
		'"$INST"'/bin/xdock run -n 2 --db-setup "python3 migrate.py" --json-report report.json .
	' >"$T_TMP/out" 2>"$T_TMP/err"
RC=$?
check "dpkg -i installs it and its dependencies on a fresh $BASE (got $RC)" test "$RC" -ne 90
check "the installed xdock is /usr/bin/xdock and runs (xdock version)" \
	bash -c "grep -qx /usr/bin/xdock '$T_TMP/out' && [ $RC -ne 91 ]"
check "the installed xdock finds its agent in /usr/libexec/xdock" \
	bash -c "grep -q '^lookup: 3 ' '$T_TMP/out' && ! grep -q 'xdock-agent not found' '$T_TMP/out'"
check "the installed binaries run fixtures/demo: exit 0 (got $RC)" eq "$RC" 0
check "every demo test passed" python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); s = r["summary"]
sys.exit(not (s.get("passed", 0) > 0 and s.get("passed") == len(r["tests"])))' "$P/report.json"
run_id=$(json "$P/report.json" 'r["run_id"]' 2>/dev/null)
check "nothing of run ${run_id:-?} left" no_leftovers_of "${run_id:-none}"
finish
