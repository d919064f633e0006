#!/usr/bin/env bash
# bench-subs.sh: the subscription benchmark of issue 5, in one command.
#
#   scripts/bench-subs.sh            # full size: 10 000 subscribers, 100 msgs/s for 60 s
#   SIZE=small scripts/bench-subs.sh # 1 000 subscribers for 30 s, for development
#   (also: make bench-subs [SIZE=small])
#
# It starts PostgreSQL (scripts/test-servers.sh) unless ALEPHQL_TEST_POSTGRES
# is set, creates a fresh database, builds and starts a node on it
# (alephql serve, processor included, open-file limit raised), then runs
# the load client cmd/alephql-subload in a separate process: SUBS
# websocket subscribers filtered over CHANNELS channels, RATE signed
# messages/s submitted through the GraphQL mutation for DURATION, 10% of
# the subscribers disconnecting and resuming with `after` every 10 s. It
# prints delivery latency p50/p99, lost/duplicated events, the node's CPU
# and RSS per idle subscriber, each with its target, then a baseline run
# of 10 subscribers at the same rate (the node's CPU without fan-out). Overrides: SUBS,
# RATE, DURATION, CHANNELS, RESUME_FRACTION (0.1; 0 for no resumes, to see
# what the resume waves cost); NODE_BIN runs a given node binary (to
# compare two builds in the same conditions); NODE_ARGS adds flags to the
# node's serve (e.g. "--debug-listen 127.0.0.1:6061" to profile it).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${SIZE:-full}" in
small) subs=${SUBS:-1000} duration=${DURATION:-30s} ;;
full) subs=${SUBS:-10000} duration=${DURATION:-60s} ;;
*) echo "SIZE must be small or full" >&2; exit 2 ;;
esac
rate=${RATE:-100} channels=${CHANNELS:-100}

work=$(mktemp -d /tmp/alephql-subs.XXXXXX)
node_pid=""
servers=""
cleanup() {
	[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
	[ -n "${db:-}" ] && "${pgbin:+$pgbin/}dropdb" --maintenance-db="$ALEPHQL_TEST_POSTGRES" "$db" 2>/dev/null || true
	[ -n "$servers" ] && scripts/test-servers.sh stop "$servers" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${ALEPHQL_TEST_POSTGRES:-}" ]; then
	servers=$(mktemp -d /tmp/alephql-bench.XXXXXX)
	scripts/test-servers.sh start "$servers" >/dev/null
	# shellcheck disable=SC1091
	. "$servers/env"
fi

if [ -n "${NODE_BIN:-}" ]; then # compare builds: NODE_BIN=/path/to/alephql
	cp "$NODE_BIN" "$work/alephql"
else
	go build -o "$work/alephql" ./cmd/alephql
fi
go build -o "$work/subload" ./cmd/alephql-subload

db="subs_$$_$(date +%s)"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
"${pgbin:+$pgbin/}createdb" --maintenance-db="$ALEPHQL_TEST_POSTGRES" "$db"
url=$(echo "$ALEPHQL_TEST_POSTGRES" | sed -E "s#/[^/?]*(\?|$)#/$db\1#")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

ulimit -n "$(ulimit -Hn)"
# shellcheck disable=SC2086 # NODE_ARGS is a list of flags
"$work/alephql" serve --db "$url" --listen "127.0.0.1:$port" --data-dir "$work/data" --log-level warn ${NODE_ARGS:-} \
	>"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log"; exit 1; }
	sleep 0.2
done

echo "subscription benchmark: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run ($subs subscribers):"
"$work/subload" -url "http://127.0.0.1:$port" -pid "$node_pid" -subscribers "$subs" -rate "$rate" \
	-duration "$duration" -channels "$channels" -resume-fraction "${RESUME_FRACTION:-0.1}"
# Baseline in the same conditions, after the run so as not to disturb its
# RSS figures: the same message rate with 10 subscribers, so that the
# node's CPU for delivery alone is the difference.
echo "baseline (10 subscribers, same rate, same node):"
"$work/subload" -url "http://127.0.0.1:$port" -pid "$node_pid" -subscribers 10 -rate "$rate" \
	-duration "$duration" -channels "$channels" -resume-fraction 0 2>/dev/null | grep -E 'CPU|latency from commit'
echo "node log (warnings): $(grep -c . "$work/node.log" || true) lines"
grep -m 5 . "$work/node.log" || true
