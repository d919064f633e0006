package rest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/rest"
)

// forwarder relays TCP connections to a server, and can cut them all and
// refuse new ones, as a PostgreSQL that is stopped does.
type forwarder struct {
	t      *testing.T
	target string
	mu     sync.Mutex
	ln     net.Listener
	addr   string
	conns  map[net.Conn]bool
}

func newForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	f := &forwarder{t: t, target: target, conns: map[net.Conn]bool{}}
	f.listen("127.0.0.1:0")
	t.Cleanup(f.down)
	return f
}

func (f *forwarder) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	require.NoError(f.t, err)
	f.mu.Lock()
	f.ln, f.addr = ln, ln.Addr().String()
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", f.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			f.mu.Lock()
			f.conns[c], f.conns[s] = true, true
			f.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
		}
	}()
}

// down closes the listener and every relayed connection.
func (f *forwarder) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		_ = c.Close()
	}
	clear(f.conns)
}

// up listens again on the same address.
func (f *forwarder) up() { f.listen(f.addr) }

func TestRoutesAnswer503WhileThePostgresServerIsDown(t *testing.T) {
	// The database behind a relay that is cut: every REST route that
	// reads or writes answers 503 with Retry-After and the code
	// SERVICE_UNAVAILABLE (as GraphQL does), never a 500; once the
	// server is reachable again, the same requests succeed.
	u, err := url.Parse(dbtest.NewPostgresDatabase(t))
	require.NoError(t, err)
	fw := newForwarder(t, u.Host)
	u.Host = fw.addr
	db := dbtest.Open(t, u.String())
	n := newNode(t, db, rest.Config{})
	acct, err := demo.NewAccount()
	require.NoError(t, err)
	i := 0
	submit := func() *http.Response {
		raw, _, err := acct.Post(float64(1_700_000_000+i), "OUTAGE", "note", map[string]any{"i": i}, "")
		require.NoError(t, err)
		i++
		body, err := json.Marshal(map[string]any{"message": json.RawMessage(raw)})
		require.NoError(t, err)
		res, err := http.Post(n.url+"/api/v0/messages", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		return res
	}
	res := submit()
	_ = res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode)

	requests := []struct {
		name string
		do   func() *http.Response
	}{
		{"message list", func() *http.Response { return get(t, n.url+"/api/v0/messages.json?channels=OUTAGE") }},
		{"one message", func() *http.Response { return get(t, n.url+"/api/v0/messages/"+zeroHash) }},
		{"posts", func() *http.Response { return get(t, n.url+"/api/v0/posts.json") }},
		{"aggregates", func() *http.Response { return get(t, n.url+"/api/v0/aggregates.json") }},
		{"channels", func() *http.Response { return get(t, n.url+"/api/v0/channels/list.json") }},
		{"submission", submit},
	}
	fw.down()
	for _, tc := range requests {
		t.Run("down/"+tc.name, func(t *testing.T) {
			res := tc.do()
			defer res.Body.Close()
			var body struct {
				Error string `json:"error"`
				Code  string `json:"code"`
			}
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
			require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%+v", body)
			require.Equal(t, rest.CodeServiceUnavailable, body.Code)
			require.NotEmpty(t, body.Error)
			require.Equal(t, "1", res.Header.Get("Retry-After"))
			require.Contains(t, res.Header.Get("Content-Type"), "application/json")
		})
	}
	fw.up()
	for _, tc := range requests {
		t.Run("back/"+tc.name, func(t *testing.T) {
			var status int
			require.Eventually(t, func() bool {
				res := tc.do()
				_ = res.Body.Close()
				status = res.StatusCode
				return status != http.StatusServiceUnavailable
			}, 10*time.Second, 50*time.Millisecond)
			require.Contains(t, []int{http.StatusOK, http.StatusAccepted, http.StatusNotFound}, status)
		})
	}
}

// zeroHash is a well-formed item hash of no message.
const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

func get(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	return res
}
