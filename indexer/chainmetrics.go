package indexer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the chain sources' Prometheus metrics:
//
//   - alephql_indexer_chain_txs_total{chain, protocol, outcome}: chain
//     transactions by outcome (read, expanded, retried, invalid);
//   - alephql_indexer_invalid_txs_total{chain, reason}: transactions
//     recorded as invalid, by reason (unauthorized, payload, protocol,
//     archive, unresolved, too_large);
//   - alephql_indexer_chain_messages_total{chain, outcome}: messages taken
//     from chain transactions by intake outcome;
//   - alephql_indexer_chain_height{chain, what}: cursor and safe head;
//   - alephql_indexer_rpc_errors_total{chain}: failed RPC rounds;
//   - alephql_indexer_reorgs_total{chain}: reorgs walked back.
//
// A nil *Metrics counts nothing.
type Metrics struct {
	txs      *prometheus.CounterVec
	invalid  *prometheus.CounterVec
	messages *prometheus.CounterVec
	height   *prometheus.GaugeVec
	rpcErrs  *prometheus.CounterVec
	reorgs   *prometheus.CounterVec
}

// NewMetrics registers the chain metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "indexer", Name: "chain_txs_total",
			Help: "Chain transactions by protocol and outcome (read, expanded, retried, invalid).",
		}, []string{"chain", "protocol", "outcome"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "indexer", Name: "invalid_txs_total",
			Help: "Chain transactions recorded as invalid, by reason.",
		}, []string{"chain", "reason"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "indexer", Name: "chain_messages_total",
			Help: "Messages taken from chain transactions, by intake outcome.",
		}, []string{"chain", "outcome"}),
		height: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "alephql", Subsystem: "indexer", Name: "chain_height",
			Help: "Block heights of a chain reader: its cursor and the safe head.",
		}, []string{"chain", "what"}),
		rpcErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "indexer", Name: "rpc_errors_total",
			Help: "Failed read rounds of a chain reader (then retried with back-off).",
		}, []string{"chain"}),
		reorgs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "indexer", Name: "reorgs_total",
			Help: "Chain reorganisations walked back.",
		}, []string{"chain"}),
	}
	for _, c := range []prometheus.Collector{m.txs, m.invalid, m.messages, m.height, m.rpcErrs, m.reorgs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Tx counts a chain transaction's outcome.
func (m *Metrics) Tx(chain, protocol, outcome string) {
	if m != nil {
		m.txs.WithLabelValues(chain, protocol, outcome).Inc()
	}
}

// Invalid counts a transaction recorded as invalid.
func (m *Metrics) Invalid(chain, reason string) {
	if m != nil {
		m.invalid.WithLabelValues(chain, reason).Inc()
	}
}

// Messages counts the intake outcomes of a transaction's messages.
func (m *Metrics) Messages(chain string, r TxResult) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(chain, "queued").Add(float64(r.Queued))
	m.messages.WithLabelValues(chain, "duplicate").Add(float64(r.Duplicate))
	m.messages.WithLabelValues(chain, "confirmed").Add(float64(r.Confirmed))
	m.messages.WithLabelValues(chain, "rejected").Add(float64(r.Rejected))
}

// Height sets a reader's cursor or safe head height.
func (m *Metrics) Height(chain, what string, h int64) {
	if m != nil {
		m.height.WithLabelValues(chain, what).Set(float64(h))
	}
}

// RPCError counts a failed read round.
func (m *Metrics) RPCError(chain string) {
	if m != nil {
		m.rpcErrs.WithLabelValues(chain).Inc()
	}
}

// Reorg counts a reorganisation.
func (m *Metrics) Reorg(chain string) {
	if m != nil {
		m.reorgs.WithLabelValues(chain).Inc()
	}
}
