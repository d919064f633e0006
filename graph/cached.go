package graph

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/graph/cache"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/read"
)

// WithCache caches hot rows in c: processed messages by hash, aggregates
// by owner and key, posts by hash (the merged view is an original and its
// latest amend, both through the cache) and file metadata by hash. It
// needs the hub (WithHub), which applies the outbox and so tells which
// entries are still valid: see package cache for why a read after a write
// never sees stale data.
func WithCache(c cache.Cache) Option { return func(o *Options) { o.Cache = c } }

// WithCacheMetrics counts the cache's lookups per kind and result in m.
func WithCacheMetrics(m *cache.Metrics) Option { return func(o *Options) { o.CacheMetrics = m } }

// The kinds of cached rows (the metric's kind label).
const (
	kindMessage   = "message"
	kindAggregate = "aggregate"
	kindPost      = "post"
	kindFile      = "file"
)

// Cache keys: "m:" + message hash; "a:" + owner + NUL + aggregate key;
// "p:" + post hash; "f:" + file hash. The invalidation keys ("deps") are
// the message key for messages, "ao:" + owner for aggregates (a forgotten
// element's key is not known any more), "po:" + lower-cased owner for
// posts (an amend changes its original's row, and a forgotten amend's
// snapshot has no ref; amends keep the original's owner up to case), and
// for files the message key of one STORE pinning the file (see fileMeta).
func messageCacheKey(hash string) string         { return "m:" + hash }
func aggregateDepKey(owner string) string        { return "ao:" + owner }
func aggregateCacheKey(owner, key string) string { return "a:" + owner + "\x00" + key }
func postCacheKey(hash string) string            { return "p:" + hash }
func postDepKey(owner string) string             { return "po:" + strings.ToLower(owner) }
func fileCacheKey(hash string) string            { return "f:" + hash }

// cacheKeys are the invalidation keys of one outbox row.
func cacheKeys(e *live.Event) []string {
	keys := []string{messageCacheKey(e.Ev.ItemHash)}
	if e.Ev.Related != "" {
		keys = append(keys, messageCacheKey(e.Ev.Related))
	}
	m := e.Message
	if m != nil {
		keys = append(keys, listDeps(m)...) // cached feed pages (feedCache)
	}
	switch {
	case m == nil: // unknown message: cannot tell what it touched
		keys = append(keys, cache.All)
	case m.Type == "AGGREGATE":
		keys = append(keys, aggregateDepKey(m.Owner))
	case m.Type == "POST":
		keys = append(keys, postDepKey(m.Owner))
	}
	return keys
}

// cachedLookup returns read's row through the cache: a valid entry, or
// read's result (stored when not nil). Cache failures fall back to read.
func cachedLookup[T any](ctx context.Context, r *Resolver, kind, key string, deps []string, read func(context.Context) (*T, error)) (*T, error) {
	got, err := cachedBatch(ctx, r, kind, []string{key}, func(k string) string { return k },
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

// cachedBatch returns the rows of ids through the cache: valid entries,
// and fetch's rows for the others (a dataloader batch: one MGET, one
// statement for the misses). meta tells, for a row read from the
// database, the invalidation keys it depends on, the time it stops being
// valid (zero: none) and whether it may be cached at all. Missing rows
// are not cached. Cache failures fall back to fetch.
func cachedBatch[T any](ctx context.Context, r *Resolver, kind string, ids []string, keyOf func(string) string,
	fetch func(context.Context, []string) (map[string]T, error), meta func(T) ([]string, time.Time, bool),
) (map[string]T, error) {
	c, h := r.opts.Cache, r.opts.Hub
	if c == nil || h == nil || len(ids) == 0 {
		return fetch(ctx, ids)
	}
	// applied before end, both before the read: the entry reflects every
	// change up to applied (the hub dispatched all of them, in order).
	applied := h.gens.Applied()
	end, err := r.outboxEnds.End(ctx) // one read shared by concurrent requests
	if err != nil {
		return nil, err
	}
	ttl := h.cfg.CacheTTL
	out := make(map[string]T, len(ids))
	misses := ids
	if applied < end { // the hub is behind: entries cannot be checked
		r.opts.CacheMetrics.Add(kind, cache.Bypass, len(ids))
	} else {
		misses = r.cacheGetMany(ctx, c, h.gens, ttl, kind, ids, keyOf, func(id string, v json.RawMessage) bool {
			var row T
			if json.Unmarshal(v, &row) != nil {
				return false
			}
			out[id] = row
			return true
		})
	}
	if len(misses) == 0 {
		return out, nil
	}
	start := time.Now()
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
		e := cache.Entry{Seq: applied, Start: start.UnixNano(), Deps: deps, Value: raw}
		if !until.IsZero() {
			e.Until = until.UnixNano()
		}
		if b, err := e.Encode(); err == nil {
			vals[keyOf(id)] = b
		}
	}
	if err := c.SetMany(ctx, vals, ttl); err != nil {
		r.log.Warn("cache set", "kind", kind, "err", err)
	}
	return out, nil
}

// cacheGetMany hands the value of each valid entry of ids to use and
// returns the ids it could not serve (no entry, invalid, or refused by
// use), counting hits, misses and stale entries.
func (r *Resolver) cacheGetMany(ctx context.Context, c cache.Cache, g *cache.Gens, ttl time.Duration, kind string,
	ids []string, keyOf func(string) string, use func(string, json.RawMessage) bool,
) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = keyOf(id)
	}
	got, err := c.GetMany(ctx, keys)
	if err != nil {
		r.log.Warn("cache get", "kind", kind, "err", err)
		r.opts.CacheMetrics.Add(kind, cache.Miss, len(ids))
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
		e, err := cache.DecodeEntry(b)
		if err != nil || !g.Valid(e, ttl) || !use(id, e.Value) {
			stale++
			misses = append(misses, id)
		}
	}
	m := r.opts.CacheMetrics
	m.Add(kind, cache.Hit, len(ids)-miss-stale)
	m.Add(kind, cache.Miss, miss)
	m.Add(kind, cache.Stale, stale)
	return misses
}

