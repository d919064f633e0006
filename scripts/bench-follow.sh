#!/usr/bin/env bash
# bench-follow.sh: the backfill benchmark of issue 13, unattended, on a
# durable PostgreSQL started for the run (fsync, synchronous_commit and
# full_page_writes on; the bulk-load settings of bench-chain.sh).
# BenchmarkFollowBackfill (cmd/alephql/follow_bench_test.go) signs N
# messages (1 000 000), imports them with `alephql import` into a fresh
# database (the baseline), serves that database with `alephql serve`
# (node A, a child process) and backfills a fresh node B from it with
# `serve --follow` over loopback HTTP. It prints both rates, their ratio
# (target >= 0.8), each phase's CPU (this process's, PostgreSQL's, node
# A's) and takes about 6 minutes at the full size on 2 cores; run it on
# a quiet machine.
#
#   scripts/bench-follow.sh            # N=1000000
#   N=100000 scripts/bench-follow.sh   # a quick run
# PROFILE_DIR=dir writes each phase's CPU profile there (import.pprof,
# follow.pprof).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
servers=$(mktemp -d /tmp/alephql-bench-follow-srv.XXXXXX)
trap 'scripts/test-servers.sh stop "$servers"' EXIT
export ALEPHQL_PG_SETTINGS=${ALEPHQL_PG_SETTINGS--c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min}
ALEPHQL_PG_DURABLE=1 scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
echo "follow backfill benchmark: N=$N, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
ALEPHQL_BENCH_FOLLOW_N=$N ALEPHQL_BENCH_FOLLOW_PROFILE=${PROFILE_DIR:-} \
	go test -run '^$' -bench '^BenchmarkFollowBackfill$' -benchtime=1x -timeout 0 ./cmd/alephql/
