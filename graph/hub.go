package graph

import (
	"errors"
	"log/slog"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/live"
)

// HubConfig configures a Hub: the live hub's settings and the lifetime of
// cached rows.
type HubConfig struct {
	live.Config
	// CacheTTL is the lifetime of cached rows (see WithCache): the hub
	// remembers which keys each change invalidated for that long. Default
	// 5 min.
	CacheTTL time.Duration
}

// Validate fills defaults and reports invalid settings.
func (c *HubConfig) Validate() error {
	if c.CacheTTL == 0 {
		c.CacheTTL = 5 * time.Minute
	}
	if c.CacheTTL < 0 {
		return errors.New("hub cache TTL must be positive")
	}
	return c.Config.Validate()
}

// Hub is the live hub (package live) as the GraphQL API uses it: the
// lifetime of the cached rows it validates, and the counters of the payloads shared between subscriptions. The live hub it
// wraps may be shared with other consumers (the REST websocket feed).
type Hub struct {
	*live.Hub
	cfg HubConfig

	// live counts payload executions of live events (see shared.go).
	live liveStats
}

// NewHub returns a hub reading the outbox through client, woken by bus.
// Run must be running for subscriptions to receive live events.
func NewHub(cfg HubConfig, client *ent.Client, bus events.Subscriber, log *slog.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lh, err := live.NewHub(cfg.Config, client, bus, log)
	if err != nil {
		return nil, err
	}
	return WrapHub(lh, cfg.CacheTTL)
}

// WrapHub returns the GraphQL hub over lh, whose Run serves both.
// cacheTTL is HubConfig.CacheTTL (0: its default).
func WrapHub(lh *live.Hub, cacheTTL time.Duration) (*Hub, error) {
	cfg := HubConfig{Config: lh.Config(), CacheTTL: cacheTTL}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Hub{Hub: lh, cfg: cfg}, nil
}

// Live returns the live hub h wraps.
func (h *Hub) Live() *live.Hub { return h.Hub }

// HubStats are the hub's counters.
type HubStats struct {
	// Subscribers is the number of registered subscriptions.
	Subscribers int
	// Executed is the number of live event payloads executed (a selection
	// set run and marshalled for one event).
	Executed int64
	// Shared is the number of live event payloads sent without execution,
	// because a subscription with the same selection set had executed it.
	Shared int64
	// Encoded is the part of Shared written over a websocket as the very
	// bytes another subscriber's connection wrote for the event: neither
	// executed nor passed through gqlgen's response handling.
	Encoded int64
	// ReplaysFromMemory and ReplaysFromOutbox count the batches of
	// subscription replays (after a cursor, or after lagging) served from
	// the hub's recent events and read from the outbox.
	ReplaysFromMemory, ReplaysFromOutbox int64
	// Revived counts subscription operations executed again, on their
	// running feed, after being let go while idle (see wsSub).
	Revived int64
}

// Stats returns the hub's counters.
func (h *Hub) Stats() HubStats {
	ls := h.Hub.Stats()
	h.live.mu.Lock()
	st := HubStats{Executed: h.live.executed, Shared: h.live.shared, Encoded: h.live.encoded, Revived: h.live.revived}
	h.live.mu.Unlock()
	st.Subscribers, st.ReplaysFromMemory, st.ReplaysFromOutbox = ls.Subscribers, ls.ReplaysFromMemory, ls.ReplaysFromOutbox
	return st
}

// ErrSlowClient ends a subscription whose client did not take an event
// in time.
var ErrSlowClient = errors.New("subscription client too slow")

// parseEventCursor reads an event cursor.
func parseEventCursor(s string) (int64, error) {
	n, err := live.ParseCursor(s)
	if err != nil {
		return 0, userError(CodeBadUserInput, "malformed event cursor %q", s)
	}
	return n, nil
}

// graphEventKey is the key of an event's *graphEvent (live.Event.Value).
type graphEventKey struct{}

// graphEvent is what a dispatched event carries for GraphQL: the value
// every subscriber sends, and the payloads executed for it.
type graphEvent struct {
	typed  model.MessageEvent
	shared *sharedPayloads
}

// itemOf is the liveItem of one of a stream's events: shared by every
// subscriber when the hub dispatched it, executed for this subscriber
// only when it was read for its replay.
func itemOf(e *live.Event) liveItem {
	if !e.Live() {
		return liveItem{ev: typedEvent(e.Ev, e.Message)}
	}
	g := e.Value(graphEventKey{}, func() any {
		return &graphEvent{typed: typedEvent(e.Ev, e.Message), shared: newSharedPayloads()}
	}).(*graphEvent)
	return liveItem{ev: g.typed, shared: g.shared}
}

// typedEvent maps an event to its GraphQL type.
func typedEvent(e events.Event, m *ent.Message) model.MessageEvent {
	cur, seq, at := live.Cursor(e.Seq), int(e.Seq), e.At.UTC()
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
		var reason *model.RemovalReason
		if e.Related != "" {
			r := enumOf[model.RemovalReason](e.Related)
			reason = &r
		}
		return &model.MessageRemoving{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m, Reason: reason}
	case events.Recovered:
		return &model.MessageRecovered{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	case events.Removed:
		return &model.MessageRemoved{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	case events.Pending:
		return &model.MessagePending{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	default:
		return &model.MessageProcessed{Cursor: cur, Seq: seq, At: at, Hash: e.ItemHash, Message: m}
	}
}
