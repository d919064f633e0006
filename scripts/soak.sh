#!/usr/bin/env bash
# soak.sh: the soak run of RELIABILITY.md (TestSoak, build tag chaos):
# SOAK_DURATION (default 30m) of mixed load on a node process, reporting
# the slopes of its RSS, goroutines and open files. SOAK_RATE and
# SOAK_SUBSCRIBERS change the load; SOAK_WARMUP the part not fitted;
# SOAK_OUT names a CSV of the samples, SOAK_PROFILES a directory for heap
# profiles (end of warm-up, end of run) and a CPU profile of the node.
set -euo pipefail
cd "$(dirname "$0")/.."
servers=$(mktemp -d /tmp/alephql-soak.XXXXXX)
trap 'scripts/test-servers.sh stop "$servers"' EXIT
scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
export SOAK_DURATION=${SOAK_DURATION:-30m}
go test -tags chaos -count=1 -v -timeout "${SOAK_TIMEOUT:-3h}" -run '^TestSoak$' ./cmd/alephql/
