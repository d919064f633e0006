package handler

import (
	"context"

	"github.com/alephql/alephql/ent"
)

// Batch is the pipeline's batch transaction as handlers see it: inserts
// they may defer to one bulk statement per table, written before anything
// can read them (the pipeline flushes before amends, FORGETs and every
// other type's checks, and at commit; a delegated permission check
// flushes when the batch merged into the owner's security aggregate).
type Batch interface {
	// DeferPost queues a posts row insert (ON CONFLICT DO NOTHING).
	DeferPost(c *ent.PostCreate)
	// DeferElement queues an aggregate_elements row insert (ON CONFLICT
	// DO NOTHING).
	DeferElement(c *ent.AggregateElementCreate)
	// Cache is state handlers keep for the batch until the next flush
	// (the aggregates being merged).
	Cache() map[string]any
	// OnFlush registers f to run first at the next flush, while Cache is
	// still filled.
	OnFlush(f func(ctx context.Context, tx *ent.Tx) error)
	// Flush writes every deferred row now.
	Flush(ctx context.Context) error
}

type batchKey struct{}

// WithBatch returns a context carrying the batch, for handlers called in
// it.
func WithBatch(ctx context.Context, b Batch) context.Context {
	return context.WithValue(ctx, batchKey{}, b)
}

// BatchFrom returns the batch of ctx, or nil outside one (then handlers
// write at once).
func BatchFrom(ctx context.Context) Batch {
	b, _ := ctx.Value(batchKey{}).(Batch)
	return b
}

// flushBatch writes the deferred rows of ctx's batch, if any.
func flushBatch(ctx context.Context) error {
	if b := BatchFrom(ctx); b != nil {
		return b.Flush(ctx)
	}
	return nil
}
