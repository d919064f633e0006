package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor/demo"
)

// referencePeer serves signed messages in the reference node's
// messages.json cursor-mode shape (pages of 200, oldest first).
type referencePeer struct{ msgs []json.RawMessage }

func (p referencePeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v0/messages.json" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("pagination"))
	per = min(max(per, 1), 200)
	i := 0
	if c := q.Get("cursor"); c != "" {
		i, _ = strconv.Atoi(c)
	}
	if sd := q.Get("startDate"); sd != "" {
		i = len(p.msgs) // catch-up: nothing newer here
	}
	end := min(i+per, len(p.msgs))
	body := map[string]any{"messages": p.msgs[i:end], "pagination_per_page": per, "next_cursor": nil}
	if end < len(p.msgs) {
		body["next_cursor"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// BenchmarkFollowBackfill compares, on fresh PostgreSQL databases, the
// backfill of ALEPHQL_BENCH_FOLLOW_N signed POST and AGGREGATE messages
// (default 20 000) from a peer serving messages.json over loopback HTTP
// (`serve --follow`) with `alephql import` of the same messages. Run with
// -benchtime=1x; it reports both rates and their ratio.
func BenchmarkFollowBackfill(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_FOLLOW_N")); err == nil && v > 0 {
		n = v
	}
	var accts []*demo.Account
	for range 20 {
		a, err := demo.NewAccount()
		require.NoError(b, err)
		accts = append(accts, a)
	}
	t0 := float64(time.Now().Add(-30 * 24 * time.Hour).Unix())
	msgs := make([]json.RawMessage, 0, n)
	var lines bytes.Buffer
	for i := range n {
		a := accts[i%len(accts)]
		t := t0 + float64(i)/10
		var raw []byte
		var err error
		if i%4 == 3 {
			raw, _, err = a.Aggregate(t, "BENCH", "k"+strconv.Itoa(i%7), map[string]any{"i": i})
		} else {
			raw, _, err = a.Post(t, "BENCH", "note", map[string]any{"i": i}, "")
		}
		require.NoError(b, err)
		msgs = append(msgs, raw)
		lines.Write(raw)
		lines.WriteByte('\n')
	}
	file := filepath.Join(b.TempDir(), "msgs.jsonl")
	require.NoError(b, os.WriteFile(file, lines.Bytes(), 0o600))

	settled := func(url string) func() int {
		db, err := database.Open(context.Background(), database.Config{URL: url}, dbtest.Logger())
		require.NoError(b, err)
		b.Cleanup(func() { _ = db.Close() })
		return func() int {
			c, err := db.Client.MessageStatus.Query().Where(messagestatus.StatusNEQ(messagestatus.StatusPending)).Count(context.Background())
			require.NoError(b, err)
			return c
		}
	}

	b.ResetTimer()
	// Baseline: alephql import.
	importDB := dbtest.NewPostgresDatabase(b)
	start := time.Now()
	var out, errOut syncBuffer
	require.Equal(b, 0, run(context.Background(), []string{"import", "--db", importDB, "--data-dir", b.TempDir(), "--log-level", "warn", file}, &out, &errOut), errOut.String())
	importDur := time.Since(start)
	require.Equal(b, n, settled(importDB)())

	// Follow a peer serving the same messages.
	srv := httptest.NewServer(referencePeer{msgs: msgs})
	b.Cleanup(srv.Close)
	followDB := dbtest.NewPostgresDatabase(b)
	count := settled(followDB)
	start = time.Now()
	serveTB(b, "--db", followDB, "--data-dir", b.TempDir(), "--log-level", "warn", "--follow", srv.URL)
	startup := time.Since(start)
	require.Eventually(b, func() bool { return count() == n }, 30*time.Minute, 100*time.Millisecond)
	followDur := time.Since(start)
	b.StopTimer()

	ir, fr := float64(n)/importDur.Seconds(), float64(n)/followDur.Seconds()
	b.ReportMetric(ir, "import_msgs/s")
	b.ReportMetric(fr, "follow_msgs/s")
	b.ReportMetric(fr/ir, "ratio")
	b.Log(fmt.Sprintf("%d messages: import %.0f msg/s (%s), follow %.0f msg/s (%s, of which node start %s), ratio %.2f",
		n, ir, importDur.Round(time.Millisecond), fr, followDur.Round(time.Millisecond), startup.Round(time.Millisecond), fr/ir))
}
