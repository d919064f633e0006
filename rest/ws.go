package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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

// EventSeqHeader is the handshake answer's header giving the outbox
// position the feed starts after: a client that reconnects later with
// after=<it> gets every matching message processed since, including
// those processed before its first frame.
const EventSeqHeader = "X-Event-Seq"

// CodeEventSeqGone is the code of the 410 answered to an after= this node
// cannot resume from (its outbox no longer holds the events after it, or
// never held that position): the client must catch up otherwise.
const CodeEventSeqGone = "EVENT_SEQ_GONE"

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
// since, with no history. The handshake's EventSeqHeader is the position
// the feed starts after; an after= that cannot be resumed from is a 410
// with CodeEventSeqGone, before any upgrade. Live messages come from the live hub, matched
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
		if err := a.checkResume(ctx, seq); err != nil {
			return err
		}
	} else if seq, err = a.reader.SettledOutboxEnd(ctx, read.DefaultGapGrace); err != nil {
		return err
	}
	end := seq
	if after == nil {
		if end, err = a.reader.OutboxEnd(ctx); err != nil {
			return err
		}
	}
	w.Header().Set(EventSeqHeader, strconv.FormatInt(seq, 10))
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

// checkResume refuses (410, CodeEventSeqGone) a resume position the
// outbox cannot replay after with no gap: events after it were pruned, or
// it is past the outbox's end (the position came from another database,
// e.g. a node restarted on a new one). An outbox starting right after the
// position is still complete.
func (a *API) checkResume(ctx context.Context, after int64) error {
	end, err := a.reader.OutboxEnd(ctx)
	if err != nil {
		return err
	}
	if after > end {
		return &Error{Status: http.StatusGone, Code: CodeEventSeqGone,
			Message: fmt.Sprintf("after=%d is past this node's outbox end %d: resume otherwise", after, end)}
	}
	start, err := a.reader.OutboxStart(ctx)
	if err != nil {
		return err
	}
	if start > after+1 {
		return &Error{Status: http.StatusGone, Code: CodeEventSeqGone,
			Message: fmt.Sprintf("the events after %d are no longer kept (the outbox starts at %d): resume otherwise", after, start)}
	}
	return nil
}

// feed writes the history, then the messages processed after seq that
// match, from a hub stream, until ctx ends. Frames are queued while the
// stream has events ready and written together (one system call) before
// it waits. Events up to end were
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
		return c.Queue(b) // a write waits at most wsWriteTimeout, then ErrSlowClient
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
		e, ok, idle, err := st.Poll(ctx)
		if err == nil && idle {
			// Nothing ready: write what is queued, then wait.
			if err := c.Flush(); err != nil {
				return err
			}
			e, ok, err = st.Next(ctx)
		}
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
