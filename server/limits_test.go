package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/server"
)

// runServer runs s until the test ends and returns its base URL.
func runServer(t *testing.T, cfg server.Config, routes server.Routes) string {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := server.New(cfg, routes, nil, nil, quiet())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addrc:
		return "http://" + a.String()
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
		return ""
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	// One request per second with a burst of 2: the third request at
	// once is refused, with Retry-After and a typed body in the shape of
	// its route; probes are never limited.
	base := runServer(t, server.Config{Limits: server.Limits{RatePerSecond: 1, RateBurst: 2}},
		server.Routes{GraphQL: okHandler, Extra: map[string]http.Handler{"/api/": okHandler}})
	get := func(path string) (*http.Response, map[string]any) {
		res, err := http.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		var v map[string]any
		if res.StatusCode == http.StatusTooManyRequests {
			require.NoError(t, json.Unmarshal(b, &v), "%s", b)
		}
		return res, v
	}
	for range 2 {
		res, _ := get("/graphql")
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	res, v := get("/graphql")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Equal(t, "1", res.Header.Get("Retry-After"))
	ext := v["errors"].([]any)[0].(map[string]any)["extensions"].(map[string]any)
	require.Equal(t, server.CodeRateLimited, ext["code"], "GraphQL error shape on /graphql")

	res, v = get("/api/v0/messages.json")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "one bucket for every route")
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	require.Equal(t, server.CodeRateLimited, v["error"].(map[string]any)["code"], "JSON error elsewhere")

	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		res, _ := get(p)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
	}
	// The bucket refills at the rate.
	require.Eventually(t, func() bool {
		res, _ := get("/graphql")
		return res.StatusCode == http.StatusOK
	}, 3*time.Second, 100*time.Millisecond)
}

// wsHolder accepts websockets and keeps them open until the client
// closes them.
var wsHolder = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		if _, _, err := c.Read(r.Context()); err != nil {
			return
		}
	}
})

// dialFrom opens a websocket from the local IP src.
func dialFrom(t *testing.T, base, src string) *websocket.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	c, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// closeStatus reads from c until the server closes it and returns the
// close status. (A Read whose context ends closes the websocket, so only
// websockets expected to be refused are read this way.)
func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, _, err := c.Read(ctx)
	require.Error(t, err)
	return websocket.CloseStatus(err)
}

// isOpen reports whether the server answers a ping on c.
func isOpen(t *testing.T, c *websocket.Conn) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx) == nil
}

func TestWebsocketLimitsCloseWith1013(t *testing.T) {
	base := runServer(t, server.Config{Limits: server.Limits{MaxWebsocketsPerIP: 2, MaxWebsockets: 3}},
		server.Routes{GraphQL: wsHolder})
	open := func(src string) *websocket.Conn {
		c := dialFrom(t, base, src)
		c.CloseRead(context.Background()) // a reader for pings and the close frame
		return c
	}
	a1, a2 := open("127.0.0.1"), open("127.0.0.1")
	a3 := dialFrom(t, base, "127.0.0.1")
	require.Equal(t, websocket.StatusCode(server.CloseTryAgainLater), closeStatus(t, a3), "over the per-IP limit")
	require.True(t, isOpen(t, a1), "the first two stay open")
	require.True(t, isOpen(t, a2))

	b1 := open("127.0.0.2")
	require.True(t, isOpen(t, b1), "another client has its own per-IP count")
	b2 := dialFrom(t, base, "127.0.0.2")
	require.Equal(t, websocket.StatusCode(server.CloseTryAgainLater), closeStatus(t, b2), "over the total limit")

	// Closing a websocket frees its slot.
	require.NoError(t, a2.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		return isOpen(t, open("127.0.0.1"))
	}, 5*time.Second, 50*time.Millisecond)
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	// A client that never finishes its headers (slowloris) loses its
	// connection after ReadHeaderTimeout.
	base := runServer(t, server.Config{ReadHeaderTimeout: 200 * time.Millisecond}, server.Routes{GraphQL: okHandler})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadAll(c)
	require.NoError(t, err, "the server closed the connection before the client's deadline")
	require.Less(t, time.Since(start), 3*time.Second)
}

func TestLimitsValidation(t *testing.T) {
	for _, l := range []server.Limits{{RatePerSecond: -1}, {RateBurst: -1}, {MaxWebsockets: -1}, {MaxWebsocketsPerIP: -2}} {
		_, err := server.New(server.Config{Listen: "127.0.0.1:0", Limits: l}, server.Routes{GraphQL: okHandler}, nil, nil, quiet())
		require.Error(t, err, "%+v", l)
	}
}

func TestRateLimitClientBehindTrustedProxies(t *testing.T) {
	// Behind a trusted proxy each X-Forwarded-For client has its own
	// bucket; from an untrusted peer the header is ignored, so it cannot
	// be used to dodge the limit.
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	cases := []struct {
		name    string
		trusted []netip.Prefix
		// xff of two requests sent at once with a burst of 1
		first, second string
		want          int // status of the second
	}{
		{"two clients behind the proxy", []netip.Prefix{loopback}, "203.0.113.1", "203.0.113.2", http.StatusOK},
		{"one client behind the proxy", []netip.Prefix{loopback}, "203.0.113.1", "203.0.113.1", http.StatusTooManyRequests},
		{"right-most untrusted hop", []netip.Prefix{loopback}, "198.51.100.7, 203.0.113.1", "198.51.100.8, 203.0.113.1, 127.0.0.5", http.StatusTooManyRequests},
		{"untrusted peer: header ignored", nil, "203.0.113.1", "203.0.113.2", http.StatusTooManyRequests},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := runServer(t, server.Config{Limits: server.Limits{RatePerSecond: 0.01, RateBurst: 1, TrustedProxies: tc.trusted}},
				server.Routes{GraphQL: okHandler})
			status := func(xff string) int {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/graphql", nil)
				require.NoError(t, err)
				req.Header.Set("X-Forwarded-For", xff)
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				require.NoError(t, res.Body.Close())
				return res.StatusCode
			}
			require.Equal(t, http.StatusOK, status(tc.first))
			require.Equal(t, tc.want, status(tc.second))
		})
	}
}
