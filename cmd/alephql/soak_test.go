//go:build chaos

package main

// The soak test (make soak, scripts/soak.sh): mixed load on a node process
// for SOAK_DURATION, sampling its RSS, goroutines and open files, and
// failing if any grows faster than its bound.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/processor/demo"
)

// Soak bounds: the least-squares slope, per minute, of each resource over
// the samples after the warm-up. A leak of one goroutine or one file per
// connection or per message at this load would exceed them many times
// over; steady caches do not.
const (
	soakMaxRSSSlope       = 2.0 // MiB per minute
	soakMaxGoroutineSlope = 5.0 // goroutines per minute
	soakMaxFDSlope        = 1.0 // open files per minute
)

// soakSample is one reading of the node's resources.
type soakSample struct {
	at         time.Duration // since the load started
	rssMiB     float64
	heapMiB    float64 // go_memstats_heap_inuse_bytes
	goroutines float64
	fds        float64
	accepted   int64
	events     int64
	// cpu and wait: the node's threads' time on a CPU and time runnable
	// but waiting for one (/proc/PID/task/*/schedstat), since it started.
	cpu, wait time.Duration
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, name)
	return d
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		name   string
		xs, ys []float64
		want   float64
	}{
		{"flat", []float64{0, 1, 2, 3}, []float64{5, 5, 5, 5}, 0},
		{"line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2},
		{"noisy down", []float64{0, 1, 2, 3}, []float64{4, 3.5, 2, 1.5}, -0.9},
		{"one point", []float64{1}, []float64{9}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) { require.InDelta(t, tc.want, slope(tc.xs, tc.ys), 1e-9) })
	}
}

