package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/ipfs"
)

// ArchiveFetcher fetches sync archives by CID: the ipfs service (local
// store, then kubo, then peers).
type ArchiveFetcher interface {
	// Get returns the bytes of hash, at most max bytes.
	Get(ctx context.Context, hash string, max int64) ([]byte, error)
}

// ArchivePinner pins an archive that was fetched (best effort).
type ArchivePinner interface {
	Pin(ctx context.Context, hash string) error
}

// FetchErrorKind sorts an archive fetch failure: final ones drop the
// transaction at once, the others are retried.
type FetchErrorKind func(err error) (final bool, reason string)

// IPFSFetchError sorts the ipfs service's errors: content too large, a
// bad CID, a directory or bytes not matching their hash are final; not
// found and unavailable are retried.
func IPFSFetchError(err error) (final bool, reason string) {
	switch {
	case errors.Is(err, ipfs.ErrTooLarge):
		return true, "too_large"
	case errors.Is(err, ipfs.ErrInvalidHash):
		return true, "payload"
	case errors.Is(err, ipfs.ErrIsDirectory), errors.Is(err, ipfs.ErrHashMismatch):
		return true, "archive"
	}
	return false, ""
}

// ExpanderConfig configures an Expander.
type ExpanderConfig struct {
	// Parallel is how many transactions' archives are fetched and
	// parsed at once, ahead of their turn (default 8); their messages are
	// submitted one transaction at a time, in order.
	Parallel int
	// Batch is how many due transactions one round reads (default 200).
	Batch int
	// Poll is the wait between rounds with nothing due (default 1s).
	Poll time.Duration
	// FetchTimeout bounds one archive fetch (default 60s).
	FetchTimeout time.Duration
	// MaxArchiveSize is the largest archive read (default 64 MiB).
	MaxArchiveSize int64
	// RetryMin and RetryMax bound the back-off of a transaction whose
	// archive cannot be fetched yet (defaults 2s and 10m); it doubles
	// per attempt.
	RetryMin, RetryMax time.Duration
	// MaxRetries is how many failed fetches give a transaction up
	// (default 12, about an hour with the default back-off).
	MaxRetries int
}

func (c ExpanderConfig) withDefaults() ExpanderConfig {
	if c.Parallel == 0 {
		c.Parallel = 8
	}
	if c.Batch == 0 {
		c.Batch = 200
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = 60 * time.Second
	}
	if c.MaxArchiveSize == 0 {
		c.MaxArchiveSize = 64 << 20
	}
	if c.RetryMin == 0 {
		c.RetryMin = 2 * time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Minute
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 12
	}
	return c
}

// Validate reports a configuration error.
func (c ExpanderConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Parallel < 0 || c.Batch < 0 || c.MaxRetries < 0:
		return errors.New("indexer: expander: negative Parallel, Batch or MaxRetries")
	case c.Poll < 0 || c.FetchTimeout < 0 || c.RetryMin < 0 || c.RetryMax < c.RetryMin:
		return errors.New("indexer: expander: bad durations")
	case c.MaxArchiveSize < 0:
		return errors.New("indexer: expander: negative MaxArchiveSize")
	}
	return nil
}

// ExpanderDeps are an Expander's collaborators.
type ExpanderDeps struct {
	// Sink receives the messages (required).
	Sink TxSink
	// Fetcher fetches off-chain archives; without it aleph-offchain
	// transactions wait (retried) until MaxRetries.
	Fetcher ArchiveFetcher
	// Pinner pins fetched archives (optional).
	Pinner ArchivePinner
	// FinalFetchError sorts fetch errors (default IPFSFetchError).
	FinalFetchError FetchErrorKind
	// Metrics, if set, counts outcomes.
	Metrics *Metrics
	// Log is the logger.
	Log *slog.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Wake, if set, starts a round early (a reader committed new txs).
	Wake <-chan struct{}
}

// Expander turns pending chain transactions into messages: the three
// protocols of §6.1, archives fetched in parallel, transactions whose
// archive is not available yet retried with back-off, bad ones recorded
// with their reason.
type Expander struct {
	cfg  ExpanderConfig
	deps ExpanderDeps
	log  *slog.Logger
}

