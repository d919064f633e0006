package indexer

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// NodeLister returns the multiaddrs of the network's core channel nodes
// (the corechannel aggregate's nodes[].multiaddress); their peer ids are
// in the aliveness allowlist.
type NodeLister interface {
	NodeAddrs(ctx context.Context) ([]string, error)
}

// DefaultAllowlistCache is how long NewAllowlist keeps the core channel
// node list (the reference node caches it 300 s).
const DefaultAllowlistCache = 300 * time.Second

// Allowlist is the aliveness allowlist of spec §8.2, the same for the
// libp2p topic ALIVE and the IPFS pubsub topic ALEPH_ALIVE: announcements
// are taken only from the bootstrap peers (and any id the operator adds)
// and from the nodes of the corechannel aggregate, read through a
// NodeLister and cached. Peer ids are compared as their text form. It is
// safe for concurrent use.
type Allowlist struct {
	static map[string]bool
	nodes  NodeLister
	ttl    time.Duration
	log    *slog.Logger

	mu     sync.Mutex
	cached map[string]bool
	at     time.Time
}

// NewAllowlist returns the allowlist of ids (peer ids, or multiaddrs
// ending in /p2p/<id>) and of the nodes listed by nodes (nil: none),
// re-read every ttl (<= 0: DefaultAllowlistCache).
func NewAllowlist(ids []string, nodes NodeLister, ttl time.Duration, log *slog.Logger) *Allowlist {
	if ttl <= 0 {
		ttl = DefaultAllowlistCache
	}
	if log == nil {
		log = slog.Default()
	}
	a := &Allowlist{static: map[string]bool{}, nodes: nodes, ttl: ttl, log: log}
	for _, id := range ids {
		if p := PeerIDOf(id); p != "" {
			a.static[p] = true
		}
	}
	return a
}

// Allowed reports whether announcements from peer id are taken. When the
// node list cannot be read, the last list read stands (none before the
// first success).
func (a *Allowlist) Allowed(ctx context.Context, id string) bool {
	if a == nil || id == "" {
		return false
	}
	if a.static[id] {
		return true
	}
	if a.nodes == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cached == nil || time.Since(a.at) > a.ttl {
		addrs, err := a.nodes.NodeAddrs(ctx)
		if err != nil {
			a.log.Warn("reading the core channel nodes failed", "err", err)
		} else {
			a.cached = make(map[string]bool, len(addrs))
			for _, ad := range addrs {
				if p := PeerIDOf(ad); p != "" {
					a.cached[p] = true
				}
			}
			a.at = time.Now()
		}
	}
	return a.cached[id]
}

// PeerIDOf returns the peer id of a multiaddr ending in /p2p/<id> (or the
// older /ipfs/<id>), or s itself when it is a bare id; "" when s is a
// multiaddr without a peer id.
func PeerIDOf(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "/") {
		return s
	}
	parts := strings.Split(strings.TrimRight(s, "/"), "/")
	for i := len(parts) - 2; i >= 1; i-- {
		if parts[i] == "p2p" || parts[i] == "ipfs" {
			return parts[i+1]
		}
	}
	return ""
}
