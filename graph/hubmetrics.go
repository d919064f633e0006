package graph

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/live"
)

// RegisterHubMetrics registers the subscription hub's figures with reg,
// read from Hub.Stats at scrape time: the live hub's (live.RegisterMetrics)
// and GraphQL's own:
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
	if err := live.RegisterMetrics(reg, h.Hub); err != nil {
		return err
	}
	return reg.Register(hubPayloads{h: h, desc: prometheus.NewDesc("alephql_graphql_live_payloads_total",
		"Live event payloads sent to subscriptions, executed for the event or shared with another subscription of the same selection set.",
		[]string{"how"}, nil)})
}

// hubPayloads collects the hub's payload counters.
type hubPayloads struct {
	h    *Hub
	desc *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c hubPayloads) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c hubPayloads) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.Executed), "executed")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(st.Shared), "shared")
}

// Interface guards
var _ prometheus.Collector = hubPayloads{}
