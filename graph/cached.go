package graph

import (
	"context"
	"encoding/json"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/graph/cache"
)

// WithCache caches processed messages by hash and aggregates by owner and
// key in c. It needs the hub (WithHub), which applies the outbox and so
// tells which entries are still valid: see package cache for why a read
// after a write never sees stale data.
func WithCache(c cache.Cache) Option { return func(o *Options) { o.Cache = c } }

// Cache keys: "m:" + message hash; "a:" + owner + NUL + aggregate key. The
// invalidation keys ("deps") are the message key for messages and "ao:" +
// owner for aggregates (a forgotten element's key is not known any more).
func messageCacheKey(hash string) string         { return "m:" + hash }
func aggregateDepKey(owner string) string        { return "ao:" + owner }
func aggregateCacheKey(owner, key string) string { return "a:" + owner + "\x00" + key }

// cacheKeys are the invalidation keys of one outbox row.
func cacheKeys(e hubEvent) []string {
	keys := []string{messageCacheKey(e.ev.ItemHash)}
	if e.ev.Related != "" {
		keys = append(keys, messageCacheKey(e.ev.Related))
	}
	switch {
	case e.msg == nil: // unknown message: cannot tell what it touched
		keys = append(keys, cache.All)
	case e.msg.Type == "AGGREGATE":
		keys = append(keys, aggregateDepKey(e.msg.Owner))
	}
	return keys
}

// cachedLookup returns read's row through the cache: a valid entry, or
// read's result (stored when not nil). Cache failures fall back to read.
func cachedLookup[T any](ctx context.Context, r *Resolver, key string, deps []string, read func(context.Context) (*T, error)) (*T, error) {
	c, h := r.opts.Cache, r.opts.Hub
	if c == nil || h == nil {
		return read(ctx)
	}
	// applied before end, both before the read: the entry reflects every
	// change up to applied (the hub dispatched all of them, in order).
	applied := h.gens.Applied()
	end, err := h.outboxEnd(ctx)
	if err != nil {
		return nil, err
	}
	ttl := h.cfg.CacheTTL
	if applied >= end { // the hub knows every committed change: entries can be checked
		if v, ok := r.cacheGet(ctx, c, h.gens, ttl, key, deps); ok {
			var row T
			if err := json.Unmarshal(v, &row); err == nil {
				return &row, nil
			}
		}
	}
	start := time.Now()
	row, err := read(ctx)
	if err != nil || row == nil {
		return row, err
	}
	raw, err := json.Marshal(row)
	if err != nil {
		return row, nil
	}
	b, err := cache.Entry{Seq: applied, Start: start.UnixNano(), Value: raw}.Encode()
	if err == nil {
		err = c.Set(ctx, key, b, ttl)
	}
	if err != nil {
		r.log.Warn("cache set", "key", key, "err", err)
	}
	return row, nil
}

// cacheGet returns the value of a valid entry of key.
func (r *Resolver) cacheGet(ctx context.Context, c cache.Cache, g *cache.Gens, ttl time.Duration, key string, deps []string) (json.RawMessage, bool) {
	b, ok, err := c.Get(ctx, key)
	if err != nil {
		r.log.Warn("cache get", "key", key, "err", err)
		return nil, false
	}
	if !ok {
		return nil, false
	}
	e, err := cache.DecodeEntry(b)
	if err != nil || !g.Valid(e, ttl, deps...) {
		return nil, false
	}
	return e.Value, true
}

// message returns a message by hash: a processed one through the cache,
// any other from wherever findMessage finds it.
func (r *Resolver) message(ctx context.Context, hash string) (*ent.Message, error) {
	k := messageCacheKey(hash)
	m, err := cachedLookup(ctx, r, k, []string{k}, func(ctx context.Context) (*ent.Message, error) {
		m, err := r.client.Message.Get(ctx, hash)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return m, err
	})
	if err != nil || m != nil {
		return m, err
	}
	return findMessage(ctx, r.client, hash)
}

// aggregate returns an aggregate by owner and key, through the cache.
func (r *Resolver) aggregate(ctx context.Context, owner, key string) (*ent.Aggregate, error) {
	return cachedLookup(ctx, r, aggregateCacheKey(owner, key), []string{aggregateDepKey(owner)}, func(ctx context.Context) (*ent.Aggregate, error) {
		a, err := r.client.Aggregate.Query().Where(aggregate.Owner(owner), aggregate.Key(key)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return a, err
	})
}
