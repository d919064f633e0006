package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	gqlclient "github.com/99designs/gqlgen/client"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/live"
)

// cacheBackends are the in-process cache and a Redis one under a prefix of
// its own.
func cacheBackends(t *testing.T) map[string]func(t *testing.T) cache.Cache {
	return map[string]func(t *testing.T) cache.Cache{
		"lru": func(t *testing.T) cache.Cache {
			c, err := cache.NewLRU(100, time.Minute)
			require.NoError(t, err)
			return c
		},
		"redis": func(t *testing.T) cache.Cache {
			opts, err := redis.ParseURL(dbtest.RedisURL(t))
			require.NoError(t, err)
			rdb := redis.NewClient(opts)
			t.Cleanup(func() { _ = rdb.Close() })
			return cache.NewRedis(rdb, fmt.Sprintf("test:%d:", time.Now().UnixNano()))
		},
	}
}

// TestHubReadyOnceRunKnowsItsPosition: /readyz's hub check fails until
// Run has read the outbox end, and Ready is closed then.
func TestHubReadyOnceRunKnowsItsPosition(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hub, err := graph.NewHub(graph.HubConfig{Config: live.Config{PollInterval: time.Hour}}, db.Client, events.NewLocal(1), dbtest.Logger())
		require.NoError(t, err)
		require.Error(t, hub.ReadyCheck(t.Context()), "not started")
		select {
		case <-hub.Ready():
			t.Fatal("ready before Run")
		default:
		}
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- hub.Run(ctx) }()
		waitReady(t, hub, done)
		require.NoError(t, hub.ReadyCheck(t.Context()))
		stop()
		require.NoError(t, <-done)
	})
}

// waitReady waits until hub's Run (whose result done receives) knows its
// starting position: a test that writes outbox rows before then races
// with it.
func waitReady(t testing.TB, hub *graph.Hub, done chan error) {
	t.Helper()
	select {
	case <-hub.Ready():
	case err := <-done:
		done <- err // for the cleanup that waits for it
		t.Fatalf("hub stopped before it started: %v", err)
	}
}

// startHub runs a hub that only the bus wakes (no poll), so that a test
// decides when events arrive.
func startHub(t *testing.T, db *database.DB, bus events.Subscriber) *graph.Hub {
	t.Helper()
	hub, err := graph.NewHub(graph.HubConfig{Config: live.Config{PollInterval: time.Hour}}, db.Client, bus, dbtest.Logger())
	require.NoError(t, err)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	waitReady(t, hub, done)
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })
	return hub
}

// TestCacheNeverServesStaleData reads a message and an aggregate through
// the cache, changes them as the pipeline does (rows and outbox row in one
// transaction, event published after the commit) and reads again: before
// the event arrives (a late event), and after. Changing rows without an
// outbox row shows the cache does serve hits.
func TestCacheNeverServesStaleData(t *testing.T) {
	for name, newCache := range cacheBackends(t) {
		t.Run(name, func(t *testing.T) {
			// A fresh database each: the outbox starts empty, so entries
			// filled before the hub starts stay valid (see cache.Gens).
			dbtest.Each(t, func(t *testing.T, db *database.DB) {
				testCacheNeverServesStaleData(t, db, newCache(t), name)
			})
		})
	}
}

