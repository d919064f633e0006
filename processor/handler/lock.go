package handler

import (
	"context"
	"fmt"
	"hash/fnv"

	"entgo.io/ent/dialect"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/processor/errcode"
)

// Lock serializes, until tx ends, the transactions that change the state
// derived from one key (an aggregate's owner and key, an original post):
// two processors sharing one PostgreSQL database then never compute it
// from stale rows. It is a transaction-scoped advisory lock on PostgreSQL;
// SQLite serializes writing transactions anyway and needs none.
func Lock(ctx context.Context, tx *ent.Tx, dialectName, key string) error {
	if dialectName != dialect.Postgres {
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockID(key))
	if err != nil {
		return errcode.Wrap(errcode.InternalError, fmt.Errorf("lock %q: %w", key, err), "lock")
	}
	return rows.Close()
}

// LockAll is Lock for many keys in one statement, taken in the order
// given (callers sort them, so that two transactions locking overlapping
// sets wait for each other instead of deadlocking).
func LockAll(ctx context.Context, tx *ent.Tx, dialectName string, keys []string) error {
	if dialectName != dialect.Postgres || len(keys) == 0 {
		return nil
	}
	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i] = lockID(k)
	}
	// unnest yields the array in order and the function scan feeds the
	// aggregate row by row, so the locks are taken in that order.
	rows, err := tx.QueryContext(ctx, "SELECT count(pg_advisory_xact_lock(id)) FROM unnest($1::bigint[]) AS id", ids)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, fmt.Errorf("lock %d keys: %w", len(keys), err), "lock")
	}
	return rows.Close()
}

// lockID is the advisory lock number of a key.
func lockID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int64(h.Sum64())
}
