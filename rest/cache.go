package rest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"

	"github.com/alephql/alephql/cache"
)

// WithCache makes the hot GET routes (messages.json and its pages, posts
// v0 and v1, aggregates/{address}.json, messages/{hash}) answer from s,
// the store GraphQL's answer cache uses: see cachedRoute.
func WithCache(s *cache.Store) Option { return func(a *API) { a.cache = s } }

// DefaultCacheMaxBytes is Config.CacheMaxBytes's default.
const DefaultCacheMaxBytes = 64 << 10

// kindREST is the cache metric's kind label of REST answers.
const kindREST = "rest"

// cacheDeps tells what a request's answer depends on: the invalidation
// keys (package cache) bumped by every outbox event that can change it,
// or false when the answer must not be cached.
type cacheDeps func(a *API, r *http.Request) ([]string, bool)

// cachedRoute serves a GET route's answers from the cache. The key is the
// route's path and query (parameters sorted); deps tells what the answer
// depends on. A valid entry is written as it was stored; otherwise the
// route runs and a 200 answer of at most CacheMaxBytes is stored, read
// at the position taken before it ran, unless the route called noStore.
// With the store's checks (the hub has applied the whole outbox, no
// dependency bumped since the read), a read after a write never sees the
// state before it, whichever node filled the entry.
func (a *API) cachedRoute(deps cacheDeps, h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if a.cache == nil {
			return h(w, r)
		}
		d, ok := deps(a, r)
		if !ok {
			return h(w, r)
		}
		ctx := r.Context()
		pos, err := a.cache.Begin(ctx)
		if err != nil {
			return h(w, r)
		}
		key := restCacheKey(r)
		if hit, ok := a.cache.Get(ctx, pos, kindREST, key); ok {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(hit)
			return nil
		}
		tw := &teeWriter{ResponseWriter: w, max: a.cfg.CacheMaxBytes}
		if err := h(tw, r); err != nil {
			return err
		}
		if tw.status == http.StatusOK && !tw.skip && !tw.over && tw.buf.Len() > 0 {
			a.cache.Put(ctx, pos, key, bytes.Clone(tw.buf.Bytes()), d)
		}
		return nil
	}
}

// restCacheKey is the cache key of a request: its path and query, with
// the parameters sorted (the order of a list's values is kept).
func restCacheKey(r *http.Request) string {
	h := sha256.New()
	h.Write([]byte(r.URL.Path))
	h.Write([]byte{0})
	h.Write([]byte(r.URL.Query().Encode()))
	return "r:" + hex.EncodeToString(h.Sum(nil))
}

// teeWriter passes an answer through and keeps a copy of its body (up to
// max bytes) and its status.
type teeWriter struct {
	http.ResponseWriter
	max    int
	status int
	buf    bytes.Buffer
	over   bool // the body passed max: not kept
	skip   bool // the route said not to store this answer
}

// WriteHeader records the status.
func (t *teeWriter) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
	}
	t.ResponseWriter.WriteHeader(status)
}

// Write keeps a copy of b.
func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if !t.over {
		if t.buf.Len()+len(b) > t.max {
			t.over = true
			t.buf = bytes.Buffer{}
		} else {
			t.buf.Write(b)
		}
	}
	return t.ResponseWriter.Write(b)
}

// noStore tells cachedRoute not to store the answer being written on w
// (e.g. a message that is not processed yet, whose changes of status are
// not all outbox events).
func noStore(w http.ResponseWriter) {
	if t, ok := w.(*teeWriter); ok {
		t.skip = true
	}
}

// messageListDeps: a messages.json answer depends on the messages of its
// channels, else of its senders, else on any message (every outbox event
// of a message bumps its channel's, its sender's and the any-message
// key; an event whose message is unknown bumps every key). Statuses
// other than processed, removing, forgotten and removed are not cached.
func messageListDeps(a *API, r *http.Request) ([]string, bool) {
	q, err := a.parseMessageList(r)
	if err != nil {
		return nil, false
	}
	for _, s := range q.filter.Statuses {
		if !slices.Contains([]string{"processed", "removing", "forgotten", "removed"}, s) {
			return nil, false
		}
	}
	return listDeps(q.filter.Channels, q.filter.Senders), true
}

// listDeps are the dependencies of a message list filtered by channels
// or senders (or neither).
func listDeps(channels, senders []string) []string {
	var deps []string
	switch {
	case len(channels) > 0:
		for _, ch := range channels {
			deps = append(deps, cache.ChannelDep(ch))
		}
	case len(senders) > 0:
		for _, s := range senders {
			deps = append(deps, cache.SenderDep(s))
		}
	default:
		deps = []string{cache.AnyMessageDep}
	}
	return deps
}

// postListDeps: a posts answer of given addresses depends on their posts
// (every POST event of the owner bumps it: amends, forgets,
// confirmations); any other on any message.
func postListDeps(a *API, r *http.Request) ([]string, bool) {
	p := newParams(r.URL.Query(), a.cfg.MaxFilterValues)
	owners := p.list("addresses", nil)
	if p.err != nil {
		return nil, false
	}
	var deps []string
	for _, o := range owners {
		deps = append(deps, cache.PostDep(o))
	}
	if len(deps) == 0 {
		deps = []string{cache.AnyMessageDep}
	}
	return deps, true
}

// addressAggregatesDeps: an address's aggregates depend on its AGGREGATE
// messages.
func addressAggregatesDeps(_ *API, r *http.Request) ([]string, bool) {
	return []string{cache.AggregateDep(pathJSON(r, "address"))}, true
}

// messageSubDeps: /messages/page/{n}.json is a messages.json list; the
// other sub-routes are not cached.
func messageSubDeps(a *API, r *http.Request) ([]string, bool) {
	if r.PathValue("hash") != "page" {
		return nil, false
	}
	return messageListDeps(a, r)
}

// messageDeps: a message's answer depends on its own outbox events
// (processed, confirmed, forgotten, removing...); only a processed
// message's answer is stored (see message).
func messageDeps(_ *API, r *http.Request) ([]string, bool) {
	h := r.PathValue("hash")
	return []string{cache.MessageKey(h)}, isItemHash(h)
}
