package cache_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database/dbtest"
)

// backends returns an LRU and a Redis cache (under a prefix unique to t).
func backends(t *testing.T) map[string]cache.Cache {
	t.Helper()
	lru, err := cache.NewLRU(2, time.Minute)
	require.NoError(t, err)
	opts, err := redis.ParseURL(dbtest.RedisURL(t))
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return map[string]cache.Cache{"lru": lru, "redis": cache.NewRedis(rdb, fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano()))}
}

func TestCacheGetSetDelete(t *testing.T) {
	for name, c := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			_, ok, err := c.Get(ctx, "a")
			require.NoError(t, err)
			require.False(t, ok, "missing key")
			require.NoError(t, c.Set(ctx, "a", []byte("1"), time.Minute))
			require.NoError(t, c.Set(ctx, "b", []byte("2"), time.Minute))
			v, ok, err := c.Get(ctx, "a")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "1", string(v))
			require.NoError(t, c.Delete(ctx, "a", "b", "never-set"))
			for _, k := range []string{"a", "b"} {
				_, ok, err = c.Get(ctx, k)
				require.NoError(t, err)
				require.False(t, ok, "deleted %s", k)
			}
			require.NoError(t, c.Delete(ctx))

			require.NoError(t, c.SetMany(ctx, map[string][]byte{"x": []byte("10"), "y": []byte("20")}, time.Minute))
			got, err := c.GetMany(ctx, []string{"x", "missing", "y"})
			require.NoError(t, err)
			require.Equal(t, map[string][]byte{"x": []byte("10"), "y": []byte("20")}, got, "only the keys found")
			got, err = c.GetMany(ctx, nil)
			require.NoError(t, err)
			require.Empty(t, got)
			require.NoError(t, c.SetMany(ctx, nil, time.Minute))
		})
	}
}

func TestLRUIsBounded(t *testing.T) {
	c, err := cache.NewLRU(2, time.Minute)
	require.NoError(t, err)
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, c.Set(ctx, k, []byte(k), time.Minute))
	}
	_, ok, _ := c.Get(ctx, "a")
	require.False(t, ok, "the least recently used entry is evicted")
	_, ok, _ = c.Get(ctx, "c")
	require.True(t, ok)
	_, err = cache.NewLRU(0, time.Minute)
	require.Error(t, err)
}

func TestEntryRoundTrip(t *testing.T) {
	e := cache.Entry{Seq: 7, Start: 42, Deps: []string{"po:a"}, Until: 99, Value: []byte(`{"x":1}`)}
	b, err := e.Encode()
	require.NoError(t, err)
	got, err := cache.DecodeEntry(b)
	require.NoError(t, err)
	require.Equal(t, e.Seq, got.Seq)
	require.Equal(t, e.Deps, got.Deps)
	require.Equal(t, e.Until, got.Until)
	require.JSONEq(t, `{"x":1}`, string(got.Value))
	require.Equal(t, e.Start, got.Start)
	// Truncated anywhere, an entry is malformed (the value is never empty).
	for i := range b {
		_, err := cache.DecodeEntry(b[:i])
		require.ErrorIs(t, err, cache.ErrBadEntry, "truncated at %d", i)
	}
	// The former JSON encoding (an older node sharing the Redis) and
	// other bytes are malformed, hence misses.
	for _, bad := range []string{"", "nope", `{"s":1}`, `{"s":1,"t":2,"v":{"x":1}}`, "\xe1\x02\x02\x02\xff"} {
		_, err := cache.DecodeEntry([]byte(bad))
		require.ErrorIs(t, err, cache.ErrBadEntry, bad)
	}
	_, err = cache.Entry{Seq: 1}.Encode()
	require.Error(t, err, "an entry needs a value")
	// Appending to a decoded value does not write into the entry's bytes.
	got, err = cache.DecodeEntry(b)
	require.NoError(t, err)
	_ = append(got.Value, '!')
	again, err := cache.DecodeEntry(b)
	require.NoError(t, err)
	require.Equal(t, `{"x":1}`, string(again.Value))
}

// FuzzDecodeEntry: entries come from a Redis other nodes write to; any
// bytes are an entry or ErrBadEntry, and an entry re-encodes to the same
// bytes.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range []cache.Entry{
		{Seq: 7, Start: 42, Deps: []string{"po:a"}, Until: 99, Value: []byte(`{"x":1}`)},
		{Seq: -1, Start: 0, Value: []byte(`[]`)},
		{Seq: 1 << 40, Deps: []string{"a", "", "ch:TEST"}, Value: []byte(`"v"`)},
	} {
		b, err := e.Encode()
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"s":1,"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := cache.DecodeEntry(b)
		if err != nil {
			require.ErrorIs(t, err, cache.ErrBadEntry)
			return
		}
		require.NotEmpty(t, e.Value)
		again, err := e.Encode()
		require.NoError(t, err)
		got, err := cache.DecodeEntry(again)
		require.NoError(t, err)
		require.Equal(t, e, got)
	})
}