func testCacheNeverServesStaleData(t *testing.T, db *database.DB, c cache.Cache, name string) {
	ctx := t.Context()
	cl := db.Client
	owner := "0xcache" + name // each cache back-end gets rows of its own
	msgHash := hashOf("cached message " + name)
	tm := time.Now().UTC()
	cl.Message.Create().SetID(msgHash).SetType("POST").SetChain("ETH").SetSender(owner).SetItemType("inline").
		SetContent(json.RawMessage(`{"body":"v1"}`)).SetTime(tm).SetReceptionTime(tm).SetOwner(owner).SetSize(2).SaveX(ctx)
	cl.MessageStatus.Create().SetID(msgHash).SetStatus(messagestatus.StatusProcessed).SetReceptionTime(tm).SetUpdatedAt(tm).SaveX(ctx)
	cl.Aggregate.Create().SetOwner(owner).SetKey("profile").SetContent(json.RawMessage(`{"v":1}`)).
		SetCreationDatetime(tm).SetLastUpdated(tm).SetLastRevisionHash("r1").SetElementCount(1).SaveX(ctx)

	bus := events.NewLocal(16)
	hub := startHub(t, db, bus)
	schema, err := graph.NewSchema(graph.Limits{}, cl, dbtest.Logger(), graph.WithHub(hub), graph.WithCache(c))
	require.NoError(t, err)
	gc := gqlclient.New(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))

	var res struct {
		Message *struct {
			Content any
			Status  struct{ Status string }
		}
		Aggregate *struct {
			Content      any
			ElementCount int
		}
	}
	read := func() {
		t.Helper()
		res.Message, res.Aggregate = nil, nil
		gc.MustPost(`query($h: String!, $o: String!) { message(hash: $h) { content status { status } } aggregate(owner: $o, key: "profile") { content elementCount } }`,
			&res, gqlclient.Var("h", msgHash), gqlclient.Var("o", owner))
	}
	read()
	require.JSONEq(t, `{"body":"v1"}`, jsonOf(t, res.Message.Content))
	require.JSONEq(t, `{"v":1}`, jsonOf(t, res.Aggregate.Content))

	// A change with no outbox row (which the pipeline never makes) is not
	// seen: the second read is served from the cache.
	cl.Message.UpdateOneID(msgHash).SetContent(json.RawMessage(`{"body":"uncommitted to the outbox"}`)).ExecX(ctx)
	cl.Aggregate.Update().SetContent(json.RawMessage(`{"v":"not in the outbox"}`)).ExecX(ctx)
	read()
	require.JSONEq(t, `{"body":"v1"}`, jsonOf(t, res.Message.Content), "message served from the cache")
	require.JSONEq(t, `{"v":1}`, jsonOf(t, res.Aggregate.Content), "aggregate served from the cache")

	// The pipeline adds an element to the aggregate and forgets the
	// message, each in a transaction with its outbox row.
	elem, forget := hashOf("element "+name), hashOf("forget "+name)
	tx, err := cl.Tx(ctx)
	require.NoError(t, err)
	tx.Message.Create().SetID(elem).SetType("AGGREGATE").SetChain("ETH").SetSender(owner).SetItemType("inline").
		SetContent(json.RawMessage(`{"key":"profile"}`)).SetContentKey("profile").SetTime(tm).SetReceptionTime(tm).SetOwner(owner).SetSize(2).SaveX(ctx)
	tx.Aggregate.Update().SetContent(json.RawMessage(`{"v":2}`)).SetElementCount(2).SetLastRevisionHash(elem).ExecX(ctx)
	aggEv := tx.MessageEvent.Create().SetItemHash(elem).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
	tx.Message.DeleteOneID(msgHash).ExecX(ctx)
	tx.MessageStatus.UpdateOneID(msgHash).SetStatus(messagestatus.StatusForgotten).SetUpdatedAt(tm).ExecX(ctx)
	tx.ForgottenMessage.Create().SetID(msgHash).SetType("POST").SetChain("ETH").SetSender(owner).SetItemType("inline").
		SetTime(tm).SetOwner(owner).SetForgottenBy([]string{forget}).SetForgottenAt(tm).SaveX(ctx)
	forgetEv := tx.MessageEvent.Create().SetItemHash(msgHash).SetKind(string(events.Forgotten)).SetRelated(forget).SetCreatedAt(tm).SaveX(ctx)
	require.NoError(t, tx.Commit())

	// The events have not arrived yet: the hub is behind the outbox, so
	// the cache is bypassed.
	read()
	require.Equal(t, "FORGOTTEN", res.Message.Status.Status)
	require.Nil(t, res.Message.Content, "a forgotten message has no content")
	require.JSONEq(t, `{"v":2}`, jsonOf(t, res.Aggregate.Content))
	require.Equal(t, 2, res.Aggregate.ElementCount)

	// The events arrive; the entries filled before them are invalid.
	require.NoError(t, bus.Publish(ctx,
		events.Event{Seq: aggEv.ID, Kind: events.Processed, ItemHash: elem, Type: "AGGREGATE", Owner: owner, ContentKey: "profile"},
		events.Event{Seq: forgetEv.ID, Kind: events.Forgotten, ItemHash: msgHash, Type: "POST", Owner: owner, Related: forget}))
	require.Eventually(t, func() bool { seq, _ := hub.LastEvent(); return seq == forgetEv.ID }, 5*time.Second, 5*time.Millisecond)
	for range 2 { // the second read may come from the cache
		read()
		require.Equal(t, "FORGOTTEN", res.Message.Status.Status)
		require.Nil(t, res.Message.Content)
		require.JSONEq(t, `{"v":2}`, jsonOf(t, res.Aggregate.Content))
	}

	// A later change again: applied synchronously, read at once.
	tx, err = cl.Tx(ctx)
	require.NoError(t, err)
	elem3 := hashOf("element 3 " + name)
	tx.Message.Create().SetID(elem3).SetType("AGGREGATE").SetChain("ETH").SetSender(owner).SetItemType("inline").
		SetContent(json.RawMessage(`{"key":"profile"}`)).SetContentKey("profile").SetTime(tm).SetReceptionTime(tm).SetOwner(owner).SetSize(2).SaveX(ctx)
	tx.Aggregate.Update().SetContent(json.RawMessage(`{"v":3}`)).SetElementCount(3).ExecX(ctx)
	ev3 := tx.MessageEvent.Create().SetItemHash(elem3).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
	require.NoError(t, tx.Commit())
	read()
	require.JSONEq(t, `{"v":3}`, jsonOf(t, res.Aggregate.Content), "read after write, event not yet arrived")
	require.NoError(t, bus.Publish(ctx, events.Event{Seq: ev3.ID, Kind: events.Processed, ItemHash: elem3, Type: "AGGREGATE", Owner: owner}))
	require.Eventually(t, func() bool { seq, _ := hub.LastEvent(); return seq == ev3.ID }, 5*time.Second, 5*time.Millisecond)
	read()
	require.JSONEq(t, `{"v":3}`, jsonOf(t, res.Aggregate.Content))
	require.Equal(t, 3, res.Aggregate.ElementCount)
}

