package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph/model"
)

// HubConfig configures a Hub.
type HubConfig struct {
	// Buffer is the number of events a subscription may have waiting before
	// it is marked lagged and catches up from the outbox. Default 256.
	Buffer int
	// SendTimeout is how long a subscription waits for its client to take
	// an event before it is closed as too slow. Default 30 s.
	SendTimeout time.Duration
	// ReplayBatch is the number of outbox rows read per query. Default 500.
	ReplayBatch int
}

// Validate fills defaults and reports invalid settings.
func (c *HubConfig) Validate() error {
	if c.Buffer == 0 {
		c.Buffer = 256
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.ReplayBatch == 0 {
		c.ReplayBatch = 500
	}
	if c.Buffer < 1 || c.SendTimeout < 0 || c.ReplayBatch < 1 {
		return errors.New("hub buffer, send timeout and replay batch must be positive")
	}
	return nil
}

// Hub fans the node's event stream out to subscriptions. It listens once
// (one events.Subscription) and matches each event against an index of the
// subscribers' filters: an event costs a lookup per attribute plus the
// subscribers that filter on one of its values (or on nothing indexable),
// not a scan of every subscriber. Subscriptions resume from the
// message_events outbox when they or the hub fall behind, so nothing is lost
// and nothing is delivered twice.
type Hub struct {
	cfg    HubConfig
	client *ent.Client
	bus    events.Subscriber
	log    *slog.Logger

	// mu guards subs and index. Never held while sending.
	mu    sync.RWMutex
	index map[string]map[*hubSub]struct{} // "dim=value" -> subscribers; "" = unindexed
	subs  int

	lastSeq atomic.Int64
	lastAt  atomic.Int64 // unix nanoseconds
	running atomic.Bool
}

// NewHub returns a hub reading events from bus and the outbox through
// client. Run must be running for subscriptions to receive live events.
func NewHub(cfg HubConfig, client *ent.Client, bus events.Subscriber, log *slog.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Hub{cfg: cfg, client: client, bus: bus, log: log.With("component", "graphql-hub"), index: map[string]map[*hubSub]struct{}{}}, nil
}

// hubSub is one subscription's registration: the hub's only handle on it.
type hubSub struct {
	keys   []string
	f      *model.MessageFilter
	c      chan events.Event
	lagged chan struct{} // capacity 1: "you missed events, catch up"
}

// Run listens to the bus until ctx ends. When the bus cuts the hub off as
// slow, every subscription is told to catch up from the outbox and the hub
// listens again.
func (h *Hub) Run(ctx context.Context) error {
	h.running.Store(true)
	defer h.running.Store(false)
	for {
		sub, err := h.bus.Subscribe(ctx)
		if err != nil {
			return fmt.Errorf("subscribe to events: %w", err)
		}
		for ev := range sub.C {
			h.dispatch(ev)
		}
		if ctx.Err() != nil {
			return nil
		}
		h.log.Warn("event stream cut off; subscriptions catch up from the outbox", "err", sub.Err())
		h.lagAll()
	}
}

// LastEvent returns the sequence number and time of the last event seen.
func (h *Hub) LastEvent() (int64, time.Time) {
	at := h.lastAt.Load()
	if at == 0 {
		return h.lastSeq.Load(), time.Time{}
	}
	return h.lastSeq.Load(), time.Unix(0, at).UTC()
}

// Subscribers returns the number of registered subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.subs
}

// indexKeys picks the most selective criterion of f the hub can match on
// event attributes and returns one index key per value ("" if none).
func indexKeys(f *model.MessageFilter) []string {
	if f == nil {
		return []string{""}
	}
	for _, c := range []struct {
		dim string
		vs  []string
	}{
		{"hash", f.Hashes}, {"sender", f.Senders}, {"owner", f.Owners}, {"channel", f.Channels},
		{"ref", f.Refs}, {"key", f.ContentKeys}, {"ctype", f.ContentTypes}, {"tag", f.Tags},
		{"type", mapSlice(f.Types, storedMessageType)}, {"chain", f.Chains},
	} {
		if len(c.vs) > 0 {
			keys := make([]string, len(c.vs))
			for i, v := range c.vs {
				keys[i] = c.dim + "=" + v
			}
			return keys
		}
	}
	return []string{""}
}

