package follow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/follow"
)

// preparer records what is prepared and stored, and when.
type preparer struct {
	mu       sync.Mutex
	stored   []string // item hashes, in the order stored
	storing  bool
	overlaps int // Prepare calls while a batch was being stored
	cursors  *memCursors
	url      string
	bad      int // cursors saved ahead of what was stored
}

func hashes(raws [][]byte) []string {
	out := make([]string, len(raws))
	for i, r := range raws {
		var m struct {
			ItemHash string `json:"item_hash"`
		}
		_ = json.Unmarshal(r, &m)
		out[i] = m.ItemHash
	}
	return out
}

func (p *preparer) SubmitRaw(context.Context, indexer.Origin, [][]byte) ([]indexer.Result, error) {
	panic("the backfill uses Prepare and SubmitPrepared")
}

func (p *preparer) Prepare(_ indexer.Origin, raws [][]byte) (follow.Prepared, error) {
	p.mu.Lock()
	if p.storing {
		p.overlaps++
	}
	p.mu.Unlock()
	return hashes(raws), nil
}

func (p *preparer) SubmitPrepared(_ context.Context, b follow.Prepared) ([]indexer.Result, error) {
	hs := b.([]string)
	p.mu.Lock()
	p.storing = true
	pos, _ := p.cursors.Load(context.Background(), p.url)
	var at int
	if pos.Cursor != "" {
		_, _ = fmt.Sscanf(pos.Cursor, "c%d", &at)
	}
	if at*10 > len(p.stored) {
		p.bad++
	}
	p.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // a slow store, so that the next batch is prepared meanwhile
	p.mu.Lock()
	p.stored = append(p.stored, hs...)
	p.storing = false
	p.mu.Unlock()
	return make([]indexer.Result, len(hs)), nil
}

func TestBackfillPreparesWhileStoring(t *testing.T) {
	// With a Preparer, the backfill prepares a batch while the one before
	// is being stored: every message is stored once, in the peer's
	// order, and the saved cursor never runs ahead of what is stored.
	const total = 400
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v0/messages.json" || q.Get("startDate") != "" || q.Get("msgStatuses") != "" {
			_ = json.NewEncoder(w).Encode(map[string]any{"messages": []any{}, "next_cursor": nil})
			return
		}
		i := 0
		if c := q.Get("cursor"); c != "" {
			_, _ = fmt.Sscanf(c, "c%d", &i)
		}
		var msgs []json.RawMessage
		for j := i * 10; j < min(i*10+10, total); j++ {
			msgs = append(msgs, json.RawMessage(fmt.Sprintf(`{"item_hash":"h%03d","time":%d}`, j, 1700000000+j)))
		}
		body := map[string]any{"messages": msgs, "next_cursor": nil}
		if (i+1)*10 < total {
			body["next_cursor"] = fmt.Sprintf("c%d", i+1)
		}
		time.Sleep(time.Millisecond)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	cur := &memCursors{}
	p := &preparer{cursors: cur, url: srv.URL}
	f, err := follow.New(follow.Config{URL: srv.URL, PageSize: 10}, follow.Deps{Submitter: p, Cursors: cur})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.stored) == total }, 20*time.Second, 10*time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range p.stored {
		require.Equal(t, fmt.Sprintf("h%03d", i), h)
	}
	require.Zero(t, p.bad, "cursor saved ahead of the stored messages")
	require.Positive(t, p.overlaps, "a batch is prepared while another is stored")
}
