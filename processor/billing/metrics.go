package billing

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the jobs' Prometheus metrics:
//
//   - alephql_billing_removing_total{reason}: messages marked removing;
//   - alephql_billing_recovered_total{reason}: removing messages paid for
//     again;
//   - alephql_billing_removed_total{reason}: removals finalized by the
//     garbage collector;
//   - alephql_billing_runs_total{job}: completed runs of each job.
//
// A nil *Metrics counts nothing.
type Metrics struct {
	removingTotal  *prometheus.CounterVec
	recoveredTotal *prometheus.CounterVec
	removedTotal   *prometheus.CounterVec
	runs           *prometheus.CounterVec
}

// NewMetrics registers the jobs' metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "billing", Name: name, Help: help,
		}, []string{label})
	}
	m := &Metrics{
		removingTotal:  counter("removing_total", "Paid messages marked removing for lack of funds, by reason.", "reason"),
		recoveredTotal: counter("recovered_total", "Removing messages paid for again (back to processed), by reason.", "reason"),
		removedTotal:   counter("removed_total", "Removals finalized by the garbage collector, by reason.", "reason"),
		runs:           counter("runs_total", "Completed runs of the billing jobs.", "job"),
	}
	for _, r := range []string{ReasonBalance, ReasonCredit} {
		m.removingTotal.WithLabelValues(r)
		m.recoveredTotal.WithLabelValues(r)
		m.removedTotal.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.removingTotal, m.recoveredTotal, m.removedTotal, m.runs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) removing(reason string) {
	if m != nil {
		m.removingTotal.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) recovered(reason string) {
	if m != nil {
		m.recoveredTotal.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) removed(reason string) {
	if m != nil {
		if reason == "" {
			reason = "unknown"
		}
		m.removedTotal.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) ran(job string) {
	if m != nil {
		m.runs.WithLabelValues(job).Inc()
	}
}
