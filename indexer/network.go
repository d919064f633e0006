package indexer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"
)

// Network intake: the types shared by the network sources (IPFS pubsub in
// indexer/pubsub, libp2p gossip in indexer/p2p, following another node in
// indexer/follow). They hand raw wire messages to a Submitter, which runs
// them through the same validation as a client's (implemented over the
// processor in cmd, so the indexer never imports it).

// Origin names the network intake a message came through.
type Origin string

// The network origins.
const (
	// OriginP2P: libp2p gossip.
	OriginP2P Origin = "p2p"
	// OriginIPFS: IPFS pubsub.
	OriginIPFS Origin = "ipfs"
	// OriginPeer: another node's HTTP API (follow).
	OriginPeer Origin = "peer"
)

// Outcome is what intake did with one message.
type Outcome int

// Intake outcomes.
const (
	// Accepted: new to this node, queued for processing.
	Accepted Outcome = iota
	// Duplicate: already known here; nothing changed.
	Duplicate
	// Rejected: malformed or invalid; recorded as rejected.
	Rejected
)

// String names the outcome (the metrics' label).
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Result is the intake of one message.
type Result struct {
	// ItemHash is the message's item hash ("" if too malformed to have one).
	ItemHash string
	// Outcome is what intake did.
	Outcome Outcome
	// Err says why a Rejected message was refused.
	Err error
}

// Submitter takes raw wire messages (JSON) in, verified exactly like a
// client's. The error is a failure of the node (database), after which
// nothing was stored; per-message verdicts are in the results, in input
// order.
type Submitter interface {
	SubmitRaw(ctx context.Context, origin Origin, raws [][]byte) ([]Result, error)
}

// SubmitterFunc adapts a function to Submitter.
type SubmitterFunc func(ctx context.Context, origin Origin, raws [][]byte) ([]Result, error)

// SubmitRaw calls f.
func (f SubmitterFunc) SubmitRaw(ctx context.Context, origin Origin, raws [][]byte) ([]Result, error) {
	return f(ctx, origin, raws)
}

// Publisher broadcasts a message a client submitted to this node to the
// network (the API layers call it after a successful intake, as the
// reference node publishes every message it receives over HTTP).
type Publisher interface {
	Publish(ctx context.Context, raw []byte) error
}

// Backlog reports how many messages wait in the processor's queue.
type Backlog interface {
	Pending(ctx context.Context) (int, error)
}

// PeerKind is the kind of address a peer announces.
type PeerKind string

// Peer kinds (the peers table's peer_type values).
const (
	PeerP2P  PeerKind = "p2p"
	PeerHTTP PeerKind = "http"
	PeerIPFS PeerKind = "ipfs"
)

// Peer is another node heard of.
type Peer struct {
	// ID is the peer id (libp2p or kubo) or, for HTTP peers, the address.
	ID string
	// Kind is the kind of Address.
	Kind PeerKind
	// Address is a multiaddr (P2P, IPFS) or a URL (HTTP).
	Address string
	// Source is how it was heard of: "p2p", "ipfs", "config".
	Source string
	// LastSeen is when it was last heard of.
	LastSeen time.Time
}

// PeerRecorder records peers heard of (the peers table, in cmd).
type PeerRecorder interface {
	RecordPeer(ctx context.Context, p Peer) error
}

// Alive is an aliveness announcement (topics ALIVE and ALEPH_ALIVE).
type Alive struct {
	// Address is a multiaddr (P2P, IPFS) or a URL (HTTP).
	Address string `json:"address"`
	// Interests is always null on the network.
	Interests any `json:"interests"`
	// PeerType is "P2P", "HTTP" or "IPFS".
	PeerType string `json:"peer_type"`
	// Version is the announcing node's version.
	Version string `json:"version"`
}

// ErrBadPubsubPayload means a pubsub payload is not a JSON object once unquoted.
var ErrBadPubsubPayload = errors.New("bad pubsub payload")

// MaxPayload is the largest pubsub payload taken (gossipsub's
// max_transmit_size on the network).
const MaxPayload = 256 << 10

// DecodePayload turns a pubsub payload into a message's JSON: the
// reference node percent-unquotes it (Python's urllib.parse.unquote) then
// parses JSON (spec §3.1, §8.2).
func DecodePayload(b []byte) ([]byte, error) {
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadPubsubPayload, len(b))
	}
	if bytes.IndexByte(b, '%') >= 0 {
		// unquote: invalid escapes are kept as they are, like Python's.
		s, err := url.PathUnescape(string(b))
		if err == nil {
			b = []byte(s)
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadPubsubPayload)
	}
	return b, nil
}

