#!/usr/bin/env bash
# Limits on what xdock waits for: an engine that accepts the connection
# and never answers fails the run in bounded time instead of hanging it;
# a --db-setup that never ends is stopped by --db-setup-timeout; TLS
# without client certificates (DOCKER_TLS=1 and no cert.pem) reaches the
# server as the docker CLI would, instead of failing on the missing files.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T_TMP/suite"
printf 'def test_ok():\n    assert True\n' >"$T_TMP/suite/test_ok.py"
cd "$T_TMP/suite" || exit 1

# An "engine" that accepts connections and never says a word.
python3 - "$T_TMP/stuck.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    held.append(s.accept()[0])
PY
stuck=$!
for _ in $(seq 1 50); do [ -S "$T_TMP/stuck.sock" ] && break; sleep 0.1; done
start=$(date +%s)
DOCKER_HOST="unix://$T_TMP/stuck.sock" xrun run -n 1 --db none .
took=$(($(date +%s) - start))
kill "$stuck"
wait "$stuck" 2>/dev/null
check "stuck engine: exit 3 (got $RC)" eq "$RC" 3
check "stuck engine: gave up within 45 s (took $took s)" test "$took" -le 45
check "stuck engine: names the address and the timeout" grep -q "stuck.sock.*timed out" "$T_TMP/err"
check "stuck engine: one line" eq "$(wc -l <"$T_TMP/err")" 1

# A TLS server without client verification, as a dockerd started with
# --tls and no --tlsverify would be. It is not an engine: xdock must get
# past the handshake and fail on the reply, not on missing client files.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-keyout "$T_TMP/server.key" -out "$T_TMP/server.pem" >/dev/null 2>&1
port=$((20000 + RANDOM % 20000))
openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$T_TMP/server.pem" -key "$T_TMP/server.key" -www \
	>/dev/null 2>&1 &
tls=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
mkdir -p "$T_TMP/home"
HOME=$T_TMP/home DOCKER_CERT_PATH= DOCKER_TLS_VERIFY= DOCKER_TLS=1 DOCKER_HOST="tcp://127.0.0.1:$port" \
	xrun run -n 1 --db none .
check "DOCKER_TLS=1 without certificates: exit 3 (got $RC)" eq "$RC" 3
check "DOCKER_TLS=1 without certificates: no complaint about certificate files" \
	bash -c "! grep -Eiq 'cert|key\.pem|ssl' '$T_TMP/err'"
check "DOCKER_TLS=1 without certificates: the handshake worked, the reply was not an engine's" \
	grep -Eq "version|ping|JSON" "$T_TMP/err"
touch "$T_TMP/home/cert.pem"
mkdir -p "$T_TMP/home/.docker" && mv "$T_TMP/home/cert.pem" "$T_TMP/home/.docker/"
HOME=$T_TMP/home DOCKER_CERT_PATH= DOCKER_TLS_VERIFY= DOCKER_TLS=1 DOCKER_HOST="tcp://127.0.0.1:$port" \
	xrun run -n 1 --db none .
check "cert.pem without key.pem: exit 4 (got $RC)" eq "$RC" 4
check "cert.pem without key.pem: says so" grep -q "cert.pem without key.pem" "$T_TMP/err"
kill "$tls"
wait "$tls" 2>/dev/null

start=$(date +%s)
xrun run -n 1 --db-setup "sleep 600" --db-setup-timeout 3 .
took=$(($(date +%s) - start))
check "--db-setup-timeout: exit 4 (got $RC)" eq "$RC" 4
check "--db-setup-timeout: says it was still running" grep -q "still running after 3 s (--db-setup-timeout)" "$T_TMP/err"
check "--db-setup-timeout: stopped in time (took $took s)" test "$took" -le 40
check "--db-setup-timeout: nothing left" no_leftovers_of_pid "$XPID"
finish
