package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/live"
)

// wsSub is one graphql-transport-ws subscription on its own connection.
type wsSub struct {
	t    *testing.T
	conn *websocket.Conn
}

// subscribe opens a connection to srv and starts one subscription.
func subscribe(t *testing.T, srv *httptest.Server, query string, vars map[string]any) *wsSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"),
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	conn.SetReadLimit(8 << 20)
	s := &wsSub{t: t, conn: conn}
	t.Cleanup(func() { _ = conn.CloseNow() })
	s.send(map[string]any{"type": "connection_init"})
	var ack struct{ Type string }
	s.read(&ack)
	require.Equal(t, "connection_ack", ack.Type)
	s.send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": query, "variables": vars}})
	return s
}

func (s *wsSub) send(v any) {
	s.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(s.t, err)
	require.NoError(s.t, s.conn.Write(s.t.Context(), websocket.MessageText, b))
}

func (s *wsSub) read(v any) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := s.conn.Read(ctx)
	require.NoError(s.t, err)
	require.NoError(s.t, json.Unmarshal(b, v))
}

// next returns the data of the subscription's next event.
func (s *wsSub) next() map[string]any {
	s.t.Helper()
	for {
		var m struct {
			Type    string
			Payload struct {
				Data   map[string]any
				Errors []any
			}
		}
		s.read(&m)
		switch m.Type {
		case "ping", "pong":
			continue
		case "next":
			require.Empty(s.t, m.Payload.Errors)
			return m.Payload.Data
		}
		s.t.Fatalf("unexpected %q message", m.Type)
	}
}

// liveNode runs a hub over db and serves the API; it returns the hub, the
// bus that wakes it and the server.
func liveNode(t *testing.T, db *database.DB, cfg graph.HubConfig, hcfg graph.HandlerConfig) (*graph.Hub, events.Publisher, *httptest.Server) {
	t.Helper()
	bus := events.NewLocal(64)
	hub, err := graph.NewHub(cfg, db.Client, bus, dbtest.Logger())
	require.NoError(t, err)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	waitReady(t, hub, done)
	schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), graph.WithHub(hub))
	require.NoError(t, err)
	srv := httptest.NewServer(graph.NewHandler(hcfg, schema, dbtest.Logger()))
	t.Cleanup(func() {
		srv.Close()
		stop()
		require.NoError(t, <-done)
	})
	return hub, bus, srv
}

// processed writes a processed message of channel with its outbox row and
// wakes the hub.
func processed(t *testing.T, db *database.DB, bus events.Publisher, name, channel string, i int, mod func(*ent.MessageCreate)) string {
	t.Helper()
	h := hashOf(name)
	addMessage(t, db.Client, h, "POST", channel, i, mod)
	row := db.Client.MessageEvent.Create().SetItemHash(h).SetKind(string(events.Processed)).SetCreatedAt(time.Now().UTC()).SaveX(t.Context())
	require.NoError(t, bus.Publish(t.Context(), events.Event{Seq: row.ID, Kind: events.Processed, At: row.CreatedAt, ItemHash: h, Channel: channel}))
	return h
}

