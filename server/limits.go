package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/wsconn"
)

// Limits are the per-client abuse limits of the HTTP server. A zero
// field is no limit.
type Limits struct {
	// RatePerSecond is the sustained request rate allowed to one client
	// IP, over every route but /healthz, /readyz and /metrics (a
	// websocket handshake is one request). 0: no limit.
	RatePerSecond float64
	// RateBurst is how many requests a client may send at once above the
	// rate. Default: twice the rate, at least 1.
	RateBurst int
	// MaxWebsocketsPerIP bounds the open websockets of one client IP.
	// 0: no limit.
	MaxWebsocketsPerIP int
	// MaxWebsockets bounds the open websockets of the server. 0: no
	// limit.
	MaxWebsockets int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed: a request from one of them is counted against the
	// right-most address of X-Forwarded-For that is not a trusted proxy.
	// Empty: the TCP peer is the client, X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
}

// Validate fills defaults and reports invalid limits.
func (l *Limits) Validate() error {
	switch {
	case l.RatePerSecond < 0 || math.IsNaN(l.RatePerSecond) || math.IsInf(l.RatePerSecond, 0):
		return fmt.Errorf("rate limit %v: must be a positive number of requests per second, or 0 for none", l.RatePerSecond)
	case l.RateBurst < 0:
		return fmt.Errorf("rate burst %d: must not be negative", l.RateBurst)
	case l.MaxWebsocketsPerIP < 0 || l.MaxWebsockets < 0:
		return errors.New("websocket limits must not be negative")
	}
	if l.RatePerSecond > 0 && l.RateBurst == 0 {
		l.RateBurst = max(1, int(math.Ceil(2*l.RatePerSecond)))
	}
	return nil
}

// Error codes of the limits, in the answers' code fields.
const (
	// CodeRateLimited: the client sent more requests than its rate
	// limit; Retry-After says when to try again.
	CodeRateLimited = "RATE_LIMITED"
	// CloseTryAgainLater is the websocket close code (RFC 6455 1013) of a
	// websocket refused by a limit.
	CloseTryAgainLater = wsconn.CloseTryAgainLater
)

// limitMetrics count the limits' refusals.
type limitMetrics struct {
	rateLimited prometheus.Counter
	wsOpen      prometheus.Gauge
	wsRefused   *prometheus.CounterVec
}

func newLimitMetrics(reg prometheus.Registerer) *limitMetrics {
	m := &limitMetrics{
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "http", Name: "rate_limited_total",
			Help: "Requests refused with 429 by the per-client rate limit.",
		}),
		wsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "alephql", Subsystem: "http", Name: "websockets",
			Help: "Open websocket connections counted by the websocket limits.",
		}),
		wsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "alephql", Subsystem: "http", Name: "websockets_refused_total",
			Help: "Websockets closed with 1013 at once, by the limit they were over (ip, total).",
		}, []string{"limit"}),
	}
	reg.MustRegister(m.rateLimited, m.wsOpen, m.wsRefused)
	return m
}

// clientIPs tells the client of a request.
type clientIPs struct{ trusted []netip.Prefix }

func (c clientIPs) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// of returns the client IP of r: the TCP peer, or behind trusted proxies
// the right-most X-Forwarded-For address that is not one of them.
func (c clientIPs) of(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !c.isTrusted(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing left of it
		}
		peer = a.Unmap()
		if !c.isTrusted(peer) {
			break
		}
	}
	return peer.String()
}

// exempt reports whether a path is outside the rate limit: the probes
// and metrics an orchestrator polls.
func exempt(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// bucket is one client's token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// rateLimiter is a token bucket per client IP. Buckets that are full
// again are dropped by a sweep at most once a minute, so the map holds
// only the clients of the last minutes.
type rateLimiter struct {
	rate, burst float64
	now         func() time.Time

	mu        sync.Mutex
	clients   map[string]*bucket
	lastSweep time.Time
}

func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), now: now, clients: map[string]*bucket{}, lastSweep: now()}
}

