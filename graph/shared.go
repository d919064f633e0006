package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"unique"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/live"
)

// Shared execution of live events.
//
// gqlgen executes a subscription's selection set, and marshals the result,
// once per subscriber and event. With thousands of subscribers asking for
// the same fields that is the dominant cost of an event, and it is the same
// work every time: a live event's payload depends only on the event (one
// outbox row and its message, loaded once by the hub) and on the selection
// set with the variables it uses, not on the subscriber's filter or resume
// cursor. So each `messages` subscription gets a liveFeed between its hub
// stream and gqlgen's response handler, keyed by its selection set: for a
// live event, the first subscriber whose handler gets to it executes the
// selection set and stores the response bytes on the event (sharedPayloads);
// every other subscriber with the same key sends those bytes. Replayed
// events, which each subscriber reads from the outbox itself, are executed
// per subscriber. Ordering, gaps and filters are untouched: each subscriber
// still gets exactly the events its own stream hands it, in its order; only
// the bytes of each are shared.

// liveFeedKey is the context key of a subscription's *liveFeed.
type liveFeedKey struct{}

// liveItem is one event on its way to a subscriber.
type liveItem struct {
	ev     model.MessageEvent
	shared *sharedPayloads // nil: replayed, executed for this subscriber only
}

// liveFeed connects one `messages` subscription's hub stream to its
// response handler.
type liveFeed struct {
	key     unique.Handle[string] // selection-set key, interned: subscribers share one copy; "" never shares
	inner   chan model.MessageEvent
	started bool         // the resolver set stream (during Exec)
	stream  *live.Stream // pulled by next: no goroutine per subscription
	log     *slog.Logger
	stats   *liveStats

	// Polled feeds (served by wsTransport): next never waits for an
	// event; it returns nil with idle set when none is ready, and notify
	// is called when one may be. The stream lives as long as life (the
	// subscription's own context, not the operation's), so that the
	// transport can let the operation's state go while the feed is idle
	// and execute the operation again, on the same feed, when an event
	// needs it (see wsSub).
	notify func()
	life   context.Context
	idle   bool

	// peeked is a stream step taken by encodedNext and left for next.
	peeked    feedStep
	hasPeeked bool
	// cur is the shared payloads of the live event next just answered,
	// for shareEncoded.
	cur *sharedPayloads
}

// feedStep is the outcome of one pull on a hub stream.
type feedStep struct {
	e        *live.Event
	ok, idle bool
	err      error
}

// liveStats counts how live payloads were produced.
type liveStats struct {
	mu       sync.Mutex
	executed int64 // selection sets executed for live events
	shared   int64 // live payloads sent from another subscriber's execution
	encoded  int64 // of those, written as the bytes another subscriber's websocket wrote
	revived  int64 // operations executed again after being let go while idle
}

func (s *liveStats) add(executed, shared int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.executed += executed
	s.shared += shared
	s.mu.Unlock()
}

// sharedPayloads holds the responses produced for one live event, one per
// selection-set key. It lives on the hub's event and goes away with it.
type sharedPayloads struct {
	mu sync.Mutex
	m  map[string]*sharedPayload
}

type sharedPayload struct {
	done chan struct{}
	resp *graphql.Response // nil: not shareable (errors, cancelled leader)
	enc  []byte            // the response as the websocket transport wrote it (guarded by sharedPayloads.mu)
}

// encoded returns the payload bytes a websocket subscriber wrote for key,
// or nil.
func (s *sharedPayloads) encoded(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.m[key]; p != nil {
		return p.enc
	}
	return nil
}

// setEncoded records b as the encoded payload of key's shared response,
// if it was shared (no errors) and none is recorded yet.
func (s *sharedPayloads) setEncoded(key string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.m[key]; p != nil && p.enc == nil {
		select {
		case <-p.done:
			if p.resp != nil {
				p.enc = bytes.Clone(b)
			}
		default:
		}
	}
}

