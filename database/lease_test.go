package database_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
)

var fastLease = database.LeaseConfig{Poll: 50 * time.Millisecond, Check: 100 * time.Millisecond}

// TestLeaseExcludesAndHandsOver: two handles on one database (two nodes)
// never hold the same lease at once, other names are independent, and a
// released lease goes to the node waiting for it.
func TestLeaseExcludesAndHandsOver(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			a, bdb := dbtest.Open(t, url), dbtest.Open(t, url)
			ctx := t.Context()

			la, err := a.AcquireLeaseWith(ctx, "reader/ETH", fastLease)
			require.NoError(t, err)
			require.True(t, la.Held())

			lb, err := bdb.TryLease(ctx, "reader/ETH")
			require.NoError(t, err)
			require.Nil(t, lb, "a second node must not hold a held lease")

			other, err := bdb.TryLease(ctx, "reader/BSC")
			require.NoError(t, err)
			require.NotNil(t, other, "another name is another lease")
			other.Release()

			got := make(chan *database.Lease, 1)
			go func() {
				l, err := bdb.AcquireLeaseWith(ctx, "reader/ETH", fastLease)
				if err == nil {
					got <- l
				}
			}()
			select {
			case <-got:
				t.Fatal("the waiting node took the lease while it was held")
			case <-time.After(300 * time.Millisecond):
			}
			la.Release()
			la.Release() // idempotent
			require.False(t, la.Held())
			select {
			case l := <-got:
				require.True(t, l.Held())
				l.Release()
			case <-time.After(10 * time.Second):
				t.Fatal("the waiting node never took the released lease")
			}
		})
	}
}

// TestLeaseLostWhenHolderSessionDies: on PostgreSQL, the holder's session
// dying (as when its process is killed) makes its lease lost on its side
// and free for another node within seconds.
func TestLeaseLostWhenHolderSessionDies(t *testing.T) {
	url := dbtest.NewPostgresDatabase(t)
	a, b := dbtest.Open(t, url), dbtest.Open(t, url)
	ctx := t.Context()

	la, err := a.AcquireLeaseWith(ctx, "jobs", fastLease)
	require.NoError(t, err)

	// Kill the holder's session from the other node, as the server does
	// when the holder's process dies.
	_, err = b.SQL.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	require.NoError(t, err)

	select {
	case <-la.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the holder never noticed its session died")
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	lb, err := b.AcquireLeaseWith(lctx, "jobs", fastLease)
	require.NoError(t, err, "another node must take over")
	lb.Release()
}

// TestRunWithLeaseRunsOneAtATime: two nodes running the same component
// under one lease never run it concurrently, and the second runs it once
// the first stops.
func TestRunWithLeaseRunsOneAtATime(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var running, maxRunning, runs atomic.Int32
		firstStop := make(chan struct{})
		run := func(stop <-chan struct{}) func(context.Context) error {
			return func(ctx context.Context) error {
				n := running.Add(1)
				defer running.Add(-1)
				runs.Add(1)
				for {
					m := maxRunning.Load()
					if n <= m || maxRunning.CompareAndSwap(m, n) {
						break
					}
				}
				select {
				case <-ctx.Done():
				case <-stop:
				}
				return nil
			}
		}
		done1 := make(chan error, 1)
		go func() { done1 <- database.RunWithLeaseConfig(ctx, db, "job", fastLease, run(firstStop)) }()
		require.Eventually(t, func() bool { return runs.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
		done2 := make(chan error, 1)
		go func() { done2 <- database.RunWithLeaseConfig(ctx, db, "job", fastLease, run(nil)) }()
		time.Sleep(200 * time.Millisecond) // the second node polls meanwhile
		require.EqualValues(t, 1, runs.Load(), "the second node ran while the first held the lease")
		close(firstStop)
		require.NoError(t, <-done1)
		require.Eventually(t, func() bool { return runs.Load() == 2 }, 10*time.Second, 10*time.Millisecond)
		cancel()
		require.NoError(t, <-done2)
		require.EqualValues(t, 1, maxRunning.Load())
	})
}
