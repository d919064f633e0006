package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/read"
)

// Config configures a Hub.
type Config struct {
	// Buffer is the number of events a subscription may have waiting before
	// it is marked lagged and catches up from the outbox. Default 256.
	Buffer int
	// SendTimeout is how long a messageStatus subscription waits for its
	// client to take an update before it is closed as too slow (a messages
	// subscription is paced by its websocket: see
	// graph.HandlerConfig.WriteTimeout). Default 30 s.
	SendTimeout time.Duration
	// ReplayBatch is the number of outbox rows read per query. Default 500.
	ReplayBatch int
	// PollInterval is how often the hub reads the outbox without being
	// woken, to pick up changes committed by other nodes. Default 1 s.
	PollInterval time.Duration
	// GapGrace is how long a hole in the outbox ids is waited for (a lower
	// id may belong to a transaction still committing) before it is taken
	// for a rolled-back insert. Default 5 s.
	GapGrace time.Duration
	// MaxReplays bounds the subscriptions reading the outbox for their
	// replay at once. Hundreds of clients resuming together would
	// otherwise take every database connection and hold up the hub's own
	// read of new events, delaying every live subscriber. Default 4.
	MaxReplays int
	// RecentEvents is the number of dispatched events the hub keeps in
	// memory, with the payloads already encoded for them: a subscription
	// resuming after an event among them (a client that was away for a
	// short while, or one that lagged) replays from memory, sharing
	// those payloads, instead of reading the outbox. Default 4096; -1
	// keeps none.
	RecentEvents int
	// RecentBytes bounds the memory of those events: their messages'
	// content, counted twice for the payloads encoded from it. Default
	// 64 MiB.
	RecentBytes int64
}