// eventKeys are the index keys an event matches.
func eventKeys(ev events.Event) []string {
	keys := []string{"", "hash=" + ev.ItemHash}
	add := func(dim, v string) {
		if v != "" {
			keys = append(keys, dim+"="+v)
		}
	}
	add("sender", ev.Sender)
	add("owner", ev.Owner)
	add("channel", ev.Channel)
	add("ref", ev.ContentRef)
	add("key", ev.ContentKey)
	add("ctype", ev.ContentType)
	add("type", ev.Type)
	add("chain", ev.Chain)
	for _, t := range ev.Tags {
		add("tag", t)
	}
	return keys
}

func (h *Hub) register(f *model.MessageFilter) *hubSub {
	s := &hubSub{keys: indexKeys(f), f: f, c: make(chan events.Event, h.cfg.Buffer), lagged: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range s.keys {
		m := h.index[k]
		if m == nil {
			m = map[*hubSub]struct{}{}
			h.index[k] = m
		}
		m[s] = struct{}{}
	}
	h.subs++
	return s
}

func (h *Hub) unregister(s *hubSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range s.keys {
		delete(h.index[k], s)
		if len(h.index[k]) == 0 {
			delete(h.index, k)
		}
	}
	h.subs--
}

// dispatch hands ev to every subscription whose filter may match it,
// without blocking: a full buffer marks the subscription lagged.
func (h *Hub) dispatch(ev events.Event) {
	if ev.Seq > h.lastSeq.Load() {
		h.lastSeq.Store(ev.Seq)
		h.lastAt.Store(ev.At.UnixNano())
	}
	var targets []*hubSub
	h.mu.RLock()
	for _, k := range eventKeys(ev) {
		for s := range h.index[k] {
			if !slices.Contains(targets, s) && matchEvent(s.f, ev) {
				targets = append(targets, s)
			}
		}
	}
	h.mu.RUnlock()
	for _, s := range targets {
		select {
		case s.c <- ev:
		default:
			s.lag()
		}
	}
}

func (s *hubSub) lag() {
	select {
	case s.lagged <- struct{}{}:
	default:
	}
}

func (h *Hub) lagAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, m := range h.index {
		for s := range m {
			s.lag()
		}
	}
}

// matchEvent is the hub's cheap pre-match on the attributes an event
// carries; criteria it cannot see pass here and are checked on the row.
func matchEvent(f *model.MessageFilter, ev events.Event) bool {
	if f == nil {
		return true
	}
	in := func(vs []string, v string) bool { return len(vs) == 0 || slices.Contains(vs, v) }
	return in(f.Hashes, ev.ItemHash) && in(f.Senders, ev.Sender) && in(f.Owners, ev.Owner) &&
		in(f.Channels, ev.Channel) && in(f.Chains, ev.Chain) && in(f.Refs, ev.ContentRef) &&
		in(f.ContentKeys, ev.ContentKey) && in(f.ContentTypes, ev.ContentType) &&
		in(mapSlice(f.Types, storedMessageType), ev.Type) &&
		(len(f.Tags) == 0 || slices.ContainsFunc(ev.Tags, func(t string) bool { return slices.Contains(f.Tags, t) }))
}

// matchMessage is the authoritative filter check, on the message as
// stored; replayed and live events both pass through it.
func matchMessage(f *model.MessageFilter, m *ent.Message) bool {
	if f == nil {
		return true
	}
	if m == nil {
		return false
	}
	in := func(vs []string, v *string) bool {
		return len(vs) == 0 || (v != nil && slices.Contains(vs, *v))
	}
	s := func(v string) *string { return &v }
	var pay *string
	if m.PaymentType != nil {
		pay = m.PaymentType
	}
	ok := in(f.Hashes, s(m.ID)) && in(f.Senders, s(m.Sender)) && in(f.Owners, s(m.Owner)) &&
		in(f.Channels, m.Channel) && in(f.Chains, s(m.Chain)) && in(f.Refs, m.ContentRef) &&
		in(f.ContentKeys, m.ContentKey) && in(f.ContentTypes, m.ContentType) && in(f.ContentHashes, m.ContentItemHash) &&
		in(mapSlice(f.Types, storedMessageType), s(m.Type)) &&
		in(mapSlice(f.Statuses, storedEnum[model.MessageStatus]), s(string(m.Status))) &&
		in(mapSlice(f.PaymentTypes, storedEnum[model.PaymentType]), pay) &&
		(len(f.Tags) == 0 || slices.ContainsFunc(m.Tags, func(t string) bool { return slices.Contains(f.Tags, t) }))
	if !ok {
		return false
	}
	if (f.TimeFrom != nil && m.Time.Before(*f.TimeFrom)) || (f.TimeTo != nil && !m.Time.Before(*f.TimeTo)) {
		return false
	}
	h := m.FirstConfirmedHeight
	if f.ConfirmationHeightFrom != nil && (h == nil || *h < int64(*f.ConfirmationHeightFrom)) {
		return false
	}
	if f.ConfirmationHeightTo != nil && (h == nil || *h >= int64(*f.ConfirmationHeightTo)) {
		return false
	}
	return true
}

