#!/usr/bin/env bash
# bench-api.sh: issue 5's query-speed benchmark in one unattended command
# (`make bench-api`). It prints the table of figures the issue asks for.
#
#   scripts/bench-api.sh                          # 1 000 000 messages, 16 clients, 20 s per run
#   N=20000 DURATION=5s scripts/bench-api.sh      # a small run while developing
#
# Settings (environment): N messages (1000000), ACCOUNTS signing them (1000),
# CLIENTS (16), DURATION per scenario and target (20s), WARMUP (3s), DEPTH of
# the deep page (500000; at most N/2).
#
# Steps:
#  1. start PostgreSQL (and the other test servers) on loopback ports with
#     scripts/test-servers.sh;
#  2. the dataset: a PostgreSQL dump of N messages cached under
#     ~/.cache/alephql/bench/ is restored; without one, N signed demo messages
#     (posts, amends, aggregates in and out of order, delegated posts,
#     FORGETs; several channels, ACCOUNTS senders) are generated with
#     `alephql demo --write`, loaded through the real pipeline with
#     `alephql import`, and dumped for the next run (a 1 000 000 load takes
#     minutes; delete the dump to rebuild it);
#  3. `alephql serve --bench-baseline` on the database (and a second node
#     with --graphql-answer-cache=false, idle but for the graphql-uncached
#     runs), then alephql-load (a separate process) runs every scenario
#     against the baseline, GraphQL, the REST API (issue 12: messages.json
#     feed, deep cursor page and pagination_total, messages/{hash},
#     aggregates/{address}.json) and uncached GraphQL and prints req/s,
#     p50/p95/p99, errors and the GraphQL/baseline and REST/GraphQL ratios. The load is
#     read-only, so cacheable GraphQL answers are cache hits after the
#     warm-up: the uncached rows show the cost of a miss.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
ACCOUNTS=${ACCOUNTS:-1000}
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
DEPTH=${DEPTH:-500000}
# DATASET_VERSION changes when the generated dataset changes meaning.
DATASET_VERSION=1

log() { printf 'bench-api: %s\n' "$*" >&2; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/alephql/bench
mkdir -p "$cache"
work=$(mktemp -d /tmp/alephql-bench-api.XXXXXX)
servers=$(mktemp -d /tmp/alephql-bench-srv.XXXXXX) # its own: the database runs as postgres
serve_pids=
cleanup() {
	for p in $serve_pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	scripts/test-servers.sh stop "$servers"
	rm -rf "$work"
}
trap cleanup EXIT

log "building alephql and alephql-load"
go build -o "$work/alephql" ./cmd/alephql
go build -o "$work/alephql-load" ./cmd/alephql-load

scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
bindir=$(cat "$servers/pg_bindir")
pgbase=${ALEPHQL_TEST_POSTGRES%%/postgres\?*}
db="$pgbase/bench?sslmode=disable"
"$bindir/psql" -q "$ALEPHQL_TEST_POSTGRES" -c 'CREATE DATABASE bench'

dump=$cache/messages-$N-accounts-$ACCOUNTS-v$DATASET_VERSION.dump
start=$(date +%s)
if [ -f "$dump" ]; then
	log "restoring the cached dataset $dump"
	"$bindir/pg_restore" -j 2 --no-owner -d "$db" "$dump"
	"$work/alephql" migrate --db "$db" --log-level warn
else
	log "generating $N signed messages from $ACCOUNTS accounts"
	"$work/alephql" demo --write "$work/messages.jsonl" --count "$N" --accounts "$ACCOUNTS"
	log "importing them through the pipeline (minutes for 1 000 000)"
	"$work/alephql" import --db "$db" --data-dir "$work/data" --log-level warn "$work/messages.jsonl"
	rm -f "$work/messages.jsonl"
	log "caching the loaded database as $dump"
	"$bindir/pg_dump" -Fc -f "$dump.tmp" "$db"
	mv "$dump.tmp" "$dump"
fi
"$bindir/psql" -q "$db" -c 'VACUUM ANALYZE'
log "dataset ready in $(( $(date +%s) - start )) s"

# serve NAME ARGS...: start a node on the database; sets served_url.
serve() {
	local name=$1; shift
	"$work/alephql" serve --db "$db" --listen 127.0.0.1:0 --data-dir "$work/data-$name" --log-level warn "$@" \
		>"$work/serve-$name.out" 2>"$work/serve-$name.err" &
	serve_pids="$serve_pids $!"
	local url=
	for _ in $(seq 1 300); do
		url=$(sed -n 's#.*serving GraphiQL at \(http://[0-9.:]*\)/.*#\1#p' "$work/serve-$name.out")
		[ -n "$url" ] && break
		sleep 0.1
	done
	[ -n "$url" ] || { cat "$work/serve-$name.err" >&2; log "error: alephql serve ($name) did not start"; exit 1; }
	served_url=$url
}
serve main --bench-baseline
url=$served_url
# A second node without the answer cache: what GraphQL costs on a miss.
serve uncached --graphql-answer-cache=false
uncached_url=$served_url

log "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/alephql-load" -url "$url" -uncached-url "$uncached_url" -db "$db" -clients "$CLIENTS" -duration "$DURATION" -warmup "$WARMUP" -depth "$DEPTH"
echo
echo "command: N=$N ACCOUNTS=$ACCOUNTS CLIENTS=$CLIENTS DURATION=$DURATION WARMUP=$WARMUP DEPTH=$DEPTH scripts/bench-api.sh"
echo "machine: $(nproc) cores, load average after the runs $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git describe --always --dirty 2>/dev/null || echo unknown)"
