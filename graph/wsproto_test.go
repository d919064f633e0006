package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/live"
)

// wsFrame is a server message of either protocol.
type wsFrame struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// wsScript drives one raw websocket connection.
type wsScript struct {
	t    *testing.T
	conn *websocket.Conn
	db   *database.DB
	bus  events.Publisher
	n    int // events published
}

func dialWS(t *testing.T, srv *httptest.Server, subprotocol string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var protos []string
	if subprotocol != "" {
		protos = []string{subprotocol}
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: protos})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

func (s *wsScript) send(msg string) {
	s.t.Helper()
	require.NoError(s.t, s.conn.Write(s.t.Context(), websocket.MessageText, []byte(msg)))
}

// read returns the next frame; keep-alives (ka, pong) are skipped unless
// keepAlives.
func (s *wsScript) read(keepAlives bool) wsFrame {
	s.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
		_, b, err := s.conn.Read(ctx)
		cancel()
		require.NoError(s.t, err)
		var f wsFrame
		require.NoError(s.t, json.Unmarshal(b, &f), "%s", b)
		if !keepAlives && (f.Type == "ka" || f.Type == "pong") {
			continue
		}
		return f
	}
}

func (s *wsScript) expect(typ, id string) wsFrame {
	s.t.Helper()
	f := s.read(typ == "ka" || typ == "pong")
	require.Equal(s.t, typ, f.Type, "frame %+v", f)
	require.Equal(s.t, id, f.ID, "frame %+v", f)
	return f
}

// closed reads until the connection closes and checks the close code.
func (s *wsScript) closed(code int) {
	s.t.Helper()
	var err error
	for n := 0; err == nil; n++ {
		require.Less(s.t, n, 100, "the node never closed the connection")
		ctx, cancel := context.WithTimeout(s.t.Context(), 10*time.Second)
		_, _, err = s.conn.Read(ctx)
		cancel()
	}
	require.Equal(s.t, code, int(websocket.CloseStatus(err)), "close error: %v", err)
}

// event publishes a processed message on channel WSP.
func (s *wsScript) event() string {
	s.t.Helper()
	s.n++
	return processed(s.t, s.db, s.bus, fmt.Sprintf("wsproto %s %d", s.t.Name(), s.n), "WSP", s.n, nil)
}

// nexts reads one data frame per id (of type typ), in any order, each
// carrying hash.
func (s *wsScript) nexts(typ, hash string, ids ...string) {
	s.t.Helper()
	var got []string
	for range ids {
		f := s.read(false)
		require.Equal(s.t, typ, f.Type, "frame %+v", f)
		var p struct {
			Data struct{ Messages struct{ Hash string } }
		}
		require.NoError(s.t, json.Unmarshal(f.Payload, &p))
		require.Equal(s.t, hash, p.Data.Messages.Hash)
		got = append(got, f.ID)
	}
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	require.Equal(s.t, want, got)
}

// subscribedScript opens an acknowledged connection to a live node and
// subscribes n times to wspQuery (ids s0, s1, ...), once the hub counts
// them all.
func subscribedScript(t *testing.T, db *database.DB, n int) (*graph.Hub, *wsScript, []string) {
	t.Helper()
	hub, bus, srv := liveNode(t, db, graph.HubConfig{}, graph.HandlerConfig{})
	s := ackedScript(t, db, bus, srv)
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprint("s", i))
		s.send(subscribeMsg("subscribe", ids[i], wspQuery))
	}
	require.Eventually(t, func() bool { return hub.Subscribers() == n }, 10*time.Second, 5*time.Millisecond)
	return hub, s, ids
}

// ackedScript opens a graphql-transport-ws connection to srv and has it
// acknowledged.
func ackedScript(t *testing.T, db *database.DB, bus events.Publisher, srv *httptest.Server) *wsScript {
	t.Helper()
	s := &wsScript{t: t, conn: dialWS(t, srv, "graphql-transport-ws"), db: db, bus: bus}
	s.send(`{"type":"connection_init"}`)
	s.expect("connection_ack", "")
	return s
}

