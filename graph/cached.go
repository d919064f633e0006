package graph

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/post"
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

// WithCacheStore sets the store of cached rows and answers (see
// Hub.CacheStore), to share it with the REST API; without it, one is
// made of WithCache's cache and WithHub's hub.
func WithCacheStore(s *cache.Store) Option { return func(o *Options) { o.CacheStore = s } }

// The kinds of cached rows (the metric's kind label).
const (
	kindMessage   = "message"
	kindAggregate = "aggregate"
	kindPost      = "post"
	kindFile      = "file"
)

// CacheStore returns a store of c whose entries h validates (see
// live.Hub.CacheStore), with h's cache TTL. GraphQL (WithCacheStore) and
// the REST API use the same one.
func (h *Hub) CacheStore(c cache.Cache, m *cache.Metrics, log *slog.Logger) (*cache.Store, error) {
	return h.Hub.CacheStore(c, h.cfg.CacheTTL, m, log)
}

// message returns a message by hash: a processed one through the cache,
// any other from wherever findMessage finds it.
func (r *Resolver) message(ctx context.Context, hash string) (*ent.Message, error) {
	k := cache.MessageKey(hash)
	m, err := cache.Lookup(ctx, r.store, kindMessage, k, []string{k}, func(ctx context.Context) (*ent.Message, error) {
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
	return cache.Lookup(ctx, r.store, kindAggregate, cache.AggregateKey(owner, key), []string{cache.AggregateDep(owner)}, func(ctx context.Context) (*ent.Aggregate, error) {
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
	return cache.Batch(ctx, r.store, kindPost, hashes, cache.PostKey,
		func(ctx context.Context, hashes []string) (map[string]*ent.Post, error) {
			rows, err := r.client.Post.Query().Where(post.IDIn(hashes...)).All(ctx)
			return byKey(rows, func(p *ent.Post) string { return p.ID }), err
		},
		func(p *ent.Post) ([]string, time.Time, bool) {
			return []string{cache.PostDep(p.Owner)}, time.Time{}, true
		})
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
	got, err := cache.Batch(ctx, r.store, kindFile, hashes, cache.FileKey,
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
			return []string{cache.MessageKey(p.ItemHash)}, time.Time{}, true
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
