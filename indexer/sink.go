package indexer

import (
	"context"
	"time"
)

// ChainSink records what chain readers read. The processor implements it
// (processor/chaintx.go).
type ChainSink interface {
	// ChainCursor returns a reader's cursor; ok is false before its first
	// commit.
	ChainCursor(ctx context.Context, chain, kind string) (c Cursor, ok bool, err error)
	// CommitChainBatch records a batch in one transaction (see
	// ChainBatch). Transactions already known are left as they are.
	CommitChainBatch(ctx context.Context, b ChainBatch) error
	// IndexedBlocks returns the stored blocks of chain, highest first, at
	// most limit of them.
	IndexedBlocks(ctx context.Context, chain string, limit int) ([]Block, error)
	// RewindChain undoes everything read above block to (a reorg): in
	// one transaction, deletes the chain transactions, confirmations and
	// stored blocks above it (un-confirming their messages) and sets the
	// cursor to it. It returns how many transactions were dropped.
	RewindChain(ctx context.Context, chain, kind string, to Cursor) (int, error)
}

// TxSink hands the messages of pending chain transactions to the
// processor. The processor implements it (processor/chaintx.go).
type TxSink interface {
	// DuePendingTxs returns up to limit pending transactions due at now,
	// oldest first.
	DuePendingTxs(ctx context.Context, now time.Time, limit int) ([]PendingTx, error)
	// SubmitTxMessages submits the messages of a pending transaction
	// (origin onchain, the transaction as context, confirmations
	// recorded) and removes it from the pending transactions, unless
	// some of its messages were pending from elsewhere (TxResult.Waiting):
	// it then stays, to be submitted again later.
	SubmitTxMessages(ctx context.Context, txHash string, msgs TxMessages) (TxResult, error)
	// RetryPendingTx records a failed attempt: the transaction stays
	// pending until next.
	RetryPendingTx(ctx context.Context, txHash, reason string, next time.Time) error
	// DropPendingTx gives a transaction up: it stays in chain_txs with
	// reason as its error and leaves the pending transactions.
	DropPendingTx(ctx context.Context, txHash, reason string) error
}
