package processor_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
)

// intakeBatches returns the count and sum of the shared intake batch
// histogram.
func intakeBatches(t *testing.T, reg *prometheus.Registry) (count uint64, sum float64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "alephql_processor_intake_batch_messages" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}

func TestConcurrentSubmissionsShareIntakeTransactions(t *testing.T) {
	// Single submissions that arrive while the intake flights are busy
	// queue, and the next flight stores them together: each still gets
	// its own outcome (queued, duplicate of a copy in the same batch,
	// rejected with its code), and one that leaves while queued is not
	// stored. Alone, a submission is its own batch.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		reg := prometheus.NewRegistry()
		m, err := processor.NewMetrics(reg)
		require.NoError(t, err)
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(), Metrics: m})
		require.NoError(t, err)
		require.NoError(t, p.SeedErrorCodes(t.Context()))
		e := &env{t: t, db: db, p: p, clk: &clock{t: time.Now()}, ctx: t.Context()}
		alice := account(t)

		// Alone: one batch each.
		for i := range 3 {
			raw, _ := must(t)(alice.Post(base+float64(i), "TEST", "note", map[string]any{"alone": i}, ""))
			e.submit(raw)
		}
		n, sum := intakeBatches(t, reg)
		require.Equal(t, uint64(3), n)
		require.InDelta(t, 3.0, sum, 0)

		// Held: everything queues, then goes in at most two batches.
		const posts = 30
		type sub struct {
			raw  []byte
			hash string
			ctx  context.Context
			res  processor.SubmitResult
			err  error
		}
		var subs []*sub
		for i := range posts {
			raw, h := must(t)(alice.Post(base+100+float64(i), "TEST", "note", map[string]any{"i": i}, ""))
			subs = append(subs, &sub{raw: raw, hash: h, ctx: t.Context()})
		}
		subs = append(subs, &sub{raw: subs[0].raw, hash: subs[0].hash, ctx: t.Context()}) // a copy
		var w map[string]any
		require.NoError(t, json.Unmarshal(subs[1].raw, &w))
		badHash := "00" + subs[1].hash[2:]
		w["item_hash"] = badHash
		bad, _ := json.Marshal(w)
		subs = append(subs, &sub{raw: bad, hash: badHash, ctx: t.Context()})
		gone, h := must(t)(alice.Post(base+999, "TEST", "note", map[string]any{"gone": true}, ""))
		goneCtx, leave := context.WithCancel(t.Context())
		subs = append(subs, &sub{raw: gone, hash: h, ctx: goneCtx})

		queued, release := p.HoldIntake()
		var wg sync.WaitGroup
		for _, s := range subs {
			wg.Go(func() { s.res, s.err = p.Submit(s.ctx, s.raw, processor.OriginAPI, nil) })
		}
		require.Eventually(t, func() bool { return queued() == len(subs) }, 10*time.Second, time.Millisecond)
		leave()
		require.Eventually(t, func() bool { return queued() == len(subs)-1 }, 10*time.Second, time.Millisecond)
		release()
		wg.Wait()

		for _, s := range subs[:posts] {
			require.NoError(t, s.err)
			require.Equal(t, s.hash, s.res.ItemHash)
		}
		copies := []processor.Outcome{subs[0].res.Outcome, subs[posts].res.Outcome}
		require.ElementsMatch(t, []processor.Outcome{processor.Queued, processor.Duplicate}, copies, "one copy queued, the other a duplicate")
		for _, s := range subs[1:posts] {
			require.Equal(t, processor.Queued, s.res.Outcome)
			require.Equal(t, messagestatus.StatusPending, e.status(s.hash))
		}
		bs := subs[posts+1]
		require.Equal(t, processor.Rejected, bs.res.Outcome)
		code, ok := errcode.CodeOf(bs.err)
		require.True(t, ok)
		require.Equal(t, int(code), e.rejectedCode(badHash))
		gs := subs[posts+2]
		require.ErrorIs(t, gs.err, context.Canceled)
		exists, err := db.Client.MessageStatus.Query().Where(messagestatus.ID(gs.hash)).Exist(t.Context())
		require.NoError(t, err)
		require.False(t, exists, "a submission that left the queue is not stored")

		n, sum = intakeBatches(t, reg)
		require.LessOrEqual(t, n, uint64(3+2), "the queued submissions share at most two batches")
		require.InDelta(t, float64(3+len(subs)-1), sum, 0)
		// The last flight lands once its leader has handed out the
		// results, which the submitters may have returned with already.
		require.Eventually(t, p.IntakeIdle, 5*time.Second, time.Millisecond)
	})
}
