package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/rest"
)

// cacheBackends returns makers of an in-process and a Redis cache (a
// prefix of its own per call).
func cacheBackends() map[string]func(t *testing.T) cache.Cache {
	return map[string]func(t *testing.T) cache.Cache{
		"lru": func(t *testing.T) cache.Cache {
			c, err := cache.NewLRU(1000, time.Minute)
			require.NoError(t, err)
			return c
		},
		"redis": func(t *testing.T) cache.Cache {
			opts, err := redis.ParseURL(dbtest.RedisURL(t))
			require.NoError(t, err)
			rdb := redis.NewClient(opts)
			t.Cleanup(func() { _ = rdb.Close() })
			return cache.NewRedis(rdb, fmt.Sprintf("resttest:%d:", time.Now().UnixNano()))
		},
	}
}

// cachedNode is a node whose hot routes answer from c, validated by a
// running hub that the node's own processor's bus wakes (and a poll, for
// changes made by other nodes).
type cachedNode struct {
	*node
	hub *live.Hub
}

func newCachedNode(t *testing.T, db *database.DB, c cache.Cache) *cachedNode {
	t.Helper()
	bus := events.NewLocal(0)
	hub, err := live.NewHub(live.Config{PollInterval: 50 * time.Millisecond}, db.Client, bus, dbtest.Logger())
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })
	<-hub.Ready()
	store, err := hub.CacheStore(c, 5*time.Minute, nil, dbtest.Logger())
	require.NoError(t, err)
	return &cachedNode{node: newNodeOn(t, db, bus, rest.Config{}, rest.WithCache(store)), hub: hub}
}

// caughtUp waits until the hub has applied the whole outbox: entries
// stored from then on are trusted.
func (n *cachedNode) caughtUp() {
	n.t.Helper()
	require.Eventually(n.t, func() bool {
		last, err := n.db.Client.MessageEvent.Query().Order(ent.Desc(messageevent.FieldID)).First(context.Background())
		if err != nil {
			return false
		}
		seq, _ := n.hub.LastEvent()
		return seq >= last.ID
	}, 10*time.Second, 5*time.Millisecond)
}

// raw fetches a path and returns its status and body.
func (n *node) raw(path string) (int, string) {
	n.t.Helper()
	res, err := http.Get(n.url + path)
	require.NoError(n.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(n.t, err)
	return res.StatusCode, string(b)
}

// submitSync posts a message with sync and requires it processed.
func (n *node) submitSync(raw []byte) {
	n.t.Helper()
	var ans map[string]any
	require.Equal(n.t, http.StatusOK, n.post("/api/v0/messages", map[string]any{"message": json.RawMessage(raw), "sync": true}, &ans), "%v", ans)
}

// TestCachedRoutesNeverServeStaleAnswers reads every cached route twice
// (the second read a hit: a row changed without an outbox row, which the
// pipeline never does, does not show), then submits matching messages
// through POST /api/v0/messages and reads again at once: each answer
// shows them. Both back-ends, both caches.
func TestCachedRoutesNeverServeStaleAnswers(t *testing.T) {
	for name, newCache := range cacheBackends() {
		t.Run(name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *database.DB) {
				testCachedRoutes(t, db, newCache(t))
			})
		})
	}
}

