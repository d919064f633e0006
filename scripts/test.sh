#!/usr/bin/env bash
# test.sh: what `make test` runs, on a fresh machine as on a developer's:
#   1. generated code is reproducible (ent, gqlgen);
#   2. gofmt, go vet and the import rules hold, and go.mod is tidy;
#   3. PostgreSQL and Redis are installed if missing and started on loopback
#      ports for this run (stopped on exit, also when tests fail);
#   4. every test runs with the race detector, storage tests on SQLite and
#      PostgreSQL;
#   5. every fuzz target runs briefly (FUZZTIME, default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }

step "generated code"
scripts/check-generate.sh

step "gofmt, go vet, import rules, go.mod tidy"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^\.') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
scripts/check-deps.sh
# -e: a test dependency of modernc.org/sqlite is refused by the proxy.
go mod tidy -e -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy -e" >&2; exit 1; }

step "starting PostgreSQL and Redis"
servers=$(mktemp -d /tmp/alephql-test.XXXXXX)
trap 'scripts/test-servers.sh stop "$servers"' EXIT
scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
export ALEPHQL_REQUIRE_ASSETS=1

step "go test -race"
go test -race -count=1 -timeout 30m ./...

step "fuzz targets (${FUZZTIME:-10s} each)"
scripts/fuzz.sh

step "done"
