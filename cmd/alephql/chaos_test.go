//go:build chaos

package main

// Fault tests too long or too disruptive for `make test`: `make chaos`
// runs them (go test -tags chaos -run Chaos ./cmd/alephql). Each owns the
// servers it breaks.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor/demo"
)

// ownPostgres is a PostgreSQL server of the test's own, to stop and
// start.
type ownPostgres struct {
	t            *testing.T
	bin, dir     string
	port         int
	runAs        []string
	startOptions string
}

// startOwnPostgres initialises and starts a PostgreSQL server on a free
// loopback port; it is stopped when the test ends.
func startOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	return startOwnPostgresIn(t, "")
}

// startOwnPostgresIn is startOwnPostgres with the server's directory
// under parent ("": the system's temporary directory).
func startOwnPostgresIn(t *testing.T, parent string) *ownPostgres {
	t.Helper()
	var bin string
	for _, v := range []string{"17", "16", "15", "14"} {
		if _, err := os.Stat("/usr/lib/postgresql/" + v + "/bin/initdb"); err == nil {
			bin = "/usr/lib/postgresql/" + v + "/bin"
			break
		}
	}
	require.NotEmpty(t, bin, "PostgreSQL not installed (scripts/test-servers.sh installs it)")
	dir, err := os.MkdirTemp(parent, "alephql-chaos-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &ownPostgres{t: t, bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		require.NoError(t, os.Chown(dir, uid, -1))
		require.NoError(t, os.Chmod(dir, 0o755))
		p.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	p.run("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.port = ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	p.startOptions = fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", p.port, dir)
	p.Start()
	t.Cleanup(func() { p.stop("immediate") })
	return p
}

func (p *ownPostgres) run(tool string, args ...string) {
	p.t.Helper()
	cmd := append(append([]string{}, p.runAs...), append([]string{filepath.Join(p.bin, tool)}, args...)...)
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	require.NoError(p.t, err, "%s: %s", tool, out)
}

// URL is the server's postgres database.
func (p *ownPostgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Start starts the server and waits until it accepts connections.
func (p *ownPostgres) Start() {
	p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "30",
		"-o", p.startOptions, "start")
}

// Stop stops the server the way an operator's restart does (fast:
// sessions are terminated).
func (p *ownPostgres) Stop() { p.stop("fast") }

func (p *ownPostgres) stop(mode string) {
	cmd := append(append([]string{}, p.runAs...), filepath.Join(p.bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-m", mode, "-w", "stop")
	_ = exec.Command(cmd[0], cmd[1:]...).Run()
}

// postJSON posts a GraphQL request and returns the status and the answer.
func postJSON(base, query string, vars map[string]any) (int, map[string]any, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return 0, nil, err
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Post(base+"graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return res.StatusCode, nil, err
	}
	return res.StatusCode, out, nil
}

// restGet gets a REST route and returns its status, Retry-After and the
// code of its JSON error body.
func restGet(u string) (status int, retryAfter, code string) {
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return 0, "", ""
	}
	defer res.Body.Close()
	var body struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, res.Header.Get("Retry-After"), body.Code
}

// errorCode returns the code of the answer's first error, "" if none.
func errorCode(out map[string]any) string {
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	c, _ := ext["code"].(string)
	return c
}

// liveEvent is one event of a resumable subscription.
type liveEvent struct {
	Typename string `json:"__typename"`
	Cursor   string `json:"cursor"`
	Seq      int64  `json:"seq"`
	Hash     string `json:"hash"`
}

// resumingSubscriber follows `messages` on a channel, reconnecting with
// `after` set to the last cursor received whenever its websocket ends,
// as a client should.
type resumingSubscriber struct {
	mu         sync.Mutex
	events     []liveEvent
	reconnects int
	acked      bool // a connection was acknowledged once
}

func (s *resumingSubscriber) run(ctx context.Context, base, channel string) {
	url := "ws" + strings.TrimPrefix(base, "http") + "graphql"
	after := "0"
	for ctx.Err() == nil {
		s.follow(ctx, url, channel, &after)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.reconnects++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *resumingSubscriber) follow(ctx context.Context, url, channel string, after *string) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	followFeed(ctx, c, channel, after, func() {
		s.mu.Lock()
		s.acked = true
		s.mu.Unlock()
	}, func(e liveEvent) {
		s.mu.Lock()
		s.events = append(s.events, e)
		s.mu.Unlock()
	})
}

// followFeed subscribes to `messages` on channel over the
// graphql-transport-ws connection c, after the cursor *after, until the
// connection or the subscription ends: acked is called on the server's
// connection_ack, event with each event received, *after advancing to it.
func followFeed(ctx context.Context, c *websocket.Conn, channel string, after *string, acked func(), event func(liveEvent)) {
	c.SetReadLimit(1 << 20)
	send := func(v any) error {
		b, _ := json.Marshal(v)
		return c.Write(ctx, websocket.MessageText, b)
	}
	if send(map[string]any{"type": "connection_init", "payload": map[string]any{}}) != nil {
		return
	}
	q := `subscription($f: MessageFilter, $after: Cursor) { messages(filter: $f, after: $after) { __typename cursor seq hash } }`
	if send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": q,
		"variables": map[string]any{"f": map[string]any{"channels": []string{channel}}, "after": *after}}}) != nil {
		return
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Type    string `json:"type"`
			Payload struct {
				Data struct {
					Messages *liveEvent `json:"messages"`
				} `json:"data"`
			} `json:"payload"`
		}
		if json.Unmarshal(b, &m) != nil {
			return
		}
		switch m.Type {
		case "connection_ack":
			acked()
		case "ping":
			_ = send(map[string]any{"type": "pong"})
		case "next":
			if e := m.Payload.Data.Messages; e != nil {
				*after = e.Cursor
				event(*e)
			}
		case "error", "complete":
			return
		}
	}
}

