#!/usr/bin/env bash
# bench-instructions.sh: instructions per operation of Go benchmarks, counted
# by valgrind's callgrind. Unlike ns/op these counts do not depend on what
# else the machine is doing, so ratios between benchmarks are stable on a
# noisy 2-core machine.
#
#   scripts/bench-instructions.sh ./processor/message 'ParseHashVerify/ETH$' 'EcrecoverDigest$'
#
# Each benchmark runs twice (N=200 and N=1200 iterations); the difference
# divided by 1000 is the cost of one operation, setup excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
pkg=${1:?package}; shift
bin=$(mktemp /tmp/alephql-bench.XXXXXX)
trap 'rm -f "$bin" "$bin".cg "$bin".err' EXIT
go test -c -o "$bin" "$pkg"
dir=$(go list -f '{{.Dir}}' "$pkg")
count() {
	(cd "$dir" && GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$bin.cg" \
		"$bin" -test.run '^$' -test.bench "$1" -test.benchtime "$2x" -test.cpu 1 >/dev/null 2>"$bin.err")
	grep -o 'Collected : [0-9]*' "$bin.err" | awk '{print $3}'
}
first=""
for b in "$@"; do
	lo=$(count "$b" 200); hi=$(count "$b" 1200)
	per=$(( (hi - lo) / 1000 ))
	if [ -z "$first" ]; then first=$per; fi
	printf '%-40s %10d instructions/op  %5.2fx the first\n' "$b" "$per" "$(echo "$per / $first" | bc -l)"
done
