package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
	"github.com/alephql/alephql/rest"
)

// pipelineFlags are the settings of the message processor.
type pipelineFlags struct {
	batchSize  int
	maxRetries int
	sampleData bool
	sampleSize int
}

func (f *pipelineFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.batchSize, "processor-batch-size", 500, "most messages applied in one database transaction (env ALEPHQL_PROCESSOR_BATCH_SIZE)")
	fs.IntVar(&f.maxRetries, "processor-max-retries", 10, "retries after which a message waiting for a dependency is rejected (env ALEPHQL_PROCESSOR_MAX_RETRIES)")
}

// registerSample adds the flag that loads the sample dataset (serve only).
func (f *pipelineFlags) registerSample(fs *flag.FlagSet) {
	fs.BoolVar(&f.sampleData, "sample-data", false, "on an empty database, load a sample dataset of signed messages (make run sets it) (env ALEPHQL_SAMPLE_DATA)")
	fs.IntVar(&f.sampleSize, "sample-size", 3000, "number of messages of the sample dataset (env ALEPHQL_SAMPLE_SIZE)")
}

// newProcessor wires the processor: every handler, the content service as
// storage, the money effects, the event bus (nil: none).
// metrics may be nil (no metrics).
func newProcessor(f pipelineFlags, db *database.DB, content *ipfs.Service, bus events.Publisher, metrics *processor.Metrics, log *slog.Logger) (*processor.Processor, error) {
	cfg := processor.Config{BatchSize: f.batchSize, MaxRetries: f.maxRetries}
	if err := cfg.Validate(); err != nil {
		return nil, usageError{fmt.Errorf("--processor-*: %w", err)}
	}
	hd := handler.Deps{Config: handler.DefaultConfig(), Log: log}
	if content != nil {
		hd.Storage = storageAdapter{content}
	}
	hd.PostEffects = handler.MoneyEffects(hd, db.Dialect)
	return processor.New(cfg, processor.Deps{
		DB: db, Handler: hd, Handlers: handler.PaidHandlers(hd, db.Client, db.Dialect),
		Events: bus, Metrics: metrics, Log: log,
	})
}

// loadSample submits the sample dataset when the database has no message
// yet: a newcomer's GraphiQL then has real data to query.
func loadSample(ctx context.Context, p *processor.Processor, db *database.DB, content *ipfs.Service, n int, log *slog.Logger) error {
	known, err := db.Client.MessageStatus.Query().Exist(ctx)
	if err != nil || known {
		return err
	}
	d, err := demo.NewDataset(12, float64(time.Now().Add(-time.Duration(n)*time.Second).Unix()), uint64(time.Now().UnixNano()))
	if err != nil {
		return err
	}
	if content != nil {
		d.Files = func(b []byte) (string, error) {
			h, _, err := content.AddStorage(ctx, bytes.NewReader(b), 0)
			return h, err
		}
	}
	batch := make([]processor.Input, 0, 500)
	for i := 0; i < n; i++ {
		raw, _, err := d.Next()
		if err != nil {
			return err
		}
		batch = append(batch, processor.Input{Raw: raw, Origin: processor.OriginImport})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := p.SubmitBatch(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	log.Info("sample dataset queued", "messages", n, "accounts", len(d.Accounts))
	return nil
}

// graphSubmitter is the API's intake: graph.Submitter over the processor.
type graphSubmitter struct{ p *processor.Processor }

// Submit implements graph.Submitter. A message invalid by itself is
// reported as a *graph.InvalidMessageError: a malformed one (recorded as
// rejected when it has an item hash), and one whose signature does not
// verify, checked here before it is queued so that the API answers every
// such message the same way; a duplicate is not an error.
func (s graphSubmitter) Submit(ctx context.Context, raw json.RawMessage) (string, error) {
	if m, err := message.Decode(raw); err == nil {
		if err := m.Verify(); err != nil {
			return "", invalidMessage(err)
		}
	}
	r, err := s.p.Submit(ctx, raw, processor.OriginAPI, nil)
	if err == nil {
		return r.ItemHash, nil
	}
	return "", invalidMessage(err)
}

// invalidMessage maps an Invalid-kind processing error to a
// *graph.InvalidMessageError, and returns any other error as is.
func invalidMessage(err error) error {
	if c, ok := errcode.CodeOf(err); ok && c.Kind() == errcode.Invalid {
		return &graph.InvalidMessageError{Code: int(c), Name: c.String(), Reason: err.Error()}
	}
	return err
}

// errorNames names the protocol's error codes for the API.
func errorNames() map[int]string {
	all := errcode.All()
	out := make(map[int]string, len(all))
	for _, in := range all {
		out[int(in.Code)] = in.Name
	}
	return out
}

// restSubmitter is the REST API's intake: rest.Submitter over the
// processor, as graphSubmitter.
type restSubmitter struct{ p *processor.Processor }

// Submit implements rest.Submitter: a message refused at intake wraps
// rest.ErrInvalidMessage.
func (s restSubmitter) Submit(ctx context.Context, raw json.RawMessage) (string, error) {
	r, err := s.p.Submit(ctx, raw, processor.OriginAPI, nil)
	if err == nil {
		return r.ItemHash, nil
	}
	if c, ok := errcode.CodeOf(err); ok && c.Kind() == errcode.Invalid {
		return "", fmt.Errorf("%w: %w", rest.ErrInvalidMessage, err)
	}
	return "", err
}

// storageAdapter gives the handlers the content service, with its errors
// mapped onto the handler package's sentinels.
type storageAdapter struct{ s *ipfs.Service }

func storageErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ipfs.ErrNotFound):
		return fmt.Errorf("%w: %w", handler.ErrNotFound, err)
	case errors.Is(err, ipfs.ErrTooLarge):
		return fmt.Errorf("%w: %w", handler.ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %w", handler.ErrUnavailable, err)
}

// Get implements handler.Storage.
func (a storageAdapter) Get(ctx context.Context, hash string, max int64) ([]byte, error) {
	b, err := a.s.Get(ctx, hash, max)
	return b, storageErr(err)
}

// Stat implements handler.Storage.
func (a storageAdapter) Stat(ctx context.Context, hash string) (int64, bool, error) {
	n, dir, err := a.s.Stat(ctx, hash)
	return n, dir, storageErr(err)
}

// Pin implements handler.Storage.
func (a storageAdapter) Pin(ctx context.Context, hash string) error {
	return storageErr(a.s.Pin(ctx, hash))
}

// Unpin implements handler.Storage.
func (a storageAdapter) Unpin(ctx context.Context, hash string) error {
	return storageErr(a.s.Unpin(ctx, hash))
}

// Interface guards
var (
	_ handler.Storage = storageAdapter{}
	_ graph.Submitter = graphSubmitter{}
	_ rest.Submitter  = restSubmitter{}
)
