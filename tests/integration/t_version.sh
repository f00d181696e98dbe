#!/usr/bin/env bash
# `xdock version` names the engine API version it negotiated and the
# libcurl, libpq and cJSON it runs with, as the engine and dpkg know them;
# without an engine it still prints the libraries and exits 0.
. "$(dirname "$0")/lib.sh"

pkgver() { dpkg-query -W -f='${Version}' "$1" | sed 's/[-+~].*//'; }

xrun version
check "version: exit 0 (got $RC)" eq "$RC" 0
check "version: xdock's own first" grep -q "^xdock [0-9]" <(head -1 "$T_TMP/out")
check "version: the engine's API version" grep -qx "engine API $(docker version --format '{{.Server.APIVersion}}') (.*)" "$T_TMP/out"
check "version: libcurl as installed" grep -qx "libcurl $(pkgver libcurl4:amd64 2>/dev/null || pkgver libcurl4)" "$T_TMP/out"
check "version: libpq as installed" grep -qx "libpq $(pkgver libpq5:amd64 2>/dev/null || pkgver libpq5)" "$T_TMP/out"
check "version: cJSON as installed" grep -qx "cJSON $(pkgver libcjson1:amd64 2>/dev/null || pkgver libcjson1)" "$T_TMP/out"

xrun version --docker-host unix:///nonexistent/docker.sock
check "version without an engine: exit 0 (got $RC)" eq "$RC" 0
check "version without an engine: says so" grep -q "^engine API none: .*nonexistent" "$T_TMP/out"
check "version without an engine: the libraries still" grep -q "^libpq " "$T_TMP/out"
finish