func newSharedPayloads() *sharedPayloads { return &sharedPayloads{m: map[string]*sharedPayload{}} }

// response returns the response for key, executing it with exec if no
// other subscriber has, or waiting for the one that is. A response with
// errors, or produced while its subscriber was going away, is not shared:
// the others execute for themselves.
func (s *sharedPayloads) response(ctx context.Context, key string, stats *liveStats, exec func() *graphql.Response) *graphql.Response {
	s.mu.Lock()
	p, found := s.m[key]
	if !found {
		p = &sharedPayload{done: make(chan struct{})}
		s.m[key] = p
	}
	s.mu.Unlock()
	if !found {
		defer close(p.done)
		resp := exec()
		stats.add(1, 0)
		if resp != nil && len(resp.Errors) == 0 && len(graphql.GetErrors(ctx)) == 0 && ctx.Err() == nil {
			// The generated handler reuses its buffer: keep a copy.
			p.resp = &graphql.Response{Data: bytes.Clone(resp.Data)}
		}
		return resp
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil
	}
	if p.resp == nil {
		stats.add(1, 0)
		return exec()
	}
	stats.add(0, 1)
	return &graphql.Response{Data: p.resp.Data}
}

// next produces the subscription's next response: it takes the stream's
// next event and executes it through h, or reuses another subscriber's
// execution of the same event and selection set.
func (f *liveFeed) next(ctx context.Context, h graphql.ResponseHandler) *graphql.Response {
	if !f.started {
		return h(ctx) // the resolver failed: h reports it
	}
	st := f.take(ctx)
	e, ok, err := st.e, st.ok, st.err
	f.idle, f.cur = false, nil
	if st.idle {
		f.idle = true
		return nil
	}
	if err != nil {
		f.log.WarnContext(ctx, "subscription ended", "err", err)
	}
	if !ok {
		close(f.inner)
		f.started = false
		return h(ctx) // reads the closed channel: ends the stream
	}
	it := itemOf(e)
	exec := func() *graphql.Response {
		f.inner <- it.ev
		return h(ctx)
	}
	key := f.key.Value()
	if it.shared == nil || key == "" {
		return exec()
	}
	f.cur = it.shared
	return it.shared.response(ctx, key, f.stats, exec)
}

// take pulls the stream once (without waiting if the feed is polled), or
// returns the step encodedNext left.
func (f *liveFeed) take(ctx context.Context) feedStep {
	if f.hasPeeked {
		st := f.peeked
		f.peeked, f.hasPeeked = feedStep{}, false
		return st
	}
	var st feedStep
	if f.notify != nil {
		st.e, st.ok, st.idle, st.err = f.stream.Poll(ctx)
	} else {
		st.e, st.ok, st.err = f.stream.Next(ctx)
	}
	return st
}

// encodedNext is the websocket transport's shortcut for a polled feed:
// if the stream's next event is live and a subscriber with the same
// selection set already wrote its payload, it returns those bytes
// (nothing is executed, no response passes through gqlgen). Otherwise ok
// is false and the step is kept for the next call of the handler.
func (f *liveFeed) encodedNext(ctx context.Context) (payload []byte, ok bool) {
	key := f.key.Value()
	if !f.started || key == "" || f.notify == nil {
		return nil, false
	}
	st := f.take(ctx)
	if st.ok && !st.idle && st.e != nil && st.e.Live() {
		if b := itemOf(st.e).shared.encoded(key); b != nil {
			if f.stats != nil {
				f.stats.mu.Lock()
				f.stats.shared++
				f.stats.encoded++
				f.stats.mu.Unlock()
			}
			return b, true
		}
	}
	f.peeked, f.hasPeeked = st, true
	return nil, false
}

