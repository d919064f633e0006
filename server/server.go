package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/alephql/alephql/wsconn"
)

// Config configures the HTTP server.
type Config struct {
	// Listen is the TCP address to listen on, e.g. "127.0.0.1:4024".
	Listen string
	// ShutdownTimeout bounds the graceful shutdown. Default 15 s.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading request headers, against clients
	// that send them slowly to hold connections (slowloris). Default 10 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long. Default
	// 120 s. (There is no read or write timeout on whole requests: server-
	// sent events and websockets last as long as their subscriptions;
	// bodies are bounded in size by the handlers, and GraphQL operations
	// in time by the GraphQL request timeout.)
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers. Default 64 KiB.
	MaxHeaderBytes int
	// Limits are the per-client abuse limits (none by default).
	Limits Limits
}

// Validate fills defaults and reports invalid settings.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return errors.New("listen address is empty")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen address %q: %w", c.Listen, err)
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	return c.Limits.Validate()
}

// Check is one readiness condition, e.g. "the database answers and is
// migrated".
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Routes are the handlers the server mounts.
type Routes struct {
	// GraphQL serves /graphql.
	GraphQL http.Handler
	// GraphiQL serves / (the IDE page) and its assets.
	GraphiQL http.Handler
	// Extra handlers by pattern (net/http ServeMux syntax), e.g. the REST API.
	Extra map[string]http.Handler
}

// Server is the HTTP server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	handler  http.Handler
	registry *prometheus.Registry

	mu   sync.Mutex
	addr net.Addr
}

// New builds the server. checks are run by /readyz; registry receives the
// server's metrics and is served on /metrics (nil for a new one).
func New(cfg Config, routes Routes, checks []Check, registry *prometheus.Registry, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if registry == nil {
		registry = prometheus.NewRegistry()
	}
	log = log.With("component", "http")
	s := &Server{cfg: cfg, log: log, registry: registry}
	m := newHTTPMetrics(registry)

	mux := http.NewServeMux()
	handle := func(pattern, name string, h http.Handler) {
		mux.Handle(pattern, m.instrument(name, h))
	}
	handle("/graphql", "graphql", routes.GraphQL)
	if routes.GraphiQL != nil {
		handle("/", "graphiql", routes.GraphiQL)
	}
	for p, h := range routes.Extra {
		handle(p, p, h)
	}
	mux.Handle("GET /healthz", http.HandlerFunc(healthz))
	mux.Handle("GET /readyz", readyz(checks, log))
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))
	lm := newLimitMetrics(registry)
	var h http.Handler = mux
	if cfg.Limits.MaxWebsockets > 0 || cfg.Limits.MaxWebsocketsPerIP > 0 {
		wl := &wsLimiter{perIP: cfg.Limits.MaxWebsocketsPerIP, total: cfg.Limits.MaxWebsockets, m: lm, byIP: map[string]int{}}
		h = limitWebsockets(wl, clientIPs{cfg.Limits.TrustedProxies}, log.Info, h)
	}
	if cfg.Limits.RatePerSecond > 0 {
		h = rateLimit(newRateLimiter(cfg.Limits.RatePerSecond, cfg.Limits.RateBurst, time.Now), clientIPs{cfg.Limits.TrustedProxies}, lm, h)
	}
	s.handler = logRequests(log, h)
	return s, nil
}

// Handler returns the server's root handler (for tests).
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the address the server listens on, once Run has bound it.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run listens and serves until ctx ends, then shuts down gracefully:
// in-flight requests get ShutdownTimeout to finish. ready, if not nil, is
// called with the bound address once the server accepts connections.
func (s *Server) Run(ctx context.Context, ready func(net.Addr)) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	ln = trackingListener{ln}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ConnContext:       connContext,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("http server listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("http server shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz runs every check with a short timeout and answers 200 when all
// pass, 503 with each failure otherwise.
func readyz(checks []Check, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		results := make(map[string]string, len(checks))
		status := http.StatusOK
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				results[c.Name] = err.Error()
				status = http.StatusServiceUnavailable
				log.Warn("readiness check failed", "check", c.Name, "err", err)
				continue
			}
			results[c.Name] = "ok"
		}
		body := map[string]any{"status": "ok", "checks": results}
		if status != http.StatusOK {
			body["status"] = "unavailable"
		}
		writeJSON(w, status, body)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, and the websocket write counters (wsconn), registered.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.MustRegister(wsconn.Collectors()...)
	return r
}
