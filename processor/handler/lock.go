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
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	rows, err := tx.QueryContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64()))
	if err != nil {
		return errcode.Wrap(errcode.InternalError, fmt.Errorf("lock %q: %w", key, err), "lock")
	}
	return rows.Close()
}
