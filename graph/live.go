package graph

import (
	"context"
	"encoding/json"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/read"
	"github.com/alephql/alephql/wsconn"
)

// loaderSchema gives every operation its own loaders: cached for queries
// and mutations, uncached (batching only) for subscriptions, whose events
// must see current rows.
type loaderSchema struct {
	graphql.ExecutableSchema
	r *Resolver
}

// Exec implements graphql.ExecutableSchema.
func (s loaderSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	cache := true
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		cache = false
	}
	l := s.r.newLoaders(cache)
	ctx = context.WithValue(ctx, loadersKey{}, l)
	var stats *liveStats
	if s.r.opts.Hub != nil {
		stats = &s.r.opts.Hub.live
	}
	oc := graphql.GetOperationContext(ctx)
	p, _ := ctx.Value(wsPollKey{}).(*wsPoll)
	var feed *liveFeed
	switch {
	case p != nil && p.feed != nil:
		// The transport executes the operation again on its running
		// feed: the resolver attaches to it (see subscribeMessages).
		feed = p.feed
	default:
		if feed = liveFeedFor(oc, stats); feed != nil && p != nil {
			feed.notify, feed.life, p.feed = p.notify, p.life, feed
		}
	}
	if feed != nil {
		h := s.ExecutableSchema.Exec(context.WithValue(ctx, liveFeedKey{}, feed))
		return func(ctx context.Context) *graphql.Response {
			return feed.next(context.WithValue(ctx, loadersKey{}, l), h)
		}
	}
	h := s.ExecutableSchema.Exec(ctx)
	return func(ctx context.Context) *graphql.Response {
		return h(context.WithValue(ctx, loadersKey{}, l))
	}
}

// subscribeMessages answers Subscription.messages.
func (r *Resolver) subscribeMessages(ctx context.Context, f *model.MessageFilter, after *string) (<-chan model.MessageEvent, error) {
	if r.opts.Hub == nil {
		return nil, userError(CodeUnavailable, "subscriptions are not enabled on this node")
	}
	rf, err := r.messageFilter(f)
	if err != nil {
		return nil, err
	}
	var hf *read.MessageFilter // nil: every event, even of a message that is nowhere
	if f != nil {
		hf = &rf
	}
	var seq *int64
	if after != nil {
		n, err := parseEventCursor(*after)
		if err != nil {
			return nil, err
		}
		seq = &n
	}
	feed, _ := ctx.Value(liveFeedKey{}).(*liveFeed)
	if feed != nil && feed.stream != nil {
		return feed.inner, nil // the operation executed again on its running feed
	}
	if feed != nil {
		life := ctx
		if feed.life != nil {
			life = feed.life
		}
		st := r.opts.Hub.NewStream(life, hf, seq, feed.notify)
		feed.stream, feed.log, feed.started = st, r.log, true
		return feed.inner, nil
	}
	st := r.opts.Hub.NewStream(ctx, hf, seq, nil)
	// Not executed through loaderSchema: a goroutine feeds gqlgen.
	out := make(chan model.MessageEvent)
	go func() {
		defer close(out)
		for {
			e, ok, err := st.Next(ctx)
			if err != nil {
				r.log.WarnContext(ctx, "subscription ended", "err", err)
			}
			if !ok {
				return
			}
			select {
			case out <- itemOf(e).ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// currentStatus reads a status without the request's cache.
func (r *Resolver) currentStatus(ctx context.Context, hash string) (*model.MessageStatusInfo, error) {
	got, err := r.loadStatuses(ctx, []string{hash})
	if err != nil {
		return nil, err
	}
	return got[hash], nil
}

// subscribeStatus answers Subscription.messageStatus: the current status,
// then every change.
func (r *Resolver) subscribeStatus(ctx context.Context, hash string) (<-chan *model.MessageStatusInfo, error) {
	h := r.opts.Hub
	if h == nil {
		return nil, userError(CodeUnavailable, "subscriptions are not enabled on this node")
	}
	out := make(chan *model.MessageStatusInfo)
	s, _, err := h.Register(ctx, &read.MessageFilter{Hashes: []string{hash}}, nil)
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(out)
		defer h.Unregister(s)
		var last *model.MessageStatusInfo
		check := func() bool {
			st, err := r.currentStatus(ctx, hash)
			if err != nil {
				r.log.WarnContext(ctx, "status subscription ended", "err", err)
				return false
			}
			if st == nil || (last != nil && last.Status == st.Status && last.UpdatedAt.Equal(st.UpdatedAt)) {
				return true
			}
			last = st
			t := time.NewTimer(h.cfg.SendTimeout)
			defer t.Stop()
			select {
			case out <- st:
				return true
			case <-ctx.Done():
			case <-t.C:
				r.log.WarnContext(ctx, "status subscription cut off", "err", ErrSlowClient)
				wsconn.CutOffSlowClient(ctx)
			}
			return false
		}
		if !check() {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.Wake():
				s.Drain()
			}
			if !check() {
				return
			}
		}
	}()
	return out, nil
}

// submitMessage answers Mutation.submitMessage.
func (r *Resolver) submitMessage(ctx context.Context, raw json.RawMessage, sync bool) (*model.SubmitResult, error) {
	if r.opts.Submitter == nil {
		return nil, userError(CodeUnavailable, "this node does not take submissions")
	}
	var wire struct {
		ItemHash string `json:"item_hash"`
	}
	_ = json.Unmarshal(raw, &wire) // the submitter validates; this only arms the wait
	var s *live.Sub
	if sync && r.opts.Hub != nil && wire.ItemHash != "" {
		var err error
		if s, _, err = r.opts.Hub.Register(ctx, &read.MessageFilter{Hashes: []string{wire.ItemHash}}, nil); err != nil {
			return nil, err
		}
		defer r.opts.Hub.Unregister(s)
	}
	hash, err := r.opts.Submitter.Submit(ctx, raw)
	if err != nil {
		return nil, submitError(err)
	}
	res := &model.SubmitResult{Hash: hash, Status: model.MessageStatusPending}
	if !sync {
		return res, nil
	}
	wctx, cancel := context.WithTimeout(ctx, submitWait(ctx, r.opts.SubmitTimeout))
	defer cancel()
	poll := time.NewTicker(250 * time.Millisecond) // also covers nodes without a hub
	defer poll.Stop()
	var wake <-chan struct{}
	if s != nil {
		wake = s.Wake()
	}
	for {
		st, err := r.currentStatus(ctx, hash)
		if err != nil {
			return nil, err
		}
		if st != nil && st.Status != model.MessageStatusPending {
			res.Status, res.Rejection = st.Status, st.Rejection
			if st.Status != model.MessageStatusRejected {
				if res.Message, err = read.FindMessage(ctx, r.client, hash); err != nil {
					return nil, err
				}
			}
			return res, nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return res, nil // still pending after the bound
		case <-poll.C:
		case <-wake:
			s.Drain()
		}
	}
}

// submitWait is how long submitMessage(sync: true) may wait: at most
// limit, and ending a tenth of the time left (at least 100 ms) before
// ctx's deadline, which leaves the request time to answer PENDING.
func submitWait(ctx context.Context, limit time.Duration) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return limit
	}
	left := time.Until(dl)
	left -= max(left/10, 100*time.Millisecond)
	return min(limit, max(left, 0))
}
