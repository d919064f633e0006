package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/alephql/alephql/bench/baseline"
	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/live"
)

// BenchmarkQueries runs the API benchmark's queries (bench/baseline's
// documents, as scripts/bench-api.sh sends them) in process against a
// PostgreSQL database: through the GraphQL handler wired as `serve
// --graphql-answer-cache=false` wires it (row cache, hub, freshness
// extension, no answer cache), and through the baseline handler (the same
// SQL with pgx, the same JSON). Both run 16 concurrent clients on the
// same rows, so the ratio of their ns/op is the uncached column's ratio
// without HTTP or a load generator; cpu-ns/op is the CPU this process
// spent per request (PostgreSQL's share is not in it), steadier than
// ns/op on a busy machine; -cpuprofile shows where GraphQL spends what the
// baseline does not:
//
//	go test ./graph -run '^$' -bench Queries -cpuprofile cpu.out
func BenchmarkQueries(b *testing.B) {
	ctx := b.Context()
	pg := dbtest.NewPostgresDatabase(b)
	db, err := database.Open(ctx, database.Config{URL: pg}, dbtest.Logger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx, dbtest.Logger()); err != nil {
		b.Fatal(err)
	}
	ds := seedBench(b, db.Client)

	bus := events.NewLocal(16)
	hub, err := graph.NewHub(graph.HubConfig{Config: live.Config{PollInterval: time.Hour}}, db.Client, bus, dbtest.Logger())
	if err != nil {
		b.Fatal(err)
	}
	hctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(hctx) }()
	waitReady(b, hub, done)
	b.Cleanup(func() { stop(); <-done })
	rows, err := cache.NewLRU(10000, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), graph.WithHub(hub), graph.WithCache(rows))
	if err != nil {
		b.Fatal(err)
	}
	gql := graph.NewHandler(graph.HandlerConfig{Freshness: graph.NewFreshness(db.Client, time.Second), NoAnswerCache: true},
		schema, dbtest.Logger())
	pool, err := baseline.Open(ctx, pg, 20)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	base := baseline.New(pool, dbtest.Logger())

	type request struct {
		query string
		vars  map[string]any
		path  string
		q     url.Values
	}
	scenarios := []struct {
		name string
		reqs []request
	}{
		{"feed", mapReqs(ds.channels, func(ch string) request {
			return request{baseline.FeedQuery, map[string]any{"filter": map[string]any{"channels": []string{ch}}}, "feed", url.Values{"channel": {ch}}}
		})},
		{"deep", mapReqs(ds.cursors, func(c string) request {
			return request{baseline.FeedQuery, map[string]any{"filter": nil, "after": c}, "feed", url.Values{"after": {c}}}
		})},
		{"count", mapReqs(ds.channels, func(ch string) request {
			return request{baseline.CountQuery, map[string]any{"channel": ch}, "count", url.Values{"channel": {ch}}}
		})},
		{"message", mapReqs(ds.hashes, func(h string) request {
			return request{baseline.MessageQuery, map[string]any{"hash": h}, "message", url.Values{"hash": {h}}}
		})},
		{"address", mapReqs(ds.senders, func(a string) request {
			return request{baseline.AddressQuery, map[string]any{"address": a}, "address", url.Values{"address": {a}}}
		})},
	}
	for _, sc := range scenarios {
		gqlReqs := make([]func() *http.Request, len(sc.reqs))
		baseReqs := make([]func() *http.Request, len(sc.reqs))
		for i, r := range sc.reqs {
			body, err := json.Marshal(map[string]any{"query": r.query, "variables": r.vars})
			if err != nil {
				b.Fatal(err)
			}
			gqlReqs[i] = func() *http.Request {
				req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				return req
			}
			target := baseline.Prefix + r.path + "?" + r.q.Encode()
			baseReqs[i] = func() *http.Request { return httptest.NewRequest(http.MethodGet, target, nil) }
		}
		b.Run(sc.name+"/baseline", func(b *testing.B) { runBench(b, base, baseReqs, false) })
		b.Run(sc.name+"/graphql", func(b *testing.B) { runBench(b, gql, gqlReqs, true) })
	}
}

func mapReqs[T, R any](in []T, f func(T) R) []R {
	out := make([]R, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// runBench serves the requests round robin from 16 goroutines (the
// benchmark's 16 clients on 2 cores), checking each answer.
func runBench(b *testing.B, h http.Handler, reqs []func() *http.Request, gql bool) {
	b.Helper()
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	defer func() {
		b.StopTimer()
		b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, reqs[i%len(reqs)]())
			i++
			body := w.Body.Bytes()
			if w.Code != http.StatusOK || (gql && !bytes.HasPrefix(body, []byte(`{"data":{`))) || bytes.Contains(body, []byte(`"errors"`)) {
				b.Errorf("answer %d: %.300s", w.Code, body)
				return
			}
		}
	})
}

// processCPU is the CPU time the process used so far (user and system):
// on a shared machine its growth per request is steadier than wall time.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchDataset is what the benchmark's requests are drawn from.
type benchDataset struct {
	channels, hashes, senders, cursors []string
}

