#!/usr/bin/env bash
# chaos.sh: the fault tests of RELIABILITY.md that `make test` leaves out
# (build tag chaos). Each test starts and breaks servers of its own; the
# shared test servers only provide the installed binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
servers=$(mktemp -d /tmp/alephql-chaos.XXXXXX)
trap 'scripts/test-servers.sh stop "$servers"' EXIT
scripts/test-servers.sh start "$servers"
# shellcheck disable=SC1091
. "$servers/env"
go test -tags chaos -count=1 -v -timeout 20m -run "${RUN:-Chaos}" ./cmd/alephql/
