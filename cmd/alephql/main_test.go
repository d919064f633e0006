package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a running
// command and the reads of the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlRE = regexp.MustCompile(`serving GraphiQL at (http://[^ ]+/) `)

// startServe runs `alephql serve args...` in the background and returns its
// base URL and a function that stops it and returns its exit status.
func startServe(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), out, errOut) }()
	var base string
	require.Eventually(t, func() bool {
		select {
		case code := <-done:
			done <- code
			return true
		default:
		}
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			return true
		}
		return false
	}, 30*time.Second, 20*time.Millisecond)
	require.NotEmpty(t, base, "serve did not start: %s", errOut.String())
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() { cancel() })
	return base, stop
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	var v map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
	return res.StatusCode, v
}

// readyChecks polls /readyz until it answers 200 (the subscription hub
// becomes ready just after the listener opens) and returns its checks.
func readyChecks(t *testing.T, base string) any {
	t.Helper()
	var v map[string]any
	require.Eventually(t, func() bool {
		var code int
		code, v = getJSON(t, base+"readyz")
		return code == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond, "readyz: %v", v)
	return v["checks"]
}

func TestServeEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, "--data-dir", dir)

	code, v := getJSON(t, base+"healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", v["status"])
	require.Equal(t, map[string]any{"database": "ok", "disk": "ok", "hub": "ok"}, readyChecks(t, base))

	res, err := http.Post(base+"graphql", "application/json",
		strings.NewReader(`{"query":"{ messages(first: 3) { totalCount edges { node { id } } } message(hash: \"x\") { id } }"}`))
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.JSONEq(t, `{"data":{"messages":{"totalCount":0,"edges":[]},"message":null},
		"extensions":{"freshness":{"lastEventSeq":0,"lastEventAt":null,"pendingMessages":0}}}`, string(body))

	res, err = http.Get(base + "metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Contains(t, string(metrics), `alephql_http_requests_total{code="200",handler="graphql",method="post"} 1`)
	require.Contains(t, string(metrics), "go_goroutines")

	require.Equal(t, 0, stop())
	_, err = os.Stat(filepath.Join(dir, "alephql.db"))
	require.NoError(t, err, "the embedded database lives under --data-dir")
}

func TestServePostgresAndRedis(t *testing.T) {
	pg := dbtest.NewPostgresDatabase(t)
	t.Setenv("ALEPHQL_DB", pg) // settings come from the environment too
	base, stop := startServe(t, "--redis", dbtest.RedisURL(t))
	require.Equal(t, map[string]any{"database": "ok", "disk": "ok", "hub": "ok", "redis": "ok"}, readyChecks(t, base))
	require.Equal(t, 0, stop())
}

func TestMigrateThenServe(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"migrate", "--data-dir", dir}, &out, &errOut), errOut.String())
	require.Contains(t, errOut.String(), "migration applied")
	errOut.Reset()
	require.Equal(t, 0, run(t.Context(), []string{"migrate", "--data-dir", dir}, &out, &errOut), errOut.String())
	require.Contains(t, errOut.String(), "applied=0")
	_, stop := startServe(t, "--data-dir", dir)
	require.Equal(t, 0, stop())
}

