package processor

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/message"
)

// Metrics are the processor's Prometheus metrics, counted from the events
// each committed batch publishes, so every path that changes state (the
// queue, the import's direct path, forgets and cascades) is counted once,
// after its commit:
//
//   - alephql_processor_events_total{kind, type}: state changes by event
//     kind (processed, rejected, forgotten, confirmed, amended, removing,
//     recovered, removed, pending) and message type ("unknown" when the event names
//     none, as rejections do);
//   - alephql_processor_rejections_total{code}: rejections by protocol
//     error code;
//   - alephql_processor_last_event_timestamp_seconds: commit time of the
//     latest published event (time() minus it is how long the processor
//     has been idle or stuck);
//   - alephql_processor_pending_messages: the queue's length, read at
//     scrape time (see Processor.Metrics);
//   - alephql_processor_deadlocks_total{stage}: PostgreSQL deadlocks met
//     by an intake transaction (stage intake) or a process-stage batch
//     (stage process); the lock order makes them not happen, so any is a
//     bug;
//   - alephql_processor_direct_fallbacks_total: intake batches whose
//     direct application failed and that were queued instead;
//   - alephql_processor_intake_batch_messages: messages per intake
//     transaction shared by concurrent single submissions (coalesce.go);
//   - alephql_processor_crossed_dependencies_total: dependencies that
//     retried messages awaited, found present once their batch had
//     committed; the rows awaiting them are made due (dependents.go).
//
// A nil *Metrics counts nothing.
type Metrics struct {
	events     *prometheus.CounterVec
	rejections *prometheus.CounterVec
	deadlocks  *prometheus.CounterVec
	fallbacks  prometheus.Counter
	batches    prometheus.Histogram
	crossed    prometheus.Counter
	lastEvent  atomic.Int64 // unix nanoseconds
}

// NewMetrics registers the processor's event metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "processor", Name: "events_total",
			Help: "Committed state changes of messages by event kind and message type.",
		}, []string{"kind", "type"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "processor", Name: "rejections_total",
			Help: "Rejected messages by protocol error code.",
		}, []string{"code"}),
		deadlocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "processor", Name: "deadlocks_total",
			Help: "PostgreSQL deadlocks met by intake transactions and process-stage batches.",
		}, []string{"stage"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "processor", Name: "direct_fallbacks_total",
			Help: "Intake batches whose direct application failed and that were queued instead.",
		}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "alephql", Subsystem: "processor", Name: "intake_batch_messages",
			Help:    "Messages per intake transaction shared by concurrent single submissions.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		crossed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "processor", Name: "crossed_dependencies_total",
			Help: "Dependencies awaited by retried messages, found present once their batch had committed (the awaiting rows are made due).",
		}),
	}
	last := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "alephql", Subsystem: "processor", Name: "last_event_timestamp_seconds",
		Help: "Commit time of the latest state change this process published (0 before the first).",
	}, func() float64 {
		ns := m.lastEvent.Load()
		if ns == 0 {
			return 0
		}
		return float64(ns) / 1e9
	})
	for _, c := range []prometheus.Collector{m.events, m.rejections, m.deadlocks, m.fallbacks, m.batches, m.crossed, last} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// typeLabel bounds the type label to the protocol's message types.
func typeLabel(t string) string {
	switch message.Type(t) {
	case message.TypePost, message.TypeAggregate, message.TypeStore, message.TypeProgram,
		message.TypeInstance, message.TypeForget:
		return t
	case "":
		return "unknown"
	}
	return "other"
}

// observe counts published events.
func (m *Metrics) observe(evs []events.Event) {
	if m == nil {
		return
	}
	var last time.Time
	for _, e := range evs {
		m.events.WithLabelValues(string(e.Kind), typeLabel(e.Type)).Inc()
		if e.Kind == events.Rejected && e.ErrorCode != nil {
			m.rejections.WithLabelValues(strconv.Itoa(*e.ErrorCode)).Inc()
		}
		if e.At.After(last) {
			last = e.At
		}
	}
	if last.IsZero() {
		return
	}
	ns := last.UnixNano()
	for {
		old := m.lastEvent.Load()
		if old >= ns || m.lastEvent.CompareAndSwap(old, ns) {
			return
		}
	}
}

// failed counts a failed intake or process transaction (stage intake or
// process): a deadlock among its causes, and for an intake whose direct
// application failed (fallback), the fallback.
func (m *Metrics) failed(stage string, err error, fallback bool) {
	if m == nil {
		return
	}
	if isDeadlock(err) {
		m.deadlocks.WithLabelValues(stage).Inc()
	}
	if fallback {
		m.fallbacks.Inc()
	}
}

// crossedDependencies counts n awaited dependencies found after a commit.
func (m *Metrics) crossedDependencies(n int) {
	if m != nil {
		m.crossed.Add(float64(n))
	}
}

// intakeBatch counts a shared intake transaction of n messages.
func (m *Metrics) intakeBatch(n int) {
	if m != nil {
		m.batches.Observe(float64(n))
	}
}

// countingPublisher counts events into Metrics before handing them on.
type countingPublisher struct {
	next events.Publisher // nil: count only
	m    *Metrics
}

// Publish implements events.Publisher.
func (c countingPublisher) Publish(ctx context.Context, evs ...events.Event) error {
	c.m.observe(evs)
	if c.next == nil {
		return nil
	}
	return c.next.Publish(ctx, evs...)
}

// RegisterQueueMetric registers alephql_processor_pending_messages, the
// number of messages waiting in the queue, counted at scrape time with a
// bound of timeout per scrape; a scrape that cannot count in time reports
// the last count it could make (NaN before the first).
func (p *Processor) RegisterQueueMetric(reg prometheus.Registerer, timeout time.Duration) error {
	var mu sync.Mutex
	last := math.NaN()
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "alephql", Subsystem: "processor", Name: "pending_messages",
		Help: "Messages waiting in the processing queue (pending rows).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		n, err := p.Pending(ctx)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			p.log.Warn("count pending messages for metrics", "err", err)
			return last
		}
		last = float64(n)
		return last
	}))
}

// Interface guards
var _ events.Publisher = countingPublisher{}
