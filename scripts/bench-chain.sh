#!/usr/bin/env bash
# bench-chain.sh: the chain catch-up benchmark (issue 11), unattended.
# N signed demo messages (1 000 000) are packed into ARCHIVES sync archives
# (100), added to kubo (CIDv0) and announced by as many doEmit calls on a
# geth --dev chain (bench/chainpub). Then, on a durable PostgreSQL:
#   1. `alephql import` of the same messages into a fresh database (the
#      baseline), timed;
#   2. a fresh `alephql serve --eth-rpc ...` node, with the collector
#      settings of a node catching up (--gc-percent 400 --memory-limit 320,
#      as the import runs), reads the chain, fetches
#      the archives from kubo and processes them, timed until every message
#      has a status and nothing is pending; its peak RSS is read from /proc.
# It prints msgs/s of both, their ratio (target >= 0.9) and the peak RSS
# (target <= 400 MiB).
#
#   scripts/bench-chain.sh                        # N=1000000 ARCHIVES=100
#   N=20000 ARCHIVES=4 scripts/bench-chain.sh     # a quick run
# TIMEOUT (seconds, default 14400) bounds the wait for the chain node;
# PROFILE=SECONDS takes a CPU profile of it (PROFILE_OUT, default
# /tmp/bench-chain.pprof), then a heap profile (the same name, .heap).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
ARCHIVES=${ARCHIVES:-100}
ACCOUNTS=${ACCOUNTS:-1000}
work=$(mktemp -d /tmp/alephql-bench-chain.XXXXXX)
servers=$(mktemp -d /tmp/alephql-bench-chain-srv.XXXXXX)
node_pid=
cleanup() {
	[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
	scripts/test-servers.sh stop "$servers"
	rm -rf "$work"
}
trap cleanup EXIT
export ALEPHQL_PG_SETTINGS=${ALEPHQL_PG_SETTINGS--c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min}
ALEPHQL_PG_DURABLE=1 scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
echo "chain catch-up benchmark: N=$N in $ARCHIVES archives, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
go build -o "$work/alephql" ./cmd/alephql
go build -o "$work/chainpub" ./bench/chainpub
now() { date +%s.%N; }

# The messages, and the archives in the packer's format.
"$work/alephql" demo --count "$N" --accounts "$ACCOUNTS" --write "$work/messages.jsonl" >/dev/null
per=$(( (N + ARCHIVES - 1) / ARCHIVES ))
split -l "$per" -d -a 4 "$work/messages.jsonl" "$work/part."
: >"$work/payloads"
for part in "$work"/part.*; do
	{ printf '{"protocol":"aleph","version":1,"content":{"messages":['; paste -sd, "$part"; printf ']}}'; } >"$part.json"
	cid=$(IPFS_PATH=$servers/ipfs "$ALEPHQL_TEST_IPFS_BIN" add -Q --cid-version=0 "$part.json")
	printf '{"protocol":"aleph-offchain","version":1,"content":"%s"}\n' "$cid" >>"$work/payloads"
done
read -r contract start emitter < <("$work/chainpub" -rpc "$ALEPHQL_TEST_ETH_RPC" -payloads "$work/payloads")
echo "published $ARCHIVES archives through $contract from block $start"

db() { echo "$ALEPHQL_TEST_POSTGRES" | sed "s#/postgres?#/$1?#"; }
q() { psql "$(db "$1")" -tAc "$2"; }
psql "$ALEPHQL_TEST_POSTGRES" -qc 'CREATE DATABASE bench_import' -c 'CREATE DATABASE bench_chain'

# 1. The baseline: alephql import.
"$work/alephql" migrate --db "$(db bench_import)" >/dev/null 2>&1 || true
t0=$(now)
TIMEFORMAT='%U %S' # the import's CPU time (user, system)
{ time "$work/alephql" import --db "$(db bench_import)" --data-dir "$work/import-data" --log-level warn "$work/messages.jsonl" >/dev/null 2>"$work/import.err"; } 2>"$work/import.cpu" || { cat "$work/import.err" >&2; exit 1; }
t1=$(now)
import_rate=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
echo "import: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, $import_rate msgs/s, CPU $(awk '{ printf "%.1f", $1 + $2 }' "$work/import.cpu") s"

# 2. A fresh node following the chain.
"$work/alephql" migrate --db "$(db bench_chain)" >/dev/null 2>&1 || true
debug=()
if [ -n "${PROFILE:-}" ]; then
	dport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	debug=(--debug-listen "127.0.0.1:$dport")
fi
t0=$(now)
"$work/alephql" serve --db "$(db bench_chain)" --data-dir "$work/chain-data" --listen 127.0.0.1:0 --log-level info \
	--ipfs-api "$ALEPHQL_TEST_IPFS" --billing-jobs=false --gc-percent 400 --memory-limit 320 "${debug[@]}" \
	--eth-rpc "$ALEPHQL_TEST_ETH_RPC" --eth-contract "$contract" --eth-start-height "$start" --eth-emitters "$emitter" \
	>"$work/node.out" 2>"$work/node.log" &
node_pid=$!
if [ -n "${PROFILE:-}" ]; then
	# PROFILE=SECONDS: a CPU profile of the catching-up node, from its
	# start, written to ${PROFILE_OUT:-/tmp/bench-chain.pprof}.
	# A heap profile follows it, at the end of the CPU profile's window
	# (${PROFILE_OUT%.pprof}.heap).
	out=${PROFILE_OUT:-/tmp/bench-chain.pprof}
	(sleep 1; curl -s -o "$out" "http://127.0.0.1:$dport/debug/pprof/profile?seconds=$PROFILE" &&
		curl -s -o "${out%.pprof}.heap" "http://127.0.0.1:$dport/debug/pprof/heap") &
fi
# The end: every archive read, nothing pending, as many settled messages
# as the import. The poll must not load the node's database: the cheap
# EXISTS checks run every 0.5 s, the count only once they pass (a count
# over a million status rows twice a second took a good part of a core).
want_done=$(q bench_import "SELECT count(*) FROM message_status WHERE status <> 'pending'")
deadline=$(( $(date +%s) + ${TIMEOUT:-14400} ))
while :; do
	kill -0 "$node_pid" 2>/dev/null || { tail -20 "$work/node.log" >&2; echo "the node died" >&2; exit 1; }
	[ "$(date +%s)" -lt "$deadline" ] || { tail -20 "$work/node.log" >&2; echo "timed out after ${TIMEOUT:-14400} s" >&2; exit 1; }
	busy=$(q bench_chain "SELECT (SELECT count(*) FROM chain_txs) < $ARCHIVES OR EXISTS (SELECT 1 FROM pending_txs) OR EXISTS (SELECT 1 FROM pending_messages)" 2>/dev/null || echo t)
	if [ "$busy" = f ] && [ "$(q bench_chain "SELECT count(*) FROM message_status WHERE status <> 'pending'")" -ge "$want_done" ]; then
		break
	fi
	sleep 0.5
done
t1=$(now)
cpu=$(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$node_pid/stat")
rss=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$node_pid/status")
chain_rate=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
echo "chain catch-up: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, $chain_rate msgs/s, CPU $cpu s, peak RSS $rss MiB (node start included)"
awk -v c="$chain_rate" -v i="$import_rate" 'BEGIN { printf "ratio chain/import: %.2f (target >= 0.9)\n", c / i }'
# Where the time went: from the node's start to its first received
# message (chain read, archive fetch), and from its last received message
# to the end (the queue's tail).
read -r first last < <(q bench_chain "SELECT extract(epoch FROM min(reception_time)), extract(epoch FROM max(reception_time)) FROM messages" | tr '|' ' ')
awk -v a="$t0" -v f="$first" -v l="$last" -v b="$t1" 'BEGIN { printf "chain node: first message received %.1f s after start, last %.1f s after start, end %.1f s after the last\n", f - a, l - a, b - l }'
echo "statuses (import): $(q bench_import "SELECT string_agg(status || '=' || n, ' ') FROM (SELECT status, count(*) n FROM message_status GROUP BY 1 ORDER BY 1) s")"
echo "statuses (chain):  $(q bench_chain "SELECT string_agg(status || '=' || n, ' ') FROM (SELECT status, count(*) n FROM message_status GROUP BY 1 ORDER BY 1) s")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
