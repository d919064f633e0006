package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"time"

	"github.com/coder/websocket"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/read"
)

// Bounds of the websocket feed.
const (
	// wsMaxHistory bounds history (the reference node: 0 <= history < 200).
	wsMaxHistory = 199
	// wsBatch is the number of outbox events read at once.
	wsBatch = 500
	// wsPoll is how often a feed reads the outbox without a bus event
	// (events are notifications: one lost must only delay the feed).
	wsPoll = time.Second
	// wsWriteTimeout cuts a client that does not read.
	wsWriteTimeout = 10 * time.Second
)

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
// since, with no history. Live messages are matched by the same SQL as
// messages.json (read.Reader.Messages restricted to the new hashes).
func (a *API) messagesWS(w http.ResponseWriter, r *http.Request) error {
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
	var sub *events.Subscription
	if a.events != nil {
		if sub, err = a.events.Subscribe(ctx); err != nil {
			sub = nil // polling carries the feed
		}
	}
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
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true}) // any origin, as the HTTP API
	if err != nil {
		return nil // Accept answered the client
	}
	defer c.CloseNow()
	if full {
		a.metrics.feedCut("full")
		c.Close(websocket.StatusTryAgainLater, "Too many connections")
		return nil
	}
	a.metrics.feedOpened(1)
	defer a.metrics.feedOpened(-1)
	ctx = c.CloseRead(ctx) // client frames are ignored; a close ends ctx
	err = a.feed(ctx, c, q, history, after == nil, seq, end, sub)
	switch {
	case err == nil, ctx.Err() != nil:
		c.Close(websocket.StatusNormalClosure, "")
	case errors.Is(err, context.DeadlineExceeded):
		a.metrics.feedCut("slow")
		c.Close(websocket.StatusPolicyViolation, "slow consumer")
	default:
		a.metrics.feedCut("error")
		a.log.WarnContext(ctx, "websocket feed ended", "err", err)
		c.Close(websocket.StatusInternalError, "internal error")
	}
	return nil
}

// feed writes the history, then live messages after seq until ctx ends.
// Events up to end were committed, or committing, when the history was
// read: their messages are sent unless the history has them or, when the
// history was full, they sort before its oldest message (the history
// left them out).
func (a *API) feed(ctx context.Context, c *websocket.Conn, q messageListQuery, history int, withHistory bool, seq, end int64, sub *events.Subscription) error {
	sent := map[string]bool{}
	var oldest *time.Time // set when the history was full
	write := func(m messageItem, seq int64) error {
		b, err := json.Marshal(wsFrame{messageItem: m, EventSeq: seq})
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, b)
	}
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
	var evs <-chan events.Event
	if sub != nil {
		evs = sub.C
	}
	tick := time.NewTicker(wsPoll)
	defer tick.Stop()
	for {
		for {
			skip := func(m *ent.Message, at int64) bool {
				return at <= end && (sent[m.ID] || (oldest != nil && m.Time.Before(*oldest)))
			}
			n, last, err := a.feedBatch(ctx, q, seq, skip, write)
			if err != nil {
				return err
			}
			seq = last
			if n < wsBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-evs:
			if !ok {
				evs = nil
			}
		case <-tick.C:
		}
	}
}

// feedBatch sends the matching messages processed in the next outbox
// events after seq; it returns the number of events read and the new
// position.
func (a *API) feedBatch(ctx context.Context, q messageListQuery, seq int64, skip func(*ent.Message, int64) bool, write func(messageItem, int64) error) (int, int64, error) {
	evs, err := a.reader.EventsAfter(ctx, seq, 0, wsBatch, read.DefaultGapGrace)
	if err != nil || len(evs) == 0 {
		return 0, seq, err
	}
	var hashes []string
	at := map[string]int64{}
	for _, e := range evs {
		if events.Kind(e.Kind) == events.Processed && at[e.ItemHash] == 0 {
			hashes = append(hashes, e.ItemHash)
			at[e.ItemHash] = e.ID
		}
	}
	last := evs[len(evs)-1].ID
	if len(hashes) == 0 {
		return len(evs), last, nil
	}
	f := q.filter
	if len(f.Hashes) > 0 {
		keep := map[string]bool{}
		for _, h := range f.Hashes {
			keep[h] = true
		}
		var both []string
		for _, h := range hashes {
			if keep[h] {
				both = append(both, h)
			}
		}
		hashes = both
	}
	var rows []*ent.Message
	if len(hashes) > 0 {
		f.Hashes = hashes
		rows, _, err = a.reader.Messages(ctx, read.MessageQuery{Filter: f, Order: read.MessageOrder{}, N: len(hashes), Columns: messageColumns(q.format)})
		if err != nil {
			return 0, seq, err
		}
	}
	keep := rows[:0]
	for _, m := range rows {
		if !skip(m, at[m.ID]) {
			keep = append(keep, m)
		}
	}
	items, err := a.messageItems(ctx, keep, q.format, true)
	if err != nil {
		return 0, seq, err
	}
	byHash := map[string]messageItem{}
	for _, it := range items {
		byHash[it.ItemHash] = it
	}
	for _, h := range hashes { // outbox order
		it, ok := byHash[h]
		if !ok {
			continue
		}
		if err := write(it, at[h]); err != nil {
			return 0, seq, err
		}
	}
	return len(evs), last, nil
}
