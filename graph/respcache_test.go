package graph_test

import (
	"encoding/json"
	"testing"
	"time"

	gqlclient "github.com/99designs/gqlgen/client"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
)

// TestFeedCacheNeverServesStalePage reads channel feed pages whose whole
// answers are cached (feedCache), changes rows as the pipeline does (rows
// and outbox row in one transaction, the event published later) and
// reads again: a new message shows at once, before and after its event; a
// change in another channel keeps the page cached; a query selecting more
// than the message rows is never served from the cache. Changing a row
// without an outbox row (which the pipeline never does) shows when the
// cache serves a page.
func TestFeedCacheNeverServesStalePage(t *testing.T) {
	for name, newCache := range cacheBackends(t) {
		t.Run(name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *database.DB) {
				testFeedCache(t, db, newCache(t))
			})
		})
	}
}

func testFeedCache(t *testing.T, db *database.DB, c cache.Cache) {
	ctx := t.Context()
	cl := db.Client
	tm := time.Now().UTC().Truncate(time.Second)
	add := func(cl *ent.Client, h, ch string, i int) {
		cl.Message.Create().SetID(h).SetType("POST").SetChain("ETH").SetSender("0xfeed").SetItemType("inline").
			SetContent(json.RawMessage(`{"body":"v1"}`)).SetTime(tm.Add(time.Duration(i) * time.Second)).SetReceptionTime(tm).
			SetOwner("0xfeed").SetChannel(ch).SetSize(2).SaveX(ctx)
	}
	a1, a2, b1 := hashOf("feed a1"), hashOf("feed a2"), hashOf("feed b1")
	add(cl, a1, "FA", 1)
	add(cl, a2, "FA", 2)
	add(cl, b1, "FB", 3)

	bus := events.NewLocal(16)
	hub := startHub(t, db, bus)
	schema, err := graph.NewSchema(graph.Limits{}, cl, dbtest.Logger(), graph.WithHub(hub), graph.WithCache(c))
	require.NoError(t, err)
	gc := gqlclient.New(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))

	type page struct {
		Messages struct {
			Edges []struct {
				Node struct {
					Hash    string
					Content any
					Status  *struct{ Status string }
				}
			}
			PageInfo *struct{ HasNextPage bool }
		}
	}
	read := func(q string, vars ...gqlclient.Option) (hashes []string, contents []string) {
		t.Helper()
		var p page
		gc.MustPost(q, &p, vars...)
		for _, e := range p.Messages.Edges {
			hashes = append(hashes, e.Node.Hash)
			contents = append(contents, jsonOf(t, e.Node.Content))
		}
		return hashes, contents
	}
	const feedA = `query($ch: String!) { messages(filter: {channels: [$ch]}, first: 10) { edges { node { hash content } } pageInfo { hasNextPage } } }`
	const all = `{ messages(first: 10) { edges { node { hash content } } } }`
	const withStatus = `query($ch: String!) { messages(filter: {channels: [$ch]}, first: 10) { edges { node { hash content status { status } } } } }`
	chA := gqlclient.Var("ch", "FA")
	commit := func(f func(tx *ent.Tx) []events.Event) []events.Event {
		t.Helper()
		tx, err := cl.Tx(ctx)
		require.NoError(t, err)
		evs := f(tx)
		require.NoError(t, tx.Commit())
		return evs
	}
	deliver := func(evs ...events.Event) {
		t.Helper()
		require.NoError(t, bus.Publish(ctx, evs...))
		last := evs[len(evs)-1].Seq
		require.Eventually(t, func() bool { seq, _ := hub.LastEvent(); return seq == last }, 5*time.Second, 5*time.Millisecond)
	}

	hs, _ := read(feedA, chA)
	require.Equal(t, []string{a2, a1}, hs)
	hs, _ = read(all)
	require.Equal(t, []string{b1, a2, a1}, hs)

	// A row change without an outbox row is not seen by cached pages,
	// and is by a query that selects more than the rows.
	cl.Message.UpdateOneID(a1).SetContent(json.RawMessage(`{"body":"not in the outbox"}`)).ExecX(ctx)
	_, cs := read(feedA, chA)
	require.JSONEq(t, `{"body":"v1"}`, cs[1], "page served from the cache")
	_, cs = read(withStatus, chA)
	require.JSONEq(t, `{"body":"not in the outbox"}`, cs[1], "not a cacheable selection")

	// A message processed in channel FB: FA's page stays cached, the
	// whole feed shows it at once, before its event arrives and after.
	b2 := hashOf("feed b2")
	evs := commit(func(tx *ent.Tx) []events.Event {
		add(tx.Client(), b2, "FB", 4)
		ev := tx.MessageEvent.Create().SetItemHash(b2).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
		return []events.Event{{Seq: ev.ID, Kind: events.Processed, ItemHash: b2, Type: "POST", Owner: "0xfeed"}}
	})
	hs, _ = read(all)
	require.Equal(t, []string{b2, b1, a2, a1}, hs, "read after write, event not yet arrived")
	deliver(evs...)
	for range 2 { // the second read may come from the cache
		hs, _ = read(all)
		require.Equal(t, []string{b2, b1, a2, a1}, hs)
	}
	_, cs = read(feedA, chA)
	require.JSONEq(t, `{"body":"v1"}`, cs[1], "a change in another channel keeps the page")

	// A message processed in FA: its cached page is not served.
	a3 := hashOf("feed a3")
	evs = commit(func(tx *ent.Tx) []events.Event {
		add(tx.Client(), a3, "FA", 5)
		ev := tx.MessageEvent.Create().SetItemHash(a3).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
		return []events.Event{{Seq: ev.ID, Kind: events.Processed, ItemHash: a3, Type: "POST", Owner: "0xfeed"}}
	})
	deliver(evs...) // no read in between: the page cached before is invalid
	for range 2 {
		hs, cs = read(feedA, chA)
		require.Equal(t, []string{a3, a2, a1}, hs)
		require.JSONEq(t, `{"body":"not in the outbox"}`, cs[2], "the page was read again")
	}

	// A message of FA forgotten: its cached page is not served.
	evs = commit(func(tx *ent.Tx) []events.Event {
		tx.Message.DeleteOneID(a2).ExecX(ctx)
		ev := tx.MessageEvent.Create().SetItemHash(a2).SetKind(string(events.Forgotten)).SetCreatedAt(tm).SaveX(ctx)
		return []events.Event{{Seq: ev.ID, Kind: events.Forgotten, ItemHash: a2, Type: "POST", Owner: "0xfeed"}}
	})
	deliver(evs...)
	for range 2 {
		hs, _ = read(feedA, chA)
		require.Equal(t, []string{a3, a1}, hs)
	}
}

