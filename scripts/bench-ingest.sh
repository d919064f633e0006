#!/usr/bin/env bash
# bench-ingest.sh: the ingestion benchmark (issue 4), unattended, in one
# command. It starts its own PostgreSQL (with its durable defaults: fsync,
# synchronous_commit and full_page_writes on), Redis and kubo through
# scripts/test-servers.sh, generates (once, cached under
# ~/.cache/alephql/bench) N signed inline POST/AGGREGATE messages, imports
# them in a child process through the whole pipeline and prints, for the
# same run: msgs/s end to end, intake-msgs/s, the verify-only ceiling
# (verify-msgs/s), their ratio (e2e/verify) and the importing process's
# peak RSS (peak-RSS-MiB).
#
#   scripts/bench-ingest.sh                               # N = 1 000 000
#   ALEPHQL_BENCH_INGEST_N=100000 scripts/bench-ingest.sh # smaller
#
# Other settings (see processor/bench_test.go): ALEPHQL_BENCH_SEED,
# ALEPHQL_BENCH_BATCH, ALEPHQL_BENCH_CACHE, COUNT (runs, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
export ALEPHQL_BENCH_INGEST_N=${ALEPHQL_BENCH_INGEST_N:-1000000}
servers=$(mktemp -d /tmp/alephql-bench-ingest.XXXXXX)
trap 'scripts/test-servers.sh stop "$servers"' EXIT
ALEPHQL_PG_DURABLE=1 scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
echo "ingestion benchmark: N=$ALEPHQL_BENCH_INGEST_N, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
go test -run '^$' -bench '^BenchmarkIngest$' -benchtime 1x -count "${COUNT:-1}" -timeout 0 ./processor/
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
