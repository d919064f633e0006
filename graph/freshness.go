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
type Freshness struct {
	client   *ent.Client
	interval time.Duration

	mu         sync.Mutex
	readAt     time.Time
	value      json.RawMessage // marshalled once per read, not per response
	refreshing bool
}

// NewFreshness returns a Freshness extension refreshed at most every
// interval (default 1 s).
func NewFreshness(client *ent.Client, interval time.Duration) *Freshness {
	if interval <= 0 {
		interval = time.Second
	}
	return &Freshness{client: client, interval: interval}
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
	if f.value != nil && (f.refreshing || time.Since(f.readAt) < f.interval) {
		v := f.value
		f.mu.Unlock()
		return v, nil
	}
	f.refreshing = true
	f.mu.Unlock()
	m, err := f.read(ctx)
	var v json.RawMessage
	if err == nil {
		v, err = json.Marshal(m)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshing = false
	if err != nil {
		return nil, err
	}
	f.value, f.readAt = v, time.Now()
	return v, nil
}

// read queries the freshness figures.
func (f *Freshness) read(ctx context.Context) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	v := map[string]any{"lastEventSeq": 0, "lastEventAt": nil}
	last, err := f.client.MessageEvent.Query().Order(ent.Desc(messageevent.FieldID)).First(ctx)
	switch {
	case err == nil:
		v["lastEventSeq"], v["lastEventAt"] = last.ID, last.CreatedAt.UTC().Format(time.RFC3339Nano)
	case !ent.IsNotFound(err):
		return nil, err
	}
	pending, err := f.client.PendingMessage.Query().Count(ctx)
	if err != nil {
		return nil, err
	}
	v["pendingMessages"] = pending
	return v, nil
}

// Interface guards
var (
	_ graphql.HandlerExtension    = (*Freshness)(nil)
	_ graphql.ResponseInterceptor = (*Freshness)(nil)
)
