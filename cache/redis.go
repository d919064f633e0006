package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Cache shared by the nodes of one Redis server. Keys are
// prefixed so that several deployments may share a database.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
}

// Interface guards.
var _ Cache = (*Redis)(nil)

// NewRedis returns a cache storing keys under prefix in rdb.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{rdb: rdb, prefix: prefix}
}

// Get returns the value of key.
func (c *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.rdb.Get(ctx, c.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("cache get: %w", err)
	}
	return b, true, nil
}

// Set stores val under key for ttl.
func (c *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := c.rdb.Set(ctx, c.prefix+key, val, ttl).Err(); err != nil {
		return fmt.Errorf("cache set: %w", err)
	}
	return nil
}

// GetMany returns the values of the keys found, with one MGET.
func (c *Redis) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	vals, err := c.rdb.MGet(ctx, full...).Result()
	if err != nil {
		return nil, fmt.Errorf("cache get: %w", err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[keys[i]] = []byte(s)
		}
	}
	return out, nil
}

// SetMany stores vals for ttl, in one pipelined round trip.
func (c *Redis) SetMany(ctx context.Context, vals map[string][]byte, ttl time.Duration) error {
	if len(vals) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, v := range vals {
			p.Set(ctx, c.prefix+k, v, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache set: %w", err)
	}
	return nil
}

// Delete removes keys.
func (c *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	if err := c.rdb.Del(ctx, full...).Err(); err != nil {
		return fmt.Errorf("cache delete: %w", err)
	}
	return nil
}
