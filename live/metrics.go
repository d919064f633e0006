package live

import (
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics registers the hub's figures with reg, read from
// Hub.Stats at scrape time. Their names are those the hub had when it
// served GraphQL subscriptions only (dashboards keep working); they now
// count the REST websocket feeds too:
//
//   - alephql_graphql_subscriptions: live subscriptions on this node;
//   - alephql_graphql_replay_batches_total{from}: batches of subscription
//     replays (resumed with a cursor, or caught up after lagging) served
//     from the hub's recent events ("memory") or read from the outbox
//     ("outbox").
func RegisterMetrics(reg prometheus.Registerer, h *Hub) error {
	subs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "alephql", Subsystem: "graphql", Name: "subscriptions",
		Help: "Live GraphQL subscriptions on this node.",
	}, func() float64 { return float64(h.Stats().Subscribers) })
	if err := reg.Register(subs); err != nil {
		return err
	}
	return reg.Register(replays{h: h, desc: prometheus.NewDesc("alephql_graphql_replay_batches_total",
		"Batches of subscription replays served from the hub's recent events (memory) or read from the outbox.",
		[]string{"from"}, nil)})
}

// replays collects the hub's replay counters.
type replays struct {
	h    *Hub
	desc *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c replays) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c replays) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.ReplaysFromMemory), "memory")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.ReplaysFromOutbox), "outbox")
}

// Interface guards
var _ prometheus.Collector = replays{}
