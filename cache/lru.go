package cache

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// LRU is the in-process Cache: bounded in entries, the least recently used
// evicted first. Every entry lives the LRU's own ttl; Set's ttl is ignored
// (callers check an entry's age on read, see Gens.Valid).
type LRU struct {
	l *expirable.LRU[string, []byte]
}

// Interface guards.
var _ Cache = (*LRU)(nil)

// NewLRU returns an in-process cache of at most size entries living ttl.
func NewLRU(size int, ttl time.Duration) (*LRU, error) {
	if size < 1 || ttl <= 0 {
		return nil, errors.New("cache: LRU size and ttl must be positive")
	}
	return &LRU{l: expirable.NewLRU[string, []byte](size, nil, ttl)}, nil
}

// Get returns the value of key.
func (c *LRU) Get(_ context.Context, key string) ([]byte, bool, error) {
	v, ok := c.l.Get(key)
	return v, ok, nil
}

// Set stores val under key. The entry lives the LRU's ttl.
func (c *LRU) Set(_ context.Context, key string, val []byte, _ time.Duration) error {
	c.l.Add(key, val)
	return nil
}

// GetMany returns the values of the keys found.
func (c *LRU) GetMany(_ context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if v, ok := c.l.Get(k); ok {
			out[k] = v
		}
	}
	return out, nil
}

// SetMany stores vals. The entries live the LRU's ttl.
func (c *LRU) SetMany(_ context.Context, vals map[string][]byte, _ time.Duration) error {
	for k, v := range vals {
		c.l.Add(k, v)
	}
	return nil
}

// Delete removes keys.
func (c *LRU) Delete(_ context.Context, keys ...string) error {
	for _, k := range keys {
		c.l.Remove(k)
	}
	return nil
}
