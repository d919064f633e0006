package indexer

import (
	"encoding/json"
	"errors"
	"time"
)

// Protocols of a chain transaction (spec §6.1).
const (
	// ProtocolAleph: the messages are inline in the transaction,
	// {"messages": [...]}.
	ProtocolAleph = "aleph"
	// ProtocolOffchain: the transaction carries the IPFS CID of a sync
	// archive.
	ProtocolOffchain = "aleph-offchain"
	// ProtocolSmartContract: one unsigned message per contract event.
	ProtocolSmartContract = "smart-contract"
)

// Cursor kinds (chains_sync_status.type).
const (
	// KindSync is the cursor of a sync-contract reader (SyncEvents and
	// MessageEvents of one contract).
	KindSync = "sync"
)

// ErrFinalityViolated: a block the reader had read as final changed. The
// node's view of the chain can no longer be trusted; the reader stops.
var ErrFinalityViolated = errors.New("indexer: a finalized block changed")

// ChainTx is one chain transaction (or contract event) carrying messages.
type ChainTx struct {
	// Hash identifies the transaction (for EVM logs: the transaction hash,
	// with the log index appended when one transaction emits several).
	Hash string
	// Chain is the chain's name (ETH, BSC...).
	Chain string
	// Height is the block number.
	Height int64
	// Time is the event's timestamp.
	Time time.Time
	// Publisher is the emitting address.
	Publisher string
	// Protocol and Version say how Content holds messages.
	Protocol string
	Version  int
	// Content is the protocol's payload.
	Content json.RawMessage
	// Error, if set, is why the transaction yields no message
	// (unauthorized emitter, payload not JSON...). Such a transaction is
	// recorded, never expanded.
	Error string
	// Reason is Error's metric label (unauthorized, payload, protocol...).
	Reason string
}

// Cursor is how far a reader has read: the last block whose events are
// fully recorded.
type Cursor struct {
	Height int64
	Hash   string
}

// Block is one block a reader followed below finality: what a reorg is
// detected with.
type Block struct {
	Number int64
	Hash   string
	Parent string
	Time   time.Time
}

// ChainBatch is what one read of a chain produced. The sink commits it
// in one transaction: the transactions, their pending rows, the blocks
// and the cursor, so that a restart resumes exactly after it.
type ChainBatch struct {
	// Chain and Kind name the cursor.
	Chain, Kind string
	// Cursor is the new cursor.
	Cursor Cursor
	// Txs are the transactions read (valid ones become pending).
	Txs []ChainTx
	// Blocks are stored for reorg detection (empty when reading only
	// finalized blocks).
	Blocks []Block
	// PruneBelow drops stored blocks under this number (those now final).
	PruneBelow int64
}

// PendingTx is a chain transaction whose messages are still to be
// submitted.
type PendingTx struct {
	ChainTx
	// Retries is how many attempts failed.
	Retries int
}

// TxMessages are the messages a chain transaction carries, handed to the
// processor with the transaction as their context (origin onchain).
type TxMessages struct {
	// Messages are wire messages as JSON.
	Messages []json.RawMessage
	// NoSignature: smart-contract messages, whose signature is not
	// checked.
	NoSignature bool
	// Archive, for aleph-offchain, is the archive's CID: recorded as a
	// file with a tx pin.
	Archive string
	// ArchiveSize is the archive's size in bytes.
	ArchiveSize int64
}

// TxResult counts what the processor did with a transaction's messages.
type TxResult struct {
	Queued, Duplicate, Confirmed, Rejected int
	// Waiting counts messages that were already pending from elsewhere:
	// the transaction stays pending (retried later) until they are
	// processed, so that it confirms them.
	Waiting int
}