func TestSoak(t *testing.T) {
	// SOAK_DURATION (default 30m) of mixed load on a node process over
	// PostgreSQL: SOAK_RATE signed messages per second (default 500), half
	// through REST and half through GraphQL, over 100 channels; GraphQL
	// and REST queries from 4 clients; SOAK_SUBSCRIBERS live GraphQL
	// subscribers (default 1 000, each on one channel). Every 10 s it
	// reads the node's RSS (/proc/PID/status), goroutines (go_goroutines
	// on /metrics) and open files (/proc/PID/fd), then fits a line over
	// the samples after the warm-up (SOAK_WARMUP, by default a fifth of
	// the run, at most 5 min) and fails if a slope exceeds its bound
	// (soakMax*Slope). SOAK_OUT
	// names a file for the samples (CSV); SOAK_PROFILES names a directory
	// for heap profiles of the node at the end of the warm-up and of the
	// run (go tool pprof -diff_base warmup.heap end.heap) and a CPU
	// profile of the minute after the warm-up (cpu.pprof).
	duration := envDuration(t, "SOAK_DURATION", 30*time.Minute)
	rate := envInt(t, "SOAK_RATE", 500)
	subscribers := envInt(t, "SOAK_SUBSCRIBERS", 1000)
	const channels = 100
	warmup := envDuration(t, "SOAK_WARMUP", min(duration/5, 5*time.Minute))
	require.Less(t, warmup, duration, "SOAK_WARMUP")

	bin := filepath.Join(t.TempDir(), "alephql")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	base := "http://" + addr + "/"
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	debugAddr := ln.Addr().String()
	require.NoError(t, ln.Close())
	node := exec.Command(bin, "serve", "--listen", addr, "--debug-listen", debugAddr, "--data-dir", t.TempDir(), "--db", dbtestPostgres(t), "--log-level", "error")
	node.Stderr = os.Stderr
	require.NoError(t, node.Start())
	t.Cleanup(func() { _ = node.Process.Kill(); _, _ = node.Process.Wait() })
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "readyz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond)
	pid := node.Process.Pid

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	channel := func(i int) string { return fmt.Sprintf("SOAK_%03d", i%channels) }

	// Subscribers: each follows one channel, resuming with `after`.
	var events, reconnects, connected atomic.Int64
	for i := range subscribers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			soakSubscribe(ctx, base, channel(i), &events, &reconnects, &connected)
		}()
	}
	require.Eventually(t, func() bool { return connected.Load() >= int64(subscribers) }, 5*time.Minute, 100*time.Millisecond,
		"subscribers connect")
	t.Logf("%d subscribers connected", subscribers)

	// Ingest: a ticker hands out SOAK_RATE tokens per second to 32
	// submitters; a token nobody takes at once counts as behind.
	var accepted, refused, behind atomic.Int64
	tokens := make(chan int, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(tokens)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		start, sent := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			due := int(time.Since(start).Seconds() * float64(rate))
			for ; sent < due; sent++ {
				select {
				case tokens <- sent:
				default:
					behind.Add(1)
				}
			}
		}
	}()
	for range 32 {
		acct, err := demo.NewAccount()
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tokens {
				raw, _, err := acct.Post(float64(1_700_000_000+i), channel(i), "note", map[string]any{"i": i}, "")
				if err != nil {
					panic(err)
				}
				if soakSubmit(ctx, client, base, raw, i%2 == 0) {
					accepted.Add(1)
				} else if ctx.Err() == nil {
					refused.Add(1)
				}
			}
		}()
	}

	// Queries: GraphQL and REST reads, each client in a closed loop with
	// a pause.
	var queries, queryErrors atomic.Int64
	reads := []func(i int) (*http.Request, error){
		func(i int) (*http.Request, error) {
			b, _ := json.Marshal(map[string]any{"query": `query($c: String!) { messages(first: 20, filter: {channels: [$c]}) { edges { cursor node { hash content } } } }`,
				"variables": map[string]any{"c": channel(i)}})
			r, err := http.NewRequest(http.MethodPost, base+"graphql", bytes.NewReader(b))
			if r != nil {
				r.Header.Set("Content-Type", "application/json")
			}
			return r, err
		},
		func(i int) (*http.Request, error) {
			b, _ := json.Marshal(map[string]any{"query": `query($c: String!) { messages(filter: {channels: [$c]}) { totalCount } }`,
				"variables": map[string]any{"c": channel(i)}})
			r, err := http.NewRequest(http.MethodPost, base+"graphql", bytes.NewReader(b))
			if r != nil {
				r.Header.Set("Content-Type", "application/json")
			}
			return r, err
		},
		func(i int) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, base+"api/v0/messages.json?pagination=20&channels="+channel(i), nil)
		},
		func(i int) (*http.Request, error) {
			return http.NewRequest(http.MethodGet, base+"api/v0/posts.json?pagination=20&channels="+channel(i), nil)
		},
	}
	for _, read := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				req, err := read(i)
				if err != nil {
					panic(err)
				}
				res, err := client.Do(req.WithContext(ctx))
				if err == nil {
					var body map[string]any
					derr := json.NewDecoder(res.Body).Decode(&body)
					_ = res.Body.Close()
					if derr == nil && res.StatusCode == http.StatusOK && body["errors"] == nil {
						queries.Add(1)
						err = nil
					} else {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				if err != nil && ctx.Err() == nil {
					queryErrors.Add(1)
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}

	// Sampling.
	var csv *os.File
	if p := os.Getenv("SOAK_OUT"); p != "" {
		csv, err = os.Create(p)
		require.NoError(t, err)
		defer csv.Close()
		fmt.Fprintln(csv, "seconds,rss_mib,heap_inuse_mib,goroutines,open_fds,accepted,events,cpu_s,cpu_wait_s")
	}
	start := time.Now()
	var samples []soakSample
	take := func() {
		s := soakSample{at: time.Since(start), accepted: accepted.Load(), events: events.Load()}
		rss, err := procStatusKB(pid, "VmRSS")
		require.NoError(t, err)
		s.rssMiB = float64(rss) / 1024
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		require.NoError(t, err)
		s.fds = float64(len(fds))
		// Goroutines: the least of 5 reads 20 ms apart. The websocket
		// writers are started per connection while frames wait, so a
		// read during a fan-out counts up to one per subscriber more;
		// the least read is the resident count a leak would raise.
		s.goroutines = math.Inf(1)
		gtick := time.NewTicker(20 * time.Millisecond)
		for i := range 5 {
			if i > 0 {
				<-gtick.C
			}
			g, err := metricValue(client, base+"metrics", "go_goroutines")
			require.NoError(t, err)
			s.goroutines = min(s.goroutines, g)
		}
		gtick.Stop()
		heap, err := metricValue(client, base+"metrics", "go_memstats_heap_inuse_bytes")
		require.NoError(t, err)
		s.heapMiB = heap / (1 << 20)
		s.cpu, s.wait, err = schedstat(pid)
		require.NoError(t, err)
		samples = append(samples, s)
		t.Logf("%6.0fs rss %.1f MiB (heap in use %.1f), goroutines %.0f, fds %.0f, accepted %d (%d refused, %d behind), events %d, queries %d (%d errors), reconnects %d",
			s.at.Seconds(), s.rssMiB, s.heapMiB, s.goroutines, s.fds, s.accepted, refused.Load(), behind.Load(), s.events, queries.Load(), queryErrors.Load(), reconnects.Load())
		if csv != nil {
			fmt.Fprintf(csv, "%.0f,%.1f,%.1f,%.0f,%.0f,%d,%d,%.1f,%.1f\n", s.at.Seconds(), s.rssMiB, s.heapMiB, s.goroutines, s.fds, s.accepted, s.events,
				s.cpu.Seconds(), s.wait.Seconds())
		}
	}
	profile := func(name string) {
		dir := os.Getenv("SOAK_PROFILES")
		if dir == "" {
			return
		}
		res, err := client.Get("http://" + debugAddr + "/debug/pprof/heap")
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	// cpuProfile keeps a CPU profile of the node over the minute after
	// the warm-up (or what is left of the run).
	var cpuDone chan struct{}
	cpuProfile := func() {
		dir := os.Getenv("SOAK_PROFILES")
		if dir == "" {
			return
		}
		secs := int(min(time.Minute, duration-warmup-10*time.Second).Seconds())
		if secs < 5 {
			return
		}
		cpuDone = make(chan struct{})
		go func() {
			defer close(cpuDone)
			res, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, secs)) // longer than client.Timeout
			if err != nil {
				t.Errorf("cpu profile: %v", err)
				return
			}
			defer res.Body.Close()
			f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
			if err == nil {
				_, err = io.Copy(f, res.Body)
				err = errors.Join(err, f.Close())
			}
			if err != nil {
				t.Errorf("cpu profile: %v", err)
			}
		}()
	}
	take()
	tick := time.NewTicker(10 * time.Second)
	warm := time.After(warmup)
	for end := time.After(duration); ; {
		select {
		case <-tick.C:
			take()
			continue
		case <-warm:
			profile("warmup.heap")
			cpuProfile()
			continue
		case <-end:
		}
		break
	}
	tick.Stop()
	profile("end.heap")
	if cpuDone != nil {
		<-cpuDone
	}
	if time.Since(start)-samples[len(samples)-1].at > 5*time.Second {
		take()
	}
	cancel()
	wg.Wait()

	// Report and check.
	var xs, rss, gor, fds []float64
	for _, s := range samples {
		if s.at >= warmup {
			xs = append(xs, s.at.Minutes())
			rss = append(rss, s.rssMiB)
			gor = append(gor, s.goroutines)
			fds = append(fds, s.fds)
		}
	}
	first, last := samples[0], samples[len(samples)-1]
	loadAvg, _ := os.ReadFile("/proc/loadavg")
	t.Logf("soak %s (warm-up %s, %d samples fitted): ingest %.0f msgs/s accepted of %d asked (%d refused, %d behind), %d events delivered, %.0f queries/s (%d errors), %d reconnects; load average %s",
		duration, warmup, len(xs), float64(last.accepted)/last.at.Seconds(), rate, refused.Load(), behind.Load(), last.events,
		float64(queries.Load())/last.at.Seconds(), queryErrors.Load(), reconnects.Load(), strings.TrimSpace(string(loadAvg)))
	var heap []float64
	var fitted []soakSample
	for _, s := range samples {
		if s.at >= warmup {
			heap = append(heap, s.heapMiB)
			fitted = append(fitted, s)
		}
	}
	if len(fitted) > 1 {
		// Where the ingest rate is lost: the node's CPU per accepted
		// message, and whether it ran short of CPU (time runnable but
		// waiting for a core, as on a machine shared with other work).
		a, b := fitted[0], fitted[len(fitted)-1]
		secs, msgs := (b.at - a.at).Seconds(), float64(b.accepted-a.accepted)
		t.Logf("after the warm-up: %.0f msgs/s accepted; node on CPU %.2f cores, runnable but waiting for a CPU %.2f cores; %.2f ms of node CPU per accepted message",
			msgs/secs, (b.cpu-a.cpu).Seconds()/secs, (b.wait-a.wait).Seconds()/secs, (b.cpu-a.cpu).Seconds()*1000/max(msgs, 1))
	}
	result := fmt.Sprintf("RSS %.1f -> %.1f MiB (slope %+.2f MiB/min, bound %.1f; heap in use %.1f -> %.1f MiB, slope %+.2f MiB/min); goroutines %.0f -> %.0f (slope %+.2f/min, bound %.0f); open files %.0f -> %.0f (slope %+.2f/min, bound %.0f)",
		first.rssMiB, last.rssMiB, slope(xs, rss), soakMaxRSSSlope, first.heapMiB, last.heapMiB, slope(xs, heap), first.goroutines, last.goroutines, slope(xs, gor), soakMaxGoroutineSlope,
		first.fds, last.fds, slope(xs, fds), soakMaxFDSlope)
	t.Log("soak result: " + result)
	require.Greater(t, last.accepted, int64(0))
	require.Greater(t, last.events, int64(0))
	require.LessOrEqual(t, slope(xs, rss), soakMaxRSSSlope, "RSS grows: %s", result)
	require.LessOrEqual(t, slope(xs, gor), soakMaxGoroutineSlope, "goroutines grow: %s", result)
	require.LessOrEqual(t, slope(xs, fds), soakMaxFDSlope, "open files grow: %s", result)
	require.NoError(t, node.Process.Signal(os.Interrupt))
	_, _ = node.Process.Wait()
}

