package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messageevent"
)

// Freshness tells every response how current the node's state is: the
// last outbox event it reflects and the length of the pending queue. It is
// read from the database at most once per interval and shared by all
// responses in between.
type Freshness struct {
	client   *ent.Client
	interval time.Duration

	mu     sync.Mutex
	readAt time.Time
	value  map[string]any
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

func (f *Freshness) get(ctx context.Context) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.value != nil && time.Since(f.readAt) < f.interval {
		return f.value, nil
	}
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
	f.value, f.readAt = v, time.Now()
	return v, nil
}

// Interface guards
var (
	_ graphql.HandlerExtension    = (*Freshness)(nil)
	_ graphql.ResponseInterceptor = (*Freshness)(nil)
)
