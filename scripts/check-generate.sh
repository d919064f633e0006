#!/usr/bin/env bash
# check-generate.sh: regenerate ent and gqlgen code and fail if anything
# changes. Compares the tree before and after, so it also works with
# uncommitted edits.
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot() { find ent graph indexer/evm/alephsync gqlgen.yml go.mod go.sum -type f -not -path '*/node_modules/*' -not -path 'graph/graphiql/dist/*' -print0 | sort -z | xargs -0 sha256sum; }
before=$(mktemp); after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot >"$before"
make -s generate >/dev/null
snapshot >"$after"
if ! diff -u "$before" "$after" >/dev/null; then
	echo "generated code is stale: these files change under 'make generate' (run it and commit):" >&2
	diff "$before" "$after" | sed -n 's/^[<>] [0-9a-f]*  //p' | sort -u >&2
	exit 1
fi
echo "generated code is up to date"
