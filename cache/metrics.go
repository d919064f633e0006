package cache

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Result is the outcome of one cache lookup, a label of the lookups metric.
type Result string

// The lookup outcomes.
const (
	// Hit: a valid entry was served.
	Hit Result = "hit"
	// Miss: no entry; the row was read from the database.
	Miss Result = "miss"
	// Stale: an entry was found but invalidated by a change (or expired);
	// the row was read from the database.
	Stale Result = "stale"
	// Bypass: the node had not applied the outbox up to its end yet, so no
	// entry could be checked; the row was read from the database.
	Bypass Result = "bypass"
)

// Metrics counts cache lookups per kind of row and outcome, as the
// Prometheus counter alephql_graphql_cache_lookups_total{kind, result}.
// A nil *Metrics counts nothing.
type Metrics struct {
	lookups *prometheus.CounterVec
}

// NewMetrics registers the cache's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "alephql", Subsystem: "graphql_cache", Name: "lookups_total",
		Help: "Row cache lookups by kind (message, aggregate, post, file) and result (hit, miss, stale, bypass).",
	}, []string{"kind", "result"})}
	if err := reg.Register(m.lookups); err != nil {
		return nil, err
	}
	return m, nil
}

// Add counts n lookups of kind with result r.
func (m *Metrics) Add(kind string, r Result, n int) {
	if m == nil || n == 0 {
		return
	}
	m.lookups.WithLabelValues(kind, string(r)).Add(float64(n))
}