// TestLiveEventsExecuteOncePerSelectionSet checks that subscribers with the
// same selection set share one execution per live event whatever their
// filters, that each distinct selection set executes once, and that each
// subscriber still gets exactly the events its filter selects.
func TestLiveEventsExecuteOncePerSelectionSet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hub, bus, srv := liveNode(t, db, graph.HubConfig{}, graph.HandlerConfig{})
		const q1 = `subscription($ch: [String!], $after: Cursor) { messages(filter: {channels: $ch}, after: $after) { __typename cursor hash message { channel } } }`
		// Same selection set, filter written inline: shares with q1.
		const q1Inline = `subscription { messages(filter: {channels: ["FEED"]}) { __typename cursor hash message { channel } } }`
		const q2 = `subscription { messages(filter: {channels: ["FEED"]}) { hash seq } }`
		var feed1, other1, feed2 []*wsSub
		for i := range 40 {
			q := q1
			if i%2 == 1 {
				q = q1Inline
			}
			feed1 = append(feed1, subscribe(t, srv, q, map[string]any{"ch": []string{"FEED"}}))
		}
		for range 10 {
			other1 = append(other1, subscribe(t, srv, q1, map[string]any{"ch": []string{"OTHER"}}))
		}
		for range 50 {
			feed2 = append(feed2, subscribe(t, srv, q2, nil))
		}
		require.Eventually(t, func() bool { return hub.Subscribers() == 100 }, 10*time.Second, 10*time.Millisecond)

		h1 := processed(t, db, bus, "shared 1", "FEED", 1, nil)
		for _, s := range feed1 {
			got := s.next()["messages"].(map[string]any)
			require.Equal(t, h1, got["hash"])
			require.Equal(t, "MessageProcessed", got["__typename"])
			require.Equal(t, map[string]any{"channel": "FEED"}, got["message"])
		}
		for _, s := range feed2 {
			got := s.next()["messages"].(map[string]any)
			require.Equal(t, h1, got["hash"])
			require.NotContains(t, got, "message", "q2 did not ask for the message")
			require.Contains(t, got, "seq")
		}
		st := hub.Stats()
		require.Equal(t, int64(2), st.Executed, "one execution per selection set")
		require.Equal(t, int64(88), st.Shared)

		h2 := processed(t, db, bus, "shared 2", "OTHER", 2, nil)
		for _, s := range other1 {
			got := s.next()["messages"].(map[string]any)
			require.Equal(t, h2, got["hash"], "OTHER subscribers never got the FEED event")
		}
		st = hub.Stats()
		require.Equal(t, int64(3), st.Executed)
		require.Equal(t, int64(97), st.Shared)

		// A subscriber resuming with after replays on its own, then shares live.
		first := feed1[0]
		_ = first.conn.CloseNow()
		require.Eventually(t, func() bool { return hub.Subscribers() == 99 }, 10*time.Second, 10*time.Millisecond)
		h3 := processed(t, db, bus, "shared 3", "FEED", 3, nil)
		for _, s := range feed1[1:] {
			require.Equal(t, h3, s.next()["messages"].(map[string]any)["hash"])
		}
		resumed := subscribe(t, srv, q1, map[string]any{"ch": []string{"FEED"}, "after": "0"})
		require.Equal(t, h1, resumed.next()["messages"].(map[string]any)["hash"], "replay from the outbox")
		require.Equal(t, h3, resumed.next()["messages"].(map[string]any)["hash"], "replay skips the OTHER event")
		require.Eventually(t, func() bool { return hub.Subscribers() == 100 }, 10*time.Second, 10*time.Millisecond)
		h4 := processed(t, db, bus, "shared 4", "FEED", 4, nil)
		require.Equal(t, h4, resumed.next()["messages"].(map[string]any)["hash"], "then live")
	})
}

// TestSlowSubscriberIsCutOffWithReason checks that a client that stops
// reading is disconnected with WebsocketCloseSlowClient and a reason once
// a write to it waits longer than WriteTimeout, that other subscribers are
// not held up, and that the node lets go of everything it held for it.
func TestSlowSubscriberIsCutOffWithReason(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		var cutOff atomic.Int64
		hub, bus, srv := liveNode(t, db, graph.HubConfig{Config: live.Config{Buffer: 4}},
			graph.HandlerConfig{WriteTimeout: 300 * time.Millisecond, OnSlowClient: func() { cutOff.Add(1) }})
		before := runtime.NumGoroutine()
		slow := subscribe(t, srv, `subscription { messages(filter: {channels: ["BIG"]}) { hash message { content } } }`, nil)
		fast := subscribe(t, srv, `subscription { messages(filter: {channels: ["BIG"]}) { hash } }`, nil)
		require.Eventually(t, func() bool { return hub.Subscribers() == 2 }, 10*time.Second, 10*time.Millisecond)

		// Large events fill the socket buffers of a client that does not read.
		big := json.RawMessage(fmt.Sprintf(`{"address":"0xalice","body":%q}`, strings.Repeat("x", 256<<10)))
		var hashes []string
		for i := 0; cutOff.Load() == 0; i++ {
			require.Less(t, i, 400, "the slow client was never cut off")
			hashes = append(hashes, processed(t, db, bus, fmt.Sprint("big ", i), "BIG", i, func(m *ent.MessageCreate) { m.SetContent(big) }))
			require.Equal(t, hashes[i], fast.next()["messages"].(map[string]any)["hash"], "a fast subscriber is not held up")
		}
		// The slow client reads its backlog, then the close frame.
		var err error
		for n := 0; err == nil; n++ {
			require.Less(t, n, len(hashes)+5)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			_, _, err = slow.conn.Read(ctx)
			cancel()
		}
		require.Equal(t, graph.WebsocketCloseSlowClient, int(websocket.CloseStatus(err)), "close error: %v", err)
		var ce websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Contains(t, ce.Reason, "slow consumer")

		// The node holds nothing for it any more.
		_ = fast.conn.CloseNow()
		require.Eventually(t, func() bool { return hub.Subscribers() == 0 }, 10*time.Second, 10*time.Millisecond)
		require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 10*time.Second, 20*time.Millisecond,
			"goroutines of the cut-off client are gone")
	})
}

