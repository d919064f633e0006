package live_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/read"
	"github.com/alephql/alephql/rest"
)

// readJSON reads one text frame of c into v.
func readJSON(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v), "%s", b)
}

// TestRESTFeedAndGraphQLSubscriptionShareOneHub: one live hub serves a
// REST /api/ws0/messages feed and a GraphQL messages subscription with
// the same filter; both receive the same events, in outbox order, with
// the same sequence numbers, and the hub counts both subscribers.
func TestRESTFeedAndGraphQLSubscriptionShareOneHub(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		log := dbtest.Logger()
		bus := events.NewLocal(64)
		lh, err := live.NewHub(live.Config{}, db.Client, bus, log)
		require.NoError(t, err)
		gh, err := graph.WrapHub(lh, 0)
		require.NoError(t, err)
		hctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- lh.Run(hctx) }()
		t.Cleanup(func() { stop(); require.NoError(t, <-done) })
		select {
		case <-lh.Ready():
		case err := <-done:
			t.Fatalf("hub: %v", err)
		}

		schema, err := graph.NewSchema(graph.Limits{}, db.Client, log, graph.WithHub(gh))
		require.NoError(t, err)
		reader, err := read.New(read.Config{}, db.Client)
		require.NoError(t, err)
		api, err := rest.New(rest.Config{}, reader, nil, bus, log, rest.WithHub(lh))
		require.NoError(t, err)
		mux := http.NewServeMux()
		for p, h := range api.Routes() {
			mux.Handle(p, h)
		}
		mux.Handle("/graphql", graph.NewHandler(graph.HandlerConfig{}, schema, log))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")

		feed, _, err := websocket.Dial(ctx, wsURL+"/api/ws0/messages?history=0&channels=A", nil)
		require.NoError(t, err)
		t.Cleanup(func() { feed.CloseNow() })
		gql, _, err := websocket.Dial(ctx, wsURL+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		require.NoError(t, err)
		t.Cleanup(func() { gql.CloseNow() })
		send := func(v any) {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			require.NoError(t, gql.Write(ctx, websocket.MessageText, b))
		}
		send(map[string]any{"type": "connection_init"})
		var ack struct{ Type string }
		readJSON(t, gql, &ack)
		require.Equal(t, "connection_ack", ack.Type)
		send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
			"query": `subscription { messages(filter: {channels: ["A"]}) { __typename seq hash } }`}})
		require.Eventually(t, func() bool { return lh.Stats().Subscribers == 2 }, 10*time.Second, 5*time.Millisecond,
			"the feed and the subscription registered with the one hub")

		base := time.Now().UTC().Truncate(time.Second)
		type got struct {
			Seq  int64
			Hash string
		}
		var want []got
		for i, ch := range []string{"A", "B", "A", "B", "B", "A"} {
			sum := sha256.Sum256(fmt.Appendf(nil, "shared-%d", i))
			h := hex.EncodeToString(sum[:])
			tm := base.Add(time.Duration(i) * time.Second)
			tx, err := db.Client.Tx(ctx)
			require.NoError(t, err)
			tx.Message.Create().SetID(h).SetType("POST").SetChain("ETH").SetSender("0xalice").SetSignature("0xsig").
				SetItemType("inline").SetItemContent("{}").SetContent(json.RawMessage(`{"address":"0xalice"}`)).
				SetTime(tm).SetReceptionTime(tm).SetOwner("0xalice").SetChannel(ch).SetSize(2).SaveX(ctx)
			tx.MessageStatus.Create().SetID(h).SetStatus(messagestatus.StatusProcessed).SetReceptionTime(tm).SetUpdatedAt(tm).SaveX(ctx)
			ev := tx.MessageEvent.Create().SetItemHash(h).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
			require.NoError(t, tx.Commit())
			require.NoError(t, bus.Publish(ctx, events.Event{Seq: ev.ID, Kind: events.Processed, At: tm, ItemHash: h, Channel: ch}))
			if ch == "A" {
				want = append(want, got{ev.ID, h})
			}
		}

		var fromREST, fromGQL []got
		for range want {
			var f struct {
				ItemHash string `json:"item_hash"`
				Channel  string `json:"channel"`
				EventSeq int64  `json:"event_seq"`
			}
			readJSON(t, feed, &f)
			require.Equal(t, "A", f.Channel)
			fromREST = append(fromREST, got{f.EventSeq, f.ItemHash})
			var n struct {
				Type    string
				ID      string
				Payload struct {
					Data struct {
						Messages struct {
							Typename string `json:"__typename"`
							Seq      int64
							Hash     string
						}
					}
				}
			}
			readJSON(t, gql, &n)
			require.Equal(t, "next", n.Type)
			m := n.Payload.Data.Messages
			require.Equal(t, "MessageProcessed", m.Typename)
			fromGQL = append(fromGQL, got{m.Seq, m.Hash})
		}
		require.Equal(t, want, fromREST, "the REST feed: channel A's events in outbox order")
		require.Equal(t, want, fromGQL, "the GraphQL subscription: the same events")
	})
}
