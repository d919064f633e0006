package cache

import (
	"sync/atomic"

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
// Prometheus counter alephql_graphql_cache_lookups_total{kind, result},
// and reports the size of the store's Gens:
// alephql_graphql_cache_generation_keys and
// alephql_graphql_cache_generations_forgotten_total (times the older half
// was dropped at DefaultMaxGens). A nil *Metrics counts nothing.
type Metrics struct {
	lookups *prometheus.CounterVec
	gens    atomic.Pointer[Gens] // set by NewStore
}

// NewMetrics registers the cache's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "alephql", Subsystem: "graphql_cache", Name: "lookups_total",
		Help: "Row cache lookups by kind (message, aggregate, post, file) and result (hit, miss, stale, bypass).",
	}, []string{"kind", "result"})}
	stat := func(f func(GensStats) float64) func() float64 {
		return func() float64 {
			g := m.gens.Load()
			if g == nil {
				return 0
			}
			return f(g.Stats())
		}
	}
	for _, c := range []prometheus.Collector{
		m.lookups,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "alephql", Subsystem: "graphql_cache", Name: "generation_keys",
			Help: "Cache keys whose last change the node keeps (for the entries' TTL, at most a bound).",
		}, stat(func(s GensStats) float64 { return float64(s.Keys) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "graphql_cache", Name: "generations_forgotten_total",
			Help: "Times the older half of the cache generations was dropped at the bound, invalidating the entries read before.",
		}, stat(func(s GensStats) float64 { return float64(s.Forgotten) })),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// watch reports g's size.
func (m *Metrics) watch(g *Gens) {
	if m != nil {
		m.gens.Store(g)
	}
}

// Add counts n lookups of kind with result r.
func (m *Metrics) Add(kind string, r Result, n int) {
	if m == nil || n == 0 {
		return
	}
	m.lookups.WithLabelValues(kind, string(r)).Add(float64(n))
}