// allow takes a token from ip's bucket. When there is none, it returns
// false and how long until there is one.
func (l *rateLimiter) allow(ip string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		full := time.Duration(l.burst / l.rate * float64(time.Second))
		for k, b := range l.clients {
			if now.Sub(b.last) >= full {
				delete(l.clients, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.clients[ip]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.clients[ip] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// rateLimit refuses, with 429 and Retry-After, the requests of a client
// over its rate.
func rateLimit(l *rateLimiter, ips clientIPs, m *limitMetrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		ok, wait := l.allow(ips.of(r))
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		m.rateLimited.Inc()
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		msg := fmt.Sprintf("too many requests from this client: retry after %d s", secs)
		writeRefusal(w, r, http.StatusTooManyRequests, CodeRateLimited, msg, map[string]any{"retryAfter": secs})
	})
}

// writeRefusal answers a request refused by the server itself: in the
// GraphQL error shape on /graphql, as {"error": {"code", "message"}}
// elsewhere. extra adds fields next to the code.
func writeRefusal(w http.ResponseWriter, r *http.Request, status int, code, msg string, extra map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fields := map[string]any{"code": code}
	for k, v := range extra {
		fields[k] = v
	}
	var body any
	if r.URL.Path == "/graphql" || strings.HasPrefix(r.URL.Path, "/graphql/") {
		body = map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": fields}}}
	} else {
		fields["message"] = msg
		body = map[string]any{"error": fields}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Websocket limits. A websocket outlives its HTTP request (the GraphQL
// transport serves it apart once upgraded), so it is counted on its TCP
// connection: the listener wraps every connection, the request finds it
// in its context, and the connection's Close releases the count.

// trackedConn is an accepted connection that may hold a websocket slot.
type trackedConn struct {
	net.Conn
	mu      sync.Mutex
	release func() // set while the connection holds a slot
}

// Close closes the connection and releases its websocket slot.
func (c *trackedConn) Close() error {
	c.mu.Lock()
	rel := c.release
	c.release = nil
	c.mu.Unlock()
	if rel != nil {
		rel()
	}
	return c.Conn.Close()
}

// trackingListener wraps accepted connections in trackedConn.
type trackingListener struct{ net.Listener }

// Accept implements net.Listener.
func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &trackedConn{Conn: c}, nil
}

// connKey is the context key of a request's *trackedConn.
type connKey struct{}

// connContext puts the connection in its requests' context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*trackedConn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}

// wsLimiter counts open websockets per client IP and in total.
type wsLimiter struct {
	perIP, total int
	m            *limitMetrics

	mu    sync.Mutex
	byIP  map[string]int
	count int
}

// acquire takes a slot for ip, or names the limit it is over.
func (l *wsLimiter) acquire(ip string) (release func(), over string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total > 0 && l.count >= l.total:
		return nil, "total"
	case l.perIP > 0 && l.byIP[ip] >= l.perIP:
		return nil, "ip"
	}
	l.byIP[ip]++
	l.count++
	l.m.wsOpen.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.byIP[ip]--; l.byIP[ip] <= 0 {
				delete(l.byIP, ip)
			}
			l.count--
			l.m.wsOpen.Dec()
		})
	}, ""
}

// isWebsocket reports whether r asks for a websocket.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// limitWebsockets holds every websocket to the limits: one over them is
// accepted and closed at once with 1013 (try again later), which
// websocket clients report as such, where a refused handshake would only
// be a failed connection.
func limitWebsockets(l *wsLimiter, ips clientIPs, log func(msg string, args ...any), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tc, _ := r.Context().Value(connKey{}).(*trackedConn)
		if !isWebsocket(r) || tc == nil {
			next.ServeHTTP(w, r)
			return
		}
		tc.mu.Lock()
		held := tc.release != nil
		tc.mu.Unlock()
		if !held {
			release, over := l.acquire(ips.of(r))
			if over != "" {
				l.m.wsRefused.WithLabelValues(over).Inc()
				log("websocket refused", "limit", over, "remote", r.RemoteAddr)
				wsconn.Refuse(w, r, CloseTryAgainLater, "too many websockets ("+over+" limit): try again later")
				return
			}
			tc.mu.Lock()
			tc.release = release
			tc.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// Interface guards
var (
	_ net.Conn     = (*trackedConn)(nil)
	_ net.Listener = trackingListener{}
)
