#!/usr/bin/env bash
# gen.sh: compile AlephSync.sol (npm solc, pinned in package-lock.json) and
# bind it with go-ethereum's abigen v2 (pinned by version). Run by
# `go generate ./indexer/evm/alephsync` (make generate).
set -euo pipefail
cd "$(dirname "$0")"
[ -x node_modules/.bin/solcjs ] || npm ci --no-audit --no-fund --loglevel=error >/dev/null
node compile.js
go run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10 --v2 \
	--abi AlephSync.abi --bin AlephSync.bin --pkg alephsync --type AlephSync --out alephsync.go
