#!/bin/bash
# Source coverage of each parser reached by its committed corpus: builds each
# target with replay.c under clang's source-based coverage, replays the
# corpus and prints llvm-cov's per-function report of the file under test.
# Usage: tests/fuzz/coverage.sh [OUTDIR]   (needs clang, llvm-profdata, llvm-cov)
set -euo pipefail
S=$(cd "$(dirname "$0")/../.." && pwd)
O=${1:-$(mktemp -d)}
mkdir -p "$O"
F=(-std=gnu11 -D_GNU_SOURCE -O0 -fprofile-instr-generate -fcoverage-mapping
   -iquote "$S/common" -iquote "$S/orchestrator" -iquote "$S/tests/fuzz")
declare -A SHOW=(
	[fuzz_proto_reader]="$S/common/proto.c"
	[fuzz_msg]="$S/orchestrator/msg.c"
	[fuzz_frame]="$S/orchestrator/frame.c"
	[fuzz_docker_json]="$S/orchestrator/docker_json.c")
for t in fuzz_proto_reader fuzz_msg fuzz_frame fuzz_docker_json; do
	extra=()
	[ "$t" = fuzz_msg ] && extra=("$S/common/proto.c")
	clang "${F[@]}" "$S/tests/fuzz/$t.c" "$S/tests/fuzz/replay.c" "${SHOW[$t]}" "${extra[@]}" \
		"$S"/common/{buf,error,util}.c -lcjson -o "$O/$t"
	LLVM_PROFILE_FILE="$O/$t.profraw" "$O/$t" "$S/tests/fuzz/corpus/$t" >/dev/null
	llvm-profdata merge -o "$O/$t.profdata" "$O/$t.profraw"
	echo "== $t"
	llvm-cov report "$O/$t" -instr-profile="$O/$t.profdata" -show-functions "${SHOW[$t]}"
done
