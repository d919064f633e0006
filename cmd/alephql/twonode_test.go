package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/demo"
)

// wsMessage is one graphql-transport-ws protocol message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// subscribeWS opens a graphql-transport-ws subscription on base and
// returns the payloads of its "next" messages. The connection closes when
// the test ends.
func subscribeWS(t *testing.T, base, query string, vars map[string]any) <-chan json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	url := "ws" + strings.TrimPrefix(base, "http") + "graphql"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	write := func(m wsMessage) error {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return c.Write(ctx, websocket.MessageText, b)
	}
	read := func() (wsMessage, error) {
		var m wsMessage
		_, b, err := c.Read(ctx)
		if err != nil {
			return m, err
		}
		return m, json.Unmarshal(b, &m)
	}
	require.NoError(t, write(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)}))
	ack, err := read()
	require.NoError(t, err)
	require.Equal(t, "connection_ack", ack.Type)
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	require.NoError(t, write(wsMessage{ID: "1", Type: "subscribe", Payload: payload}))

	out := make(chan json.RawMessage, 16)
	go func() {
		defer close(out)
		for {
			m, err := read()
			if err != nil {
				return
			}
			switch m.Type {
			case "ping":
				if write(wsMessage{Type: "pong"}) != nil {
					return
				}
			case "next":
				select {
				case out <- m.Payload:
				case <-ctx.Done():
					return
				}
			case "error", "complete":
				select {
				case out <- json.RawMessage(`{"protocol":"` + m.Type + `","payload":` + string(m.Payload) + `}`):
				case <-ctx.Done():
				}
				return
			}
		}
	}()
	return out
}

// nextEvent waits for the subscription's next event and returns its data.
func nextEvent(t *testing.T, sub <-chan json.RawMessage) map[string]any {
	t.Helper()
	select {
	case p, ok := <-sub:
		require.True(t, ok, "subscription connection closed")
		var v struct {
			Data   map[string]any `json:"data"`
			Errors []any          `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(p, &v), "%s", p)
		require.Empty(t, v.Errors, "%s", p)
		require.NotNil(t, v.Data, "%s", p)
		return v.Data["messages"].(map[string]any)
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription event within 10s")
		return nil
	}
}

func TestTwoNodesShareLiveFeedsThroughRedis(t *testing.T) {
	// Two nodes share one PostgreSQL database and one Redis: a message
	// submitted to node A reaches a subscription opened on node B. The
	// test also listens on the Redis channel to check that node A
	// publishes its events there for the other nodes.
	pg := dbtest.NewPostgresDatabase(t)
	redisURL := dbtest.RedisURL(t)
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	watch, err := events.NewRedis(t.Context(), rdb, events.DefaultRedisChannel, 1024, dbtest.Logger())
	require.NoError(t, err)
	wctx, wcancel := context.WithCancel(context.Background())
	watchDone := make(chan error, 1)
	go func() { watchDone <- watch.Run(wctx) }()
	t.Cleanup(func() { wcancel(); <-watchDone })
	seen, err := watch.Subscribe(wctx)
	require.NoError(t, err)

	common := []string{"--db", pg, "--redis", redisURL, "--log-level", "warn"}
	baseA, stopA := startServe(t, append([]string{"--data-dir", t.TempDir()}, common...)...)
	baseB, stopB := startServe(t, append([]string{"--data-dir", t.TempDir()}, common...)...)

	channel := "TWONODE" + strings.ReplaceAll(t.Name(), "/", "_")
	const subQ = `subscription($f: MessageFilter, $after: Cursor) {
  messages(filter: $f, after: $after) { __typename cursor seq hash message { channel } }
}`
	// after: "0" replays from the start, so the first message is received
	// whether it commits before or after node B registers the
	// subscription; receiving it proves the subscription is live, and the
	// second message is then submitted while it is.
	sub := subscribeWS(t, baseB, subQ, map[string]any{"f": map[string]any{"channels": []string{channel}}, "after": "0"})

	acct, err := demo.NewAccount()
	require.NoError(t, err)
	var hashes []string
	lastSeq := 0.0
	const submitQ = `mutation($m: JSON!) { submitMessage(message: $m, sync: true) { hash status } }`
	for i, body := range []string{"first", "second"} {
		raw, hash, err := acct.Post(float64(1_700_000_000+i), channel, "note", map[string]any{"body": body}, "")
		require.NoError(t, err)
		hashes = append(hashes, hash)
		out := gql(t, baseA, submitQ, map[string]any{"m": json.RawMessage(raw)})
		require.Nil(t, out["errors"], out)
		res := out["data"].(map[string]any)["submitMessage"].(map[string]any)
		require.Equal(t, "PROCESSED", res["status"], out)

		// Node B delivers the message's events (pending, then processed)
		// in outbox order, none twice.
		for {
			ev := nextEvent(t, sub)
			require.Equal(t, hash, ev["hash"], "node B delivers the message node A processed: %v", ev)
			require.Equal(t, channel, ev["message"].(map[string]any)["channel"])
			seq := ev["seq"].(float64)
			require.Greater(t, seq, lastSeq, "events arrive in order, none twice")
			lastSeq = seq
			if ev["__typename"] == "MessageProcessed" {
				break
			}
			require.Equal(t, "MessagePending", ev["__typename"], ev)
		}

		// Node A published the event on Redis, where every node listens.
		require.Eventually(t, func() bool {
			for {
				select {
				case e, ok := <-seen.C:
					if !ok {
						return false
					}
					if e.ItemHash == hash && e.Kind == events.Processed {
						return true
					}
				default:
					return false
				}
			}
		}, 10*time.Second, 10*time.Millisecond, "node A publishes %s on redis", hash)
	}

	// Node B answers queries about them too (same database).
	for _, h := range hashes {
		out := gql(t, baseB, `query($h: String!) { message(hash: $h) { hash } }`, map[string]any{"h": h})
		require.Nil(t, out["errors"], out)
		require.Equal(t, h, out["data"].(map[string]any)["message"].(map[string]any)["hash"])
	}

	require.Equal(t, 0, stopA())
	require.Equal(t, 0, stopB())
}
