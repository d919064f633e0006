package processor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"

	"golang.org/x/sync/errgroup"
)

// ErrImportFormat: the import input is none of the accepted formats.
var ErrImportFormat = errors.New("processor: import: not a JSON array, JSON lines or sync archive of messages")

// ReadMessages reads wire messages from r and calls fn with each one's
// JSON, in order. It accepts a JSON array of messages, JSON lines (or any
// sequence of JSON objects), and the on-chain sync archive
// {"protocol":"aleph","version":1,"content":{"messages":[...]}}.
func ReadMessages(r io.Reader, fn func(raw json.RawMessage) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	dec := json.NewDecoder(br)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	switch first {
	case '[':
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("%w: %w", ErrImportFormat, err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("%w: %w", ErrImportFormat, err)
			}
			if err := fn(raw); err != nil {
				return err
			}
		}
		return nil
	case '{':
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%w: %w", ErrImportFormat, err)
			}
			if msgs, ok := archiveMessages(raw); ok {
				for _, m := range msgs {
					if err := fn(m); err != nil {
						return err
					}
				}
				continue
			}
			if err := fn(raw); err != nil {
				return err
			}
		}
	}
	return ErrImportFormat
}

// archiveMessages returns the messages of a sync archive.
func archiveMessages(raw json.RawMessage) ([]json.RawMessage, bool) {
	if !bytes.Contains(raw, []byte(`"protocol"`)) {
		return nil, false
	}
	var a struct {
		Protocol string `json:"protocol"`
		Content  struct {
			Messages []json.RawMessage `json:"messages"`
		} `json:"content"`
	}
	if json.Unmarshal(raw, &a) != nil || a.Protocol != "aleph" {
		return nil, false
	}
	return a.Content.Messages, true
}

// peekNonSpace returns the first non-space byte without consuming it.
func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}

// ImportSummary counts what an import did.
type ImportSummary struct {
	Read, Queued, Duplicate, Confirmed, Rejected int
}

// Import submits every message read from r in batches of batchSize
// (origin import), calling progress after each batch. Its inline POST
// and AGGREGATE messages are applied at intake (direct.go). Reading,
// decoding and signature checks of the next batch run while the current
// one is written.
func (p *Processor) Import(ctx context.Context, r io.Reader, batchSize int, progress func(ImportSummary)) (ImportSummary, error) {
	if batchSize <= 0 {
		batchSize = 500
	}
	var sum ImportSummary
	ready := make(chan []intakeItem, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(ready)
		batch := make([]Input, 0, batchSize)
		send := func() error {
			items, err := p.prepare(batch, true)
			if err != nil {
				return err
			}
			batch = make([]Input, 0, batchSize)
			select {
			case ready <- items:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		err := ReadMessages(r, func(raw json.RawMessage) error {
			batch = append(batch, Input{Raw: raw, Origin: OriginImport})
			if len(batch) == batchSize {
				return send()
			}
			return gctx.Err()
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		return err
	})
	g.Go(func() error {
		for items := range ready {
			res, err := p.submitItems(gctx, items)
			if err != nil {
				return err
			}
			for _, r := range res {
				switch r.Outcome {
				case Queued:
					sum.Queued++
				case Duplicate:
					sum.Duplicate++
				case Confirmed:
					sum.Confirmed++
				case Rejected:
					sum.Rejected++
				}
			}
			sum.Read += len(items)
			if progress != nil {
				progress(sum)
			}
		}
		return nil
	})
	err := g.Wait()
	return sum, err
}

// ImportBatch takes one batch of history in through Import's path: inline
// POST and AGGREGATE messages are applied at intake (direct.go) when
// nothing earlier waits, signatures are checked on all cores. Unlike
// Import, every input keeps its own origin (OriginImport, or OriginPeer
// for messages read from another node's API) and the per-message results
// are returned, in input order. Inputs of other origins are queued as by
// SubmitBatch. It is PrepareImport then SubmitPrepared.
func (p *Processor) ImportBatch(ctx context.Context, ins []Input) ([]SubmitResult, error) {
	b, err := p.PrepareImport(ins)
	if err != nil {
		return nil, err
	}
	return p.SubmitPrepared(ctx, b)
}

// Prepared is a batch decoded and signature-checked by PrepareImport,
// ready for SubmitPrepared.
type Prepared struct{ items []intakeItem }

// Len is the number of inputs of the batch.
func (b *Prepared) Len() int { return len(b.items) }

// PrepareImport does the part of ImportBatch that touches no database:
// decoding every input and checking the signatures of those that may be
// applied at intake, on all cores. A caller overlaps it with the
// SubmitPrepared of the batch before, as Import does. The error is an
// unknown origin.
func (p *Processor) PrepareImport(ins []Input) (*Prepared, error) {
	items, err := p.prepare(ins, true)
	if err != nil {
		return nil, err
	}
	return &Prepared{items: items}, nil
}

// SubmitPrepared stores a prepared batch (see ImportBatch). Batches must
// be submitted in their order; a batch may be submitted again after an
// error.
func (p *Processor) SubmitPrepared(ctx context.Context, b *Prepared) ([]SubmitResult, error) {
	return p.submitItems(ctx, b.items)
}

// Garbage collector settings of an import process (TuneImportGC).
const (
	// ImportGCPercent is the GOGC of an import: an import allocates a
	// lot (every message decoded, verified, turned into rows) over a
	// small live heap, so the default (100) collects every few batches;
	// 400 cut the importer's CPU per message by a fifth in the ingestion
	// benchmark, its peak RSS staying far under the 400 MiB budget.
	ImportGCPercent = 400
	// ImportMemoryLimit is the soft memory limit of an import, a bound on
	// what ImportGCPercent may grow the heap to: near it, the collector
	// runs as often as it must.
	ImportMemoryLimit = 320 << 20
)

// TuneImportGC sets the garbage collector of a process whose main work is
// an Import (the import command, the ingestion benchmark's child) to
// ImportGCPercent and ImportMemoryLimit (see TuneGC).
func TuneImportGC() (restore func()) { return TuneGC(ImportGCPercent, ImportMemoryLimit) }

// TuneGC sets the garbage collector's GOGC to pct and its soft memory
// limit to limit bytes (none when limit is 0), unless GOGC or GOMEMLIMIT
// is set in the environment (then the operator's choice stands). It
// returns a function restoring the previous settings. It changes
// process-wide state.
func TuneGC(pct int, limit int64) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	if limit <= 0 {
		limit = math.MaxInt64 // the runtime's "no limit"
	}
	oldLimit := debug.SetMemoryLimit(limit)
	oldPct := debug.SetGCPercent(pct)
	return func() {
		debug.SetGCPercent(oldPct)
		debug.SetMemoryLimit(oldLimit)
	}
}

// Pending returns the number of messages waiting in the queue.
func (p *Processor) Pending(ctx context.Context) (int, error) {
	n, err := p.client.PendingMessage.Query().Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("processor: count pending: %w", err)
	}
	return n, nil
}