func TestChaosPostgresRestart(t *testing.T) {
	// PostgreSQL restarted under steady submissions, queries and a live
	// subscription: while it is down, requests answer 503
	// SERVICE_UNAVAILABLE and /readyz reports the database; once it is
	// back, everything resumes without an operator, every accepted
	// message is processed exactly once, and the subscriber, resuming with
	// `after`, sees each processed event once, in order.
	pg := startOwnPostgres(t)
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--db", pg.URL(), "--log-level", "error")
	channel := "CHAOS_PG"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sub := &resumingSubscriber{}
	subDone := make(chan struct{})
	go func() { defer close(subDone); sub.run(ctx, base, channel) }()

	acct, err := demo.NewAccount()
	require.NoError(t, err)
	var mu sync.Mutex
	accepted := map[string]bool{}
	refusals := map[string]int{} // status/code of failed submissions
	submitCtx, stopSubmits := context.WithCancel(ctx)
	submitsDone := make(chan struct{})
	go func() {
		defer close(submitsDone)
		for i := 0; submitCtx.Err() == nil; i++ {
			raw, hash, err := acct.Post(float64(1_700_000_000+i), channel, "note", map[string]any{"i": i}, "")
			if err != nil {
				panic(err)
			}
			status, out, err := postJSON(base, `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`,
				map[string]any{"m": json.RawMessage(raw)})
			mu.Lock()
			switch {
			case err != nil:
				refusals["transport error"]++
			case out["errors"] == nil:
				accepted[hash] = true
			default:
				refusals[fmt.Sprintf("%d %s", status, errorCode(out))]++
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()

	readyz := func() (int, map[string]any) {
		res, err := http.Get(base + "readyz")
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	time.Sleep(2 * time.Second) // steady state first
	code, _ := readyz()
	require.Equal(t, http.StatusOK, code)

	down := time.Now()
	pg.Stop()
	t.Log("postgres stopped")
	require.Eventually(t, func() bool {
		code, v := readyz()
		checks, _ := v["checks"].(map[string]any)
		return code == http.StatusServiceUnavailable && checks["database"] != "ok"
	}, 10*time.Second, 100*time.Millisecond, "/readyz reports the database while it is down")
	require.Eventually(t, func() bool {
		status, out, err := postJSON(base, `{ messages(first: 3, filter: {channels: ["`+channel+`"]}) { edges { cursor } } }`, nil)
		return err == nil && status == http.StatusServiceUnavailable && errorCode(out) == "SERVICE_UNAVAILABLE"
	}, 10*time.Second, 100*time.Millisecond, "queries answer 503 SERVICE_UNAVAILABLE while it is down")
	// REST answers the same fault the same way: 503, Retry-After and a
	// JSON body with the code.
	for _, path := range []string{"api/v0/messages.json?channels=" + channel, "api/v0/posts.json", "api/v0/aggregates.json"} {
		status, retry, code := restGet(base + path)
		require.Equal(t, http.StatusServiceUnavailable, status, path)
		require.Equal(t, "1", retry, path)
		require.Equal(t, "SERVICE_UNAVAILABLE", code, path)
	}
	time.Sleep(3 * time.Second)

	pg.Start()
	back := time.Now()
	t.Logf("postgres started again after %s down", back.Sub(down).Round(time.Millisecond))
	require.Eventually(t, func() bool { code, _ := readyz(); return code == http.StatusOK },
		30*time.Second, 100*time.Millisecond, "/readyz recovers on its own")
	t.Logf("ready again %s after postgres came back", time.Since(back).Round(time.Millisecond))
	status, _, _ := restGet(base + "api/v0/messages.json?channels=" + channel)
	require.Equal(t, http.StatusOK, status, "REST answers again")
	time.Sleep(2 * time.Second) // steady state after
	stopSubmits()
	<-submitsDone

	mu.Lock()
	want := len(accepted)
	t.Logf("accepted %d submissions; refused: %v", want, refusals)
	mu.Unlock()
	require.Greater(t, want, 50)
	for k := range refusals {
		require.Contains(t, []string{"503 SERVICE_UNAVAILABLE", "transport error"}, k, "refusals while down are 503 SERVICE_UNAVAILABLE")
	}
	// Every accepted message ends processed, once; the subscriber sees
	// each processed event once, in outbox order.
	var processed map[string]int
	require.Eventually(t, func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		processed = map[string]int{}
		for _, e := range sub.events {
			if e.Typename == "MessageProcessed" {
				processed[e.Hash]++
			}
		}
		return len(processed) >= want
	}, 60*time.Second, 200*time.Millisecond, "every accepted message is processed and delivered")
	mu.Lock()
	for h := range accepted {
		require.Equal(t, 1, processed[h], "processed event of %s", h)
	}
	mu.Unlock()
	sub.mu.Lock()
	for i := 1; i < len(sub.events); i++ {
		require.Greater(t, sub.events[i].Seq, sub.events[i-1].Seq, "no duplicate, in order")
	}
	t.Logf("subscriber: %d events, %d reconnects", len(sub.events), sub.reconnects)
	sub.mu.Unlock()
	_, out, err := postJSON(base, `{ messages(filter: {channels: ["`+channel+`"]}) { totalCount } }`, nil)
	require.NoError(t, err)
	require.Nil(t, out["errors"], out)
	require.EqualValues(t, want, out["data"].(map[string]any)["messages"].(map[string]any)["totalCount"], "processed exactly once")
	cancel()
	<-subDone
	require.Equal(t, 0, stop())
}

// ownRedis is a Redis server of the test's own, to stop and start.
type ownRedis struct {
	t    *testing.T
	dir  string
	port int
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &ownRedis{t: t, dir: t.TempDir(), port: ln.Addr().(*net.TCPAddr).Port}
	require.NoError(t, ln.Close())
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the server's URL.
func (r *ownRedis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start starts the server and waits until it answers.
func (r *ownRedis) Start() {
	r.t.Helper()
	out, err := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--save", "",
		"--appendonly", "no", "--daemonize", "yes", "--pidfile", filepath.Join(r.dir, "redis.pid"),
		"--logfile", filepath.Join(r.dir, "redis.log"), "--dir", r.dir).CombinedOutput()
	require.NoError(r.t, err, "%s", out)
	require.Eventually(r.t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
}

// Stop stops the server and waits until its port is closed.
func (r *ownRedis) Stop() {
	_ = exec.Command("redis-cli", "-p", strconv.Itoa(r.port), "shutdown", "nosave").Run()
	for range 200 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChaosRedisStoppedUnderTwoNodes(t *testing.T) {
	// Two nodes share PostgreSQL and a Redis that stops for a while:
	// node B's live feed keeps delivering node A's messages (through the
	// outbox), node B's answers never go stale (the cache is bypassed),
	// /readyz reports Redis while it is down, and both recover on their
	// own.
	downFor := 10 * time.Second
	if v := os.Getenv("CHAOS_REDIS_DOWN"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		downFor = d
	}
	rd := startOwnRedis(t)
	pg := dbtestPostgres(t)
	common := []string{"--db", pg, "--redis", rd.URL(), "--log-level", "error"}
	baseA, stopA := startServe(t, append([]string{"--data-dir", t.TempDir()}, common...)...)
	baseB, stopB := startServe(t, append([]string{"--data-dir", t.TempDir()}, common...)...)
	const channel = "CHAOS_REDIS"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := &resumingSubscriber{}
	subDone := make(chan struct{})
	go func() { defer close(subDone); sub.run(ctx, baseB, channel) }()

	acct, err := demo.NewAccount()
	require.NoError(t, err)
	n := 0
	// submit sends one message to node A, then requires node B to answer
	// it at once in a cacheable feed query and to deliver its processed
	// event, and returns how long that took.
	submit := func() time.Duration {
		raw, hash, err := acct.Post(float64(1_700_000_000+n), channel, "note", map[string]any{"i": n}, "")
		require.NoError(t, err)
		n++
		start := time.Now()
		_, out, err := postJSON(baseA, `mutation($m: JSON!) { submitMessage(message: $m, sync: true) { status } }`,
			map[string]any{"m": json.RawMessage(raw)})
		require.NoError(t, err)
		require.Nil(t, out["errors"], out)
		require.Equal(t, "PROCESSED", out["data"].(map[string]any)["submitMessage"].(map[string]any)["status"])
		_, out, err = postJSON(baseB, `{ messages(first: 1, filter: {channels: ["`+channel+`"]}) { edges { node { hash } } } }`, nil)
		require.NoError(t, err)
		require.Nil(t, out["errors"], out)
		edges := out["data"].(map[string]any)["messages"].(map[string]any)["edges"].([]any)
		require.Equal(t, hash, edges[0].(map[string]any)["node"].(map[string]any)["hash"], "node B's feed answer is never stale")
		require.Eventually(t, func() bool {
			sub.mu.Lock()
			defer sub.mu.Unlock()
			for _, e := range sub.events {
				if e.Hash == hash && e.Typename == "MessageProcessed" {
					return true
				}
			}
			return false
		}, 15*time.Second, 10*time.Millisecond, "node B delivers node A's message live")
		return time.Since(start)
	}
	for range 5 {
		submit()
	}
	rd.Stop()
	t.Log("redis stopped")
	readyzB := func() (int, map[string]any) {
		res, err := http.Get(baseB + "readyz")
		require.NoError(t, err)
		defer res.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	require.Eventually(t, func() bool {
		code, v := readyzB()
		checks, _ := v["checks"].(map[string]any)
		return code == http.StatusServiceUnavailable && checks["redis"] != "ok"
	}, 10*time.Second, 100*time.Millisecond, "/readyz reports Redis")
	var worst time.Duration
	for end := time.Now().Add(downFor); time.Now().Before(end); {
		worst = max(worst, submit())
	}
	t.Logf("while Redis was down: slowest submit-to-delivery on the other node %s", worst.Round(time.Millisecond))
	rd.Start()
	back := time.Now()
	require.Eventually(t, func() bool { code, _ := readyzB(); return code == http.StatusOK }, 30*time.Second, 100*time.Millisecond)
	t.Logf("node B ready %s after Redis came back", time.Since(back).Round(time.Millisecond))
	for range 5 {
		submit()
	}
	sub.mu.Lock()
	seen := map[int64]bool{}
	for _, e := range sub.events {
		require.False(t, seen[e.Seq], "no duplicate event")
		seen[e.Seq] = true
	}
	t.Logf("%d messages, subscriber: %d events, %d reconnects", n, len(sub.events), sub.reconnects)
	sub.mu.Unlock()
	cancel()
	<-subDone
	require.Equal(t, 0, stopA())
	require.Equal(t, 0, stopB())
}

// dbtestPostgres is a new database on the shared test server.
func dbtestPostgres(t *testing.T) string { return dbtest.NewPostgresDatabase(t) }

func TestChaosKillNodeUnderSubscribers(t *testing.T) {
	// kill -9 of the node under live subscribers and steady submissions,
	// then a restart on the same address and database: every subscriber
	// resumes with `after` and misses nothing, every accepted message is
	// processed exactly once. CHAOS_SUBSCRIBERS sets the subscribers
	// (default 50), CHAOS_RATE the submissions per second (default 100).
	subscribers := 50
	if v := os.Getenv("CHAOS_SUBSCRIBERS"); v != "" {
		var err error
		subscribers, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	rate := 100
	if v := os.Getenv("CHAOS_RATE"); v != "" {
		var err error
		rate, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	bin := filepath.Join(t.TempDir(), "alephql")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	base := "http://" + addr + "/"
	args := []string{"serve", "--listen", addr, "--data-dir", t.TempDir(), "--db", dbtestPostgres(t), "--log-level", "error"}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, args...)
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool {
			res, err := http.Get(base + "readyz")
			if err != nil {
				return false
			}
			_ = res.Body.Close()
			return res.StatusCode == http.StatusOK
		}, 30*time.Second, 20*time.Millisecond)
		return cmd
	}
	node := start()
	t.Cleanup(func() { _ = node.Process.Kill(); _, _ = node.Process.Wait() })

	const channel = "CHAOS_KILL"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := make([]*resumingSubscriber, subscribers)
	var wg sync.WaitGroup
	for i := range subs {
		subs[i] = &resumingSubscriber{}
		wg.Add(1)
		go func() { defer wg.Done(); subs[i].run(ctx, base, channel) }()
	}

	require.Eventually(t, func() bool {
		for _, s := range subs {
			s.mu.Lock()
			ok := s.acked
			s.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	}, 5*time.Minute, 100*time.Millisecond, "every subscriber connects")
	t.Logf("%d subscribers connected", subscribers)

	acct, err := demo.NewAccount()
	require.NoError(t, err)
	var mu sync.Mutex
	accepted := map[string]bool{}
	lost := 0
	// Submissions at `rate` per second: a ticker hands out message
	// numbers to 8 submitters.
	submitCtx, stopSubmits := context.WithCancel(ctx)
	var submitters sync.WaitGroup
	numbers := make(chan int)
	submitters.Add(1)
	go func() {
		defer submitters.Done()
		defer close(numbers)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-submitCtx.Done():
				return
			case <-tick.C:
			}
			select {
			case <-submitCtx.Done():
				return
			case numbers <- i:
			}
		}
	}()
	for range 8 {
		submitters.Add(1)
		go func() {
			defer submitters.Done()
			for i := range numbers {
				raw, hash, err := acct.Post(float64(1_700_000_000+i), channel, "note", map[string]any{"i": i}, "")
				if err != nil {
					panic(err)
				}
				_, out, err := postJSON(base, `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`,
					map[string]any{"m": json.RawMessage(raw)})
				mu.Lock()
				if err == nil && out["errors"] == nil {
					accepted[hash] = true
				} else {
					lost++ // not answered: the client does not know, and retries in real life
				}
				mu.Unlock()
			}
		}()
	}
	submitsDone := make(chan struct{})
	go func() { submitters.Wait(); close(submitsDone) }()
	time.Sleep(3 * time.Second)
	require.NoError(t, node.Process.Kill()) // SIGKILL
	_, _ = node.Process.Wait()
	killed := time.Now()
	t.Log("node killed")
	time.Sleep(time.Second)
	node = start()
	t.Logf("node ready %s after the kill", time.Since(killed).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	stopSubmits()
	<-submitsDone

	mu.Lock()
	want := len(accepted)
	t.Logf("accepted %d submissions, %d unanswered during the kill", want, lost)
	mu.Unlock()
	require.Greater(t, want, 100)
	reconnects := 0
	for i, s := range subs {
		require.Eventually(t, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			n := 0
			seen := map[string]bool{}
			for _, e := range s.events {
				if e.Typename == "MessageProcessed" && accepted[e.Hash] && !seen[e.Hash] {
					seen[e.Hash] = true
					n++
				}
			}
			return n == want
		}, 60*time.Second, 100*time.Millisecond, "subscriber %d receives every accepted message", i)
		s.mu.Lock()
		processed := map[string]int{}
		for j, e := range s.events {
			if j > 0 {
				require.Greater(t, e.Seq, s.events[j-1].Seq, "subscriber %d: no duplicate, in order", i)
			}
			if e.Typename == "MessageProcessed" {
				processed[e.Hash]++
			}
		}
		for h, c := range processed {
			require.Equal(t, 1, c, "subscriber %d: %s processed once", i, h)
		}
		reconnects += s.reconnects
		s.mu.Unlock()
	}
	t.Logf("%d subscribers, %d reconnects in all", subscribers, reconnects)
	_, res, err := postJSON(base, `{ messages(filter: {channels: ["`+channel+`"]}) { totalCount } }`, nil)
	require.NoError(t, err)
	total := int(res["data"].(map[string]any)["messages"].(map[string]any)["totalCount"].(float64))
	require.GreaterOrEqual(t, total, want, "every accepted message is processed")
	require.LessOrEqual(t, total, want+lost, "none twice")
	cancel()
	wg.Wait()
	require.NoError(t, node.Process.Signal(os.Interrupt))
	_, _ = node.Process.Wait()
}
