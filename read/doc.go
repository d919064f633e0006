// Package read is the read layer both APIs answer from: message filters,
// orderings, keyset cursors, counts (exact from counters, bounded COUNT,
// estimates) and row loading for messages, posts (amends merged by the
// caller through LatestAmend) and aggregates, with plain Go types. GraphQL
// (graph/) and REST (rest/) map their parameters onto it; no SQL of a list
// is built anywhere else.
//
// It imports ent and nothing above it (never graph, rest, server, cmd or
// the processor).
package read

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alephql/alephql/ent"
)

// Config configures a Reader.
type Config struct {
	// CountTimeout bounds a count that no counter answers; past it the
	// count is an estimate (exact false). Default 2 s.
	CountTimeout time.Duration
}

// Validate fills defaults and reports invalid settings.
func (c *Config) Validate() error {
	if c.CountTimeout == 0 {
		c.CountTimeout = 2 * time.Second
	}
	if c.CountTimeout < 0 {
		return errors.New("read: count timeout must be positive")
	}
	return nil
}

// Reader reads the node's state. It is safe for concurrent use.
type Reader struct {
	client *ent.Client
	cfg    Config

	dialectOnce sync.Once
	postgres    bool
	// sqlDialect is the ent dialect name (see queryMessages), once known.
	sqlDialect atomic.Value
}

// New returns a Reader over client.
func New(cfg Config, client *ent.Client) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("read: nil ent client")
	}
	return &Reader{client: client, cfg: cfg}, nil
}

// Client returns the ent client the reader reads through.
func (r *Reader) Client() *ent.Client { return r.client }

// IsPostgres reports whether the database is PostgreSQL (pg_class exists).
func (r *Reader) IsPostgres(ctx context.Context) bool {
	r.dialectOnce.Do(func() {
		rows, err := r.client.QueryContext(ctx, "SELECT 1 FROM pg_class LIMIT 1")
		if err == nil {
			r.postgres = true
			_ = rows.Close()
		}
	})
	return r.postgres
}