// TestLifecycleEventsCarryMessagesFromEveryTable checks that events of
// messages that are not in the messages table (pending, rejected,
// forgotten) carry their message, live and replayed, and honour filters
// on it: the hub loads them in one query per table.
func TestLifecycleEventsCarryMessagesFromEveryTable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hub, bus, srv := liveNode(t, db, graph.HubConfig{}, graph.HandlerConfig{})
		ctx, c := t.Context(), db.Client
		const q = `subscription($after: Cursor) { messages(filter: {senders: ["0xcarol"]}, after: $after) { __typename hash message { sender channel } } }`
		live := subscribe(t, srv, q, nil)
		require.Eventually(t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 10*time.Millisecond)

		tm := time.Now().UTC()
		pending, rejected, forgotten, other := hashOf("lc pending"), hashOf("lc rejected"), hashOf("lc forgotten"), hashOf("lc other")
		c.PendingMessage.Create().SetItemHash(pending).SetType("POST").SetChain("ETH").SetSender("0xcarol").SetItemType("inline").
			SetItemContent(`{"address":"0xcarol"}`).SetChannel("P").SetTime(tm).SetReceptionTime(tm).SetNextAttempt(tm).SetOrigin("api").SaveX(ctx)
		c.PendingMessage.Create().SetItemHash(other).SetType("POST").SetChain("ETH").SetSender("0xdave").SetItemType("inline").
			SetItemContent(`{"address":"0xdave"}`).SetTime(tm).SetReceptionTime(tm).SetNextAttempt(tm).SetOrigin("api").SaveX(ctx)
		c.RejectedMessage.Create().SetID(rejected).SetErrorCode(201).SetRejectedAt(tm).
			SetMessage(json.RawMessage(`{"type":"POST","chain":"ETH","sender":"0xcarol","channel":"R","item_type":"inline","item_content":"{\"address\":\"0xcarol\"}","time":1714564800}`)).
			SaveX(ctx)
		c.ForgottenMessage.Create().SetID(forgotten).SetType("POST").SetChain("ETH").SetSender("0xcarol").SetItemType("inline").
			SetChannel("F").SetTime(tm).SetOwner("0xcarol").SetForgottenBy([]string{"0xforget"}).SetForgottenAt(tm).SaveX(ctx)
		first := int64(0)
		for _, e := range []struct {
			hash string
			kind events.Kind
		}{{pending, events.Pending}, {other, events.Pending}, {rejected, events.Rejected}, {forgotten, events.Forgotten}} {
			row := c.MessageEvent.Create().SetItemHash(e.hash).SetKind(string(e.kind)).SetCreatedAt(tm).SaveX(ctx)
			if first == 0 {
				first = row.ID
			}
			require.NoError(t, bus.Publish(ctx, events.Event{Seq: row.ID, Kind: e.kind, At: tm, ItemHash: e.hash}))
		}
		want := []map[string]any{
			{"__typename": "MessagePending", "hash": pending, "message": map[string]any{"sender": "0xcarol", "channel": "P"}},
			{"__typename": "MessageRejected", "hash": rejected, "message": map[string]any{"sender": "0xcarol", "channel": "R"}},
			{"__typename": "MessageForgotten", "hash": forgotten, "message": map[string]any{"sender": "0xcarol", "channel": "F"}},
		}
		replayed := subscribe(t, srv, q, map[string]any{"after": fmt.Sprint(first - 1)})
		for _, s := range []*wsSub{live, replayed} {
			for _, w := range want {
				require.Equal(t, w, s.next()["messages"])
			}
		}
	})
}