func TestGensValid(t *testing.T) {
	now := time.Now()
	fresh := now.UnixNano()
	g := cache.NewGens(time.Minute)
	g.Start(10)
	g.Bump(12, "m:a")
	g.Bump(13, "ao:x")
	require.Equal(t, int64(13), g.Applied())
	tests := []struct {
		name  string
		e     cache.Entry
		keys  []string
		valid bool
	}{
		{"read after the key's last change", cache.Entry{Seq: 12, Start: fresh}, []string{"m:a"}, true},
		{"read before the key's last change", cache.Entry{Seq: 11, Start: fresh}, []string{"m:a"}, false},
		{"untouched key", cache.Entry{Seq: 10, Start: fresh}, []string{"m:b"}, true},
		{"any of several keys changed", cache.Entry{Seq: 12, Start: fresh}, []string{"m:a", "ao:x"}, false},
		{"read before the node started", cache.Entry{Seq: 9, Start: fresh}, []string{"m:b"}, false},
		{"older than the ttl", cache.Entry{Seq: 13, Start: now.Add(-2 * time.Minute).UnixNano()}, []string{"m:b"}, false},
		{"own dep changed", cache.Entry{Seq: 12, Start: fresh, Deps: []string{"ao:x"}}, []string{"m:b"}, false},
		{"own dep unchanged since", cache.Entry{Seq: 13, Start: fresh, Deps: []string{"ao:x"}}, []string{"m:b"}, true},
		{"before its end", cache.Entry{Seq: 13, Start: fresh, Until: now.Add(time.Minute).UnixNano()}, nil, true},
		{"past its end", cache.Entry{Seq: 13, Start: fresh, Until: now.Add(-time.Second).UnixNano()}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.valid, g.Valid(tt.e, time.Minute, tt.keys...))
		})
	}
	g.Bump(14, cache.All)
	require.False(t, g.Valid(cache.Entry{Seq: 13, Start: fresh}, time.Minute, "m:b"), "All invalidates every key")
	require.True(t, g.Valid(cache.Entry{Seq: 14, Start: fresh}, time.Minute, "m:b"))
}

func TestGensForgetTheOlderHalfAtTheirBound(t *testing.T) {
	// Past its bound, Gens drops the older half of its keys and raises
	// its floor: entries read before the newest bump dropped are no
	// longer served (a lost hit), and no entry a kept or dropped bump
	// made stale becomes valid again.
	fresh := time.Now().UnixNano()
	g := cache.NewGensMax(time.Hour, 10)
	g.Start(0)
	for i := 1; i <= 10; i++ {
		g.Bump(int64(i), fmt.Sprintf("k%d", i))
	}
	require.Equal(t, cache.GensStats{Keys: 10}, g.Stats())
	require.True(t, g.Valid(cache.Entry{Seq: 5, Start: fresh}, time.Hour, "k1"), "read after k1's bump")
	g.Bump(11, "k11")
	require.Equal(t, cache.GensStats{Keys: 5, Forgotten: 1}, g.Stats(), "k1..k6 dropped")
	for _, tc := range []struct {
		name  string
		seq   int64
		key   string
		valid bool
	}{
		{"read after a dropped bump, before the newest dropped", 5, "k1", false},
		{"stale by a dropped bump", 3, "k5", false},
		{"read at the newest dropped bump", 6, "k1", true},
		{"untouched key after the floor", 7, "other", true},
		{"stale by a kept bump", 7, "k8", false},
		{"read after a kept bump", 11, "k11", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.valid, g.Valid(cache.Entry{Seq: tc.seq, Start: fresh}, time.Hour, tc.key))
		})
	}
	for i := 12; i <= 1000; i++ {
		g.Bump(int64(i), fmt.Sprintf("k%d", i))
		require.LessOrEqual(t, g.Stats().Keys, 10)
	}
}

func TestMetricsReportTheStoreGens(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := cache.NewMetrics(reg)
	require.NoError(t, err)
	lru, err := cache.NewLRU(10, time.Minute)
	require.NoError(t, err)
	g := cache.NewGensMax(time.Minute, 4)
	_, err = cache.NewStore(cache.StoreConfig{Cache: lru, Gens: g, End: func(context.Context) (int64, error) { return 0, nil }, TTL: time.Minute, Metrics: m}, slog.Default())
	require.NoError(t, err)
	for i := 1; i <= 5; i++ {
		g.Bump(int64(i), fmt.Sprintf("k%d", i))
	}
	value := func(name string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == name {
				mt := mf.GetMetric()[0]
				return mt.GetGauge().GetValue() + mt.GetCounter().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	require.InDelta(t, float64(g.Stats().Keys), value("alephql_graphql_cache_generation_keys"), 0)
	require.InDelta(t, 1.0, value("alephql_graphql_cache_generations_forgotten_total"), 0)
}
