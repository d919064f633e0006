package cache

import (
	"sync"
	"time"
)

// All is the key whose bump invalidates every entry: used for changes
// whose affected keys cannot be told.
const All = "*"

// Gens records, per key, the last outbox id that changed what the key
// caches. It lives in the process of the hub that applies the outbox and
// forgets bumps older than its horizon. Safe for concurrent use.
type Gens struct {
	horizon time.Duration
	now     func() time.Time

	mu      sync.Mutex
	floor   int64
	applied int64
	m       map[string]gen
	pruned  time.Time
}

type gen struct {
	seq int64
	at  time.Time
}

// skewMargin covers clock differences between the nodes filling a shared
// cache.
const skewMargin = time.Minute

// NewGens returns a record keeping bumps for ttl (the entries' TTL) plus a
// clock-skew margin.
func NewGens(ttl time.Duration) *Gens {
	return &Gens{horizon: ttl + skewMargin, now: time.Now, m: map[string]gen{}}
}

// Start sets the outbox position the hub starts from: entries read before
// it may predate changes this node never saw.
func (g *Gens) Start(seq int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.floor, g.applied = seq, seq
}

// Bump records that the change with outbox id seq affected keys, and that
// the outbox is applied up to seq. Calls come in id order.
func (g *Gens) Bump(seq int64, keys ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for _, k := range keys {
		g.m[k] = gen{seq: seq, at: now}
	}
	g.applied = max(g.applied, seq)
	if now.Sub(g.pruned) > g.horizon/4 {
		for k, v := range g.m {
			if now.Sub(v.at) > g.horizon {
				delete(g.m, k)
			}
		}
		g.pruned = now
	}
}

// Applied is the last outbox id applied.
func (g *Gens) Applied() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.applied
}

// Valid reports whether an entry may be served: it was read after the
// node's starting position, after the last bump of each of keys, of its
// own Deps (and of All), within ttl of now and before its Until.
func (g *Gens) Valid(e Entry, ttl time.Duration, keys ...string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if e.Seq < g.floor || now.Sub(time.Unix(0, e.Start)) > ttl {
		return false
	}
	if e.Until != 0 && !now.Before(time.Unix(0, e.Until)) {
		return false
	}
	if v, ok := g.m[All]; ok && v.seq > e.Seq {
		return false
	}
	for _, ks := range [][]string{keys, e.Deps} {
		for _, k := range ks {
			if v, ok := g.m[k]; ok && v.seq > e.Seq {
				return false
			}
		}
	}
	return true
}
