package processor_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// failOnce is the POST handler failing the first Process of one message
// with an unclassified error, as a lost connection would: the batch
// aborts and its rows are applied one per transaction.
type failOnce struct {
	handler.Handler
	hash   string
	failed atomic.Bool
}

func (f *failOnce) Process(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	if m.ItemHash == f.hash && f.failed.CompareAndSwap(false, true) {
		return errors.New("injected failure")
	}
	return f.Handler.Process(ctx, tx, m)
}

func TestPipelineKeepsProtocolOrder(t *testing.T) {
	// Run processes a queue of many batches (pipelined on PostgreSQL: the
	// next batch is claimed and verified while the current one writes).
	// A batch aborts mid-way while the next one is prefetched: the
	// prefetched batch is released, the aborted rows are applied one by
	// one, and every message is still applied once, in protocol order
	// (time, then hash), with the state of an in-order application.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		alice := account(t)
		m := must(t)
		type sent struct {
			hash string
			t    float64
		}
		var raws []processor.Input
		var msgs []sent
		add := func(raw []byte, h string, tm float64) {
			raws = append(raws, processor.Input{Raw: raw, Origin: processor.OriginAPI})
			msgs = append(msgs, sent{h, tm})
		}
		wantAgg := map[string]any{}
		var orig, lastAmend, failing string
		for i := range 45 {
			tm := base + float64(i)
			switch {
			case i%3 == 0:
				c := map[string]any{"n": float64(i), "f" + strconv.Itoa(i%4): float64(i)}
				raw, h := m(alice.Aggregate(tm, "TEST", "k", c))
				add(raw, h, tm)
				for k, v := range c {
					wantAgg[k] = v
				}
			case i == 22 || i == 41:
				raw, h := m(alice.Amend(tm, "TEST", orig, map[string]any{"v": i}))
				add(raw, h, tm)
				lastAmend = h
			default:
				raw, h := m(alice.Post(tm, "TEST", "note", map[string]any{"v": i}, ""))
				add(raw, h, tm)
				if i == 1 {
					orig = h
				}
				if i == 25 {
					failing = h
				}
			}
		}
		hd := handler.Deps{Config: handler.DefaultConfig(), Log: dbtest.Logger(), Now: time.Now, Storage: handler.NoStorage{}}
		post := &failOnce{Handler: handler.NewPost(hd, db.Dialect), hash: failing}
		p, err := processor.New(processor.Config{BatchSize: 10, Idle: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
			processor.Deps{DB: db, Log: dbtest.Logger(), Handlers: handler.Registry{message.TypePost: post}})
		require.NoError(t, err)
		var released atomic.Int64
		processor.SetReleaseHook(p, func(rows int) { released.Add(int64(rows)) })
		// Submitted newest first: the queue, not the arrival, orders them.
		slices.Reverse(raws)
		res, err := p.SubmitBatch(t.Context(), raws)
		require.NoError(t, err)
		for _, r := range res {
			require.Equal(t, processor.Queued, r.Outcome)
		}

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		require.Eventually(t, func() bool {
			n, err := p.Pending(t.Context())
			return err == nil && n == 0
		}, 60*time.Second, 10*time.Millisecond)
		cancel()
		require.NoError(t, <-done)

		require.True(t, post.failed.Load(), "the injected failure happened")
		if db.Dialect == "postgres" {
			require.Positive(t, released.Load(), "a prefetched batch was released after the abort")
		} else {
			require.Zero(t, released.Load(), "SQLite does not prefetch")
		}
		hashes := make([]string, len(msgs))
		for i, s := range msgs {
			hashes[i] = s.hash
		}
		requireExactlyOnce(t, db, hashes)

		// Processed in protocol order: msgs is in time order.
		evs, err := db.Client.MessageEvent.Query().Where(messageevent.Kind("processed")).
			Order(messageevent.ByID()).All(t.Context())
		require.NoError(t, err)
		got := make([]string, len(evs))
		for i, ev := range evs {
			got[i] = ev.ItemHash
		}
		require.Equal(t, hashes, got)

		e := &env{t: t, db: db, p: p, ctx: t.Context()}
		require.Equal(t, wantAgg, e.aggContent(alice.Address(), "k"))
		require.Equal(t, lastAmend, *e.post(orig).LatestAmend)
	})
}
