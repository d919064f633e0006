package processor_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
)

// TestMetricsCountCommittedStateChanges: the metrics count what the
// pipeline committed, by kind, type and rejection code, show the queue's
// length at scrape time, and the events still reach the bus.
func TestMetricsCountCommittedStateChanges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		reg := prometheus.NewRegistry()
		m, err := processor.NewMetrics(reg)
		require.NoError(t, err)
		bus := events.NewLocal(64)
		sub, err := bus.Subscribe(t.Context())
		require.NoError(t, err)
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(), Events: bus, Metrics: m})
		require.NoError(t, err)
		require.NoError(t, p.RegisterQueueMetric(reg, 5*time.Second))
		e := &env{t: t, db: db, p: p, clk: &clock{t: time.Now()}, ctx: t.Context()}
		require.NoError(t, p.SeedErrorCodes(t.Context()))

		alice, bob := account(t), account(t)
		orig, oh := must(t)(alice.Post(base, "TEST", "blog", map[string]any{"v": 0}, ""))
		agg, _ := must(t)(alice.Aggregate(base+1, "TEST", "profile", map[string]any{"name": "alice"}))
		stolen, _ := must(t)(bob.Amend(base+2, "TEST", oh, map[string]any{"v": 1}))
		e.submit(orig, agg, stolen)

		value := func(name string, labels ...string) float64 {
			t.Helper()
			mfs, err := reg.Gather()
			require.NoError(t, err)
			for _, mf := range mfs {
				if mf.GetName() != name {
					continue
				}
			metrics:
				for _, mt := range mf.GetMetric() {
					for i, lp := range mt.GetLabel() {
						if lp.GetValue() != labels[i] {
							continue metrics
						}
					}
					if mt.GetGauge() != nil {
						return mt.GetGauge().GetValue()
					}
					return mt.GetCounter().GetValue()
				}
			}
			return 0
		}
		require.Equal(t, 3.0, value("alephql_processor_pending_messages"), "three messages queued")
		e.drain()
		require.Equal(t, 0.0, value("alephql_processor_pending_messages"), "the queue drained")
		count := value
		require.Equal(t, 3.0, count("alephql_processor_events_total", "pending", "POST")+count("alephql_processor_events_total", "pending", "AGGREGATE"))
		require.Equal(t, 1.0, count("alephql_processor_events_total", "processed", "POST"))
		require.Equal(t, 1.0, count("alephql_processor_events_total", "processed", "AGGREGATE"))
		// A rejection's event names no type when the message could not be
		// parsed, so rejections are counted by code rather than by type.
		require.Equal(t, 1.0, count("alephql_processor_events_total", "rejected", "POST")+count("alephql_processor_events_total", "rejected", "unknown"))
		require.Equal(t, 1.0, count("alephql_processor_rejections_total", strconv.Itoa(int(errcode.PermissionDenied))))
		require.Equal(t, 0.0, count("alephql_processor_rejections_total", strconv.Itoa(int(errcode.PostAmendAmend))))

		last := value("alephql_processor_last_event_timestamp_seconds")
		require.InDelta(t, float64(time.Now().Unix()), last, 300, "the latest event's commit time")

		got := 0
		for got < 6 {
			select {
			case <-sub.C:
				got++
			case <-time.After(5 * time.Second):
				t.Fatalf("the bus got %d of the 6 events", got)
			}
		}
	})
}