// ParseAlive decodes an aliveness announcement.
func ParseAlive(b []byte) (Alive, PeerKind, error) {
	var a Alive
	if len(b) > 64<<10 {
		return a, "", fmt.Errorf("%w: alive message of %d bytes", ErrBadPubsubPayload, len(b))
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, "", fmt.Errorf("%w: alive: %w", ErrBadPubsubPayload, err)
	}
	var k PeerKind
	switch a.PeerType {
	case "P2P":
		k = PeerP2P
	case "HTTP":
		k = PeerHTTP
	case "IPFS":
		k = PeerIPFS
	default:
		return a, "", fmt.Errorf("%w: alive: peer_type %q", ErrBadPubsubPayload, a.PeerType)
	}
	if a.Address == "" || len(a.Address) > 1024 {
		return a, "", fmt.Errorf("%w: alive: bad address", ErrBadPubsubPayload)
	}
	return a, k, nil
}

// Dedupe remembers the last N payloads seen (by sha256), so a payload
// heard twice (several peers, pubsub and gossip) is submitted once. It is
// safe for concurrent use.
type Dedupe struct {
	mu   sync.Mutex
	seen map[[32]byte]struct{}
	ring [][32]byte
	next int
}

// NewDedupe returns a Dedupe remembering n payloads (n > 0).
func NewDedupe(n int) *Dedupe {
	if n <= 0 {
		n = 1
	}
	return &Dedupe{seen: make(map[[32]byte]struct{}, n), ring: make([][32]byte, 0, n)}
}

// Seen records b and reports whether it was already recorded.
func (d *Dedupe) Seen(b []byte) bool {
	k := sha256.Sum256(b)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[k]; ok {
		return true
	}
	if len(d.ring) < cap(d.ring) {
		d.ring = append(d.ring, k)
	} else {
		delete(d.seen, d.ring[d.next])
		d.ring[d.next] = k
		d.next = (d.next + 1) % len(d.ring)
	}
	d.seen[k] = struct{}{}
	return false
}

// Forget removes b, so that it is taken again (after a failed submit).
func (d *Dedupe) Forget(b []byte) {
	k := sha256.Sum256(b)
	d.mu.Lock()
	delete(d.seen, k)
	d.mu.Unlock()
}

// Throttle is the sources' back-pressure: Wait blocks while the
// processor's queue holds High messages or more, so a source slows down
// to the processor's pace instead of making it buffer without bound;
// nothing is dropped. It reads the backlog at most once per Poll.
type Throttle struct {
	backlog Backlog
	high    int
	poll    time.Duration

	mu      sync.Mutex
	checked time.Time
	pending int
}

// Defaults of NewThrottle.
const (
	DefaultHighWater = 20000
	DefaultPoll      = 250 * time.Millisecond
)

// NewThrottle returns a Throttle over backlog; high <= 0 and poll <= 0
// take the defaults. A nil backlog never throttles.
func NewThrottle(backlog Backlog, high int, poll time.Duration) *Throttle {
	if high <= 0 {
		high = DefaultHighWater
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	return &Throttle{backlog: backlog, high: high, poll: poll}
}

// Wait returns once the queue is below the high-water mark, or ctx's
// error. A failure to read the backlog does not block (the submit that
// follows will report the database's state).
func (t *Throttle) Wait(ctx context.Context) error {
	if t == nil || t.backlog == nil {
		return ctx.Err()
	}
	for {
		t.mu.Lock()
		if time.Since(t.checked) >= t.poll {
			n, err := t.backlog.Pending(ctx)
			t.checked = time.Now()
			if err != nil {
				n = 0
			}
			t.pending = n
		}
		n := t.pending
		t.mu.Unlock()
		if n < t.high {
			return ctx.Err()
		}
		timer := time.NewTimer(t.poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// Counter counts intake verdicts and failures (*netstat.Source).
type Counter interface {
	Record(rs []Result)
	SetError(err error)
}

// SubmitRetry hands raws to sub once throttle lets it, retrying a failed
// submit with back-off (up to maxBackoff) until it succeeds or ctx ends:
// a source never drops what it has taken. The verdicts are counted in c.
func SubmitRetry(ctx context.Context, sub Submitter, throttle *Throttle, c Counter, origin Origin, raws [][]byte,
	maxBackoff time.Duration, log *slog.Logger,
) error {
	backoff := 100 * time.Millisecond
	for {
		if err := throttle.Wait(ctx); err != nil {
			return err
		}
		rs, err := sub.SubmitRaw(ctx, origin, raws)
		if err == nil {
			c.Record(rs)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.SetError(err)
		log.Warn("submit failed; retrying", "messages", len(raws), "err", err, "in", backoff)
		if Sleep(ctx, backoff) != nil {
			return ctx.Err()
		}
		backoff = min(backoff*2, max(maxBackoff, backoff))
	}
}

// Sleep waits d, or returns ctx's error if ctx ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Interface guards
var _ Submitter = SubmitterFunc(nil)
