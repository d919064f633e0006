package wsconn

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// The benchmarks below compare Conn with github.com/coder/websocket (the
// library rest/ws.go used before wsconn) on the server side, in the same
// run: the client is the same (gobwas's dialer, reading raw frames) for
// both.
//
//	go test ./wsconn -run '^$' -bench . -benchmem

// server is the server side of one library: serve accepts a websocket,
// calls ready, and runs until the client closes, writing each message
// of out.
type server func(w http.ResponseWriter, r *http.Request, out <-chan []byte, ready func())

var servers = []struct {
	name  string
	serve server
}{
	{"wsconn", func(w http.ResponseWriter, r *http.Request, out <-chan []byte, ready func()) {
		c, err := Upgrader{WriteTimeout: 10 * time.Second}.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx := c.CloseRead(r.Context())
		ready()
		for {
			select {
			case b := <-out:
				if c.Write(b) != nil {
					return
				}
			case <-ctx.Done():
				_ = c.CloseWith(CloseNormal, "")
				return
			}
		}
	}},
	{"coder", func(w http.ResponseWriter, r *http.Request, out <-chan []byte, ready func()) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := c.CloseRead(r.Context())
		ready()
		for {
			select {
			case b := <-out:
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := c.Write(wctx, websocket.MessageText, b)
				cancel()
				if err != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}},
}

// listen serves websockets with serve; each connection writes what is
// sent on out and counts itself in ready once it is reading.
func listen(b *testing.B, serve server, out <-chan []byte, ready *atomic.Int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, out, func() { ready.Add(1) })
	}))
	b.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(b *testing.B, url string) net.Conn {
	nc, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	return nc
}

// BenchmarkWrite: one server write of a 300-byte text message (a feed
// frame's size) and the client's read of it.
func BenchmarkWrite(b *testing.B) {
	msg := []byte(`{"id":"1","type":"next","payload":{"data":{"messages":{"hash":"` + strings.Repeat("a", 64) + `","type":"POST","channel":"TEST","sender":"0x` + strings.Repeat("b", 40) + `","time":"2026-12-06T09:00:00Z","content":{"body":"` + strings.Repeat("x", 80) + `"}}}}}`)
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			out := make(chan []byte)
			nc := dial(b, listen(b, s.serve, out, new(atomic.Int64)))
			defer nc.Close()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				out <- msg
				if _, err := wsutil.ReadServerText(nc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleConn: the memory (heap and goroutine stacks, both sides
// of the loopback) of an idle websocket, as the bytes per connection of
// 1 000 open ones; the client side is the same for both libraries, so
// the difference is the server's.
func BenchmarkIdleConn(b *testing.B) {
	const n = 1000
	inUse := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			var total float64
			for range b.N {
				var ready atomic.Int64
				url := listen(b, s.serve, nil, &ready)
				before := inUse()
				conns := make([]net.Conn, n)
				for i := range conns {
					conns[i] = dial(b, url)
				}
				for ready.Load() < n {
					runtime.Gosched()
				}
				total += float64(inUse()-before) / n
				for _, c := range conns {
					_ = ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
					_, _ = io.Copy(io.Discard, c)
					c.Close()
				}
			}
			b.ReportMetric(total/float64(b.N), "B/conn")
			b.ReportMetric(0, "ns/op")
		})
	}
}
