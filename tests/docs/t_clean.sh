#!/usr/bin/env bash
# The docs speak of the project alone: no paths of one machine, no issue
# numbers, no design files that are not in the repository. Each pattern is
# one way the docs went wrong before.
cd "$(dirname "$0")/../.." || exit 1
rc=0
while IFS='~' read -r pattern why; do
	if grep -n -E "$pattern" README.md docs/*.md; then
		echo "docs: $why" >&2
		rc=1
	fi
done <<'PATTERNS'
/(home|root|srv|mnt|w[o]rk)/[a-z]~a path of one machine
(^|[^-])/tmp/[a-z]~a path of one machine (use $TMPDIR or mktemp)
[Ii]ssue #?[0-9]~an issue number
DESIGN\.md~a design file that is not in the repository
build-bench~a second build tree nothing creates
PATTERNS
exit $rc
