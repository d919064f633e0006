package rest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/rest"
)

// wsClient reads frames of /api/ws0/messages.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func (n *node) dialWS(query string) *wsClient {
	n.t.Helper()
	c, _, err := websocket.Dial(n.t.Context(), "ws"+strings.TrimPrefix(n.url, "http")+"/api/ws0/messages?"+query, nil)
	require.NoError(n.t, err)
	n.t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: n.t, c: c}
}

// next reads one frame.
func (w *wsClient) next() map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := w.c.Read(ctx)
	require.NoError(w.t, err)
	var m map[string]any
	require.NoError(w.t, json.Unmarshal(b, &m))
	return m
}

// TestMessagesWebsocket: history (newest matching, oldest first), then
// live messages matching every filter only, none lost across a
// disconnection when the client resumes with after=<event_seq>.
func TestMessagesWebsocket(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		n.seed(80)
		ctx := t.Context()
		rows, err := db.Client.Message.Query().Where(message.Channel("TEST"), message.Type("POST")).
			Order(ent.Desc(message.FieldTime), ent.Desc(message.FieldID)).Limit(3).All(ctx)
		require.NoError(t, err)
		require.Len(t, rows, 3)
		ws := n.dialWS("history=3&channels=TEST&msgTypes=POST")
		for i := 2; i >= 0; i-- {
			f := ws.next()
			require.Equal(t, rows[i].ID, f["item_hash"], "history oldest first")
			require.Contains(t, f, "size")
		}
		acct, err := demo.NewAccount()
		require.NoError(t, err)
		submit := func(i int, channel, typ string) string {
			var raw []byte
			var h string
			var err error
			if typ == "POST" {
				raw, h, err = acct.Post(1.8e9+float64(i), channel, "note", map[string]any{"i": i}, "")
			} else {
				raw, h, err = acct.Aggregate(1.8e9+float64(i), channel, "profile", map[string]any{"i": i})
			}
			require.NoError(t, err)
			var sb submitBody
			require.Equal(t, 200, n.post("/api/v0/messages", map[string]any{"message": wire(t, raw), "sync": true}, &sb))
			return h
		}
		submit(1, "OTHER", "POST")
		submit(2, "TEST", "AGGREGATE")
		want := submit(3, "TEST", "POST")
		f := ws.next()
		require.Equal(t, want, f["item_hash"], "only the matching live message")
		seq := int64(f["event_seq"].(float64))
		require.Positive(t, seq)
		ws.c.CloseNow()

		// Missed while disconnected, then resumed without history.
		missed := []string{submit(4, "TEST", "POST"), submit(5, "TEST", "POST")}
		submit(6, "OTHER", "POST")
		ws = n.dialWS("channels=TEST&msgTypes=POST&after=" + strconv.FormatInt(seq, 10))
		require.Equal(t, missed[0], ws.next()["item_hash"])
		require.Equal(t, missed[1], ws.next()["item_hash"])
		live := submit(7, "TEST", "POST")
		require.Equal(t, live, ws.next()["item_hash"])
	})
}

// TestMessagesWebsocketLimit: past MaxFeeds, a feed is closed with 1013
// "Too many connections"; a bad parameter is a 422 before any upgrade.
func TestMessagesWebsocketLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{MaxFeeds: 1})
		first := n.dialWS("history=0")
		second := n.dialWS("history=0")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, _, err := second.c.Read(ctx)
		require.Equal(t, websocket.StatusTryAgainLater, websocket.CloseStatus(err))
		first.c.CloseNow()
		var e map[string]any
		require.Equal(t, 422, n.get("/api/ws0/messages?history=500", &e))
		require.Equal(t, "history", e["param"])
	})
}

// TestMessagesWebsocketResumePosition: the handshake names the position
// the feed starts after (X-Event-Seq), from which a later after= replays
// everything processed since; an after= the outbox cannot replay after
// (past its end: another database; or its events pruned) is a 410 with
// code EVENT_SEQ_GONE before any upgrade.
func TestMessagesWebsocketResumePosition(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		n.seed(10)
		ctx := t.Context()
		end, err := db.Client.MessageEvent.Query().Aggregate(ent.Max(messageevent.FieldID)).Int(ctx)
		require.NoError(t, err)
		require.Positive(t, end)
		base := "ws" + strings.TrimPrefix(n.url, "http") + "/api/ws0/messages?history=0"
		// The seed is older than the gap grace once this handshake runs.
		var seq int64
		require.Eventually(t, func() bool {
			c, resp, err := websocket.Dial(ctx, base, nil)
			require.NoError(t, err)
			c.CloseNow()
			seq, err = strconv.ParseInt(resp.Header.Get(rest.EventSeqHeader), 10, 64)
			require.NoError(t, err)
			return seq == int64(end)
		}, 15*time.Second, 200*time.Millisecond)

		acct, err := demo.NewAccount()
		require.NoError(t, err)
		raw, h, err := acct.Post(1.8e9, "TEST", "note", map[string]any{"i": 1}, "")
		require.NoError(t, err)
		var sb submitBody
		require.Equal(t, 200, n.post("/api/v0/messages", map[string]any{"message": wire(t, raw), "sync": true}, &sb))
		ws := n.dialWS("history=0&after=" + strconv.FormatInt(seq, 10))
		f := ws.next()
		require.Equal(t, h, f["item_hash"], "processed after the handshake's position")
		last := int64(f["event_seq"].(float64))

		gone := func(after int64) {
			t.Helper()
			_, resp, err := websocket.Dial(ctx, base+"&after="+strconv.FormatInt(after, 10), nil)
			require.Error(t, err)
			require.NotNil(t, resp)
			require.Equal(t, http.StatusGone, resp.StatusCode)
			var e map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			require.Equal(t, rest.CodeEventSeqGone, e["code"])
		}
		gone(last + 1)
		_, err = db.Client.MessageEvent.Delete().Where(messageevent.IDLTE(int64(end))).Exec(ctx)
		require.NoError(t, err)
		gone(seq - 1)
		// Right before the first event kept: nothing is lost.
		ws = n.dialWS("history=0&after=" + strconv.FormatInt(last-1, 10))
		require.Equal(t, h, ws.next()["item_hash"])
	})
}