// takeIdle reports whether encodedNext found the polled stream idle, and
// then takes that step as next would have (the feed is idle).
func (f *liveFeed) takeIdle() bool {
	if !f.hasPeeked || !f.peeked.idle || !f.peeked.ok || f.peeked.err != nil {
		return false
	}
	f.peeked, f.hasPeeked = feedStep{}, false
	f.idle, f.cur = true, nil
	return true
}

// shareEncoded offers the payload bytes written for the live event next
// just answered to the other subscribers with the same selection set.
func (f *liveFeed) shareEncoded(payload []byte) {
	if f.cur != nil {
		f.cur.setEncoded(f.key.Value(), payload)
		f.cur = nil
	}
}

// hasMore reports whether a pull may find an event without waiting.
func (f *liveFeed) hasMore() bool {
	return f.hasPeeked || f.stream == nil || f.stream.HasMore()
}

// liveFeedFor returns a feed for a subscription operation whose only root
// field is `messages`, or nil.
func liveFeedFor(oc *graphql.OperationContext, stats *liveStats) *liveFeed {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription || len(oc.Operation.SelectionSet) != 1 {
		return nil
	}
	field, ok := oc.Operation.SelectionSet[0].(*ast.Field)
	if !ok || field.Name != "messages" {
		return nil
	}
	return &liveFeed{
		key:   unique.Make(selectionKey(oc, field)),
		inner: make(chan model.MessageEvent, 1),
		stats: stats,
	}
}

// selectionKey identifies what a live event's payload depends on: the root
// field's alias, directives and selection set (with the document's
// fragments) and the values of the variables used there. The root field's
// arguments (filter, resume cursor) are left out: they choose which events
// a subscriber gets, not what an event looks like. "" if the key cannot be
// computed: such a subscription never shares.
func selectionKey(oc *graphql.OperationContext, field *ast.Field) string {
	root := &ast.Field{Alias: field.Alias, Name: field.Name, Directives: field.Directives, SelectionSet: field.SelectionSet}
	doc := &ast.QueryDocument{
		Operations: ast.OperationList{{Operation: ast.Subscription, SelectionSet: ast.SelectionSet{root}}},
	}
	if oc.Doc != nil {
		doc.Fragments = oc.Doc.Fragments
	}
	var b strings.Builder
	formatter.NewFormatter(&b, formatter.WithCompacted()).FormatQueryDocument(doc)
	vars := map[string]bool{}
	usedVariables(ast.SelectionSet{root}, doc.Fragments, vars, map[string]bool{})
	used := make(map[string]any, len(vars))
	for name := range vars {
		used[name] = oc.Variables[name]
	}
	js, err := json.Marshal(used) // map keys are sorted
	if err != nil {
		return ""
	}
	b.WriteByte(0)
	b.Write(js)
	return b.String()
}

// usedVariables adds the variables referenced in set (arguments and
// directives, through fragments) to into.
func usedVariables(set ast.SelectionSet, frags ast.FragmentDefinitionList, into, seenFrags map[string]bool) {
	var value func(v *ast.Value)
	value = func(v *ast.Value) {
		if v == nil {
			return
		}
		if v.Kind == ast.Variable {
			into[v.Raw] = true
		}
		for _, c := range v.Children {
			value(c.Value)
		}
	}
	directives := func(ds ast.DirectiveList) {
		for _, d := range ds {
			for _, a := range d.Arguments {
				value(a.Value)
			}
		}
	}
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				value(a.Value)
			}
			directives(s.Directives)
			usedVariables(s.SelectionSet, frags, into, seenFrags)
		case *ast.InlineFragment:
			directives(s.Directives)
			usedVariables(s.SelectionSet, frags, into, seenFrags)
		case *ast.FragmentSpread:
			directives(s.Directives)
			if seenFrags[s.Name] {
				continue
			}
			seenFrags[s.Name] = true
			if def := frags.ForName(s.Name); def != nil {
				directives(def.Directives)
				usedVariables(def.SelectionSet, frags, into, seenFrags)
			}
		}
	}
}
