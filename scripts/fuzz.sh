#!/usr/bin/env bash
# fuzz.sh: run every native Go fuzz target of the module for FUZZTIME each
# (default 10s; `make fuzz` uses 10m). A crash fails the run and leaves its
# input under the package's testdata/fuzz for a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
n=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for t in $targets; do
		echo "fuzz: $pkg $t for $fuzztime"
		go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" "$pkg" >/dev/null
		n=$((n + 1))
	done
done
echo "fuzz: $n targets ran $fuzztime each without a crash"
