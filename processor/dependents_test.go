package processor_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
)

func TestDependentsRetriedAtOnce(t *testing.T) {
	// A message retried for a missing dependency records what it waits
	// for; processing that dependency makes it due at once: the test
	// clock never moves, so no back-off ever expires.
	cases := []struct {
		name string
		// build returns the dependency, the dependent, and the key the
		// dependent waits on.
		build func(t *testing.T) (dep, dependent []byte, depHash, dependentHash, key string)
	}{
		{"amend before its post", func(t *testing.T) ([]byte, []byte, string, string, string) {
			alice, m := account(t), must(t)
			orig, oh := m(alice.Post(base+5, "TEST", "note", map[string]any{"v": 0}, ""))
			amend, ah := m(alice.Amend(base+10, "TEST", oh, map[string]any{"v": 1}))
			return orig, amend, oh, ah, oh
		}},
		{"forget before its target", func(t *testing.T) ([]byte, []byte, string, string, string) {
			alice, m := account(t), must(t)
			orig, oh := m(alice.Post(base+5, "TEST", "note", map[string]any{"v": 0}, ""))
			fg, fh := m(alice.Forget(base+10, "TEST", oh))
			return orig, fg, oh, fh, oh
		}},
		{"forget before its aggregate", func(t *testing.T) ([]byte, []byte, string, string, string) {
			alice, m := account(t), must(t)
			// FORGET names aggregates by a hash-shaped key.
			const key = "a3a86b2ae7f8ee8e7a3f8e3c33e3a5f1e1a2b3c4d5e6f708192a3b4c5d6e7f80"
			agg, gh := m(alice.Aggregate(base+5, "TEST", key, map[string]any{"name": "a"}))
			fg, fh := m(alice.Sign(demoMsg("FORGET", "TEST", base+10, map[string]any{"hashes": []string{}, "aggregates": []string{key}})))
			return agg, fg, gh, fh, errcode.AggregateKey(alice.Address(), key)
		}},
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, db, processor.Config{MaxRetries: 5})
				dep, dependent, dh, h, key := tc.build(t)
				e.submit(dependent)
				e.drain()
				require.Equal(t, messagestatus.StatusPending, e.status(h))
				row, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(h)).Only(t.Context())
				require.NoError(t, err)
				require.NotNil(t, row.WaitsOn, "a missing dependency is recorded")
				require.Equal(t, key, *row.WaitsOn)
				// Push the retry far out, as a late retry's back-off would.
				require.NoError(t, db.Client.PendingMessage.UpdateOneID(row.ID).
					SetNextAttempt(e.clk.Now().Add(5*time.Minute)).Exec(t.Context()))

				e.submit(dep)
				e.drain()
				require.NotEqual(t, messagestatus.StatusPending, e.status(dh))
				require.Equal(t, messagestatus.StatusProcessed, e.status(h), "the dependent is retried once its dependency is processed")
				n, err := db.Client.PendingMessage.Query().Count(t.Context())
				require.NoError(t, err)
				require.Zero(t, n)
			})
		}
	})
}

func TestDependentOfUnrelatedMessageKeepsWaiting(t *testing.T) {
	// Processing other messages does not wake a message waiting on
	// something else.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{MaxRetries: 5})
		alice, m := account(t), must(t)
		_, oh := m(alice.Post(base+5, "TEST", "note", map[string]any{"v": 0}, ""))
		amend, ah := m(alice.Amend(base+10, "TEST", oh, map[string]any{"v": 1}))
		other, _ := m(alice.Post(base+6, "TEST", "note", map[string]any{"v": 2}, ""))
		e.submit(amend)
		e.drain()
		row, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(ah)).Only(t.Context())
		require.NoError(t, err)
		later := e.clk.Now().Add(5 * time.Minute)
		require.NoError(t, db.Client.PendingMessage.UpdateOneID(row.ID).SetNextAttempt(later).Exec(t.Context()))
		e.submit(other)
		e.drain()
		row, err = db.Client.PendingMessage.Get(t.Context(), row.ID)
		require.NoError(t, err)
		require.WithinDuration(t, later, row.NextAttempt, time.Millisecond, "still waiting for its back-off")
		require.Equal(t, oh, *row.WaitsOn)
	})
}