func testCachedRoutes(t *testing.T, db *database.DB, c cache.Cache) {
	ctx := t.Context()
	n := newCachedNode(t, db, c)
	acc, err := demo.NewAccount()
	require.NoError(t, err)
	addr := acc.Address()
	t0 := float64(time.Now().Add(-time.Hour).Unix())
	p1raw, p1, err := acc.Post(t0, "CA", "note", map[string]any{"body": "one"}, "")
	require.NoError(t, err)
	n.submitSync(p1raw)
	a1raw, _, err := acc.Aggregate(t0+1, "CA", "profile", map[string]any{"name": "one"})
	require.NoError(t, err)
	n.submitSync(a1raw)
	n.caughtUp()

	routes := []string{
		"/api/v0/messages.json?channels=CA",
		"/api/v0/messages.json?channels=CA&cursor=",
		"/api/v0/messages/page/1.json?channels=CA&pagination=5",
		"/api/v0/messages.json?addresses=" + addr + "&pagination=5",
		"/api/v0/messages.json?pagination=5",
		"/api/v0/posts.json?addresses=" + addr,
		"/api/v1/posts.json?channels=CA",
		"/api/v0/aggregates/" + addr + ".json",
		"/api/v0/messages/" + p1,
	}
	before := map[string]string{}
	for _, r := range routes {
		st, body := n.raw(r)
		require.Equal(t, http.StatusOK, st, "%s: %s", r, body)
		before[r] = body
	}
	// Rows changed without an outbox row: cached answers do not show it.
	db.Client.Message.UpdateOneID(p1).SetContent(json.RawMessage(`{"not":"in the outbox"}`)).ExecX(ctx)
	db.Client.Post.UpdateOneID(p1).SetContent(json.RawMessage(`{"not":"in the outbox"}`)).ExecX(ctx)
	db.Client.Aggregate.Update().Where(aggregate.Owner(addr)).SetContent(json.RawMessage(`{"not":"in the outbox"}`)).ExecX(ctx)
	for _, r := range routes {
		st, body := n.raw(r)
		require.Equal(t, http.StatusOK, st, r)
		require.Equal(t, before[r], body, "%s served from the cache", r)
	}

	// A new post in CA and a new aggregate value: every answer shows them
	// at once (the hub may or may not have applied them yet).
	p2raw, p2, err := acc.Post(t0+2, "CA", "note", map[string]any{"body": "two"}, "")
	require.NoError(t, err)
	n.submitSync(p2raw)
	a2raw, _, err := acc.Aggregate(t0+3, "CA", "profile", map[string]any{"name": "two"})
	require.NoError(t, err)
	n.submitSync(a2raw)
	for range 2 { // the second read may be a hit
		for _, r := range routes[:7] {
			st, body := n.raw(r)
			require.Equal(t, http.StatusOK, st, r)
			require.Contains(t, body, p2, "%s shows the new post", r)
		}
		_, body := n.raw(routes[7])
		require.Contains(t, body, `"name":"two"`, "the aggregate's new value")
	}

	// p1 forgotten: its own answer and the lists change.
	fraw, _, err := acc.Forget(t0+4, "CA", p1)
	require.NoError(t, err)
	n.submitSync(fraw)
	for range 2 {
		_, body := n.raw(routes[8])
		require.Contains(t, body, `"status":"forgotten"`)
		for _, r := range []string{routes[0], routes[1], routes[6]} {
			var page struct {
				Messages []struct {
					ItemHash string `json:"item_hash"`
				} `json:"messages"`
				Posts []struct {
					ItemHash string `json:"item_hash"`
				} `json:"posts"`
			}
			require.Equal(t, http.StatusOK, n.get(r, &page))
			var got []string
			for _, m := range append(page.Messages, page.Posts...) {
				got = append(got, m.ItemHash)
			}
			require.Contains(t, got, p2, r)
			require.NotContains(t, got, p1, "%s: forgotten", r)
		}
	}
}

// TestCachedRoutesSharedRedis: two nodes on one database share a Redis
// cache; a message submitted through one shows at once on the other,
// whose hub may not have heard of it yet, even though the other node's
// entry was filled before.
func TestCachedRoutesSharedRedis(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		c := cacheBackends()["redis"](t)
		a, b := newCachedNode(t, db, c), newCachedNode(t, db, c)
		acc, err := demo.NewAccount()
		require.NoError(t, err)
		t0 := float64(time.Now().Add(-time.Hour).Unix())
		p1raw, p1, err := acc.Post(t0, "SH", "note", map[string]any{"body": "one"}, "")
		require.NoError(t, err)
		a.submitSync(p1raw)
		a.caughtUp()
		b.caughtUp()
		const route = "/api/v0/messages.json?channels=SH"
		for _, n := range []*cachedNode{a, b, a} {
			_, body := n.raw(route)
			require.Contains(t, body, p1)
		}
		p2raw, p2, err := acc.Post(t0+1, "SH", "note", map[string]any{"body": "two"}, "")
		require.NoError(t, err)
		a.submitSync(p2raw)
		for range 3 {
			for _, n := range []*cachedNode{b, a} {
				_, body := n.raw(route)
				require.Contains(t, body, p2, "read after write on either node")
			}
		}
	})
}
