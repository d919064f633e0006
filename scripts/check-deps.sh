#!/usr/bin/env bash
# check-deps.sh: enforce the import rules that keep data flowing one way:
# sources (indexer) -> processor -> ent -> read -> live -> graph|rest ->
# server, with chains, ipfs and wsconn as leaves and cmd as the only place
# that wires everything. The server side of websockets is wsconn's alone:
# graph, rest and server use it rather than a websocket library.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
fail=0
# rule PACKAGE_PATTERN FORBIDDEN_PREFIX...
rule() {
	local pattern=$1; shift
	local pkgs
	pkgs=$(go list "./$pattern" 2>/dev/null || true)
	[ -n "$pkgs" ] || return 0
	local p
	for p in $pkgs; do
		local deps
		deps=$(go list -deps "$p" | grep "^$mod/" || true)
		local f
		for f in "$@"; do
			local bad
			bad=$(echo "$deps" | grep -E "^$mod/$f(/|$)" | grep -v "^$p$" || true)
			if [ -n "$bad" ]; then
				echo "import rule broken: $p must not import $mod/$f: $(echo "$bad" | tr '\n' ' ')" >&2
				fail=1
			fi
		done
	done
}
rule 'chains/...'    indexer processor ent graph database server ipfs cmd
rule 'ipfs/...'      indexer processor ent graph database server chains cmd
rule 'indexer/...'   processor ent graph database server cmd
rule 'processor/...' graph live server cmd
rule 'ent/...'       chains ipfs indexer processor graph database server cmd
rule 'database/...'  chains ipfs indexer processor graph server cmd
rule 'graph/...'     chains ipfs indexer processor server cmd
rule 'cache/...'     chains ipfs indexer processor graph rest read database server cmd
rule 'events/...'    chains ipfs indexer processor ent graph database server cmd
rule 'server/...'    chains ipfs indexer processor ent graph database cmd
rule 'webui/...'      chains ipfs indexer processor ent graph database server read rest events cmd
rule 'rest/apidocs/...' chains ipfs indexer processor ent graph database server read events cmd
rule 'rest/storage/...' chains ipfs indexer processor graph server cmd
rule 'read/...'      chains ipfs indexer processor graph rest live server cmd
rule 'live/...'      chains ipfs indexer processor graph rest server cmd
rule 'rest/...'      chains ipfs indexer processor graph server cmd
rule 'wsconn/...'    chains ipfs indexer processor ent graph database server read live rest events cache cmd
# extrule PACKAGE_PATTERN FORBIDDEN_IMPORT...: direct imports (tests aside).
extrule() {
	local pattern=$1; shift
	local p
	for p in $(go list "./$pattern" 2>/dev/null || true); do
		local imps
		imps=$(go list -f '{{join .Imports "\n"}}' "$p")
		local f
		for f in "$@"; do
			if echo "$imps" | grep -qE "^$f(/|$)"; then
				echo "import rule broken: $p must not import $f (websockets are wsconn's)" >&2
				fail=1
			fi
		done
	done
}
extrule 'graph/...'  github.com/gobwas/ws github.com/coder/websocket github.com/gorilla/websocket
extrule 'rest/...'   github.com/gobwas/ws github.com/coder/websocket github.com/gorilla/websocket
extrule 'server/...' github.com/gobwas/ws github.com/coder/websocket github.com/gorilla/websocket
[ $fail -eq 0 ] && echo "import rules hold"
exit $fail