// message returns a message by hash: a processed one through the cache,
// any other from wherever findMessage finds it.
func (r *Resolver) message(ctx context.Context, hash string) (*ent.Message, error) {
	k := messageCacheKey(hash)
	m, err := cachedLookup(ctx, r, kindMessage, k, []string{k}, func(ctx context.Context) (*ent.Message, error) {
		m, err := r.client.Message.Get(ctx, hash)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return m, err
	})
	if err != nil || m != nil {
		return m, err
	}
	return read.FindMessage(ctx, r.client, hash)
}

// aggregate returns an aggregate by owner and key, through the cache.
func (r *Resolver) aggregate(ctx context.Context, owner, key string) (*ent.Aggregate, error) {
	return cachedLookup(ctx, r, kindAggregate, aggregateCacheKey(owner, key), []string{aggregateDepKey(owner)}, func(ctx context.Context) (*ent.Aggregate, error) {
		a, err := r.client.Aggregate.Query().Where(aggregate.Owner(owner), aggregate.Key(key)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return a, err
	})
}

// postsByHash returns post rows (originals and amends) by hash, through the
// cache: the post dataloader's batch function. An entry depends on its
// owner's posts: every POST of the owner (an amend, a FORGET of one of
// its posts) invalidates it.
func (r *Resolver) postsByHash(ctx context.Context, hashes []string) (map[string]*ent.Post, error) {
	return cachedBatch(ctx, r, kindPost, hashes, postCacheKey,
		func(ctx context.Context, hashes []string) (map[string]*ent.Post, error) {
			rows, err := r.client.Post.Query().Where(post.IDIn(hashes...)).All(ctx)
			return byKey(rows, func(p *ent.Post) string { return p.ID }), err
		},
		func(p *ent.Post) ([]string, time.Time, bool) { return []string{postDepKey(p.Owner)}, time.Time{}, true })
}

// cachedFile is a files row with what tells how long it lives.
type cachedFile struct {
	*ent.File
	deps  []string
	until time.Time
	ok    bool
}

// filesByHash returns files rows by hash, through the cache: the file
// dataloader's batch function.
//
// A files row never changes (its hash names its bytes); it is only deleted,
// by the garbage collector, which writes no outbox row, once the file has
// no pin left. So an entry is kept only while the file is known to stay
// (fileMeta): while a STORE's pin holds it (that pin goes only with an
// outbox row of the STORE: forgotten, removed), or, with only grace-period
// pins, until the earliest of them ends (less a clock-skew margin). A file
// with no pin is not cached.
func (r *Resolver) filesByHash(ctx context.Context, hashes []string) (map[string]*ent.File, error) {
	got, err := cachedBatch(ctx, r, kindFile, hashes, fileCacheKey,
		func(ctx context.Context, hashes []string) (map[string]*cachedFile, error) {
			rows, err := r.client.File.Query().Where(file.IDIn(hashes...)).All(ctx)
			if err != nil || len(rows) == 0 {
				return nil, err
			}
			out := make(map[string]*cachedFile, len(rows))
			found := make([]string, len(rows))
			for i, f := range rows {
				out[f.ID] = &cachedFile{File: f}
				found[i] = f.ID
			}
			// The pins are read after the rows: a file deleted meanwhile
			// has none, and is not cached.
			pins, err := r.client.FilePin.Query().Where(filepin.FileHashIn(found...)).
				Select(filepin.FieldFileHash, filepin.FieldType, filepin.FieldItemHash, filepin.FieldDeleteBy).All(ctx)
			if err != nil {
				return nil, err
			}
			for id, pp := range groupBy(pins, func(p *ent.FilePin) string { return p.FileHash }) {
				out[id].deps, out[id].until, out[id].ok = fileMeta(pp)
			}
			return out, nil
		},
		func(f *cachedFile) ([]string, time.Time, bool) { return f.deps, f.until, f.ok })
	if err != nil {
		return nil, err
	}
	out := make(map[string]*ent.File, len(got))
	for id, f := range got {
		out[id] = f.File
	}
	return out, nil
}

// graceSkew is taken off a grace period's end: the collector's clock may
// run ahead of this node's.
const graceSkew = time.Minute

// fileMeta tells how long a file with pins stays: the message key of its
// first STORE pin (no expiry), else until its earliest grace period ends;
// not cacheable when no pin says it stays.
func fileMeta(pins []*ent.FilePin) ([]string, time.Time, bool) {
	var until time.Time
	for _, p := range pins {
		switch {
		case p.Type == filepin.TypeMessage && p.ItemHash != "":
			return []string{messageCacheKey(p.ItemHash)}, time.Time{}, true
		case p.Type == filepin.TypeGracePeriod && p.DeleteBy != nil:
			if end := p.DeleteBy.Add(-graceSkew); until.IsZero() || end.Before(until) {
				until = end
			}
		}
	}
	return nil, until, !until.IsZero() && time.Now().Before(until)
}

// MarshalJSON stores a cached file as its row (the rest is recomputed on
// a miss only).
func (f *cachedFile) MarshalJSON() ([]byte, error) { return json.Marshal(f.File) }

// UnmarshalJSON reads a row stored by MarshalJSON.
func (f *cachedFile) UnmarshalJSON(b []byte) error {
	f.File = &ent.File{}
	return json.Unmarshal(b, f.File)
}