// TestMessageStatusSubscription follows one message through the
// messageStatus subscription: nothing while the node has not heard of it,
// then PENDING when it is queued, then PROCESSED.
func TestMessageStatusSubscription(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		cl := db.Client
		bus := events.NewLocal(16)
		hub := startHub(t, db, bus)
		schema, err := graph.NewSchema(graph.Limits{}, cl, dbtest.Logger(), graph.WithHub(hub))
		require.NoError(t, err)
		gc := gqlclient.New(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))

		hash := hashOf("status subscription")
		sub := gc.Websocket(fmt.Sprintf(`subscription { messageStatus(hash: %q) { hash status } }`, hash))
		defer sub.Close()
		require.Eventually(t, func() bool { return hub.Subscribers() == 1 }, 5*time.Second, 5*time.Millisecond)
		type ev struct {
			MessageStatus struct{ Hash, Status string }
		}
		next := func() ev {
			t.Helper()
			var e ev
			require.NoError(t, sub.Next(&e))
			return e
		}

		// Queued: pending row, status and outbox row in one transaction.
		tm := time.Now().UTC()
		tx, err := cl.Tx(ctx)
		require.NoError(t, err)
		tx.PendingMessage.Create().SetItemHash(hash).SetType("POST").SetChain("ETH").SetSender("0xalice").SetItemType("inline").
			SetItemContent(`{"address":"0xalice"}`).SetTime(tm).SetReceptionTime(tm).SetNextAttempt(tm).SetOrigin("api").SaveX(ctx)
		tx.MessageStatus.Create().SetID(hash).SetStatus(messagestatus.StatusPending).SetReceptionTime(tm).SetUpdatedAt(tm).SaveX(ctx)
		pending := tx.MessageEvent.Create().SetItemHash(hash).SetKind(string(events.Pending)).SetCreatedAt(tm).SaveX(ctx)
		require.NoError(t, tx.Commit())
		require.NoError(t, bus.Publish(ctx, events.Event{Seq: pending.ID, Kind: events.Pending, ItemHash: hash}))
		got := next()
		require.Equal(t, hash, got.MessageStatus.Hash)
		require.Equal(t, "PENDING", got.MessageStatus.Status)

		// Processed.
		tm2 := tm.Add(time.Second)
		tx, err = cl.Tx(ctx)
		require.NoError(t, err)
		tx.Message.Create().SetID(hash).SetType("POST").SetChain("ETH").SetSender("0xalice").SetItemType("inline").
			SetTime(tm).SetReceptionTime(tm).SetOwner("0xalice").SaveX(ctx)
		tx.MessageStatus.UpdateOneID(hash).SetStatus(messagestatus.StatusProcessed).SetUpdatedAt(tm2).ExecX(ctx)
		tx.PendingMessage.Delete().ExecX(ctx)
		done := tx.MessageEvent.Create().SetItemHash(hash).SetKind(string(events.Processed)).SetCreatedAt(tm2).SaveX(ctx)
		require.NoError(t, tx.Commit())
		require.NoError(t, bus.Publish(ctx, events.Event{Seq: done.ID, Kind: events.Processed, ItemHash: hash, Type: "POST", Owner: "0xalice"}))
		got = next()
		require.Equal(t, "PROCESSED", got.MessageStatus.Status)
	})
}

// jsonOf is v as JSON.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