// Validate fills defaults and reports invalid settings.
func (c *Config) Validate() error {
	if c.Buffer == 0 {
		c.Buffer = 256
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.ReplayBatch == 0 {
		c.ReplayBatch = 500
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.GapGrace == 0 {
		c.GapGrace = 5 * time.Second
	}
	if c.MaxReplays == 0 {
		c.MaxReplays = 4
	}
	switch c.RecentEvents {
	case 0:
		c.RecentEvents = 4096
	case -1:
		c.RecentEvents = 0
	}
	if c.RecentBytes == 0 {
		c.RecentBytes = 64 << 20
	}
	if c.MaxReplays < 1 || c.Buffer < 1 || c.SendTimeout < 0 || c.ReplayBatch < 1 || c.PollInterval < 0 || c.GapGrace < 0 || c.RecentEvents < 0 || c.RecentBytes < 0 {
		return errors.New("hub buffer, timeouts and replay batch must be positive")
	}
	return nil
}

// Hub fans the node's state changes out to subscriptions. The
// message_events outbox is the source of truth: bus events (and a poll, for
// changes committed by other nodes) only wake the hub, which then reads the
// outbox rows after the last one it dispatched, once for all subscribers,
// loads their messages in one query, and matches each against an index of
// the subscribers' filters: an event costs a lookup per attribute plus the
// subscribers that filter on one of its values (or on nothing indexable),
// not a scan of every subscriber. Reading the outbox in id order is what
// makes delivery ordered, gap-free and duplicate-free even when events are
// published out of commit order or dropped by the bus.
type Hub struct {
	cfg    Config
	client *ent.Client
	bus    events.Subscriber
	log    *slog.Logger

	// mu guards index, subs, last and recent: a subscription registers
	// at a known outbox position, and the hub dispatches rows after it.
	mu     sync.Mutex
	index  map[string]map[*Sub]struct{} // "dim=value" -> subscribers; "" = unindexed
	subs   int
	last   int64 // last outbox id dispatched
	recent recentEvents

	lastAt  atomic.Int64  // unix nanoseconds of the last dispatched row
	ready   chan struct{} // closed once Run knows the outbox position
	started atomic.Bool

	// observers are told of the start position and of every dispatched
	// event (guarded by mu).
	observers []Observer
	begun     bool // Run knows its position (guarded by mu)

	statsMu                sync.Mutex
	fromMemory, fromOutbox int64 // replay batches (see Stats)

	replays chan struct{} // MaxReplays slots for replay reads
}

// Stats are the hub's counters.
type Stats struct {
	// Subscribers is the number of registered subscriptions.
	Subscribers int
	// ReplaysFromMemory and ReplaysFromOutbox count the batches of
	// subscription replays (after a resume position, or after lagging)
	// served from the hub's recent events and read from the outbox.
	ReplaysFromMemory, ReplaysFromOutbox int64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.statsMu.Lock()
	st := Stats{ReplaysFromMemory: h.fromMemory, ReplaysFromOutbox: h.fromOutbox}
	h.statsMu.Unlock()
	st.Subscribers = h.Subscribers()
	return st
}

func (h *Hub) countReplay(fromMemory bool) {
	h.statsMu.Lock()
	if fromMemory {
		h.fromMemory++
	} else {
		h.fromOutbox++
	}
	h.statsMu.Unlock()
}

// Observer follows the hub's progress through the outbox: Started with
// the position Run starts from (before Ready is closed), then Dispatched
// with every event in outbox order. Both are called from the hub's
// goroutine with its lock held: they must be quick and must not call the
// hub. While no subscription is registered, a dispatched event's Message,
// when processed, holds only the columns of keyColumns, and is nil when
// the hub is a full batch behind (see readEvents).
type Observer interface {
	Started(seq int64)
	Dispatched(e *Event)
}

// Observe adds o to the hub's observers. Added after Run started, o is
// told of the current position at once, as Started.
func (h *Hub) Observe(o Observer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observers = append(h.observers, o)
	if h.begun {
		o.Started(h.last)
	}
}

// Config returns the hub's configuration, defaults filled.
func (h *Hub) Config() Config { return h.cfg }

// NewHub returns a hub reading the outbox through client, woken by bus.
// Run must be running for subscriptions to receive live events.
func NewHub(cfg Config, client *ent.Client, bus events.Subscriber, log *slog.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Hub{cfg: cfg, client: client, bus: bus, log: log.With("component", "live-hub"),
		index: map[string]map[*Sub]struct{}{}, recent: recentEvents{max: cfg.RecentEvents, maxBytes: cfg.RecentBytes}, ready: make(chan struct{}),
		replays: make(chan struct{}, cfg.MaxReplays)}, nil
}

// Event is one outbox row with its message (nil when the message is
// nowhere any more), shared by every subscription it matches. It is
// read-only once handed out, except for the values attached with Value.
type Event struct {
	Ev      events.Event
	Message *ent.Message

	live bool // dispatched by the hub (not read for one replay)

	mu   sync.Mutex
	vals map[any]any
}

// Live reports whether the hub dispatched e to its subscribers (live, or
// replayed from its recent events) rather than reading it from the outbox
// for one subscription's replay: only a dispatched event is shared, so
// only its attached values (Value) are worth computing once for all.
func (e *Event) Live() bool { return e.live }

// Value returns the value attached to e under key, attaching the result
// of mk first if there is none: a consumer's per-event state (a mapped
// event, payloads encoded for it) shared by every subscriber of e.
func (e *Event) Value(key any, mk func() any) any {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.vals[key]; ok {
		return v
	}
	if e.vals == nil {
		e.vals = make(map[any]any, 1)
	}
	v := mk()
	e.vals[key] = v
	return v
}

// Sub is one subscription's registration: the hub's only handle on it.
// Its queue grows with the events waiting for it (at most Buffer), so an
// idle subscription costs a few words rather than a preallocated buffer.
type Sub struct {
	keys   []string
	f      *read.MessageFilter
	wake   chan struct{} // capacity 1: "events are queued, or you lagged"
	notify func()        // if set, also called on every push (must not block)

	mu     sync.Mutex
	q      []*Event
	lagged bool // missed events: re-register and replay from the outbox
}

// push queues e, or marks the subscription lagged when Buffer events are
// already waiting. Never blocks.
func (s *Sub) push(e *Event, limit int) {
	s.mu.Lock()
	switch {
	case s.lagged:
	case len(s.q) >= limit:
		s.lagged, s.q = true, nil
	default:
		s.q = append(s.q, e)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if s.notify != nil {
		s.notify()
	}
}

// pending reports whether pop has something to return.
func (s *Sub) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagged || len(s.q) > 0
}

// pop returns the next queued event, or lagged (once) if events were
// missed, or nothing.
func (s *Sub) pop() (e *Event, lagged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lagged {
		s.lagged = false
		return nil, true
	}
	if len(s.q) == 0 {
		return nil, false
	}
	e, s.q[0] = s.q[0], nil
	if s.q = s.q[1:]; len(s.q) == 0 {
		s.q = nil
	}
	return e, false
}

// Wake receives when events are queued for the subscription (or it
// lagged): for waiters that only need to know something happened, who
// then call Drain.
func (s *Sub) Wake() <-chan struct{} { return s.wake }

// Drain discards what is queued: for waiters that only need to know
// something happened.
func (s *Sub) Drain() {
	s.mu.Lock()
	s.q, s.lagged = nil, false
	s.mu.Unlock()
}

// Run dispatches outbox rows until ctx ends, woken by bus events and
// every PollInterval. When the bus cuts the hub off as slow it listens
// again: the outbox still holds everything.
func (h *Hub) Run(ctx context.Context) error {
	end, err := h.OutboxEnd(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return err
	}
	if !h.started.CompareAndSwap(false, true) {
		return errors.New("hub already running")
	}
	h.mu.Lock()
	h.last = end
	h.recent.reset(end)
	h.begun = true
	for _, o := range h.observers {
		o.Started(end)
	}
	h.mu.Unlock()
	close(h.ready)
	poll := time.NewTicker(h.cfg.PollInterval)
	defer poll.Stop()
	for {
		sub, err := h.bus.Subscribe(ctx)
		if err != nil {
			return fmt.Errorf("subscribe to events: %w", err)
		}
	listen:
		for {
			select {
			case <-ctx.Done():
				return nil
			case _, ok := <-sub.C:
				if !ok {
					break listen
				}
			case <-poll.C:
			}
			// One read of the outbox serves every event already waiting:
			// a batch's events arrive together, and reading once per event
			// let the bus outpace the hub and cut it off under load.
			open := drain(sub.C)
			if err := h.catchUp(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("read outbox", "err", err)
			}
			if !open {
				break listen
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		h.log.Warn("event stream cut off; catching up from the outbox", "err", sub.Err())
	}
}

// drain takes every event already waiting in c without blocking and
// reports whether c is still open.
func drain(c <-chan events.Event) bool {
	for {
		select {
		case _, ok := <-c:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
}

// OutboxEnd reads the id of the latest outbox row (0 if none).
func (h *Hub) OutboxEnd(ctx context.Context) (int64, error) {
	ev, err := h.client.MessageEvent.Query().Order(ent.Desc(messageevent.FieldID)).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read outbox end: %w", err)
	}
	return ev.ID, nil
}

// readOutbox returns up to ReplayBatch rows after `after` (and at most
// `upTo` when positive) with their messages, stopping before a recent gap
// in the ids: a lower id may belong to a transaction still committing.
func (h *Hub) readOutbox(ctx context.Context, after, upTo int64) ([]*Event, error) {
	return h.readEvents(ctx, after, upTo, false)
}

// keyColumns are the messages columns read for events no subscription
// will see (catchUp with no subscriber): what the observers need, the
// cache invalidation keys (cache.EventKeys: type, sender, channel,
// owner). Reading each processed message whole (content, item_content,
// tags decoded) only to compute those took 7 % of a catching-up node's
// CPU.
var keyColumns = []string{message.FieldID, message.FieldType, message.FieldChain, message.FieldSender,
	message.FieldOwner, message.FieldChannel}

// readEvents is readOutbox; with keysOnly, the rows of messages holds
// only keyColumns (messages found elsewhere, pending, forgotten...,
// are read whole), and a full batch (the hub is behind) is read without
// its messages at all: its events have a nil Message.
//
// A hub a full batch behind with no subscriber is a node catching up (an
// import, a follower's backfill, a chain's history): the cache observers
// then invalidate every cached answer with each event (cache.EventKeys
// of a nil message) instead of the lists of each message, which such a
// flow of changes invalidates anyway. Reading each message's keys cost a
// node following another 14 s of its PostgreSQL's work per million
// messages (pg_stat_statements), for invalidations no cache needed.
func (h *Hub) readEvents(ctx context.Context, after, upTo int64, keysOnly bool) ([]*Event, error) {
	rows, err := read.EventsAfter(ctx, h.client, after, upTo, h.cfg.ReplayBatch, h.cfg.GapGrace)
	if err != nil {
		return nil, err
	}
	if keysOnly && len(rows) == h.cfg.ReplayBatch {
		out := make([]*Event, len(rows))
		for i, row := range rows {
			out[i] = &Event{Ev: outboxEvent(row)}
		}
		return out, nil
	}
	hashes := make([]string, len(rows))
	for i, row := range rows {
		hashes[i] = row.ItemHash
	}
	q := h.client.Message.Query().Where(message.IDIn(hashes...))
	if keysOnly {
		q.Select(keyColumns...)
	}
	found, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load outbox messages: %w", err)
	}
	msgs := make(map[string]*ent.Message, len(found))
	for _, m := range found {
		msgs[m.ID] = m
	}
	var elsewhere []string // pending, rejected, forgotten or removed
	for _, row := range rows {
		if msgs[row.ItemHash] == nil {
			elsewhere = append(elsewhere, row.ItemHash)
		}
	}
	if len(elsewhere) > 0 {
		others, err := read.FindMessagesElsewhere(ctx, h.client, elsewhere)
		if err != nil {
			return nil, fmt.Errorf("load outbox messages: %w", err)
		}
		maps.Copy(msgs, others)
	}
	out := make([]*Event, len(rows))
	for i, row := range rows {
		out[i] = &Event{Ev: outboxEvent(row), Message: msgs[row.ItemHash]}
	}
	return out, nil
}

// replayBatch returns up to ReplayBatch events of a subscription's replay
// in (after, upTo]: from the hub's recent events when they reach back to
// after, else from the outbox, at most MaxReplays reads at once.
func (h *Hub) replayBatch(ctx context.Context, after, upTo int64) ([]*Event, error) {
	h.mu.Lock()
	evs, ok := h.recent.after(after, upTo, h.cfg.ReplayBatch)
	h.mu.Unlock()
	if ok {
		h.countReplay(true)
		return evs, nil
	}
	h.countReplay(false)
	select {
	case h.replays <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.replays }()
	return h.readOutbox(ctx, after, upTo)
}

// catchUp dispatches every outbox row after the last one dispatched.
//
// With no subscriber (a node catching up, a node serving only queries),
// the rows go to the observers only, so their messages are read with
// keyColumns alone; such events are not kept among the recent ones
// (their messages lack what a replay sends): the window restarts after
// them, and a subscription resuming from before reads the outbox. A
// subscription registering while they were read makes the hub read them
// again whole before dispatching them.
func (h *Hub) catchUp(ctx context.Context) error {
	for {
		h.mu.Lock()
		after, keysOnly := h.last, h.subs == 0
		h.mu.Unlock()
		evs, err := h.readEvents(ctx, after, 0, keysOnly)
		if err != nil || len(evs) == 0 {
			return err
		}
		h.mu.Lock()
		again := keysOnly && h.subs > 0
		if h.last == after && !again { // Run is the only writer; kept for safety
			for _, e := range evs {
				e.live = true
				h.dispatch(e)
				if !keysOnly {
					h.recent.add(e)
				}
				for _, o := range h.observers {
					o.Dispatched(e)
				}
				h.last = e.Ev.Seq
			}
			if keysOnly {
				h.recent.reset(h.last)
			}
			h.lastAt.Store(evs[len(evs)-1].Ev.At.UnixNano())
		}
		h.mu.Unlock()
		if len(evs) < h.cfg.ReplayBatch && !again {
			return nil
		}
	}
}

// Ready is closed once Run knows the outbox position it starts from.
// Until then subscriptions wait, and cache entries written before it
// are never trusted (they are below the position Run starts from).
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// ReadyCheck reports whether Run has started (for /readyz).
func (h *Hub) ReadyCheck(context.Context) error {
	select {
	case <-h.ready:
		return nil
	default:
		return errors.New("subscription hub not started")
	}
}

// LastEvent returns the last outbox id dispatched and its time.
func (h *Hub) LastEvent() (int64, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	at := h.lastAt.Load()
	if at == 0 {
		return h.last, time.Time{}
	}
	return h.last, time.Unix(0, at).UTC()
}

// Subscribers returns the number of registered subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs
}

// Register adds a subscription and returns the outbox position from which
// the hub will hand it rows. It waits for Run to know its position.
// notify, if not nil, is called (from the hub's goroutine, which it must
// not block) each time events are queued for the subscription.
func (h *Hub) Register(ctx context.Context, f *read.MessageFilter, notify func()) (*Sub, int64, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	s := &Sub{keys: indexKeys(f), f: f, wake: make(chan struct{}, 1), notify: notify}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range s.keys {
		m := h.index[k]
		if m == nil {
			m = map[*Sub]struct{}{}
			h.index[k] = m
		}
		m[s] = struct{}{}
	}
	h.subs++
	return s, h.last, nil
}

// Unregister removes a subscription added by Register.
func (h *Hub) Unregister(s *Sub) {
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

// dispatch hands e to every subscription whose filter matches, without
// blocking: a full buffer marks the subscription lagged. Called with mu
// held.
func (h *Hub) dispatch(e *Event) {
	seen := map[*Sub]bool{}
	for _, k := range messageKeys(e.Ev.ItemHash, e.Message) {
		for s := range h.index[k] {
			if seen[s] {
				continue
			}
			seen[s] = true
			if !Match(s.f, e.Message) {
				continue
			}
			s.push(e, h.cfg.Buffer)
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
