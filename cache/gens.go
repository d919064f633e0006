package cache

import (
	"slices"
	"sync"
	"time"
)

// All is the key whose bump invalidates every entry: used for changes
// whose affected keys cannot be told.
const All = "*"

// Gens records, per key, the last outbox id that changed what the key
// caches. It lives in the process of the hub that applies the outbox and
// forgets bumps older than its horizon, and, past max keys, the older
// half of them: entries read before the newest bump it forgot are then
// no longer valid (its floor rises), so forgetting early costs cache
// hits, never a stale answer. Safe for concurrent use.
type Gens struct {
	horizon time.Duration
	max     int
	now     func() time.Time

	mu      sync.Mutex
	floor   int64
	applied int64
	m       map[string]gen
	pruned  time.Time
	forgot  int64 // times forgetOlderHalf ran
}

type gen struct {
	seq int64
	at  time.Time
}

// skewMargin covers clock differences between the nodes filling a shared
// cache.
const skewMargin = time.Minute

// DefaultMaxGens bounds the keys a Gens made by NewGens keeps: about
// 35 MiB (some 180 bytes a key in the soak's heap profiles). Each message
// changed bumps its own key, so the keys within the horizon grow with the
// ingest rate: 6 minutes at 500 messages/s is 180 000 keys, at an
// import's 5 000/s ten times more.
const DefaultMaxGens = 200_000

// NewGens returns a record keeping bumps for ttl (the entries' TTL) plus a
// clock-skew margin, of at most DefaultMaxGens keys.
func NewGens(ttl time.Duration) *Gens { return NewGensMax(ttl, DefaultMaxGens) }

// NewGensMax is NewGens keeping at most maxKeys keys (at least 2).
func NewGensMax(ttl time.Duration, maxKeys int) *Gens {
	return &Gens{horizon: ttl + skewMargin, max: max(maxKeys, 2), now: time.Now, m: map[string]gen{}}
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
	if len(g.m) > g.max {
		g.forgetOlderHalf()
	}
}

// forgetOlderHalf drops the older half of the keys and raises the floor
// to the newest bump dropped. g.mu is held.
func (g *Gens) forgetOlderHalf() {
	seqs := make([]int64, 0, len(g.m))
	for _, v := range g.m {
		seqs = append(seqs, v.seq)
	}
	slices.Sort(seqs)
	cut := seqs[len(seqs)/2]
	for k, v := range g.m {
		if v.seq <= cut {
			delete(g.m, k)
		}
	}
	g.floor = max(g.floor, cut)
	g.forgot++
}

// GensStats is the size of a Gens.
type GensStats struct {
	// Keys is the number of keys with a bump kept.
	Keys int
	// Forgotten counts the times the older half of the keys was dropped
	// at the bound (each a loss of cache hits for entries read before).
	Forgotten int64
}

// Stats returns the record's size.
func (g *Gens) Stats() GensStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return GensStats{Keys: len(g.m), Forgotten: g.forgot}
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
