package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/errorcode"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// Deps are the processor's collaborators.
type Deps struct {
	// DB is the database.
	DB *database.DB
	// Handler configures the built-in handlers (POST, AGGREGATE, FORGET)
	// and is passed to nothing else.
	Handler handler.Deps
	// Handlers adds or replaces handlers by message type (STORE, PROGRAM,
	// INSTANCE...). A message of a type with no handler is rejected.
	Handlers handler.Registry
	// Events receives the events after each commit; none when nil.
	Events events.Publisher
	// Metrics, if set, counts the events (see Metrics).
	Metrics *Metrics
	// Log is the logger.
	Log *slog.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Processor is the pipeline. Submit may be called from any goroutine; Run
// drives the queue.
type Processor struct {
	cfg      Config
	db       *database.DB
	client   *ent.Client
	handlers handler.Registry
	events   events.Publisher
	log      *slog.Logger
	now      func() time.Time
	wake     chan struct{} // process stage
	wakeF    chan struct{} // fetch stage
	storage  handler.Storage
	hcfg     handler.Config
	metrics  *Metrics
	intake   intakeQueue // concurrent single submissions (coalesce.go)
	// onRelease, for tests, is called when a prefetched batch is released
	// because the batch before it failed (pipeline.go).
	onRelease func(rows int)
	// beforeCommit, for tests, is called by a process-stage batch once
	// its writes are done, before its commit (process.go).
	beforeCommit func()
}

// New returns a processor.
func New(cfg Config, deps Deps) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	runningIDs.Store(cfg.ID, struct{}{})
	if deps.DB == nil {
		return nil, errors.New("processor: no database")
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	hd := deps.Handler
	if hd.Config.BalancePostType == "" {
		hd.Config = handler.DefaultConfig()
	}
	if err := hd.Config.Validate(); err != nil {
		return nil, err
	}
	if hd.Log == nil {
		hd.Log = deps.Log
	}
	if hd.Now == nil {
		hd.Now = deps.Now
	}
	if hd.Storage == nil {
		hd.Storage = handler.NoStorage{}
	}
	p := &Processor{
		cfg: cfg, db: deps.DB, client: deps.DB.Client, events: deps.Events,
		log: deps.Log.With("component", "processor"), now: deps.Now,
		wake: make(chan struct{}, 1), wakeF: make(chan struct{}, 1),
		storage: hd.Storage, hcfg: hd.Config, metrics: deps.Metrics,
	}
	if deps.Metrics != nil {
		p.events = countingPublisher{next: deps.Events, m: deps.Metrics}
	}
	reg := handler.Registry{
		message.TypePost:      handler.NewPost(hd, deps.DB.Dialect),
		message.TypeAggregate: handler.NewAggregate(hd, deps.DB.Dialect),
	}
	for t, h := range deps.Handlers {
		reg[t] = h
	}
	reg[message.TypeForget] = handler.NewForget(hd, reg, p.onForgotten)
	p.handlers = reg
	return p, nil
}

// Run seeds the error codes, then runs the fetch and process stages until
// ctx ends.
func (p *Processor) Run(ctx context.Context) error {
	if err := p.SeedErrorCodes(ctx); err != nil {
		return err
	}
	if n, err := p.releaseDeadClaims(ctx); err != nil {
		p.log.Warn("releasing the claims of dead processes", "err", err)
	} else if n > 0 {
		p.log.Info("released the claims of dead processes of this host", "messages", n)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.loop(ctx, p.wakeF, p.FetchOnce) })
	if p.db.Dialect == dialectPostgres {
		g.Go(func() error { return p.processLoop(ctx) })
	} else {
		g.Go(func() error { return p.loop(ctx, p.wake, p.ProcessOnce) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// loop calls step until it finds no work, then waits for a wake-up or the
// idle period. Step errors are logged and retried after the idle period:
// a database hiccup must not stop the node.
func (p *Processor) loop(ctx context.Context, wake <-chan struct{}, step func(context.Context) (int, error)) error {
	for {
		n, err := step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.log.Error("pipeline step failed", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(p.cfg.Idle)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// notify wakes a stage without blocking.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// SeedErrorCodes writes the protocol's error codes into error_codes
// (idempotent).
func (p *Processor) SeedErrorCodes(ctx context.Context) error {
	all := errcode.All()
	b := make([]*ent.ErrorCodeCreate, 0, len(all))
	for _, in := range all {
		b = append(b, p.client.ErrorCode.Create().SetID(int(in.Code)).SetName(in.Name).SetDescription(in.Description))
	}
	err := p.client.ErrorCode.CreateBulk(b...).
		OnConflictColumns(errorcode.FieldID).UpdateNewValues().Exec(ctx)
	if err != nil {
		return fmt.Errorf("processor: seed error codes: %w", err)
	}
	return nil
}

// backoff is the full-jitter exponential delay before retry number n+1:
// uniform(0, min(2^n, cap)) seconds.
func (p *Processor) backoff(n int) time.Duration {
	maxD := p.cfg.MaxBackoff
	if n < 40 {
		if d := time.Duration(1<<n) * time.Second; d < maxD {
			maxD = d
		}
	}
	return time.Duration(rand.Int64N(int64(maxD) + 1))
}

// rebuild turns a pending row back into a message. Inline content is
// parsed again; for storage and ipfs rows the fetched content is in
// item_content once fetched (see fetch.go).
func rebuild(row *ent.PendingMessage) (*message.Message, error) {
	w := message.Wire{
		Chain: chainOf(row.Chain), Sender: row.Sender, Type: message.Type(row.Type),
		ItemHash: row.ItemHash, ItemType: message.ItemType(row.ItemType),
		Signature: row.Signature, Time: timeFloat(row.Time),
	}
	if row.Channel != nil {
		w.Channel, w.HasChannel = *row.Channel, true
	}
	var opts []message.Option
	if !row.CheckMessage {
		opts = append(opts, message.WithoutSignature())
	}
	var fetched string
	if row.ItemContent != nil {
		if w.ItemType == message.ItemInline {
			w.ItemContent = *row.ItemContent
		} else {
			fetched = *row.ItemContent
		}
	}
	nw, err := message.New(w, opts...)
	if err != nil {
		return nil, err
	}
	m := &message.Message{Wire: *nw}
	switch {
	case nw.ItemType == message.ItemInline:
		err = m.SetContent([]byte(nw.ItemContent))
	case row.ItemContent != nil:
		err = m.SetContent([]byte(fetched))
	}
	return m, err
}

// wireJSON is the wire form of a message, for rejected_messages.
func wireJSON(m *message.Wire) json.RawMessage {
	v := map[string]any{
		"chain": m.Chain, "sender": m.Sender, "type": m.Type, "item_hash": m.ItemHash,
		"item_type": m.ItemType, "signature": m.Signature, "time": m.Time,
	}
	if m.ItemType == message.ItemInline {
		v["item_content"] = m.ItemContent
	}
	if m.HasChannel {
		v["channel"] = m.Channel
	}
	b, _ := json.Marshal(v)
	return b
}

// rowWireJSON is wireJSON for a pending row.
func rowWireJSON(row *ent.PendingMessage) json.RawMessage {
	w := &message.Wire{
		Chain: chainOf(row.Chain), Sender: row.Sender, Type: message.Type(row.Type),
		ItemHash: row.ItemHash, ItemType: message.ItemType(row.ItemType),
		Signature: row.Signature, Time: timeFloat(row.Time),
	}
	if row.ItemContent != nil && w.ItemType == message.ItemInline {
		w.ItemContent = *row.ItemContent
	}
	if row.Channel != nil {
		w.Channel, w.HasChannel = *row.Channel, true
	}
	return wireJSON(w)
}

// timeFloat is the epoch seconds of a stored time (microsecond precision,
// which is what the node stores of a message time).
func timeFloat(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// chainOf converts a stored chain name.
func chainOf(s string) chains.Chain { return chains.Chain(s) }

// dialectPostgres is the PostgreSQL dialect name.
const dialectPostgres = dialect.Postgres

// skipLocked is the lock option of claims on PostgreSQL.
func skipLocked() entsql.LockOption { return entsql.WithLockAction(entsql.SkipLocked) }
