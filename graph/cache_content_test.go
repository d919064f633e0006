package graph_test

import (
	"encoding/json"
	"testing"
	"time"

	gqlclient "github.com/99designs/gqlgen/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
)

// TestCacheNeverServesStalePostsOrFiles reads a merged post (through its
// message) and a file's metadata through the cache, shows that the second
// read is a hit, then changes them as the pipeline does: an amend, sent
// with the owner's address in another case, and a FORGET of the STORE
// pinning the file (rows and outbox rows in one transaction, events after
// the commit). Reads before and after the events see the new state. Last,
// the garbage collector deletes the file, which writes no outbox row: the
// file must be gone at once.
func TestCacheNeverServesStalePostsOrFiles(t *testing.T) {
	for name, newCache := range cacheBackends(t) {
		t.Run(name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *database.DB) {
				testCacheNeverServesStalePostsOrFiles(t, db, newCache(t), name)
			})
		})
	}
}

func testCacheNeverServesStalePostsOrFiles(t *testing.T, db *database.DB, c cache.Cache, name string) {
	ctx := t.Context()
	cl := db.Client
	owner := "0xcacheab" + name
	orig, other, store, fileHash := hashOf("post "+name), hashOf("other post "+name), hashOf("store "+name), hashOf("file "+name)
	tm := time.Now().UTC()
	newMessage := func(hash, typ, owner string) {
		cl.Message.Create().SetID(hash).SetType(typ).SetChain("ETH").SetSender(owner).SetItemType("inline").
			SetContent(json.RawMessage(`{}`)).SetTime(tm).SetReceptionTime(tm).SetOwner(owner).SetSize(2).SaveX(ctx)
		cl.MessageStatus.Create().SetID(hash).SetStatus(messagestatus.StatusProcessed).SetReceptionTime(tm).SetUpdatedAt(tm).SaveX(ctx)
	}
	newMessage(orig, "POST", owner)
	cl.Post.Create().SetID(orig).SetOwner(owner).SetType("note").SetCreationDatetime(tm).SetContent(json.RawMessage(`{"v":1}`)).SaveX(ctx)
	newMessage(other, "POST", owner)
	cl.Post.Create().SetID(other).SetOwner(owner).SetType("note").SetCreationDatetime(tm).SetContent(json.RawMessage(`{"w":1}`)).SaveX(ctx)
	newMessage(store, "STORE", owner)
	cl.File.Create().SetID(fileHash).SetSize(100).SetType("file").SetCreatedAt(tm).SaveX(ctx)
	cl.FilePin.Create().SetFileHash(fileHash).SetType(filepin.TypeMessage).SetItemHash(store).SetOwner(owner).SetCreated(tm).SaveX(ctx)

	reg := prometheus.NewRegistry()
	metrics, err := cache.NewMetrics(reg)
	require.NoError(t, err)
	bus := events.NewLocal(16)
	hub := startHub(t, db, bus)
	schema, err := graph.NewSchema(graph.Limits{}, cl, dbtest.Logger(), graph.WithHub(hub), graph.WithCache(c), graph.WithCacheMetrics(metrics))
	require.NoError(t, err)
	gc := gqlclient.New(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))

	type postRes struct {
		Post *struct {
			Content         any
			LatestAmendHash *string
		}
	}
	var res struct {
		Message, Other *postRes
		File           *struct{ Size int }
	}
	// read reads the post, the file and, when withOther, the other post.
	read := func(withOther bool) {
		t.Helper()
		res.Message, res.Other, res.File = nil, nil, nil
		gc.MustPost(`query($h: String!, $o: String!, $f: String!, $w: Boolean!) { message(hash: $h) { post { content latestAmendHash } }
			other: message(hash: $o) @include(if: $w) { post { content latestAmendHash } } file(hash: $f) { size } }`,
			&res, gqlclient.Var("h", orig), gqlclient.Var("o", other), gqlclient.Var("f", fileHash), gqlclient.Var("w", withOther))
	}
	read(true)
	require.JSONEq(t, `{"v":1}`, jsonOf(t, res.Message.Post.Content))
	require.Nil(t, res.Message.Post.LatestAmendHash)
	require.JSONEq(t, `{"w":1}`, jsonOf(t, res.Other.Post.Content))
	require.Equal(t, 100, res.File.Size)

	// Changes with no outbox row (which the pipeline never makes) are not
	// seen: the second read is served from the cache.
	cl.Post.UpdateOneID(orig).SetContent(json.RawMessage(`{"v":"not in the outbox"}`)).ExecX(ctx)
	cl.Post.UpdateOneID(other).SetContent(json.RawMessage(`{"w":"not in the outbox"}`)).ExecX(ctx)
	cl.File.UpdateOneID(fileHash).SetSize(999).ExecX(ctx)
	read(true)
	require.JSONEq(t, `{"v":1}`, jsonOf(t, res.Message.Post.Content), "post served from the cache")
	require.JSONEq(t, `{"w":1}`, jsonOf(t, res.Other.Post.Content), "post served from the cache")
	require.Equal(t, 100, res.File.Size, "file served from the cache")
	require.Equal(t, 2.0, lookups(t, reg, "post", cache.Hit))
	require.Equal(t, 1.0, lookups(t, reg, "file", cache.Hit))
	require.Equal(t, 1.0, lookups(t, reg, "file", cache.Miss))

	// The pipeline processes an amend of each post (their owner written
	// in upper case: amends keep the owner up to case) and forgets the
	// STORE: its pin gives way to a grace period that has already ended.
	amend, amend2, forget := hashOf("amend "+name), hashOf("amend 2 "+name), hashOf("forget "+name)
	tx, err := cl.Tx(ctx)
	require.NoError(t, err)
	upper := "0xCACHEAB" + name
	amendPost := func(hash, of, content string) *ent.MessageEvent {
		tx.Message.Create().SetID(hash).SetType("POST").SetChain("ETH").SetSender(upper).SetItemType("inline").
			SetContent(json.RawMessage(`{}`)).SetTime(tm).SetReceptionTime(tm).SetOwner(upper).SetSize(2).SaveX(ctx)
		tx.Post.Create().SetID(hash).SetOwner(upper).SetType("amend").SetRef(of).SetAmends(of).
			SetCreationDatetime(tm.Add(time.Second)).SetContent(json.RawMessage(content)).SaveX(ctx)
		tx.Post.UpdateOneID(of).SetLatestAmend(hash).ExecX(ctx)
		return tx.MessageEvent.Create().SetItemHash(hash).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
	}
	amendEv := amendPost(amend, orig, `{"v":2}`)
	amend2Ev := amendPost(amend2, other, `{"w":2}`)
	tx.FilePin.Delete().Where(filepin.ItemHash(store)).ExecX(ctx)
	tx.FilePin.Create().SetFileHash(fileHash).SetType(filepin.TypeGracePeriod).SetItemHash("").SetCreated(tm).
		SetDeleteBy(tm.Add(-time.Second)).ExecX(ctx)
	tx.Message.DeleteOneID(store).ExecX(ctx)
	tx.MessageStatus.UpdateOneID(store).SetStatus(messagestatus.StatusForgotten).SetUpdatedAt(tm).ExecX(ctx)
	tx.ForgottenMessage.Create().SetID(store).SetType("STORE").SetChain("ETH").SetSender(owner).SetItemType("inline").
		SetTime(tm).SetOwner(owner).SetForgottenBy([]string{forget}).SetForgottenAt(tm).SaveX(ctx)
	forgetEv := tx.MessageEvent.Create().SetItemHash(store).SetKind(string(events.Forgotten)).SetRelated(forget).SetCreatedAt(tm).SaveX(ctx)
	require.NoError(t, tx.Commit())

	// The events have not arrived: the hub is behind, the cache bypassed.
	// (The other post is not read: its entry stays as it was filled.)
	read(false)
	require.JSONEq(t, `{"v":2}`, jsonOf(t, res.Message.Post.Content))
	require.Equal(t, amend, *res.Message.Post.LatestAmendHash)
	require.Equal(t, 999, res.File.Size)

	// The events arrive; the entries filled before them are invalid.
	require.NoError(t, bus.Publish(ctx,
		events.Event{Seq: amendEv.ID, Kind: events.Processed, ItemHash: amend, Type: "POST", Owner: upper},
		events.Event{Seq: amend2Ev.ID, Kind: events.Processed, ItemHash: amend2, Type: "POST", Owner: upper},
		events.Event{Seq: forgetEv.ID, Kind: events.Forgotten, ItemHash: store, Type: "STORE", Owner: owner, Related: forget}))
	require.Eventually(t, func() bool { seq, _ := hub.LastEvent(); return seq == forgetEv.ID }, 5*time.Second, 5*time.Millisecond)
	for range 2 { // the second read may come from the cache
		read(true)
		require.JSONEq(t, `{"v":2}`, jsonOf(t, res.Message.Post.Content))
		require.Equal(t, amend, *res.Message.Post.LatestAmendHash)
		require.JSONEq(t, `{"w":2}`, jsonOf(t, res.Other.Post.Content), "the amend invalidated the other post's entry")
		require.Equal(t, amend2, *res.Other.Post.LatestAmendHash)
		require.Equal(t, 999, res.File.Size)
	}
	require.Positive(t, lookups(t, reg, "post", cache.Stale), "the amend invalidated the original's entry")

	// The collector deletes the expired grace pin and the file: no outbox
	// row, yet the file is gone at once (an unpinned file is never cached).
	cl.FilePin.Delete().Where(filepin.FileHash(fileHash)).ExecX(ctx)
	cl.File.DeleteOneID(fileHash).ExecX(ctx)
	read(false)
	require.Nil(t, res.File, "deleted file")
}

// lookups is the value of the cache lookups counter for kind and result.
func lookups(t *testing.T, reg *prometheus.Registry, kind string, r cache.Result) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "alephql_graphql_cache_lookups_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["result"] == string(r) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
