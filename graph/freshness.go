package graph

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messageevent"
)

// Freshness tells every response how current the node's state is: the
// last outbox event it reflects and the length of the pending queue. It is
// read from the database at most once per interval and shared by all
// responses in between; while one response refreshes it, the others use
// the previous value rather than wait (a live event goes to thousands of
// subscribers at once, and none of them should wait for that query).
//
// With a hub (NewHandler connects it), lastEventSeq and lastEventAt are
// never older than the last event the hub dispatched: a live event's own
// sequence number is always at most its response's lastEventSeq.
type Freshness struct {
	client   *ent.Client
	interval time.Duration
	// live returns the last event the hub dispatched; nil without a hub.
	live func() (int64, time.Time)

	mu         sync.Mutex
	readAt     time.Time
	figures    freshnessFigures
	read0      bool            // figures were read once
	value      json.RawMessage // marshalled once per change, not per response
	valueSeq   int64           // lastEventSeq in value
	gen        int             // counts the reads of figures
	refreshing bool
}

// freshnessFigures are the values of extensions.freshness.
type freshnessFigures struct {
	LastEventSeq    int64   `json:"lastEventSeq"`
	LastEventAt     *string `json:"lastEventAt"`
	PendingMessages int     `json:"pendingMessages"`
}

// NewFreshness returns a Freshness extension refreshed at most every
// interval (default 1 s).
func NewFreshness(client *ent.Client, interval time.Duration) *Freshness {
	if interval <= 0 {
		interval = time.Second
	}
	return &Freshness{client: client, interval: interval}
}

// followHub makes lastEventSeq follow h's dispatched events.
func (f *Freshness) followHub(h *Hub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = h.LastEvent
}

// ExtensionName implements graphql.HandlerExtension.
func (*Freshness) ExtensionName() string { return "Freshness" }

// Validate implements graphql.HandlerExtension.
func (*Freshness) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse adds extensions.freshness to every response.
func (f *Freshness) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	v, err := f.get(ctx)
	if err != nil {
		return resp // freshness is advisory; the answer stands
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["freshness"] = v
	return resp
}

func (f *Freshness) get(ctx context.Context) (json.RawMessage, error) {
	f.mu.Lock()
	if !f.read0 || (!f.refreshing && time.Since(f.readAt) >= f.interval) {
		// Read the figures (several responses may read the first ones).
		f.refreshing = true
		f.mu.Unlock()
		figs, err := f.read(ctx)
		f.mu.Lock()
		f.refreshing = false
		switch {
		case err == nil:
			f.figures, f.readAt, f.read0, f.value = figs, time.Now(), true, nil
			f.gen++
		case !f.read0:
			f.mu.Unlock()
			return nil, err
		}
	}
	figs, live, gen := f.figures, f.live, f.gen
	f.mu.Unlock()
	// The hub's lock is never taken under f.mu.
	if live != nil {
		if seq, at := live(); seq > figs.LastEventSeq {
			figs.LastEventSeq = seq
			if !at.IsZero() {
				s := at.UTC().Format(time.RFC3339Nano)
				figs.LastEventAt = &s
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.value != nil && f.valueSeq == figs.LastEventSeq && f.gen == gen {
		return f.value, nil
	}
	v, err := json.Marshal(figs)
	if err != nil {
		return nil, err
	}
	if f.gen == gen { // else newer figures were read meanwhile: do not keep these
		f.value, f.valueSeq = v, figs.LastEventSeq
	}
	return v, nil
}

// read queries the freshness figures.
func (f *Freshness) read(ctx context.Context) (freshnessFigures, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	var v freshnessFigures
	last, err := f.client.MessageEvent.Query().Order(ent.Desc(messageevent.FieldID)).First(ctx)
	switch {
	case err == nil:
		at := last.CreatedAt.UTC().Format(time.RFC3339Nano)
		v.LastEventSeq, v.LastEventAt = int64(last.ID), &at
	case !ent.IsNotFound(err):
		return v, err
	}
	pending, err := f.client.PendingMessage.Query().Count(ctx)
	if err != nil {
		return v, err
	}
	v.PendingMessages = pending
	return v, nil
}

// Interface guards
var (
	_ graphql.HandlerExtension    = (*Freshness)(nil)
	_ graphql.ResponseInterceptor = (*Freshness)(nil)
)
