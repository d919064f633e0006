// Package netstat counts what each network source (a followed node, IPFS
// pubsub, libp2p gossip) brought in: messages received, accepted,
// rejected and duplicate, its lag behind the source, its last error and
// its connection state. The GraphQL status query reads a Snapshot; the
// same figures are Prometheus metrics, read at scrape time.
package netstat

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/indexer"
)

// State is a source's connection state.
type State string

// Connection states.
const (
	// Connecting: starting, or reconnecting after a failure.
	Connecting State = "connecting"
	// Backfilling: catching up on a followed node's history.
	Backfilling State = "backfilling"
	// Live: connected and receiving live messages.
	Live State = "live"
	// Disconnected: down; the source retries with back-off.
	Disconnected State = "disconnected"
	// Stopped: the source has ended.
	Stopped State = "stopped"
)

// KindFollow is the kind of a followed node's source.
const KindFollow = "follow"

// Source is the counters of one source. Its methods are safe for
// concurrent use; a nil *Source counts nothing.
type Source struct {
	name, kind                                    string
	received, accepted, rejected, duplicate, lagN atomic.Int64
	resumeGone                                    atomic.Int64
	mu                                            sync.Mutex
	state                                         State
	lastErr                                       string
	lastErrAt                                     time.Time
}

// Received counts n messages received from the source.
func (s *Source) Received(n int) {
	if s != nil {
		s.received.Add(int64(n))
	}
}

// Record counts intake verdicts.
func (s *Source) Record(rs []indexer.Result) {
	if s == nil {
		return
	}
	for _, r := range rs {
		switch r.Outcome {
		case indexer.Accepted:
			s.accepted.Add(1)
		case indexer.Duplicate:
			s.duplicate.Add(1)
		case indexer.Rejected:
			s.rejected.Add(1)
		}
	}
}

// Duplicate counts n messages dropped as already seen before intake.
func (s *Source) Duplicate(n int) {
	if s != nil {
		s.duplicate.Add(int64(n))
	}
}

// ResumeGone counts a feed the source could not resume from its
// position (a followed node answering 410: its outbox no longer reaches
// back there), caught up by message time instead, which may miss what
// the peer processed late with an older time.
func (s *Source) ResumeGone() {
	if s != nil {
		s.resumeGone.Add(1)
	}
}

// SetLag sets how far behind the source this node is (the age of the
// newest message taken from it, while backfilling).
func (s *Source) SetLag(d time.Duration) {
	if s != nil {
		s.lagN.Store(int64(max(d, 0)))
	}
}

// SetState sets the connection state.
func (s *Source) SetState(st State) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// SetError records the source's latest error (nil: nothing).
func (s *Source) SetError(err error) {
	if s == nil || err == nil {
		return
	}
	s.mu.Lock()
	s.lastErr, s.lastErrAt = err.Error(), time.Now()
	s.mu.Unlock()
}

// Status is a snapshot of one source.
type Status struct {
	// Name identifies the source ("pubsub", "gossip", the followed URL).
	Name string
	// Kind is "follow", "ipfs" or "p2p".
	Kind string
	// Received, Accepted, Rejected, Duplicate count messages.
	Received, Accepted, Rejected, Duplicate int64
	// Lag is how far behind the source this node is.
	Lag time.Duration
	// State is the connection state.
	State State
	// LastError is the latest error ("" if none) and LastErrorAt its time.
	LastError   string
	LastErrorAt time.Time
	// ResumeGone counts the feeds that could not be resumed from the
	// source's position (ResumeGone).
	ResumeGone int64
}

// Status returns the source's figures.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{
		Name: s.name, Kind: s.kind,
		Received: s.received.Load(), Accepted: s.accepted.Load(), Rejected: s.rejected.Load(), Duplicate: s.duplicate.Load(),
		Lag: time.Duration(s.lagN.Load()), State: s.state, LastError: s.lastErr, LastErrorAt: s.lastErrAt,
		ResumeGone: s.resumeGone.Load(),
	}
}

// Registry holds the sources of a node. It is safe for concurrent use; a
// nil *Registry hands out nil sources.
type Registry struct {
	mu      sync.Mutex
	sources map[string]*Source
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{sources: map[string]*Source{}} }

// Source returns the source named name, created in state Connecting on
// first use.
func (r *Registry) Source(name, kind string) *Source {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sources[name]; ok {
		return s
	}
	s := &Source{name: name, kind: kind, state: Connecting}
	r.sources[name] = s
	return s
}

// Snapshot returns every source's status, by name.
func (r *Registry) Snapshot() []Status {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	out := make([]Status, 0, len(r.sources))
	for _, s := range r.sources {
		out = append(out, s.Status())
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

var (
	descMessages = prometheus.NewDesc("alephql_indexer_source_messages_total",
		"Messages from each network source by outcome (received, accepted, rejected, duplicate).",
		[]string{"source", "kind", "outcome"}, nil)
	descLag = prometheus.NewDesc("alephql_indexer_source_lag_seconds",
		"How far behind each network source this node is.", []string{"source", "kind"}, nil)
	descUp = prometheus.NewDesc("alephql_indexer_source_state",
		"Connection state of each network source (1 for the current state).", []string{"source", "kind", "state"}, nil)
	descResumeGone = prometheus.NewDesc("alephql_follow_resume_gone_total",
		"Live feeds of each followed node that could not resume from this node's position (410: the peer's outbox no longer reaches back there), caught up by message time instead.",
		[]string{"peer"}, nil)
)

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMessages
	ch <- descLag
	ch <- descUp
	ch <- descResumeGone
}

// Collect implements prometheus.Collector: the figures are read at
// scrape time.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	for _, s := range r.Snapshot() {
		for _, c := range []struct {
			o string
			n int64
		}{{"received", s.Received}, {"accepted", s.Accepted}, {"rejected", s.Rejected}, {"duplicate", s.Duplicate}} {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(c.n), s.Name, s.Kind, c.o)
		}
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, s.Lag.Seconds(), s.Name, s.Kind)
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1, s.Name, s.Kind, string(s.State))
		if s.Kind == KindFollow {
			ch <- prometheus.MustNewConstMetric(descResumeGone, prometheus.CounterValue, float64(s.ResumeGone), s.Name)
		}
	}
}

// Interface guards
var _ prometheus.Collector = (*Registry)(nil)
