package processor_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// BenchmarkDependentLatency measures the time from the commit of a
// dependency (a post) to the commit of a message waiting on it (its
// amend, sent first and pushed 5 minutes out, as a late retry's back-off
// would be), both seen as their processed events after commit, with the
// processor running as in the node. Reports p50, p99 and max in ms.
//
//	go test ./processor -run '^$' -bench DependentLatency -benchtime 200x
func BenchmarkDependentLatency(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			url := filepath.Join(b.TempDir(), "alephql.db")
			if backend == "postgres" {
				url = dbtest.NewPostgresDatabase(b)
			}
			ctx := context.Background()
			db, err := database.Open(ctx, database.Config{URL: url}, dbtest.Logger())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx, dbtest.Logger()); err != nil {
				b.Fatal(err)
			}
			bus := events.NewLocal(1 << 16)
			p, err := processor.New(processor.Config{MaxRetries: 10}, processor.Deps{DB: db, Events: bus, Log: dbtest.Logger()})
			if err != nil {
				b.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- p.Run(rctx) }()
			defer func() { cancel(); <-done }()
			sub, err := bus.Subscribe(rctx)
			if err != nil {
				b.Fatal(err)
			}
			alice, err := demo.NewAccount()
			if err != nil {
				b.Fatal(err)
			}
			waitProcessed := func(hash string) time.Time {
				for e := range sub.C {
					if e.ItemHash == hash && e.Kind == events.Processed {
						return time.Now()
					}
				}
				b.Fatal("bus closed")
				return time.Time{}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				orig, oh, err := alice.Post(base+float64(i), "BENCH", "note", map[string]any{"i": i}, "")
				if err != nil {
					b.Fatal(err)
				}
				amend, ah, err := alice.Amend(base+float64(i)+0.5, "BENCH", oh, map[string]any{"i": i})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Submit(ctx, amend, processor.OriginAPI, nil); err != nil {
					b.Fatal(err)
				}
				for { // until the amend waits for its post
					r, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(ah)).Only(ctx)
					if err == nil && r.WaitsOn != nil {
						if err := db.Client.PendingMessage.UpdateOneID(r.ID).SetNextAttempt(time.Now().Add(5 * time.Minute)).Exec(ctx); err != nil {
							b.Fatal(err)
						}
						break
					}
					time.Sleep(time.Millisecond)
				}
				b.StartTimer()
				if _, err := p.Submit(ctx, orig, processor.OriginAPI, nil); err != nil {
					b.Fatal(err)
				}
				// The events of one batch arrive together, in order.
				t0 := waitProcessed(oh)
				lat = append(lat, waitProcessed(ah).Sub(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			q := func(f float64) float64 {
				return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		})
	}
}
