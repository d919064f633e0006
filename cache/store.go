package cache

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Cache holds the entries (in process or in Redis).
	Cache Cache
	// Gens is the record of invalidations the node's hub keeps while it
	// applies the outbox.
	Gens *Gens
	// End returns the outbox end, read after the call began (an
	// EndReader's End).
	End func(context.Context) (int64, error)
	// TTL is the entries' lifetime; Gens must keep bumps at least as long.
	TTL time.Duration
	// Metrics counts lookups; nil counts nothing.
	Metrics *Metrics
}

// Validate reports missing dependencies.
func (c StoreConfig) Validate() error {
	if c.Cache == nil || c.Gens == nil || c.End == nil || c.TTL <= 0 {
		return errors.New("cache: store needs a cache, gens, an outbox end and a positive ttl")
	}
	return nil
}

// Store reads values through a Cache and trusts an entry only as the
// package documentation says: the hub has applied the outbox up to its
// current end, and no change since the entry's read touched its keys.
// It is shared by every face of the node (GraphQL, REST): an entry one
// of them wrote may serve the other only under the same key, and both
// follow the same rules. Safe for concurrent use.
type Store struct {
	cfg StoreConfig
	log *slog.Logger
}

// NewStore returns a Store.
func NewStore(cfg StoreConfig, log *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Metrics.watch(cfg.Gens)
	return &Store{cfg: cfg, log: log.With("component", "cache")}, nil
}

// Pos is where a cached read began: the outbox position its entries may
// claim, and whether entries can be checked at all.
type Pos struct {
	applied int64
	trusted bool
	start   time.Time
}

// Begin starts a cached read. applied is read before end, both before the
// database read: an entry written at Pos reflects every change up to
// applied (the hub dispatched all of them, in order). When the hub is
// behind the outbox end, no entry can be checked (Get bypasses).
func (s *Store) Begin(ctx context.Context) (Pos, error) {
	applied := s.cfg.Gens.Applied()
	end, err := s.cfg.End(ctx) // one read shared by concurrent requests
	if err != nil {
		return Pos{}, err
	}
	return Pos{applied: applied, trusted: applied >= end, start: time.Now()}, nil
}

// Get returns the value of key if a valid entry holds it, counting the
// lookup as kind.
func (s *Store) Get(ctx context.Context, p Pos, kind, key string) (json.RawMessage, bool) {
	var hit json.RawMessage
	s.GetMany(ctx, p, kind, []string{key}, func(k string) string { return k },
		func(_ string, v json.RawMessage) bool { hit = v; return true })
	return hit, hit != nil
}

// Put stores val under key as read at p, invalidated by deps. Failures
// are logged: the cache is an optimisation.
func (s *Store) Put(ctx context.Context, p Pos, key string, val json.RawMessage, deps []string) {
	b, err := Entry{Seq: p.applied, Start: p.start.UnixNano(), Value: val, Deps: deps}.Encode()
	if err == nil {
		err = s.cfg.Cache.Set(ctx, key, b, s.cfg.TTL)
	}
	if err != nil {
		s.log.Warn("cache set", "key", key, "err", err)
	}
}

// GetMany hands the value of each valid entry of ids to use and returns
// the ids it could not serve (no entry, invalid, or refused by use),
// counting hits, misses and stale entries as kind; every id when p is
// not trusted (counted as bypasses).
func (s *Store) GetMany(ctx context.Context, p Pos, kind string, ids []string, keyOf func(string) string, use func(string, json.RawMessage) bool) []string {
	m := s.cfg.Metrics
	if !p.trusted {
		m.Add(kind, Bypass, len(ids))
		return ids
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = keyOf(id)
	}
	got, err := s.cfg.Cache.GetMany(ctx, keys)
	if err != nil {
		s.log.Warn("cache get", "kind", kind, "err", err)
		m.Add(kind, Miss, len(ids))
		return ids
	}
	var misses []string
	var miss, stale int
	for i, id := range ids {
		b, ok := got[keys[i]]
		if !ok {
			miss++
			misses = append(misses, id)
			continue
		}
		e, err := DecodeEntry(b)
		if err != nil || !s.cfg.Gens.Valid(e, s.cfg.TTL) || !use(id, e.Value) {
			stale++
			misses = append(misses, id)
		}
	}
	m.Add(kind, Hit, len(ids)-miss-stale)
	m.Add(kind, Miss, miss)
	m.Add(kind, Stale, stale)
	return misses
}

// Batch returns the rows of ids through the store: valid entries, and
// fetch's rows for the others (a dataloader batch: one MGET, one
// statement for the misses). meta tells, for a row read from the
// database, the invalidation keys it depends on, the time it stops being
// valid (zero: none) and whether it may be cached at all. Missing rows
// are not cached. Cache failures fall back to fetch. A nil store fetches.
func Batch[T any](ctx context.Context, s *Store, kind string, ids []string, keyOf func(string) string,
	fetch func(context.Context, []string) (map[string]T, error), meta func(T) ([]string, time.Time, bool),
) (map[string]T, error) {
	if s == nil || len(ids) == 0 {
		return fetch(ctx, ids)
	}
	p, err := s.Begin(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(ids))
	misses := s.GetMany(ctx, p, kind, ids, keyOf, func(id string, v json.RawMessage) bool {
		var row T
		if json.Unmarshal(v, &row) != nil {
			return false
		}
		out[id] = row
		return true
	})
	if len(misses) == 0 {
		return out, nil
	}
	rows, err := fetch(ctx, misses)
	if err != nil {
		return nil, err
	}
	vals := make(map[string][]byte, len(rows))
	for id, row := range rows {
		out[id] = row
		deps, until, ok := meta(row)
		if !ok {
			continue
		}
		raw, err := json.Marshal(row)
		if err != nil {
			continue
		}
		e := Entry{Seq: p.applied, Start: p.start.UnixNano(), Deps: deps, Value: raw}
		if !until.IsZero() {
			e.Until = until.UnixNano()
		}
		if b, err := e.Encode(); err == nil {
			vals[keyOf(id)] = b
		}
	}
	if err := s.cfg.Cache.SetMany(ctx, vals, s.cfg.TTL); err != nil {
		s.log.Warn("cache set", "kind", kind, "err", err)
	}
	return out, nil
}

// Lookup returns read's row through the store: a valid entry, or read's
// result (stored when not nil). deps are the row's invalidation keys.
func Lookup[T any](ctx context.Context, s *Store, kind, key string, deps []string, read func(context.Context) (*T, error)) (*T, error) {
	got, err := Batch(ctx, s, kind, []string{key}, func(k string) string { return k },
		func(ctx context.Context, _ []string) (map[string]*T, error) {
			row, err := read(ctx)
			if err != nil || row == nil {
				return nil, err
			}
			return map[string]*T{key: row}, nil
		},
		func(*T) ([]string, time.Time, bool) { return deps, time.Time{}, true })
	if err != nil {
		return nil, err
	}
	return got[key], nil
}
