package processor

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

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

// isDeadlock reports whether err is (or wraps) a PostgreSQL deadlock
// (SQLSTATE 40P01).
func isDeadlock(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40P01"
}