// NewExpander returns an Expander.
func NewExpander(cfg ExpanderConfig, deps ExpanderDeps) (*Expander, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Sink == nil {
		return nil, errors.New("indexer: expander: no sink")
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.FinalFetchError == nil {
		deps.FinalFetchError = IPFSFetchError
	}
	return &Expander{cfg: cfg.withDefaults(), deps: deps, log: deps.Log.With("component", "indexer.expander")}, nil
}

// Run expands due transactions until ctx ends.
func (e *Expander) Run(ctx context.Context) error {
	for {
		n, err := e.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			e.log.Warn("expanding chain transactions failed", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(e.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-e.deps.Wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// Step expands one round of due transactions and returns how many it
// handled. A transaction's failure is recorded on it; the error is a
// sink (database) failure.
//
// Archives are fetched and parsed up to Parallel at a time, ahead of
// their turn, but their messages are submitted one transaction after the
// other, in the order the transactions are due (chain order for first
// attempts): the processor then sees the messages in the order an
// import of the same archives would, so a message's dependencies (the
// post it amends, the security aggregate that authorizes it) come first
// and its batches are applied at intake, instead of racing other
// archives' batches into the queue (what made catching up slower than
// an import). At most Parallel fetched archives are held at once. A
// retried transaction is submitted as soon as its archive is there, out
// of order, so that an archive that cannot be fetched yet delays the
// others only at its first attempt (FetchTimeout at most).
func (e *Expander) Step(ctx context.Context) (int, error) {
	due, err := e.deps.Sink.DuePendingTxs(ctx, e.deps.Now(), e.cfg.Batch)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	type fetched struct {
		msgs TxMessages
		err  error
		done chan struct{}
	}
	slots := make([]fetched, len(due))
	for i := range slots {
		slots[i].done = make(chan struct{})
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(gctx)
	sem := make(chan struct{}, e.cfg.Parallel)
	g.Go(func() error {
		for i, tx := range due {
			select {
			case sem <- struct{}{}:
			case <-gctx.Done():
				return nil
			}
			g.Go(func() error {
				msgs, err := e.messages(gctx, tx)
				if tx.Retries > 0 {
					// A retry (its archive was missing, or it waited for
					// messages pending from elsewhere) keeps no place in
					// the order: it must not hold the others up.
					defer func() { <-sem }()
					return e.expand(gctx, tx, msgs, err)
				}
				slots[i].msgs, slots[i].err = msgs, err
				close(slots[i].done)
				return nil
			})
		}
		return nil
	})
	var serr error
	for i, tx := range due {
		if tx.Retries > 0 {
			continue
		}
		select {
		case <-slots[i].done:
		case <-gctx.Done(): // ctx ended, or a retried transaction's sink failed
			serr = gctx.Err()
		}
		if serr != nil {
			break
		}
		serr = e.expand(ctx, tx, slots[i].msgs, slots[i].err)
		slots[i].msgs = TxMessages{} // let the archive go
		<-sem
		if serr != nil {
			break
		}
	}
	if serr != nil {
		cancel()
	}
	if err := g.Wait(); err != nil {
		serr = err
	}
	return len(due), serr
}

// expand handles one pending transaction, given its messages or why it
// has none.
func (e *Expander) expand(ctx context.Context, tx PendingTx, msgs TxMessages, err error) error {
	log := e.log.With("chain", tx.Chain, "tx", tx.Hash, "protocol", tx.Protocol)
	var retry *retryError
	switch {
	case errors.As(err, &retry):
		if tx.Retries+1 >= e.cfg.MaxRetries {
			log.Warn("giving a chain transaction up", "retries", tx.Retries+1, "err", retry.err)
			e.deps.Metrics.Invalid(tx.Chain, "unresolved")
			e.deps.Metrics.Tx(tx.Chain, tx.Protocol, "invalid")
			return e.deps.Sink.DropPendingTx(ctx, tx.Hash, fmt.Sprintf("gave up after %d attempts: %v", tx.Retries+1, retry.err))
		}
		d := e.backoff(tx.Retries)
		log.Info("chain transaction retried later", "in", d, "err", retry.err)
		e.deps.Metrics.Tx(tx.Chain, tx.Protocol, "retried")
		return e.deps.Sink.RetryPendingTx(ctx, tx.Hash, retry.err.Error(), e.deps.Now().Add(d))
	case err != nil:
		var inv *invalidError
		reason := "payload"
		if errors.As(err, &inv) {
			reason = inv.reason
		}
		log.Warn("invalid chain transaction", "reason", reason, "err", err)
		e.deps.Metrics.Invalid(tx.Chain, reason)
		e.deps.Metrics.Tx(tx.Chain, tx.Protocol, "invalid")
		return e.deps.Sink.DropPendingTx(ctx, tx.Hash, err.Error())
	}
	res, err := e.deps.Sink.SubmitTxMessages(ctx, tx.Hash, msgs)
	if err != nil {
		return fmt.Errorf("submit messages of %s: %w", tx.Hash, err)
	}
	e.deps.Metrics.Messages(tx.Chain, res)
	if res.Waiting > 0 {
		d := e.backoff(tx.Retries)
		log.Debug("chain transaction waits for messages pending from elsewhere", "waiting", res.Waiting, "in", d)
		e.deps.Metrics.Tx(tx.Chain, tx.Protocol, "waiting")
		return e.deps.Sink.RetryPendingTx(ctx, tx.Hash, fmt.Sprintf("waiting for %d pending messages", res.Waiting), e.deps.Now().Add(d))
	}
	e.deps.Metrics.Tx(tx.Chain, tx.Protocol, "expanded")
	log.Debug("chain transaction expanded", "messages", len(msgs.Messages), "queued", res.Queued,
		"confirmed", res.Confirmed, "rejected", res.Rejected)
	return nil
}

// backoff is the wait before attempt retries+1.
func (e *Expander) backoff(retries int) time.Duration {
	d := e.cfg.RetryMin << min(retries, 30)
	if d > e.cfg.RetryMax || d <= 0 {
		d = e.cfg.RetryMax
	}
	return d
}

// retryError: the transaction's content is not available yet.
type retryError struct{ err error }

func (r *retryError) Error() string { return r.err.Error() }
func (r *retryError) Unwrap() error { return r.err }

// invalidError: the transaction can never yield messages.
type invalidError struct {
	reason string
	err    error
}

func (r *invalidError) Error() string { return r.err.Error() }
func (r *invalidError) Unwrap() error { return r.err }

func invalid(reason string, format string, a ...any) error {
	return &invalidError{reason: reason, err: fmt.Errorf(format, a...)}
}

// messages extracts the messages of a transaction by protocol.
func (e *Expander) messages(ctx context.Context, tx PendingTx) (TxMessages, error) {
	switch {
	case tx.Protocol == ProtocolAleph && tx.Version == 1:
		var c struct {
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(tx.Content, &c); err != nil || c.Messages == nil {
			return TxMessages{}, invalid("payload", "%w: aleph content has no messages list", ErrBadPayload)
		}
		return TxMessages{Messages: c.Messages}, nil
	case tx.Protocol == ProtocolOffchain && tx.Version == 1:
		var cid string
		if err := json.Unmarshal(tx.Content, &cid); err != nil || cid == "" {
			return TxMessages{}, invalid("payload", "%w: aleph-offchain content is not a CID string", ErrBadPayload)
		}
		if e.deps.Fetcher == nil {
			return TxMessages{}, &retryError{errors.New("no IPFS service configured")}
		}
		fctx, cancel := context.WithTimeout(ctx, e.cfg.FetchTimeout)
		b, err := e.deps.Fetcher.Get(fctx, cid, e.cfg.MaxArchiveSize)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return TxMessages{}, ctx.Err()
			}
			if final, reason := e.deps.FinalFetchError(err); final {
				return TxMessages{}, invalid(reason, "archive %s: %w", cid, err)
			}
			return TxMessages{}, &retryError{fmt.Errorf("archive %s: %w", cid, err)}
		}
		var a struct {
			Content struct {
				Messages []json.RawMessage `json:"messages"`
			} `json:"content"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			return TxMessages{}, invalid("archive", "archive %s is not JSON: %w", cid, err)
		}
		if a.Content.Messages == nil {
			return TxMessages{}, invalid("archive", "archive %s has no content.messages list", cid)
		}
		if e.deps.Pinner != nil {
			if err := e.deps.Pinner.Pin(ctx, cid); err != nil {
				e.log.Warn("cannot pin sync archive", "cid", cid, "err", err)
			}
		}
		return TxMessages{Messages: a.Content.Messages, Archive: cid, ArchiveSize: int64(len(b))}, nil
	case tx.Protocol == ProtocolSmartContract && tx.Version == 1:
		m, err := SmartContractMessage(tx.ChainTx)
		if err != nil {
			return TxMessages{}, invalid("payload", "%w", err)
		}
		return TxMessages{Messages: []json.RawMessage{m}, NoSignature: true}, nil
	}
	return TxMessages{}, invalid("protocol", "%w: %q version %d", ErrUnknownProtocol, tx.Protocol, tx.Version)
}