// seedBench writes 3000 messages (6 channels, 60 senders, posts with
// amends, aggregates) with their counters, as the pipeline stores them.
func seedBench(b *testing.B, c *ent.Client) benchDataset {
	b.Helper()
	ctx := b.Context()
	const n, senders, channels = 3000, 60, 6
	var ds benchDataset
	for i := range channels {
		ds.channels = append(ds.channels, fmt.Sprintf("BENCH-%d", i))
	}
	for i := range senders {
		ds.senders = append(ds.senders, fmt.Sprintf("0x%040x", i+1))
	}
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	counts := map[string]int64{}
	var msgs []*ent.MessageCreate
	var posts []*ent.PostCreate
	type aggKey struct{ owner, key string }
	aggs := map[aggKey]bool{}
	var aggCreates []*ent.AggregateCreate
	for i := range n {
		h := hashOf(fmt.Sprint("bench ", i))
		sender, ch := ds.senders[i%senders], ds.channels[i%channels]
		tm := t0.Add(time.Duration(i) * time.Second)
		typ, ctype := "POST", "chat"
		content := fmt.Sprintf(`{"address": %q, "time": %d.5, "type": "chat", "content": {"body": "message %d with some text to show", "tags": ["a", "b"], "n": %d}}`, sender, tm.Unix(), i, i)
		if i%5 == 4 {
			typ, ctype = "AGGREGATE", ""
			content = fmt.Sprintf(`{"address": %q, "time": %d.5, "key": "profile-%d", "content": {"name": "user %d", "n": %d}}`, sender, tm.Unix(), i%7, i, i)
		}
		mc := c.Message.Create().SetID(h).SetType(typ).SetChain("ETH").SetSender(sender).SetSignature("0x" + h + h).
			SetItemType("inline").SetItemContent(content).SetContent(json.RawMessage(content)).SetTime(tm).SetChannel(ch).
			SetSize(int64(len(content))).SetReceptionTime(tm).SetOwner(sender).SetTags([]string{"a", "b"})
		if ctype != "" {
			mc.SetContentType(ctype)
		}
		msgs = append(msgs, mc)
		for _, k := range countkey.Keys(map[string]string{"type": typ, "chain": "ETH", "sender": sender, "owner": sender, "status": "processed", "channel": ch}) {
			counts[k]++
		}
		switch {
		case typ == "POST" && i%20 == 13: // an amend of the post 10 messages earlier
			orig := hashOf(fmt.Sprint("bench ", i-10))
			posts = append(posts, c.Post.Create().SetID(h).SetOwner(sender).SetType("amend").SetAmends(orig).SetChannel(ch).
				SetContent(json.RawMessage(fmt.Sprintf(`{"body": "amended %d"}`, i))).SetCreationDatetime(tm))
		case typ == "POST":
			p := c.Post.Create().SetID(h).SetOwner(sender).SetType("chat").SetChannel(ch).
				SetContent(json.RawMessage(fmt.Sprintf(`{"body": "message %d", "n": %d}`, i, i))).SetCreationDatetime(tm).SetLatestAmend(h)
			if i%20 == 3 && i+10 < n { // amended by message i+10
				p.SetLatestAmend(hashOf(fmt.Sprint("bench ", i+10)))
			}
			posts = append(posts, p)
		default:
			k := aggKey{sender, fmt.Sprintf("profile-%d", i%7)}
			if !aggs[k] {
				aggs[k] = true
				aggCreates = append(aggCreates, c.Aggregate.Create().SetOwner(k.owner).SetKey(k.key).
					SetContent(json.RawMessage(fmt.Sprintf(`{"name": "user %d", "n": %d}`, i, i))).SetCreationDatetime(tm).
					SetLastUpdated(tm).SetLastRevisionHash(h).SetElementCount(1))
			}
		}
		if i%50 == 7 {
			ds.hashes = append(ds.hashes, h)
		}
	}
	for i := 0; i < len(msgs); i += 500 {
		c.Message.CreateBulk(msgs[i:min(i+500, len(msgs))]...).ExecX(ctx)
	}
	for i := 0; i < len(posts); i += 500 {
		c.Post.CreateBulk(posts[i:min(i+500, len(posts))]...).ExecX(ctx)
	}
	c.Aggregate.CreateBulk(aggCreates...).ExecX(ctx)
	var counters []*ent.MessageCounterCreate
	for k, v := range counts {
		counters = append(counters, c.MessageCounter.Create().SetID(k).SetCount(v))
	}
	for i := 0; i < len(counters); i += 500 {
		c.MessageCounter.CreateBulk(counters[i:min(i+500, len(counters))]...).ExecX(ctx)
	}
	// Deep pages: cursors at the middle of the whole feed.
	for i := n/2 - 100; i < n/2+100; i += 20 {
		ds.cursors = append(ds.cursors, baseline.MessageCursor(t0.Add(time.Duration(i)*time.Second), hashOf(fmt.Sprint("bench ", i))))
	}
	return ds
}
