package graph

import (
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterHubMetrics registers the subscription hub's figures with reg,
// read from Hub.Stats at scrape time:
//
//   - alephql_graphql_subscriptions: live subscriptions on this node;
//   - alephql_graphql_live_payloads_total{how}: live event payloads sent,
//     "executed" (the selection set ran for the event) or "shared" (the
//     payload of another subscription with the same selection set and
//     variables was reused);
//   - alephql_graphql_replay_batches_total{from}: batches of subscription
//     replays (resumed with a cursor, or caught up after lagging) served
//     from the hub's recent events ("memory") or read from the outbox
//     ("outbox").
func RegisterHubMetrics(reg prometheus.Registerer, h *Hub) error {
	subs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "alephql", Subsystem: "graphql", Name: "subscriptions",
		Help: "Live GraphQL subscriptions on this node.",
	}, func() float64 { return float64(h.Stats().Subscribers) })
	if err := reg.Register(subs); err != nil {
		return err
	}
	return reg.Register(hubPayloads{h: h, desc: prometheus.NewDesc("alephql_graphql_live_payloads_total",
		"Live event payloads sent to subscriptions, executed for the event or shared with another subscription of the same selection set.",
		[]string{"how"}, nil), replays: prometheus.NewDesc("alephql_graphql_replay_batches_total",
		"Batches of subscription replays served from the hub's recent events (memory) or read from the outbox.",
		[]string{"from"}, nil)})
}

// hubPayloads collects the hub's payload counters.
type hubPayloads struct {
	h             *Hub
	desc, replays *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c hubPayloads) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.replays }

// Collect implements prometheus.Collector.
func (c hubPayloads) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.Executed), "executed")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.Shared), "shared")
	ch <- prometheus.MustNewConstMetric(c.replays, prometheus.CounterValue, float64(st.ReplaysFromMemory), "memory")
	ch <- prometheus.MustNewConstMetric(c.replays, prometheus.CounterValue, float64(st.ReplaysFromOutbox), "outbox")
}

// Interface guards
var _ prometheus.Collector = hubPayloads{}