// TestAddressCacheNeverServesStaleAnswer: an address page (messages,
// merged posts and aggregates of one address) served from the answer
// cache shows an amend and an aggregate update once their outbox events
// are applied, with no read in between to refresh it.
func TestAddressCacheNeverServesStaleAnswer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		c, err := cache.NewLRU(100, time.Minute)
		require.NoError(t, err)
		ctx := t.Context()
		cl := db.Client
		tm := time.Now().UTC().Truncate(time.Second)
		const owner = "0xaddr"
		msg := func(cl *ent.Client, h, typ string, i int) {
			cl.Message.Create().SetID(h).SetType(typ).SetChain("ETH").SetSender(owner).SetItemType("inline").
				SetContent(json.RawMessage(`{}`)).SetTime(tm.Add(time.Duration(i) * time.Second)).SetReceptionTime(tm).
				SetOwner(owner).SetChannel("ADDR").SetSize(2).SaveX(ctx)
		}
		p1, agg := hashOf("addr post"), hashOf("addr aggregate")
		msg(cl, p1, "POST", 1)
		msg(cl, agg, "AGGREGATE", 2)
		cl.Post.Create().SetID(p1).SetOwner(owner).SetType("note").SetChannel("ADDR").
			SetContent(json.RawMessage(`{"body":"v1"}`)).SetCreationDatetime(tm.Add(time.Second)).SaveX(ctx)
		cl.Aggregate.Create().SetOwner(owner).SetKey("profile").SetContent(json.RawMessage(`{"v":1}`)).
			SetCreationDatetime(tm).SetLastUpdated(tm).SetLastRevisionHash(agg).SetElementCount(1).SaveX(ctx)

		bus := events.NewLocal(16)
		hub := startHub(t, db, bus)
		schema, err := graph.NewSchema(graph.Limits{}, cl, dbtest.Logger(), graph.WithHub(hub), graph.WithCache(c))
		require.NoError(t, err)
		gc := gqlclient.New(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
		const q = `query($a: String!) {
			messages(filter: {senders: [$a]}, first: 5) { edges { node { hash } } }
			posts(filter: {owners: [$a]}, first: 5) { edges { node { hash content } } }
			aggregates(filter: {owners: [$a]}, first: 5) { edges { node { key content elementCount } } } }`
		var res struct {
			Messages struct {
				Edges []struct{ Node struct{ Hash string } }
			}
			Posts struct {
				Edges []struct {
					Node struct {
						Hash    string
						Content any
					}
				}
			}
			Aggregates struct {
				Edges []struct {
					Node struct {
						Key          string
						Content      any
						ElementCount int
					}
				}
			}
		}
		read := func() {
			t.Helper()
			res.Messages.Edges, res.Posts.Edges, res.Aggregates.Edges = nil, nil, nil
			gc.MustPost(q, &res, gqlclient.Var("a", owner))
		}
		deliver := func(ev events.Event) {
			t.Helper()
			require.NoError(t, bus.Publish(ctx, ev))
			require.Eventually(t, func() bool { seq, _ := hub.LastEvent(); return seq == ev.Seq }, 5*time.Second, 5*time.Millisecond)
		}
		read()
		require.Len(t, res.Messages.Edges, 2)
		require.JSONEq(t, `{"body":"v1"}`, jsonOf(t, res.Posts.Edges[0].Node.Content))

		// Served from the cache: a change without an outbox row is not seen.
		cl.Post.UpdateOneID(p1).SetContent(json.RawMessage(`{"body":"not in the outbox"}`)).ExecX(ctx)
		read()
		require.JSONEq(t, `{"body":"v1"}`, jsonOf(t, res.Posts.Edges[0].Node.Content))

		// An amend, applied with its outbox row.
		amend := hashOf("addr amend")
		tx, err := cl.Tx(ctx)
		require.NoError(t, err)
		msg(tx.Client(), amend, "POST", 3)
		tx.Post.Create().SetID(amend).SetOwner(owner).SetType("amend").SetAmends(p1).SetChannel("ADDR").
			SetContent(json.RawMessage(`{"body":"v2"}`)).SetCreationDatetime(tm.Add(3 * time.Second)).SaveX(ctx)
		tx.Post.UpdateOneID(p1).SetLatestAmend(amend).ExecX(ctx)
		ev := tx.MessageEvent.Create().SetItemHash(amend).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
		require.NoError(t, tx.Commit())
		deliver(events.Event{Seq: ev.ID, Kind: events.Processed, ItemHash: amend, Type: "POST", Owner: owner})
		read()
		require.JSONEq(t, `{"body":"v2"}`, jsonOf(t, res.Posts.Edges[0].Node.Content), "the amend shows")
		require.Len(t, res.Messages.Edges, 3, "the sender's new message shows")

		// An aggregate element, applied with its outbox row.
		elem := hashOf("addr element")
		tx, err = cl.Tx(ctx)
		require.NoError(t, err)
		msg(tx.Client(), elem, "AGGREGATE", 4)
		tx.Aggregate.Update().SetContent(json.RawMessage(`{"v":2}`)).SetElementCount(2).ExecX(ctx)
		ev = tx.MessageEvent.Create().SetItemHash(elem).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
		require.NoError(t, tx.Commit())
		deliver(events.Event{Seq: ev.ID, Kind: events.Processed, ItemHash: elem, Type: "AGGREGATE", Owner: owner})
		read()
		require.JSONEq(t, `{"v":2}`, jsonOf(t, res.Aggregates.Edges[0].Node.Content), "the aggregate update shows")
		require.Equal(t, 2, res.Aggregates.Edges[0].Node.ElementCount)

		// The sender's messages alone: a STORE (neither a post nor an
		// aggregate) shows once its event is applied.
		const sent = `query($a: String!) { messages(filter: {senders: [$a]}, first: 9) { edges { node { hash } } } }`
		count := func() int {
			t.Helper()
			res.Messages.Edges = nil
			gc.MustPost(sent, &res, gqlclient.Var("a", owner))
			return len(res.Messages.Edges)
		}
		require.Equal(t, 4, count())
		store := hashOf("addr store")
		tx, err = cl.Tx(ctx)
		require.NoError(t, err)
		msg(tx.Client(), store, "STORE", 5)
		ev = tx.MessageEvent.Create().SetItemHash(store).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
		require.NoError(t, tx.Commit())
		deliver(events.Event{Seq: ev.ID, Kind: events.Processed, ItemHash: store, Type: "STORE", Owner: owner})
		require.Equal(t, 5, count())
	})
}
