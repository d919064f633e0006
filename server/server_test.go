package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/server"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestReadyzReportsEachCheck(t *testing.T) {
	healthy := true
	checks := []server.Check{
		{Name: "database", Check: func(context.Context) error { return nil }},
		{Name: "redis", Check: func(context.Context) error {
			if healthy {
				return nil
			}
			return errors.New("connection refused")
		}},
	}
	s, err := server.New(server.Config{Listen: "127.0.0.1:0"}, server.Routes{GraphQL: http.NotFoundHandler()}, checks, nil, quiet())
	require.NoError(t, err)

	get := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
		var v map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
		return rec.Code, v
	}
	code, v := get("/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"database": "ok", "redis": "ok"}, v["checks"])

	healthy = false
	code, v = get("/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "unavailable", v["status"])
	require.Equal(t, map[string]any{"database": "ok", "redis": "connection refused"}, v["checks"])

	code, _ = get("/healthz")
	require.Equal(t, http.StatusOK, code, "liveness does not depend on dependencies")
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	s, err := server.New(server.Config{Listen: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second},
		server.Routes{GraphQL: slow}, nil, nil, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan net.Addr, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc

	type result struct {
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + addr.String() + "/graphql")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		resc <- result{string(b), err}
	}()
	<-started
	cancel() // shutdown begins while the request is in flight
	r := <-resc
	require.NoError(t, r.err)
	require.Equal(t, "done", r.body)
	require.NoError(t, <-runErr)

	_, err = net.DialTimeout("tcp", addr.String(), time.Second)
	require.Error(t, err, "listener closed after shutdown")
}

func TestConfigValidation(t *testing.T) {
	for _, listen := range []string{"", "nohostport", "1.2.3.4"} {
		_, err := server.New(server.Config{Listen: listen}, server.Routes{GraphQL: http.NotFoundHandler()}, nil, nil, quiet())
		require.Error(t, err, listen)
	}
}
