package processor_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
)

// aggContent returns the merged content of an aggregate.
func (e *env) aggContent(owner, key string) map[string]any {
	e.t.Helper()
	a, err := e.db.Client.Aggregate.Query().Where(aggregate.Owner(owner), aggregate.Key(key)).Only(e.ctx)
	require.NoError(e.t, err)
	var v map[string]any
	require.NoError(e.t, json.Unmarshal(a.Content, &v))
	return v
}

func TestAggregateMergeOrder(t *testing.T) {
	// The same three updates give the same aggregate in every arrival
	// order, including one that comes after later ones were applied.
	orders := map[string][]int{"in order": {0, 1, 2}, "reversed": {2, 1, 0}, "middle last": {0, 2, 1}}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *database.DB) {
				e := newEnv(t, db, processor.Config{})
				alice := account(t)
				m := must(t)
				contents := []map[string]any{
					{"a": 1, "b": map[string]any{"x": 1}},
					{"b": map[string]any{"y": 2}, "c": nil},
					{"a": 3},
				}
				var raws [][]byte
				for i, c := range contents {
					raw, _ := m(alice.Aggregate(base+float64(i), "TEST", "profile", c))
					raws = append(raws, raw)
				}
				// Each update in its own batch, so out-of-order ones
				// really arrive late.
				for _, i := range order {
					e.submit(raws[i])
					e.drain()
				}
				got := e.aggContent(alice.Address(), "profile")
				require.Equal(t, map[string]any{"a": 3.0, "b": map[string]any{"y": 2.0}, "c": nil}, got)
				a, err := db.Client.Aggregate.Query().Where(aggregate.Owner(alice.Address())).Only(t.Context())
				require.NoError(t, err)
				require.Equal(t, 3, a.ElementCount)
			})
		})
	}
}

func TestAggregateForgetRecomputes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice := account(t)
		m := must(t)
		a1, h1 := m(alice.Aggregate(base, "TEST", "k", map[string]any{"a": 1, "b": 1}))
		a2, h2 := m(alice.Aggregate(base+1, "TEST", "k", map[string]any{"b": 2}))
		e.submit(a1, a2)
		e.drain()
		require.Equal(t, map[string]any{"a": 1.0, "b": 2.0}, e.aggContent(alice.Address(), "k"))
		f, _ := m(alice.Forget(base+2, "TEST", h2))
		e.submit(f)
		e.drain()
		require.Equal(t, map[string]any{"a": 1.0, "b": 1.0}, e.aggContent(alice.Address(), "k"))
		f, _ = m(alice.Forget(base+3, "TEST", h1))
		e.submit(f)
		e.drain()
		n, err := db.Client.Aggregate.Query().Count(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "an aggregate with no element left is gone")
	})
}

func TestDelegatedPermissions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{MaxRetries: 1})
		owner, del := account(t), account(t)
		m := must(t)
		asOwner := func(tm float64, typ, channel string, c map[string]any) ([]byte, string) {
			return m(del.ForOwner(owner.Address(), demoMsg(typ, channel, tm, c)))
		}
		// No authorization yet: rejected with PERMISSION_DENIED.
		p0, h0 := asOwner(base, "POST", "TEST", map[string]any{"type": "note", "content": "x"})
		e.submit(p0)
		e.drain()
		require.Equal(t, messagestatus.StatusRejected, e.status(h0))
		require.Equal(t, int(errcode.PermissionDenied), e.rejectedCode(h0))

		// Granted for POSTs of type note in channel TEST.
		grant, _ := m(owner.Aggregate(base+1, "TEST", "security", map[string]any{"authorizations": []any{
			map[string]any{"address": del.Address(), "types": []string{"POST"}, "post_types": []string{"note"}, "channels": []string{"TEST"}},
		}}))
		e.submit(grant)
		e.drain()
		// The rejected message may be submitted again, and now passes.
		e.submit(p0)
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(h0))

		wrongType, hw := asOwner(base+2, "POST", "TEST", map[string]any{"type": "other", "content": "x"})
		wrongChan, hc := asOwner(base+3, "POST", "ELSE", map[string]any{"type": "note", "content": "x"})
		agg, ha := asOwner(base+4, "AGGREGATE", "TEST", map[string]any{"key": "k", "content": map[string]any{"a": 1}})
		e.submit(wrongType, wrongChan, agg)
		e.drain()
		for _, h := range []string{hw, hc, ha} {
			require.Equal(t, messagestatus.StatusRejected, e.status(h))
			require.Equal(t, int(errcode.PermissionDenied), e.rejectedCode(h))
		}

		// Revoked: later posts are refused again.
		revoke, _ := m(owner.Aggregate(base+5, "TEST", "security", map[string]any{"authorizations": []any{}}))
		e.submit(revoke)
		e.drain()
		p1, h1 := asOwner(base+6, "POST", "TEST", map[string]any{"type": "note", "content": "y"})
		e.submit(p1)
		e.drain()
		require.Equal(t, messagestatus.StatusRejected, e.status(h1))

		// The delegate could create h0, so it may forget it; a stranger
		// may not.
		stranger := account(t)
		fs, hfs := m(stranger.Forget(base+7, "TEST", h0))
		e.submit(fs)
		e.drain()
		require.Equal(t, int(errcode.PermissionDenied), e.rejectedCode(hfs))
		require.Equal(t, messagestatus.StatusProcessed, e.status(h0))
	})
}

