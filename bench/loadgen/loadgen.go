// Package loadgen drives concurrent HTTP clients against a URL for a time
// and measures throughput and latency: the load generator of the API
// benchmark (cmd/alephql-load, scripts/bench-api.sh). Each client sends
// its next request as soon as the previous answer has been read (a closed
// loop), so the figures are those of C busy clients.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Request is one prepared request. A nil Body is a GET, else a POST of
// JSON.
type Request struct {
	Path string
	Body []byte
}

// Check tells whether an answer (status 200 already checked) is correct.
type Check func(body []byte) error

// Scenario is a named set of prepared requests, sent in random order.
type Scenario struct {
	Name     string
	Target   string
	Requests []Request
	Check    Check
	// BaseURL, when set, replaces Config.BaseURL for this scenario.
	BaseURL string
}

// Config is a run's settings.
type Config struct {
	// BaseURL is prefixed to each request's path.
	BaseURL string
	// Clients is the number of concurrent clients. Default 16.
	Clients int
	// Duration is the measured time. Default 10 s.
	Duration time.Duration
	// Warmup runs the scenario unmeasured first. Default 2 s.
	Warmup time.Duration
	// Timeout bounds one request. Default 10 s.
	Timeout time.Duration
}

// Validate fills defaults and reports invalid settings.
func (c *Config) Validate() error {
	if c.Clients == 0 {
		c.Clients = 16
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	switch {
	case c.BaseURL == "":
		return errors.New("loadgen: base URL missing")
	case c.Clients < 1:
		return errors.New("loadgen: clients must be at least 1")
	case c.Duration < 0 || c.Warmup < 0 || c.Timeout < 0:
		return errors.New("loadgen: durations must not be negative")
	}
	return nil
}

// Result is what one run measured.
type Result struct {
	Scenario, Target string
	Clients          int
	Requests, Errors int
	Elapsed          time.Duration
	P50, P95, P99    time.Duration
	// FirstError describes the first failed request, if any.
	FirstError string
}

// RPS is the rate of successful requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// ErrNoRequests is returned for a scenario without requests.
var ErrNoRequests = errors.New("loadgen: scenario has no requests")

// Run warms up, then measures sc for cfg.Duration with cfg.Clients
// clients sharing one keep-alive connection pool.
func Run(ctx context.Context, cfg Config, sc Scenario) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if len(sc.Requests) == 0 {
		return Result{}, ErrNoRequests
	}
	if sc.BaseURL != "" {
		cfg.BaseURL = sc.BaseURL
	}
	tr := &http.Transport{MaxIdleConns: cfg.Clients * 2, MaxIdleConnsPerHost: cfg.Clients * 2, MaxConnsPerHost: cfg.Clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	if cfg.Warmup > 0 {
		if _, err := run(ctx, client, cfg, sc, cfg.Warmup); err != nil {
			return Result{}, err
		}
	}
	return run(ctx, client, cfg, sc, cfg.Duration)
}

type clientStats struct {
	lat      []time.Duration
	errors   int
	firstErr string
}

func run(ctx context.Context, client *http.Client, cfg Config, sc Scenario, d time.Duration) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	stats := make([]clientStats, cfg.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range stats {
		wg.Add(1)
		go func(st *clientStats, seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
			buf := new(bytes.Buffer)
			for ctx.Err() == nil {
				req := sc.Requests[rng.IntN(len(sc.Requests))]
				t0 := time.Now()
				err := do(ctx, client, cfg.BaseURL, req, buf, sc.Check)
				if ctx.Err() != nil {
					return // cut by the end of the run: not counted
				}
				st.lat = append(st.lat, time.Since(t0))
				if err != nil {
					st.errors++
					if st.firstErr == "" {
						st.firstErr = err.Error()
					}
				}
			}
		}(&stats[i], uint64(i+1))
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := Result{Scenario: sc.Name, Target: sc.Target, Clients: cfg.Clients, Elapsed: elapsed}
	var all []time.Duration
	for _, st := range stats {
		all = append(all, st.lat...)
		res.Errors += st.errors
		if res.FirstError == "" {
			res.FirstError = st.firstErr
		}
	}
	res.Requests = len(all)
	slices.Sort(all)
	res.P50, res.P95, res.P99 = quantile(all, 0.50), quantile(all, 0.95), quantile(all, 0.99)
	if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
		return res, parent
	}
	return res, nil
}

// quantile returns the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func do(ctx context.Context, client *http.Client, base string, r Request, buf *bytes.Buffer, check Check) error {
	method := http.MethodGet
	var body io.Reader
	if r.Body != nil {
		method, body = http.MethodPost, bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+r.Path, body)
	if err != nil {
		return err
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %.200s", method, r.Path, res.StatusCode, buf.Bytes())
	}
	if check != nil {
		return check(buf.Bytes())
	}
	return nil
}
