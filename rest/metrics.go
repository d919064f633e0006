package rest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the REST API's own figures (requests and latencies per
// route are the HTTP server's).
type Metrics struct {
	feeds       prometheus.Gauge
	feedsCut    *prometheus.CounterVec
	submissions *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		feeds: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "alephql", Subsystem: "rest", Name: "ws_feeds",
			Help: "Open /api/ws0/messages websockets.",
		}),
		feedsCut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "rest", Name: "ws_feeds_closed_total",
			Help: "/api/ws0/messages websockets closed by the node, by reason (slow, full, error).",
		}, []string{"reason"}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "rest", Name: "submissions_total",
			Help: "Messages submitted through POST /api/v0/messages and the pubsub routes, by answered status.",
		}, []string{"status"}),
	}
	for _, c := range []prometheus.Collector{m.feeds, m.feedsCut, m.submissions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// The methods below accept a nil *Metrics (no metrics).

func (m *Metrics) feedOpened(d float64) {
	if m != nil {
		m.feeds.Add(d)
	}
}

func (m *Metrics) feedCut(reason string) {
	if m != nil {
		m.feedsCut.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) submitted(status string) {
	if m != nil {
		m.submissions.WithLabelValues(status).Inc()
	}
}
