package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/processor/demo"
)

// serveTB starts `alephql serve` for a benchmark and returns its base URL.
func serveTB(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), out, errOut) }()
	tb.Cleanup(func() { cancel(); <-done })
	var base string
	require.Eventually(tb, func() bool {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			return true
		}
		return len(done) > 0
	}, 30*time.Second, 20*time.Millisecond)
	require.NotEmpty(tb, base, "serve did not start: %s", errOut.String())
	return base
}

// BenchmarkGossipLatency measures, over three nodes in a line (A - B - C,
// libp2p gossip), the time from submitting a message to A (GraphQL) to
// its processed event on a subscription on C, at 100 messages/s
// (ALEPHQL_BENCH_GOSSIP_N messages, default 1000). Run with
// -benchtime=1x; it reports p50_ms and p99_ms.
func BenchmarkGossipLatency(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_GOSSIP_N")); err == nil && v > 0 {
		n = v
	}
	var nodes [3]p2pNode
	for i := range nodes {
		nodes[i] = newP2PNode(b)
	}
	common := []string{"--log-level", "warn", "--p2p", "--alive-interval", "1h"}
	serveTB(b, append([]string{"--data-dir", nodes[1].dir, "--p2p-listen", nodes[1].listen}, common...)...)
	baseA := serveTB(b, append([]string{"--data-dir", nodes[0].dir, "--p2p-listen", nodes[0].listen, "--p2p-bootstrap", nodes[1].addr}, common...)...)
	baseC := serveTB(b, append([]string{"--data-dir", nodes[2].dir, "--p2p-listen", nodes[2].listen, "--p2p-bootstrap", nodes[1].addr}, common...)...)

	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseC, "http")+"graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(b, err)
	b.Cleanup(func() { _ = conn.CloseNow() })
	conn.SetReadLimit(1 << 20)
	send := func(v any) {
		p, err := json.Marshal(v)
		require.NoError(b, err)
		require.NoError(b, conn.Write(ctx, websocket.MessageText, p))
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	_, _, err = conn.Read(ctx)
	require.NoError(b, err)
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($f: MessageFilter) { messages(filter: $f) { __typename hash } }`,
		"variables": map[string]any{"f": map[string]any{"channels": []string{"GOSSIPBENCH"}}},
	}})

	var mu sync.Mutex
	sent, got := map[string]time.Time{}, map[string]time.Time{}
	go func() {
		for {
			_, p, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var m struct {
				Type    string `json:"type"`
				Payload struct {
					Data struct {
						Messages struct {
							Typename string `json:"__typename"`
							Hash     string `json:"hash"`
						} `json:"messages"`
					} `json:"data"`
				} `json:"payload"`
			}
			if json.Unmarshal(p, &m) != nil {
				continue
			}
			if m.Type == "ping" {
				_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			}
			if m.Payload.Data.Messages.Typename == "MessageProcessed" {
				mu.Lock()
				if _, ok := got[m.Payload.Data.Messages.Hash]; !ok {
					got[m.Payload.Data.Messages.Hash] = time.Now()
				}
				mu.Unlock()
			}
		}
	}()

	acct, err := demo.NewAccount()
	require.NoError(b, err)
	submit := func(i int) string {
		raw, h, err := acct.Post(float64(time.Now().UnixNano())/1e9, "GOSSIPBENCH", "note", map[string]any{"i": i}, "")
		require.NoError(b, err)
		body, _ := json.Marshal(map[string]any{"query": `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`,
			"variables": map[string]any{"m": json.RawMessage(raw)}})
		mu.Lock()
		sent[h] = time.Now()
		mu.Unlock()
		resp, err := http.Post(baseA+"graphql", "application/json", bytes.NewReader(body))
		require.NoError(b, err)
		_ = resp.Body.Close()
		return h
	}
	// Warm up until the mesh carries messages to C: a message every 2 s
	// until one arrives.
	var warm []string
	tick0 := 0
	require.Eventually(b, func() bool {
		if tick0%200 == 0 {
			warm = append(warm, submit(-1))
		}
		tick0++
		mu.Lock()
		defer mu.Unlock()
		for _, h := range warm {
			if _, ok := got[h]; ok {
				return true
			}
		}
		return false
	}, 60*time.Second, 10*time.Millisecond)

	b.ResetTimer()
	var hashes []string
	tick := time.NewTicker(10 * time.Millisecond)
	for i := range n {
		<-tick.C
		hashes = append(hashes, submit(i))
	}
	tick.Stop()
	require.Eventually(b, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range hashes {
			if _, ok := got[h]; !ok {
				return false
			}
		}
		return true
	}, 120*time.Second, 10*time.Millisecond, "every message reaches C")
	b.StopTimer()
	lat := make([]float64, 0, len(hashes))
	mu.Lock()
	for _, h := range hashes {
		lat = append(lat, float64(got[h].Sub(sent[h]).Microseconds())/1000)
	}
	mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50_ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99_ms")
	b.ReportMetric(lat[len(lat)-1], "max_ms")
	b.Log(fmt.Sprintf("%d messages at 100/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]))
}