// eventCursor is the cursor of an outbox sequence number.
func eventCursor(seq int64) string { return strconv.FormatInt(seq, 10) }

// parseEventCursor reads an event cursor.
func parseEventCursor(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, userError(CodeBadUserInput, "malformed event cursor %q", s)
	}
	return n, nil
}

// ErrSlowClient ends a subscription whose client did not take an event
// within the hub's send timeout.
var ErrSlowClient = errors.New("subscription client too slow")

// stream runs one subscription: register first, replay the outbox after
// `after` (or from the current end), then deliver live events, skipping
// those the replay already delivered. It owns out and closes it.
func (h *Hub) stream(ctx context.Context, f *model.MessageFilter, after *int64, load func(context.Context, string) (*ent.Message, error), out chan<- model.MessageEvent) error {
	defer close(out)
	s := h.register(f)
	defer h.unregister(s)

	var last int64
	if after != nil {
		last = *after
	} else {
		// Start live: everything committed so far is history.
		ev, err := h.client.MessageEvent.Query().Order(ent.Desc(messageevent.FieldID)).First(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return fmt.Errorf("read outbox end: %w", err)
		}
		if ev != nil {
			last = ev.ID
		}
	}
	emit := func(e events.Event) error {
		m, err := load(ctx, e.ItemHash)
		if err != nil {
			return err
		}
		if !matchMessage(f, m) {
			return nil
		}
		t := time.NewTimer(h.cfg.SendTimeout)
		defer t.Stop()
		select {
		case out <- typedEvent(e, m):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return ErrSlowClient
		}
	}
	replay := func() error {
		for {
			rows, err := h.client.MessageEvent.Query().Where(messageevent.IDGT(last)).
				Order(ent.Asc(messageevent.FieldID)).Limit(h.cfg.ReplayBatch).All(ctx)
			if err != nil {
				return fmt.Errorf("replay outbox after %d: %w", last, err)
			}
			for _, row := range rows {
				if err := emit(outboxEvent(row)); err != nil {
					return err
				}
				last = row.ID
			}
			if len(rows) < h.cfg.ReplayBatch {
				return nil
			}
		}
	}
	if after != nil {
		if err := replay(); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.lagged:
			if err := replay(); err != nil {
				return err
			}
		case ev := <-s.c:
			if ev.Seq != 0 && ev.Seq <= last {
				continue // replayed already
			}
			if err := emit(ev); err != nil {
				return err
			}
			if ev.Seq > last {
				last = ev.Seq
			}
		}
	}
}

// outboxEvent rebuilds the event of an outbox row.
func outboxEvent(row *ent.MessageEvent) events.Event {
	ev := events.Event{Seq: row.ID, Kind: events.Kind(row.Kind), At: row.CreatedAt, ItemHash: row.ItemHash, ErrorCode: row.ErrorCode}
	if row.Related != nil {
		ev.Related = *row.Related
	}
	return ev
}

// typedEvent maps an event to its GraphQL type.
func typedEvent(e events.Event, m *ent.Message) model.MessageEvent {
	cur, seq, at := eventCursor(e.Seq), int(e.Seq), e.At.UTC()
	var related *string
	if e.Related != "" {
		related = &e.Related
	}
	switch e.Kind {
	case events.Rejected:
		code := 0
		if e.ErrorCode != nil {
			code = *e.ErrorCode
		}
		return &model.MessageRejected{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m, ErrorCode: code}
	case events.Forgotten:
		return &model.MessageForgotten{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m, ForgottenBy: related}
	case events.Confirmed:
		return &model.MessageConfirmed{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m, TxHash: related}
	case events.Amended:
		return &model.MessageAmended{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m, AmendHash: related}
	case events.Removing:
		return &model.MessageRemoving{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	case events.Removed:
		return &model.MessageRemoved{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	case events.Pending:
		return &model.MessagePending{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	default:
		return &model.MessageProcessed{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	}
}
