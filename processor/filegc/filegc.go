// Package filegc is the storage garbage collector: it removes files that
// no pin keeps any more, as pyaleph's services/storage/garbage_collector.py
// does. Each round first deletes grace-period pins whose time is up, then,
// for every files row without any pin, deletes the row and then the bytes
// (the local store copy, and kubo's pin for CIDs). With a Finalizer (the
// billing jobs), each round ends by finalizing removals (removing ->
// removed) whose pins are gone.
//
// The row goes first, and only while it still has no pin, so a pin added
// concurrently keeps both row and bytes; if deleting the bytes then fails
// they are orphaned (logged), never a pinned file lost.
package filegc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
)

// Deleter removes content from this node; *ipfs.Service implements it.
type Deleter interface {
	Delete(ctx context.Context, hash string) error
}

// Finalizer finalizes removals once their files are collected; the
// billing jobs (*billing.Jobs) implement it.
type Finalizer interface {
	FinalizeRemoved(ctx context.Context, now time.Time) (int, error)
}

// Option adds an optional collaborator to the Collector.
type Option func(*Collector)

// WithFinalizer makes each round end by finalizing removing messages that
// no pin holds any more (removing -> removed, spec 5.5), as the reference
// node's collector does.
func WithFinalizer(f Finalizer) Option { return func(c *Collector) { c.finalizer = f } }

// Defaults of Config.
const (
	DefaultPeriod = 24 * time.Hour // storage.garbage_collector_period
	DefaultBatch  = 500
)

// Config configures the Collector.
type Config struct {
	// Period between rounds. Default DefaultPeriod.
	Period time.Duration
	// Batch is the number of files examined per query. Default DefaultBatch.
	Batch int
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.Period < 0 || c.Batch < 0 {
		return errors.New("filegc: Period and Batch must not be negative")
	}
	return nil
}

// Collector runs garbage-collection rounds.
type Collector struct {
	cfg     Config
	client  *ent.Client
	content Deleter
	log     *slog.Logger
	now     func() time.Time
	// finalizer, if set, runs at the end of each round.
	finalizer Finalizer
}

// New returns a Collector.
func New(cfg Config, client *ent.Client, content Deleter, log *slog.Logger, opts ...Option) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Period == 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	c := &Collector{cfg: cfg, client: client, content: content, log: log.With("component", "filegc"), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Run collects every Config.Period until ctx ends. A failed round is logged
// and retried at the next period.
func (c *Collector) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := c.Collect(ctx, c.now()); err != nil && ctx.Err() == nil {
				c.log.Error("garbage collection failed", "err", err)
			}
		}
	}
}

// Stats says what one round did.
type Stats struct {
	ExpiredPins  int // grace-period pins deleted
	DeletedFiles int // files rows deleted
	Orphaned     int // files whose bytes could not be deleted
	Removed      int // removing messages finalized as removed
}

// Collect runs one round as of now.
func (c *Collector) Collect(ctx context.Context, now time.Time) (Stats, error) {
	var st Stats
	n, err := c.client.FilePin.Delete().
		Where(filepin.TypeEQ(filepin.TypeGracePeriod), filepin.DeleteByLT(now.UTC())).
		Exec(ctx)
	if err != nil {
		return st, fmt.Errorf("delete expired grace pins: %w", err)
	}
	st.ExpiredPins = n
	after := ""
	for {
		hashes, err := c.client.File.Query().
			Where(file.Not(file.HasPins()), file.IDGT(after)).
			Order(ent.Asc(file.FieldID)).Limit(c.cfg.Batch).IDs(ctx)
		if err != nil {
			return st, fmt.Errorf("list unpinned files: %w", err)
		}
		for _, h := range hashes {
			n, err := c.client.File.Delete().Where(file.ID(h), file.Not(file.HasPins())).Exec(ctx)
			if err != nil {
				return st, fmt.Errorf("delete file %s: %w", h, err)
			}
			if n == 0 {
				continue // pinned meanwhile
			}
			st.DeletedFiles++
			if err := c.content.Delete(ctx, h); err != nil {
				st.Orphaned++
				c.log.Warn("file row deleted but its bytes remain", "hash", h, "err", err)
			}
		}
		if len(hashes) < c.cfg.Batch {
			break
		}
		after = hashes[len(hashes)-1]
	}
	if c.finalizer != nil {
		n, err := c.finalizer.FinalizeRemoved(ctx, now)
		st.Removed = n
		if err != nil {
			return st, fmt.Errorf("finalize removals: %w", err)
		}
	}
	if st.ExpiredPins > 0 || st.DeletedFiles > 0 || st.Removed > 0 {
		c.log.Info("garbage collected", "expired_pins", st.ExpiredPins, "files", st.DeletedFiles, "orphaned", st.Orphaned, "removed", st.Removed)
	}
	return st, nil
}