// soakSubmit submits raw through REST (or GraphQL) and reports whether it
// was accepted.
func soakSubmit(ctx context.Context, client *http.Client, base string, raw []byte, viaREST bool) bool {
	var req *http.Request
	var err error
	if viaREST {
		b, _ := json.Marshal(map[string]any{"message": json.RawMessage(raw)})
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"api/v0/messages", bytes.NewReader(b))
	} else {
		b, _ := json.Marshal(map[string]any{"query": `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`,
			"variables": map[string]any{"m": json.RawMessage(raw)}})
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"graphql", bytes.NewReader(b))
	}
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var body map[string]any
	if json.NewDecoder(res.Body).Decode(&body) != nil {
		return false
	}
	if viaREST {
		return res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusOK
	}
	return res.StatusCode == http.StatusOK && body["errors"] == nil
}

// soakSubscribe follows `messages` on channel, counting events and
// reconnecting with `after` when the websocket ends, until ctx is done.
func soakSubscribe(ctx context.Context, base, channel string, events, reconnects, connected *atomic.Int64) {
	url := "ws" + strings.TrimPrefix(base, "http") + "graphql"
	after := "0"
	first := true
	for ctx.Err() == nil {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err == nil {
			followFeed(ctx, c, channel, &after, func() {
				if first {
					connected.Add(1)
					first = false
				}
			}, func(liveEvent) { events.Add(1) })
			c.CloseNow()
		}
		if ctx.Err() != nil {
			return
		}
		reconnects.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// schedstat sums the time the threads of process pid spent on a CPU and
// runnable waiting for one (/proc/PID/task/*/schedstat, nanoseconds).
func schedstat(pid int) (cpu, wait time.Duration, err error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		var run, queued int64
		if _, err := fmt.Sscan(string(b), &run, &queued); err != nil {
			return 0, 0, fmt.Errorf("schedstat of task %s: %w", task.Name(), err)
		}
		cpu += time.Duration(run)
		wait += time.Duration(queued)
	}
	return cpu, wait, nil
}

// procStatusKB reads a kB field of /proc/PID/status.
func procStatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}

// metricValue reads one unlabelled metric from a Prometheus text page.
func metricValue(client *http.Client, url, name string) (float64, error) {
	res, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s not on %s", name, url)
}
