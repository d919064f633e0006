package loadgen

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunCountsRequestsAndErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			http.Error(w, "no", http.StatusTeapot)
		case "/post":
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "want a JSON POST", http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(`{"data":{"x":1}}`))
		default:
			n.Add(1)
			_, _ = w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	cfg := Config{BaseURL: srv.URL, Clients: 4, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond}

	t.Run("ok", func(t *testing.T) {
		before := n.Load()
		r, err := Run(t.Context(), cfg, Scenario{Name: "s", Target: "t", Requests: []Request{{Path: "/a"}, {Path: "/b"}}})
		require.NoError(t, err)
		assert.Positive(t, r.Requests)
		assert.Zero(t, r.Errors)
		assert.Positive(t, r.RPS())
		assert.LessOrEqual(t, r.P50, r.P95)
		assert.LessOrEqual(t, r.P95, r.P99)
		assert.GreaterOrEqual(t, n.Load()-before, int64(r.Requests), "warm-up and measured requests reached the server")
	})
	t.Run("status errors", func(t *testing.T) {
		r, err := Run(t.Context(), cfg, Scenario{Requests: []Request{{Path: "/bad"}}})
		require.NoError(t, err)
		assert.Equal(t, r.Requests, r.Errors)
		assert.Contains(t, r.FirstError, "status 418")
		assert.Zero(t, r.RPS(), "failed requests are not throughput")
	})
	t.Run("check", func(t *testing.T) {
		r, err := Run(t.Context(), cfg, Scenario{Requests: []Request{{Path: "/post", Body: []byte(`{}`)}}, Check: checkGraphQL})
		require.NoError(t, err)
		assert.Zero(t, r.Errors, r.FirstError)
		r, err = Run(t.Context(), cfg, Scenario{Requests: []Request{{Path: "/a", Body: []byte(`{}`)}}, Check: checkGraphQL})
		require.NoError(t, err)
		assert.Equal(t, r.Requests, r.Errors, "a non-GraphQL answer is an error")
	})
	t.Run("no requests", func(t *testing.T) {
		_, err := Run(t.Context(), cfg, Scenario{})
		require.ErrorIs(t, err, ErrNoRequests)
	})
}

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.95, 95}, {0.99, 99}, {1, 100}, {0, 1}} {
		assert.Equal(t, tc.want, quantile(d, tc.q), "q=%v", tc.q)
	}
	assert.Zero(t, quantile(nil, 0.5))
}

func TestWriteTableRatiosAndVerdicts(t *testing.T) {
	res := []Result{
		{Scenario: "feed", Target: TargetBaseline, Clients: 16, Requests: 4000, Elapsed: time.Second, P99: time.Millisecond},
		{Scenario: "feed", Target: TargetGraphQL, Clients: 16, Requests: 3200, Elapsed: time.Second, P99: 5 * time.Millisecond},
		{Scenario: "count", Target: TargetBaseline, Clients: 16, Requests: 10000, Elapsed: time.Second},
		{Scenario: "count", Target: TargetGraphQL, Clients: 16, Requests: 5000, Elapsed: time.Second, FirstError: "boom"},
		{Scenario: "feed", Target: TargetREST, Clients: 16, Requests: 3040, Elapsed: time.Second},
		{Scenario: "count", Target: TargetREST, Clients: 16, Requests: 4000, Elapsed: time.Second},
	}
	var b strings.Builder
	WriteTable(&b, res)
	out := b.String()
	assert.Contains(t, out, "| feed | graphql | 16 | 3200 | 0.00 | 0.00 | 5.00 | 0 | 0.80 |  | met")
	assert.Contains(t, out, "| count | graphql | 16 | 5000 | 0.00 | 0.00 | 0.00 | 0 | 0.50 |  | NOT met")
	assert.Contains(t, out, "| feed | rest | 16 | 3040 | 0.00 | 0.00 | 0.00 | 0 |  | 0.95 | met (≥90% of GraphQL)")
	assert.Contains(t, out, "| count | rest | 16 | 4000 | 0.00 | 0.00 | 0.00 | 0 |  | 0.80 | NOT met (≥90% of GraphQL)")
	assert.Contains(t, out, "first error of count/graphql: boom")
}

func TestAPIScenarioTargets(t *testing.T) {
	s := &Sample{Channels: []string{"A&B"}, Hashes: []string{"h"}, Senders: []string{"0x1"}, DeepCursors: []string{"c"},
		DeepRESTCursors: []string{"r"}, Owners: []string{"0x2"}}
	for _, name := range APIScenarios {
		g, err := s.APIScenario(name, TargetGraphQL)
		require.NoError(t, err)
		require.Len(t, g.Requests, 1)
		assert.Equal(t, "/graphql", g.Requests[0].Path)
		b, err := s.APIScenario(name, TargetBaseline)
		require.NoError(t, err)
		if name == "aggregates" {
			assert.Empty(t, b.Requests, "no baseline twin")
		} else {
			assert.Nil(t, b.Requests[0].Body, "baseline requests are GETs")
			assert.True(t, strings.HasPrefix(b.Requests[0].Path, "/bench/baseline/"), b.Requests[0].Path)
		}
		r, err := s.APIScenario(name, TargetREST)
		require.NoError(t, err)
		if name == "address" {
			assert.Empty(t, r.Requests, "no REST twin")
			continue
		}
		require.Len(t, r.Requests, 1)
		assert.True(t, strings.HasPrefix(r.Requests[0].Path, "/api/v0/"), r.Requests[0].Path)
	}
	rest := func(name string) string {
		sc, err := s.APIScenario(name, TargetREST)
		require.NoError(t, err)
		return sc.Requests[0].Path
	}
	assert.Equal(t, "/api/v0/messages.json?channels=A%26B&cursor=&pagination=20", rest("feed"))
	assert.Equal(t, "/api/v0/messages.json?cursor=r&pagination=20", rest("deep"))
	assert.Equal(t, "/api/v0/messages.json?channels=A%26B&pagination=1", rest("count"))
	assert.Equal(t, "/api/v0/aggregates/0x2.json", rest("aggregates"))
	assert.Equal(t, "eyJoIjoiYWIiLCJ0IjoiMjAyNi0wMS0wMlQwMzowNDowNSswMDowMCJ9", restCursor(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "ab"))
	feed, err := s.APIScenario("feed", TargetBaseline)
	require.NoError(t, err)
	assert.Equal(t, "/bench/baseline/feed?channel=A%26B", feed.Requests[0].Path, "parameters are escaped")
	_, err = s.APIScenario("nope", TargetGraphQL)
	require.Error(t, err)
	_, err = s.APIScenario("feed", "nope")
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrNoRequests))
}
