package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/read"
	"github.com/alephql/alephql/wsconn"
)

// Bounds of the websocket feed.
const (
	// wsMaxHistory bounds history (the reference node: 0 <= history < 200).
	wsMaxHistory = 199
	// wsWriteTimeout cuts off a client that does not read (with
	// wsconn.CloseSlowClient).
	wsWriteTimeout = 10 * time.Second
)

// WithHub serves /api/ws0/messages from h, the live hub the GraphQL
// subscriptions share (it must be running). Without one the feed answers
// 503.
func WithHub(h *live.Hub) Option { return func(a *API) { a.hub = h } }

// wsFrame is a live frame: a list-format message and the outbox
// position to resume after (the "after" parameter).
type wsFrame struct {
	messageItem
	EventSeq int64 `json:"event_seq,omitempty"`
}

// messagesWS serves GET /api/ws0/messages: the messages.json filters,
// history (default 10, the newest matching messages, oldest first), then
// every message processed afterwards that matches, with no gap between
// history and live. Each live frame carries event_seq; a client that
// reconnects with after=<event_seq> gets every matching message processed
// since, with no history. Live messages come from the live hub, matched
// by the hub against the same read.MessageFilter messages.json queries
// with, as GraphQL subscriptions are.
func (a *API) messagesWS(w http.ResponseWriter, r *http.Request) error {
	if a.hub == nil {
		return errorf(http.StatusServiceUnavailable, "the live feed is not enabled on this node")
	}
	q, err := a.parseMessageList(r)
	if err != nil {
		return err
	}
	if q.terminal != "" {
		return errorf(http.StatusBadRequest, "the feed shows processed messages")
	}
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	history := int(p.integer("history", 10, 0, wsMaxHistory))
	after := p.optInt("after")
	if p.err != nil {
		return p.err
	}
	ctx := r.Context()
	// The position is read before the history, a little behind the end
	// (read.SettledOutboxEnd): a message processed in between, or whose
	// transaction was still committing, is read live; one already in the
	// history is sent once.
	var seq int64
	if after != nil {
		seq = *after
	} else if seq, err = a.reader.SettledOutboxEnd(ctx, read.DefaultGapGrace); err != nil {
		return err
	}
	end := seq
	if after == nil {
		if end, err = a.reader.OutboxEnd(ctx); err != nil {
			return err
		}
	}
	// The slot is taken before the upgrade: a client whose handshake
	// completed holds it.
	full := a.feeds.Add(1) > int64(a.cfg.MaxFeeds)
	defer a.feeds.Add(-1)
	up := wsconn.Upgrader{WriteTimeout: wsWriteTimeout, Log: a.log, OnSlow: func() { a.metrics.feedCut("slow") }}
	c, err := up.Accept(w, r, nil)
	if err != nil {
		return nil // Accept answered the client
	}
	defer c.Close()
	ctx = c.CloseRead(ctx) // client frames are ignored; a close ends ctx
	if full {
		a.metrics.feedCut("full")
		_ = c.CloseWith(wsconn.CloseTryAgainLater, "Too many connections")
		return nil
	}
	a.metrics.feedOpened(1)
	defer a.metrics.feedOpened(-1)
	err = a.feed(ctx, c, q, history, after == nil, seq, end)
	switch {
	case errors.Is(err, wsconn.ErrSlowClient):
		// Counted by OnSlow; the close frame (CloseSlowClient) is sent.
		_ = c.CloseWith(wsconn.CloseSlowClient, wsconn.SlowClientReason)
	case err == nil, ctx.Err() != nil:
		_ = c.CloseWith(wsconn.CloseNormal, "")
	default:
		a.metrics.feedCut("error")
		a.log.WarnContext(ctx, "websocket feed ended", "err", err)
		_ = c.CloseWith(wsconn.CloseInternalError, "internal error")
	}
	return nil
}

// feed writes the history, then the messages processed after seq that
// match, from a hub stream, until ctx ends. Events up to end were
// committed, or committing, when the history was read: their messages
// are sent unless the history has them or, when the history was full,
// they sort before its oldest message (the history left them out).
func (a *API) feed(ctx context.Context, c *wsconn.Conn, q messageListQuery, history int, withHistory bool, seq, end int64) error {
	sent := map[string]bool{}
	var oldest *time.Time // set when the history was full
	write := func(m messageItem, seq int64) error {
		b, err := json.Marshal(wsFrame{messageItem: m, EventSeq: seq})
		if err != nil {
			return err
		}
		return c.Write(b) // at most wsWriteTimeout, then ErrSlowClient
	}
	filter := q.filter
	st := a.hub.NewStream(ctx, &filter, &seq, nil)
	if withHistory && history > 0 {
		order := q.order
		order.Desc = true
		rows, _, err := a.reader.Messages(ctx, read.MessageQuery{Filter: q.filter, Order: order, N: history, Columns: messageColumns(q.format)})
		if err != nil {
			return err
		}
		items, err := a.messageItems(ctx, rows, q.format, true)
		if err != nil {
			return err
		}
		if len(rows) == history {
			t := rows[len(rows)-1].Time
			oldest = &t
		}
		for i := len(items) - 1; i >= 0; i-- {
			sent[items[i].ItemHash] = true
			if err := write(items[i], 0); err != nil {
				return err
			}
		}
	}
	for {
		e, ok, err := st.Next(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return ctx.Err()
		}
		m := e.Message
		if e.Ev.Kind != events.Processed || m == nil {
			continue
		}
		if e.Ev.Seq <= end && (sent[m.ID] || (oldest != nil && m.Time.Before(*oldest))) {
			continue
		}
		items, err := a.messageItems(ctx, []*ent.Message{m}, q.format, true)
		if err != nil {
			return err
		}
		if err := write(items[0], e.Ev.Seq); err != nil {
			return err
		}
	}
}
