package follow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/follow"
	"github.com/alephql/alephql/indexer/netstat"
)

// memCursors keeps positions in memory.
type memCursors struct {
	mu sync.Mutex
	m  map[string]follow.Position
}

func (c *memCursors) Load(_ context.Context, u string) (follow.Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[u], nil
}

func (c *memCursors) Save(_ context.Context, u string, p follow.Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]follow.Position{}
	}
	c.m[u] = p
	return nil
}

// queue is a processor queue whose length the test sets; submitted
// messages are counted.
type queue struct {
	pending   atomic.Int64
	submitted atomic.Int64
}

func (q *queue) Pending(context.Context) (int, error) { return int(q.pending.Load()), nil }

func (q *queue) SubmitRaw(_ context.Context, _ indexer.Origin, raws [][]byte) ([]indexer.Result, error) {
	q.submitted.Add(int64(len(raws)))
	return make([]indexer.Result, len(raws)), nil
}

func TestFollowerWaitsWhileTheQueueIsLong(t *testing.T) {
	// While the processor's queue is over the high-water mark the
	// follower submits nothing; it goes on, dropping nothing, once the
	// queue drains.
	const total = 50
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v0/messages.json" {
			http.NotFound(w, r)
			return
		}
		i := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			_, _ = fmt.Sscanf(c, "c%d", &i)
		}
		var msgs []json.RawMessage
		for j := i * 10; j < min(i*10+10, total); j++ {
			msgs = append(msgs, json.RawMessage(fmt.Sprintf(`{"item_hash":"h%d","time":%d}`, j, 1700000000+j)))
		}
		body := map[string]any{"messages": msgs, "pagination_per_page": 10, "next_cursor": nil}
		if (i+1)*10 < total {
			body["next_cursor"] = fmt.Sprintf("c%d", i+1)
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)

	q := &queue{}
	q.pending.Store(1000)
	reg := netstat.NewRegistry()
	f, err := follow.New(follow.Config{URL: srv.URL, PageSize: 10}, follow.Deps{
		Submitter: q, Cursors: &memCursors{}, Throttle: indexer.NewThrottle(q, 100, time.Millisecond),
		Stats: reg.Source(srv.URL, "follow"),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	require.Never(t, func() bool { return q.submitted.Load() > 0 }, 300*time.Millisecond, 10*time.Millisecond)
	q.pending.Store(0)
	require.Eventually(t, func() bool { return q.submitted.Load() == total }, 10*time.Second, 10*time.Millisecond)
	st := reg.Snapshot()[0]
	require.EqualValues(t, total, st.Accepted)
	require.EqualValues(t, total, st.Received)
}