const wspQuery = `subscription { messages(filter: {channels: ["WSP"]}) { hash } }`

func subscribeMsg(typ, id, query string) string {
	b, _ := json.Marshal(map[string]any{"type": typ, "id": id, "payload": map[string]any{"query": query}})
	return string(b)
}

// TestWebsocketProtocolEdgeCases drives both subprotocols through their
// edge cases: what the node answers, and which close code ends the
// connection when the client breaks the protocol.
func TestWebsocketProtocolEdgeCases(t *testing.T) {
	const init = `{"type":"connection_init"}`
	sub := func(id string) string { return subscribeMsg("subscribe", id, wspQuery) }
	start := func(id string) string { return subscribeMsg("start", id, wspQuery) }
	cases := []struct {
		name     string
		protocol string
		cfg      graph.HandlerConfig
		run      func(s *wsScript, hub *graph.Hub)
	}{
		{"unknown message type closes 4400", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, _ *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(`{"type":"bogus"}`)
			s.closed(4400)
		}},
		{"malformed JSON closes 4400", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, _ *graph.Hub) {
			s.send(`{"type":`)
			s.closed(4400)
		}},
		{"subscribe before init closes 4401", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, _ *graph.Hub) {
			s.send(sub("1"))
			s.closed(4401)
		}},
		{"init timeout closes 4408", "graphql-transport-ws", graph.HandlerConfig{InitTimeout: 200 * time.Millisecond}, func(s *wsScript, _ *graph.Hub) {
			s.closed(4408)
		}},
		{"duplicate subscribe id closes 4409", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, _ *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(sub("a"))
			s.send(sub("a"))
			s.closed(4409)
		}},
		{"second init closes 4429", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, _ *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(init)
			s.closed(4429)
		}},
		{"ping is answered with pong", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, _ *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(`{"type":"ping"}`)
			s.expect("pong", "")
		}},
		{"keep-alive pongs", "graphql-transport-ws", graph.HandlerConfig{KeepAlive: 50 * time.Millisecond}, func(s *wsScript, _ *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.expect("pong", "")
			s.expect("pong", "")
		}},
		{"invalid operation answers error and keeps the connection", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, hub *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(subscribeMsg("subscribe", "bad", `subscription { nope }`))
			f := s.expect("error", "bad")
			require.Contains(s.t, string(f.Payload), "nope")
			s.send(sub("good"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("next", s.event(), "good")
		}},
		{"a resolver error answers next with errors, then complete", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, hub *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(subscribeMsg("subscribe", "c", `subscription { messages(after: "not a cursor") { hash } }`))
			f := s.expect("next", "c")
			require.Contains(s.t, string(f.Payload), "malformed event cursor")
			s.expect("complete", "c")
			require.Zero(s.t, hub.Subscribers())
		}},
		{"a query over the socket answers next then complete", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, _ *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(subscribeMsg("subscribe", "q", `{ messages(first: 1) { totalCount } }`))
			f := s.expect("next", "q")
			require.Contains(s.t, string(f.Payload), "totalCount")
			s.expect("complete", "q")
		}},
		{"complete stops a running subscription", "graphql-transport-ws", graph.HandlerConfig{}, func(s *wsScript, hub *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(sub("a"))
			s.send(sub("b"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 2 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("next", s.event(), "a", "b")
			s.send(`{"type":"complete","id":"a"}`)
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 5*time.Millisecond)
			s.send(sub("c"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 2 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("next", s.event(), "b", "c")
			s.nexts("next", s.event(), "b", "c")
			s.send(sub("a")) // a completed id may be used again
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 3 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("next", s.event(), "a", "b", "c")
		}},
		{"legacy: ack, ka, data, stop", "graphql-ws", graph.HandlerConfig{}, func(s *wsScript, hub *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.expect("ka", "")
			s.send(start("1"))
			s.send(start("2"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 2 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("data", s.event(), "1", "2")
			s.send(`{"type":"stop","id":"1"}`)
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("data", s.event(), "2")
			s.send(start("3"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 2 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("data", s.event(), "2", "3")
			s.send(`{"type":"connection_terminate"}`)
			s.closed(1000)
		}},
		{"legacy without subprotocol: keep-alive ka", "", graph.HandlerConfig{KeepAlive: 50 * time.Millisecond}, func(s *wsScript, _ *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.expect("ka", "")
			s.expect("ka", "")
		}},
		{"legacy: unknown message type answers error and keeps the connection", "graphql-ws", graph.HandlerConfig{}, func(s *wsScript, hub *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(`{"type":"bogus","id":"x"}`)
			s.expect("error", "x")
			s.send(start("1"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 5*time.Millisecond)
			s.nexts("data", s.event(), "1")
		}},
		{"legacy: start with a running id replaces it", "graphql-ws", graph.HandlerConfig{}, func(s *wsScript, hub *graph.Hub) {
			s.send(init)
			s.expect("connection_ack", "")
			s.send(start("1"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 5*time.Millisecond)
			s.send(start("1"))
			require.Eventually(s.t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 5*time.Millisecond)
			h := s.event()
			s.nexts("data", h, "1")
			h2 := s.event() // only one subscription answers per event
			s.nexts("data", h2, "1")
		}},
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				hub, bus, srv := liveNode(t, db, graph.HubConfig{}, tc.cfg)
				s := &wsScript{t: t, conn: dialWS(t, srv, tc.protocol), db: db, bus: bus}
				tc.run(s, hub)
			})
		}
	})
}

// TestIdleSubscriptionsAddNoGoroutines checks that a connection's idle
// `messages` subscriptions cost no goroutine each: the goroutine count
// with 50 idle subscriptions on one connection is that with one, and
// every one of them still gets the next event.
func TestIdleSubscriptionsAddNoGoroutines(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hub, bus, srv := liveNode(t, db, graph.HubConfig{}, graph.HandlerConfig{})
		s := ackedScript(t, db, bus, srv)
		s.send(subscribeMsg("subscribe", "0", wspQuery))
		require.Eventually(t, func() bool { return hub.Subscribers() == 1 }, 10*time.Second, 5*time.Millisecond)
		s.nexts("next", s.event(), "0") // the connection's writer has run and ended
		one := -1
		require.Eventually(t, func() bool { // the same count on two polls: settled
			prev := one
			one = runtime.NumGoroutine()
			return one == prev
		}, 10*time.Second, 20*time.Millisecond)

		const n = 50
		ids := []string{"0"}
		for i := 1; i < n; i++ {
			ids = append(ids, fmt.Sprint(i))
			s.send(subscribeMsg("subscribe", ids[i], wspQuery))
		}
		require.Eventually(t, func() bool { return hub.Subscribers() == n }, 10*time.Second, 5*time.Millisecond)
		require.Eventually(t, func() bool { return runtime.NumGoroutine() <= one+2 }, 10*time.Second, 10*time.Millisecond,
			"goroutines with %d idle subscriptions (%d with one)", n, one)
		s.nexts("next", s.event(), ids...)
	})
}

// TestIdleSubscriptionRunsAgainWithItsVariables: an idle subscription
// lets go of its executed operation and runs it again, with the same
// variables (in its filter and in its selection), when an event needs
// executing; events arrive complete and in order, resumed or not, and
// other subscriptions of the connection are unaffected.
func TestIdleSubscriptionRunsAgainWithItsVariables(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hub, bus, srv := liveNode(t, db, graph.HubConfig{}, graph.HandlerConfig{})
		s := ackedScript(t, db, bus, srv)
		const q = `subscription($chs: [String!], $withTime: Boolean!) {
			messages(filter: {channels: $chs}) { hash message { channel } at @include(if: $withTime) } }`
		sub := func(id string, withTime bool) {
			b, _ := json.Marshal(map[string]any{"type": "subscribe", "id": id, "payload": map[string]any{
				"query": q, "variables": map[string]any{"chs": []string{"WSP"}, "withTime": withTime}}})
			s.send(string(b))
		}
		sub("with", true)
		sub("without", false)
		s.send(subscribeMsg("subscribe", "plain", wspQuery))
		require.Eventually(t, func() bool { return hub.Subscribers() == 3 }, 10*time.Second, 5*time.Millisecond)
		for round := range 3 {
			hash := s.event()
			got := map[string]map[string]any{}
			for range 3 {
				f := s.read(false)
				require.Equal(t, "next", f.Type, "frame %+v", f)
				var p struct {
					Data struct{ Messages map[string]any }
				}
				require.NoError(t, json.Unmarshal(f.Payload, &p))
				got[f.ID] = p.Data.Messages
			}
			require.Equal(t, hash, got["with"]["hash"])
			require.Equal(t, map[string]any{"channel": "WSP"}, got["with"]["message"])
			require.Contains(t, got["with"], "at", "round %d: $withTime kept", round)
			require.Equal(t, hash, got["without"]["hash"])
			require.NotContains(t, got["without"], "at", "round %d: $withTime kept", round)
			require.Equal(t, map[string]any{"hash": hash}, got["plain"])
		}
		st := hub.Stats()
		require.EqualValues(t, 3*3, st.Executed, "each subscription executed each event")
		// After a write with nothing more waiting, an operation is let go,
		// so rounds 2 and 3 always run let-go operations again. Round 1
		// does too unless an event arrived before the writer's first idle
		// pass let the fresh operation go (a race under load).
		require.GreaterOrEqual(t, st.Revived, int64(3*2), "each idle subscription ran again for each later event")
	})
}

