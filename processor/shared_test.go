package processor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// dataset writes n demo messages as JSON lines.
func dataset(t *testing.T, n int) ([]byte, []string) {
	t.Helper()
	d, err := demo.NewDataset(8, base, 42)
	require.NoError(t, err)
	var buf bytes.Buffer
	var hashes []string
	for range n {
		raw, h, err := d.Next()
		require.NoError(t, err)
		buf.Write(raw)
		buf.WriteByte('\n')
		hashes = append(hashes, h)
	}
	return buf.Bytes(), hashes
}

// requireExactlyOnce checks that every message settled once: no pending
// row, one terminal outbox event per hash, counters equal to the rows.
func requireExactlyOnce(t *testing.T, db *database.DB, hashes []string) {
	t.Helper()
	ctx := t.Context()
	n, err := db.Client.PendingMessage.Query().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "pending rows left")
	var rows []struct {
		ItemHash string `json:"item_hash"`
		Count    int    `json:"count"`
	}
	err = db.Client.MessageEvent.Query().
		Where(messageevent.KindIn("processed", "rejected")).
		GroupBy(messageevent.FieldItemHash).Aggregate(entCount()).Scan(ctx, &rows)
	require.NoError(t, err)
	settled := map[string]int{}
	for _, r := range rows {
		settled[r.ItemHash] = r.Count
	}
	rows = rows[:0]
	err = db.Client.MessageEvent.Query().
		Where(messageevent.KindEQ("forgotten")).
		GroupBy(messageevent.FieldItemHash).Aggregate(entCount()).Scan(ctx, &rows)
	require.NoError(t, err)
	forgotten := map[string]int{}
	for _, r := range rows {
		forgotten[r.ItemHash] = r.Count
	}
	for _, h := range hashes {
		st, err := db.Client.MessageStatus.Get(ctx, h)
		require.NoError(t, err)
		require.NotEqual(t, messagestatus.StatusPending, st.Status)
		if settled[h] == 0 && st.Status == messagestatus.StatusForgotten {
			// An amend whose original was forgotten before it was
			// checked is forgotten with it, never processed.
			require.Equal(t, 1, forgotten[h], "message %s forgotten %d times", h, forgotten[h])
			continue
		}
		require.Equal(t, 1, settled[h], "message %s settled %d times", h, settled[h])
	}
	msgs, err := db.Client.Message.Query().Count(ctx)
	require.NoError(t, err)
	all, err := db.Client.MessageCounter.Get(ctx, "*")
	require.NoError(t, err)
	require.EqualValues(t, msgs, all.Count, "counter equals the messages table")
}

func TestImportFormats(t *testing.T) {
	lines, hashes := dataset(t, 30)
	var arr []json.RawMessage
	for _, l := range bytes.Split(bytes.TrimSpace(lines), []byte("\n")) {
		arr = append(arr, l)
	}
	array, _ := json.Marshal(arr)
	archive, _ := json.Marshal(map[string]any{"protocol": "aleph", "version": 1, "content": map[string]any{"messages": arr}})
	for name, in := range map[string][]byte{"lines": lines, "array": array, "archive": archive} {
		t.Run(name, func(t *testing.T) {
			var got []string
			err := processor.ReadMessages(bytes.NewReader(in), func(raw json.RawMessage) error {
				var w struct {
					ItemHash string `json:"item_hash"`
				}
				require.NoError(t, json.Unmarshal(raw, &w))
				got = append(got, w.ItemHash)
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, hashes, got)
		})
	}
	err := processor.ReadMessages(bytes.NewReader([]byte(`"x"`)), func(json.RawMessage) error { return nil })
	require.ErrorIs(t, err, processor.ErrImportFormat)
}

func TestSharedPostgres(t *testing.T) {
	// Two processors with their own connection pools drain one queue:
	// every message is applied exactly once.
	url := dbtest.NewPostgresDatabase(t)
	db1, db2 := dbtest.Open(t, url), dbtest.Open(t, url)
	data, hashes := dataset(t, 1500)
	p1, err := processor.New(processor.Config{ID: "p1", BatchSize: 50, Idle: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, processor.Deps{DB: db1, Log: dbtest.Logger()})
	require.NoError(t, err)
	p2, err := processor.New(processor.Config{ID: "p2", BatchSize: 50, Idle: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, processor.Deps{DB: db2, Log: dbtest.Logger()})
	require.NoError(t, err)
	// Submitted through the queue (origin api): an import would apply its
	// POSTs and AGGREGATEs at intake, leaving the processors little to share.
	var batch []processor.Input
	queued := 0
	submit := func() {
		res, err := p1.SubmitBatch(t.Context(), batch)
		require.NoError(t, err)
		for _, r := range res {
			if r.Outcome == processor.Queued {
				queued++
			}
		}
		batch = batch[:0]
	}
	require.NoError(t, processor.ReadMessages(bytes.NewReader(data), func(raw json.RawMessage) error {
		if batch = append(batch, processor.Input{Raw: raw, Origin: processor.OriginAPI}); len(batch) == 300 {
			submit()
		}
		return nil
	}))
	submit()
	require.Equal(t, 1500, queued)

	t.Cleanup(func() {
		if t.Failed() {
			t.Log("pending rows:\n" + pendingErrors(t, db1))
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, p := range []*processor.Processor{p1, p2} {
		wg.Add(1)
		go func() { defer wg.Done(); require.NoError(t, p.Run(ctx)) }()
	}
	require.Eventually(t, func() bool {
		n, err := p1.Pending(t.Context())
		return err == nil && n == 0
	}, 180*time.Second, 50*time.Millisecond)
	cancel()
	wg.Wait()
	requireExactlyOnce(t, db1, hashes)
	// Both took part.
	var by []struct {
		Kind  string `json:"kind"`
		Count int    `json:"count"`
	}
	require.NoError(t, db1.Client.MessageEvent.Query().GroupBy(messageevent.FieldKind).Aggregate(entCount()).Scan(t.Context(), &by))
	t.Logf("events by kind: %+v", by)
}

// pendingErrors describes the pending rows, for failure messages.
func pendingErrors(t *testing.T, db *database.DB) string {
	rows, err := db.Client.PendingMessage.Query().Limit(10).All(context.Background())
	if err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s retries=%d fetched=%v next=%s err=%v\n", r.ItemHash, r.Type, r.Retries, r.Fetched, r.NextAttempt, ptr(r.LastError))
	}
	return b.String()
}

func ptr(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
