#!/usr/bin/env bash
# bench-ingest.sh: the ingestion benchmark (issue 4), unattended, in one
# command. It starts its own PostgreSQL (with its durable defaults: fsync,
# synchronous_commit and full_page_writes on), Redis and kubo through
# scripts/test-servers.sh, generates (once, cached under
# ~/.cache/alephql/bench) N signed inline POST/AGGREGATE messages, imports
# them in a child process through the whole pipeline and prints, for the
# same run: msgs/s end to end, intake-msgs/s, the verify-only ceiling
# (verify-msgs/s), their ratio (e2e/verify) and the importing process's
# peak RSS (peak-RSS-MiB), then the PostgreSQL server's CPU time (all its
# processes, from /proc) per message over the benchmark.
#
#   scripts/bench-ingest.sh                               # N = 1 000 000
#   ALEPHQL_BENCH_INGEST_N=100000 scripts/bench-ingest.sh # smaller
#
# PostgreSQL runs with the settings an operator gives a server that takes
# bulk loads (ALEPHQL_PG_SETTINGS, printed with the results): 1 GiB of
# shared buffers (the default 128 MiB holds a tenth of the indexes a
# 1 000 000-message import writes) and checkpoints spaced by 8 GiB of WAL
# or 30 min (with the default 1 GiB, each checkpoint makes the next write
# of every page log a full page image). Durability is unchanged.
# ALEPHQL_PG_SETTINGS= (empty) runs PostgreSQL's defaults instead.
#
# Other settings (see processor/bench_test.go): ALEPHQL_BENCH_SEED,
# ALEPHQL_BENCH_BATCH, ALEPHQL_BENCH_VERIFY_WORKERS, ALEPHQL_BENCH_CACHE,
# COUNT (runs, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
export ALEPHQL_BENCH_INGEST_N=${ALEPHQL_BENCH_INGEST_N:-1000000}
servers=$(mktemp -d /tmp/alephql-bench-ingest.XXXXXX)
trap 'scripts/test-servers.sh stop "$servers"' EXIT
export ALEPHQL_PG_SETTINGS=${ALEPHQL_PG_SETTINGS--c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min}
ALEPHQL_PG_DURABLE=1 scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
echo "ingestion benchmark: N=$ALEPHQL_BENCH_INGEST_N, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
# pgcpu: clock ticks used so far by the PostgreSQL server: the postmaster,
# the children it reaped (backends of closed connections) and the live ones.
pgcpu() {
	local pm
	pm=$(head -1 "$servers/pg/data/postmaster.pid")
	awk -v pm="$pm" '$1 == pm { s += $14 + $15 + $16 + $17 } $4 == pm { s += $14 + $15 } END { print s + 0 }' /proc/[0-9]*/stat 2>/dev/null
}
pg0=$(pgcpu)
go test -run '^$' -bench '^BenchmarkIngest$' -benchtime 1x -count "${COUNT:-1}" -timeout 0 ./processor/
sleep 1 # let the postmaster reap the importer's backends
pg1=$(pgcpu)
awk -v t=$((pg1 - pg0)) -v hz="$(getconf CLK_TCK)" -v n=$((ALEPHQL_BENCH_INGEST_N * ${COUNT:-1})) \
	'BEGIN { printf "postgres-server-CPU: %.2f s, %.1f µs/msg (whole run: setup, verify-only pass and import)\n", t / hz, t / hz * 1e6 / n }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
