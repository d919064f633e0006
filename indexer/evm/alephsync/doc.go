// Package alephsync holds the Aleph sync contract (AlephSync.sol), its ABI
// and bytecode compiled by the pinned solc, and its Go bindings generated
// by go-ethereum's abigen v2 (gen.sh, run by make generate).
package alephsync

//go:generate ./gen.sh
