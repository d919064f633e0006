#!/usr/bin/env bash
# bench.sh: what `make bench` runs. Starts the same loopback servers as the
# tests (PostgreSQL, Redis, kubo), runs every Go benchmark, then the
# ingestion benchmark at 1 000 000 messages (scripts/bench-ingest.sh, its
# own durable servers), then the instruction-count ratio of the protocol
# core. Figures go to BENCHMARKS.md by hand, with the command that produced
# them.
set -euo pipefail
cd "$(dirname "$0")/.."
servers=$(mktemp -d /tmp/alephql-bench.XXXXXX)
trap 'scripts/test-servers.sh stop "$servers"' EXIT
scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
# The ingestion benchmark runs on its own below, on a durable PostgreSQL.
go test -run '^$' -bench "${BENCH:-.}" -skip '^BenchmarkIngest$' -benchmem -count "${COUNT:-1}" ./... | tee bench.out
if [ -z "${BENCH:-}" ] || [[ BenchmarkIngest =~ ${BENCH} ]]; then
	# N = 1 000 000 by default (ALEPHQL_BENCH_INGEST_N overrides it).
	scripts/bench-ingest.sh | tee -a bench.out
fi
if command -v valgrind >/dev/null; then
	scripts/bench-instructions.sh ./processor/message 'EcrecoverDigest$' 'ParseHashVerify/ETH$' 'Decode$' | tee -a bench.out
fi
# The subscription benchmark (issue 5) runs a node and a separate load
# client; SIZE=small (1 000 subscribers) or full (10 000, the default).
if [[ Subscriptions =~ ${BENCH:-.} ]]; then
	SIZE=${SIZE:-full} scripts/bench-subs.sh | tee -a bench.out
fi