// TestDelegationsWithinOneBatch: delegated posts checked in the batch
// that also changes the owner's security aggregate see each change made
// before them in that batch, and none made after; an authorization
// already stored is read without writing the batch first. Both back-ends.
func TestDelegationsWithinOneBatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{MaxRetries: 1})
		owner, del, other := account(t), account(t), account(t)
		m := must(t)
		security := func(tm float64, auths ...any) []byte {
			raw, _ := m(owner.Aggregate(tm, "TEST", "security", map[string]any{"authorizations": auths}))
			return raw
		}
		grant := map[string]any{"address": del.Address(), "types": []string{"POST"}, "channels": []string{"TEST"}}
		post := func(tm float64) ([]byte, string) {
			return m(del.ForOwner(owner.Address(), demoMsg("POST", "TEST", tm, map[string]any{"type": "note", "content": tm})))
		}
		e.submit(security(base, grant))
		e.drain()

		first, h1 := post(base + 1)  // the stored grant
		revoke := security(base + 2) // merged in the batch
		second, h2 := post(base + 3) // after the revocation
		regrant := security(base+4, grant)
		third, h3 := post(base + 5) // after the grant again
		mine, _ := m(other.Aggregate(base+6, "TEST", "k", map[string]any{"a": 1}))
		fourth, h4 := post(base + 7)
		e.submit(first, revoke, second, regrant, third, mine, fourth)
		n, err := e.p.ProcessOnce(t.Context())
		require.NoError(t, err)
		require.Equal(t, 7, n, "one batch")
		for _, c := range []struct {
			hash string
			want messagestatus.Status
		}{{h1, messagestatus.StatusProcessed}, {h2, messagestatus.StatusRejected}, {h3, messagestatus.StatusProcessed}, {h4, messagestatus.StatusProcessed}} {
			require.Equal(t, c.want, e.status(c.hash), c.hash)
		}
		require.Equal(t, int(errcode.PermissionDenied), e.rejectedCode(h2))
	})
}

func TestForgetRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{MaxRetries: 1})
		alice := account(t)
		m := must(t)
		p, ph := m(alice.Post(base, "TEST", "note", "x", ""))
		e.submit(p)
		e.drain()
		f, fh := m(alice.Forget(base+1, "TEST", ph))
		e.submit(f)
		e.drain()
		require.Equal(t, messagestatus.StatusForgotten, e.status(ph))
		cnt, err := db.Client.MessageCounter.Get(t.Context(), "type=POST")
		require.NoError(t, err)
		require.Zero(t, cnt.Count, "a forgotten message leaves the counters")

		ff, ffh := m(alice.Forget(base+2, "TEST", fh))
		e.submit(ff)
		e.drain()
		require.Equal(t, int(errcode.ForgetForget), e.rejectedCode(ffh))

		// A second FORGET of a forgotten message is recorded on it.
		f2, f2h := m(alice.Forget(base+3, "TEST", ph))
		e.submit(f2)
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(f2h))
		fm, err := db.Client.ForgottenMessage.Get(t.Context(), ph)
		require.NoError(t, err)
		require.Equal(t, []string{fh, f2h}, fm.ForgottenBy)

		// A FORGET of an unknown message waits, then is rejected (501).
		fu, fuh := m(alice.Forget(base+4, "TEST", "b3a86b2ae7f8ee8e7a3f8e3c33e3a5f1e1a2b3c4d5e6f708192a3b4c5d6e7f80"))
		e.submit(fu)
		e.drain()
		require.Equal(t, messagestatus.StatusPending, e.status(fuh))
		e.clk.Add(5 * time.Second)
		e.drain()
		require.Equal(t, int(errcode.ForgetTargetNotFound), e.rejectedCode(fuh))

		// Re-submitting a forgotten message changes nothing.
		r, err := e.p.Submit(t.Context(), p, processor.OriginAPI, nil)
		require.NoError(t, err)
		require.Equal(t, processor.Duplicate, r.Outcome)
		require.Equal(t, "forgotten", r.Status)
	})
}

