package live

import (
	"errors"
	"log/slog"
	"time"

	"github.com/alephql/alephql/cache"
)

// CacheStore returns a store of c (rows and whole answers, shared by the
// GraphQL and REST APIs) whose entries h validates: every event h
// dispatches bumps the generations of the cache keys it invalidates
// (cache.EventKeys), and a read checks the outbox end through reads shared
// by concurrent requests. ttl is the lifetime of an entry. It may be called
// before or after Run starts.
func (h *Hub) CacheStore(c cache.Cache, ttl time.Duration, m *cache.Metrics, log *slog.Logger) (*cache.Store, error) {
	if ttl <= 0 {
		return nil, errors.New("live: cache TTL must be positive")
	}
	gens := cache.NewGens(ttl)
	h.Observe(gensObserver{gens})
	return cache.NewStore(cache.StoreConfig{Cache: c, Gens: gens, End: NewEndReader(h.OutboxEnd).End, TTL: ttl, Metrics: m}, log)
}

// gensObserver bumps the cache generations of every dispatched event.
type gensObserver struct{ gens *cache.Gens }

// Started implements Observer.
func (o gensObserver) Started(seq int64) { o.gens.Start(seq) }

// Dispatched implements Observer.
func (o gensObserver) Dispatched(e *Event) {
	o.gens.Bump(e.Ev.Seq, cache.EventKeys(e.Ev, e.Message)...)
}
