package processor

import "errors"

// Errors of the processor.
var (
	// ErrUnknownTx: Submit was given a transaction hash the node has no
	// chain_txs row for (the chain reader records the transaction first).
	ErrUnknownTx = errors.New("processor: unknown chain transaction")
	// ErrBadOrigin: Submit was given an origin outside Origins.
	ErrBadOrigin = errors.New("processor: unknown origin")
	// errAbort aborts a batch transaction so that its messages are
	// applied one at a time.
	errAbort = errors.New("processor: batch aborted")
)