func TestAggregateBatchMergeMatchesOneByOne(t *testing.T) {
	// Elements merged in one batch (into a cached copy of the aggregate,
	// encoded once at flush) give the same content as the same elements
	// applied one per transaction; byte for byte where the database keeps
	// the text (SQLite).
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice, bob := account(t), account(t)
		m := must(t)
		contents := []map[string]any{
			{"a": 1, "b": map[string]any{"x": 1}, "<tag>": "&"},
			{"b": map[string]any{"y": 2}, "c": nil},
			{"a": 3, "d": []any{1, "two"}},
			{"e": "é\u2028", "<tag>": false},
			{"c": 4.5},
		}
		var batch, single [][]byte
		for i, c := range contents {
			raw, _ := m(alice.Aggregate(base+float64(i), "TEST", "k", c))
			batch = append(batch, raw)
			raw, _ = m(bob.Aggregate(base+float64(i), "TEST", "k", c))
			single = append(single, raw)
		}
		_, err := e.p.Import(e.ctx, bytes.NewReader(lines(batch...)), 100, nil)
		require.NoError(t, err)
		for _, raw := range single {
			_, err := e.p.Import(e.ctx, bytes.NewReader(lines(raw)), 1, nil)
			require.NoError(t, err)
		}
		e.drain()
		want := map[string]any{"a": 3.0, "b": map[string]any{"y": 2.0}, "c": 4.5, "d": []any{1.0, "two"},
			"<tag>": false, "e": "é\u2028"}
		require.Equal(t, want, e.aggContent(alice.Address(), "k"))
		require.Equal(t, want, e.aggContent(bob.Address(), "k"))
		a, err := db.Client.Aggregate.Query().Where(aggregate.Owner(alice.Address())).Only(t.Context())
		require.NoError(t, err)
		b, err := db.Client.Aggregate.Query().Where(aggregate.Owner(bob.Address())).Only(t.Context())
		require.NoError(t, err)
		require.Equal(t, string(b.Content), string(a.Content))
		require.Equal(t, 5, a.ElementCount)
		require.True(t, b.LastUpdated.Equal(a.LastUpdated))
	})
}

func TestImportPrefetchesAggregates(t *testing.T) {
	// A direct import batch locks and reads its aggregates before its
	// first message. Existing and new aggregates, and an element older
	// than its aggregate (which flushes the batch and recomputes, emptying
	// the prefetched cache), all end as the fold of their elements.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice, bob := account(t), account(t)
		m := must(t)
		agg := func(a interface {
			Aggregate(float64, string, string, map[string]any) ([]byte, string, error)
		}, dt float64, key string, c map[string]any) []byte {
			raw, _ := m(a.Aggregate(base+dt, "TEST", key, c))
			return raw
		}
		imp := func(raws ...[]byte) {
			t.Helper()
			sum, err := e.p.Import(e.ctx, bytes.NewReader(lines(raws...)), 100, nil)
			require.NoError(t, err)
			require.Equal(t, len(raws), sum.Queued)
		}
		count := func(owner, key string) int {
			a, err := db.Client.Aggregate.Query().Where(aggregate.Owner(owner), aggregate.Key(key)).Only(t.Context())
			require.NoError(t, err)
			return a.ElementCount
		}
		imp(agg(alice, 10, "k1", map[string]any{"a": 1}), agg(bob, 10, "k2", map[string]any{"x": 1}))
		// In order: every aggregate comes from the prefetch.
		imp(agg(alice, 20, "k1", map[string]any{"b": 2}), agg(alice, 21, "k3", map[string]any{"c": 3}),
			agg(alice, 22, "k1", map[string]any{"a": 5}), agg(bob, 23, "k2", map[string]any{"y": 2}))
		require.Equal(t, map[string]any{"a": 5.0, "b": 2.0}, e.aggContent(alice.Address(), "k1"))
		require.Equal(t, 3, count(alice.Address(), "k1"))
		require.Equal(t, map[string]any{"c": 3.0}, e.aggContent(alice.Address(), "k3"))
		require.Equal(t, map[string]any{"x": 1.0, "y": 2.0}, e.aggContent(bob.Address(), "k2"))
		require.Equal(t, 2, count(bob.Address(), "k2"))
		// An element older than bob's aggregate comes first in the batch:
		// the recompute empties the cache, the others are read again.
		imp(agg(bob, 5, "k2", map[string]any{"y": 0, "z": 0}), agg(alice, 30, "k1", map[string]any{"b": 3}),
			agg(bob, 31, "k2", map[string]any{"z": 1}))
		require.Equal(t, map[string]any{"a": 5.0, "b": 3.0}, e.aggContent(alice.Address(), "k1"))
		require.Equal(t, 4, count(alice.Address(), "k1"))
		require.Equal(t, map[string]any{"x": 1.0, "y": 2.0, "z": 1.0}, e.aggContent(bob.Address(), "k2"))
		require.Equal(t, 4, count(bob.Address(), "k2"))
	})
}