func TestDependentWakeSkipsPrefetchedRows(t *testing.T) {
	// On PostgreSQL the process stage claims the next batch while the
	// current one writes. When the current batch processes a dependency
	// whose dependent sits in the prefetched batch, waking it must not
	// wait for the prefetch's row lock (which is held until the current
	// batch commits): the queue must keep draining.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{BatchSize: 8, MaxRetries: 5, Idle: 50 * time.Millisecond})
		alice, m := account(t), must(t)
		orig, oh := m(alice.Post(base+5, "TEST", "note", map[string]any{"v": 0}, ""))
		amend, ah := m(alice.Amend(base+10, "TEST", oh, map[string]any{"v": 1}))
		e.submit(amend)
		e.drain()
		row, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(ah)).Only(t.Context())
		require.NoError(t, err)
		require.NotNil(t, row.WaitsOn)
		// Due, after the post (whose next attempt is its old time): the
		// post is applied first while the amend is prefetched.
		require.NoError(t, db.Client.PendingMessage.UpdateOneID(row.ID).SetNextAttempt(e.clk.Now().Add(-time.Second)).Exec(t.Context()))
		// The post and others fill the first batch (a slower apply, so the
		// prefetch has claimed the amend by the time the post's
		// dependents are woken).
		e.submit(orig)
		for i := range 7 {
			other, _ := m(alice.Post(base+6+float64(i)/10, "TEST", "note", map[string]any{"v": i}, ""))
			e.submit(other)
		}

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- e.p.Run(ctx) }()
		defer func() { cancel(); <-done }()
		require.Eventually(t, func() bool {
			s, err := db.Client.MessageStatus.Get(t.Context(), ah)
			return err == nil && s.Status == messagestatus.StatusProcessed
		}, 10*time.Second, 10*time.Millisecond, "the amend is processed; the pipeline did not stall")
	})
}

func TestDependencyCommittedDuringTheDependentsCheck(t *testing.T) {
	// PostgreSQL: a FORGET is checked in a process-stage batch while its
	// target is imported, and committed, by another processor sharing
	// the database, before the batch commits. The importer's wake skips
	// the FORGET's row, which the batch holds locked; the batch then
	// commits the row with its waits_on and back-off. Looked at again
	// after that commit, the target is there: the row is due at once,
	// not after its back-off (the test clock never moves).
	db := dbtest.Open(t, dbtest.NewPostgresDatabase(t))
	e := newEnv(t, db, processor.Config{MaxRetries: 5})
	other, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(), Now: e.clk.Now})
	require.NoError(t, err)
	alice, m := account(t), must(t)
	orig, oh := m(alice.Post(base+5, "TEST", "note", map[string]any{"v": 0}, ""))
	fg, fh := m(alice.Forget(base+10, "TEST", oh))
	e.submit(fg)

	imported := 0
	processor.SetBeforeCommitHook(e.p, func() {
		if imported > 0 {
			return
		}
		done := make(chan error, 1)
		go func() {
			sum, err := other.Import(t.Context(), bytes.NewReader(append(orig, '\n')), 10, nil)
			imported = sum.Read
			done <- err
		}()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("the import waited for the batch: the two transactions cannot cross")
		}
	})
	n, err := e.p.ProcessOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, imported, "the target was imported while the FORGET was checked")
	require.Equal(t, messagestatus.StatusProcessed, e.status(oh))
	require.Equal(t, messagestatus.StatusPending, e.status(fh), "the FORGET was checked before its target committed")
	row, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(fh)).Only(t.Context())
	require.NoError(t, err)
	require.Nil(t, row.WaitsOn, "the FORGET no longer waits")
	require.False(t, row.NextAttempt.After(e.clk.Now()), "the FORGET is due now, not after its back-off (%s)", row.NextAttempt.Sub(e.clk.Now()))

	e.drain()
	require.Equal(t, messagestatus.StatusProcessed, e.status(fh))
	require.Equal(t, messagestatus.StatusForgotten, e.status(oh))
}

func TestSecondLookOutlivesTheCallersContext(t *testing.T) {
	// PostgreSQL: the look after a commit runs even when the context the
	// commit ran under ends right after it (a client's request answered,
	// a source stopping): the crossed dependent is due at once, not after
	// its back-off.
	db := dbtest.Open(t, dbtest.NewPostgresDatabase(t))
	e := newEnv(t, db, processor.Config{MaxRetries: 5})
	alice, m := account(t), must(t)
	orig, oh := m(alice.Post(base+5, "TEST", "note", map[string]any{"v": 0}, ""))
	fg, fh := m(alice.Forget(base+10, "TEST", oh))
	e.submit(fg)
	n, err := e.p.ProcessOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, messagestatus.StatusPending, e.status(fh))
	_, err = e.p.Import(t.Context(), bytes.NewReader(append(orig, '\n')), 10, nil)
	require.NoError(t, err)
	require.Equal(t, messagestatus.StatusProcessed, e.status(oh))
	// The FORGET's row as a crossing leaves it: waiting on the target,
	// with a back-off.
	later := e.clk.Now().Add(time.Hour)
	require.NoError(t, db.Client.PendingMessage.Update().Where(pendingmessage.ItemHash(fh)).
		SetWaitsOn(oh).SetNextAttempt(later).Exec(t.Context()))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	processor.AfterCommit(ctx, e.p, []string{oh})
	row, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(fh)).Only(t.Context())
	require.NoError(t, err)
	require.Nil(t, row.WaitsOn, "the FORGET no longer waits")
	require.False(t, row.NextAttempt.After(e.clk.Now()), "the FORGET is due now, not after its back-off (%s)", row.NextAttempt.Sub(e.clk.Now()))
}