// TestSubscribersOfOneSelectionSetShareEncodedFrames checks that once a
// live event's payload is written for one subscriber, the others with the
// same selection set get the same bytes under their own ids, without
// execution: on one connection the writer serves them in turn, so the
// first executes and every other one reuses its bytes.
func TestSubscribersOfOneSelectionSetShareEncodedFrames(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		const n = 20
		hub, s, ids := subscribedScript(t, db, n)
		for round := int64(1); round <= 2; round++ {
			s.nexts("next", s.event(), ids...)
			st := hub.Stats()
			require.Equal(t, round, st.Executed, "one execution per event")
			require.Equal(t, round*(n-1), st.Encoded, "every other subscriber wrote the shared bytes")
			require.Equal(t, st.Encoded, st.Shared)
		}
	})
}

// TestConcurrentReplaysAreBoundedAndComplete checks that subscribers
// resuming together, their outbox reads limited to one at a time
// (MaxReplays) in small batches, each still replay every missed event in
// order and then continue live.
func TestConcurrentReplaysAreBoundedAndComplete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hub, bus, srv := liveNode(t, db, graph.HubConfig{Config: live.Config{MaxReplays: 1, ReplayBatch: 2}}, graph.HandlerConfig{})
		s := &wsScript{t: t, db: db, bus: bus}
		var hashes []string
		for range 5 {
			hashes = append(hashes, s.event())
		}
		const n = 20
		q := `subscription { messages(filter: {channels: ["WSP"]}, after: "0") { hash } }`
		var subs []*wsSub
		for range n {
			subs = append(subs, subscribe(t, srv, q, nil))
		}
		for _, sub := range subs {
			for _, h := range hashes {
				require.Equal(t, h, sub.next()["messages"].(map[string]any)["hash"])
			}
		}
		require.Eventually(t, func() bool { return hub.Subscribers() == n }, 10*time.Second, 5*time.Millisecond)
		live := s.event()
		for _, sub := range subs {
			require.Equal(t, live, sub.next()["messages"].(map[string]any)["hash"])
		}
	})
}