func TestBadSettingsFailWithOneLine(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	require.NoError(t, os.WriteFile(corrupt, bytes.Repeat([]byte("garbage!"), 1024), 0o600))
	cfgFile := filepath.Join(dir, "alephql.conf")
	require.NoError(t, os.WriteFile(cfgFile, []byte("# comment\nlog-level loud\n"), 0o600))

	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"unknown flag", []string{"--bogus"}, nil, 2, "-bogus"},
		{"bad number", []string{"serve", "--db-max-conns", "many"}, nil, 2, "-db-max-conns"},
		{"bad log level from env", []string{"serve"}, map[string]string{"ALEPHQL_LOG_LEVEL": "loud"}, 2, "--log-level (ALEPHQL_LOG_LEVEL)"},
		{"bad log level from config file", []string{"serve", "--config", cfgFile}, nil, 2, "--log-level"},
		{"bad listen address", []string{"serve", "--data-dir", dir, "--listen", "nowhere"}, nil, 2, "--listen (ALEPHQL_LISTEN)"},
		{"unsupported database", []string{"serve", "--db", "mysql://x/y"}, nil, 2, "--db (ALEPHQL_DB)"},
		{"unreachable database", []string{"serve", "--db", "postgres://u@127.0.0.1:1/x?connect_timeout=2"}, nil, 1, "--db (ALEPHQL_DB)"},
		{"corrupt sqlite file", []string{"migrate", "--db", corrupt}, nil, 1, "--db (ALEPHQL_DB): database unreachable: " + corrupt},
		{"unreachable redis", []string{"serve", "--data-dir", dir, "--redis", "redis://127.0.0.1:1/0"}, nil, 1, "--redis (ALEPHQL_REDIS)"},
		{"bad redis url", []string{"serve", "--data-dir", dir, "--redis", "http://x"}, nil, 2, "--redis (ALEPHQL_REDIS)"},
		{"bad graphql limit", []string{"serve", "--data-dir", dir, "--graphql-max-page-size", "-1"}, nil, 2, "--graphql"},
		{"stray argument", []string{"serve", "extra"}, nil, 2, "no arguments"},
		{"bad trusted proxy", []string{"serve", "--data-dir", dir, "--trusted-proxies", "10.0.0.0/8,proxy"}, nil, 2, "--trusted-proxies (ALEPHQL_TRUSTED_PROXIES)"},
		{"negative rate limit", []string{"serve", "--data-dir", dir, "--rate-limit", "-1"}, nil, 2, "--rate-limit"},
		{"zero gc percent", []string{"serve", "--data-dir", dir, "--gc-percent", "0"}, nil, 2, "--gc-percent"},
		{"negative memory limit", []string{"serve", "--data-dir", dir}, map[string]string{"ALEPHQL_MEMORY_LIMIT": "-5"}, 2, "--memory-limit"},
		{"missing persisted queries", []string{"serve", "--data-dir", dir, "--graphql-persisted-only", dir + "/none.json"}, nil, 2, "--graphql-persisted-only (ALEPHQL_GRAPHQL_PERSISTED_ONLY)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			code := run(ctx, tt.args, &out, &errOut)
			require.Equal(t, tt.code, code, "stderr: %s", errOut.String())
			lines := errorLines(errOut.String())
			require.Len(t, lines, 1, "exactly one error line: %q", errOut.String())
			require.Contains(t, lines[0], tt.want)
		})
	}
}

// errorLines returns the lines of stderr that are not structured logs.
func errorLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "time=") {
			out = append(out, l)
		}
	}
	return out
}

func TestHelpAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"serve", "--help"}, &out, &errOut))
	for _, flag := range []string{"-listen", "-db", "-data-dir", "-redis", "-log-level", "-log-format", "-config",
		"-graphql-max-page-size", "-graphql-max-depth", "-graphql-max-complexity", "-shutdown-timeout", "ALEPHQL_DB"} {
		require.Contains(t, out.String(), flag)
	}
	out.Reset()
	require.Equal(t, 0, run(t.Context(), []string{"version"}, &out, &errOut))
	require.Equal(t, "alephql dev\n", out.String())
}

func TestServeProfilerOnlyOnDebugListener(t *testing.T) {
	// --debug-listen serves Go's profiler on its own address; the API's
	// address never does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn", "--debug-listen", addr)

	res, err := http.Get("http://" + addr + "/debug/pprof/")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, err = http.Get(base + "debug/pprof/")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.NotEqual(t, http.StatusOK, res.StatusCode, "no profiler on the API's address")
	require.Equal(t, 0, stop())
}
