package wsconn

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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

// BenchmarkFanOut delivers bursts of K events (300-byte frames) to each
// of N websockets over loopback, as the node delivers a batch of
// processed messages to its subscribers, the server side of each
// connection writing either one frame per event (write: Write, one
// system call each, as before Queue) or all the frames it has ready
// together (queue: Queue each, then Flush). One op is one burst to every
// connection, read whole by the clients. Reported per event delivered:
// write system calls of the process (syscw of /proc/self/io; the clients
// only read) and CPU of the process (user+system, server and clients).
//
//	go test ./wsconn -run '^$' -bench FanOut -count 5
func BenchmarkFanOut(b *testing.B) {
	const n = 100
	msg := []byte(`{"id":"1","type":"next","payload":{"data":{"messages":{"hash":"` + strings.Repeat("a", 64) + `","type":"POST","channel":"TEST","sender":"0x` + strings.Repeat("b", 40) + `","time":"2026-12-06T09:00:00Z","content":{"body":"` + strings.Repeat("x", 80) + `"}}}}}`)
	modes := []struct {
		name  string
		write func(c *Conn, k int) error
	}{
		{"write", func(c *Conn, k int) error {
			for range k {
				if err := c.Write(msg); err != nil {
					return err
				}
			}
			return nil
		}},
		{"queue", func(c *Conn, k int) error {
			for range k {
				if err := c.Queue(msg); err != nil {
					return err
				}
			}
			return c.Flush()
		}},
	}
	for _, k := range []int{1, 2, 8, 32} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("K=%d/mode=%s", k, m.name), func(b *testing.B) {
				benchFanOut(b, n, k, len(msg), func(c *Conn) error { return m.write(c, k) })
			})
		}
	}
}

// benchFanOut runs BenchmarkFanOut's bursts: burst writes one burst of k
// frames of size bytes on c.
func benchFanOut(b *testing.B, n, k, size int, burst func(c *Conn) error) {
	bursts := make([]chan struct{}, n) // one a connection, in no particular order
	for i := range bursts {
		bursts[i] = make(chan struct{}, 1)
	}
	var next atomic.Int64
	var ready atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrader{WriteTimeout: 10 * time.Second}.Accept(w, r, nil)
		if err != nil {
			return
		}
		in := bursts[next.Add(1)-1]
		ctx := c.CloseRead(r.Context())
		ready.Add(1)
		for {
			select {
			case <-in:
				if burst(c) != nil {
					return
				}
			case <-ctx.Done():
				_ = c.CloseWith(CloseNormal, "")
				return
			}
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	read := make(chan error, n)
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(b, url)
	}
	for ready.Load() < int64(n) {
		runtime.Gosched()
	}
	// Each client reads k frames per burst and says so.
	want := make([]chan struct{}, n)
	for i, nc := range conns {
		want[i] = make(chan struct{}, 1)
		go func() {
			rd := bufio.NewReaderSize(nc, 32<<10)
			for range want[i] {
				var err error
				for range k {
					var h ws.Header
					if h, err = ws.ReadHeader(rd); err != nil {
						break
					}
					if int(h.Length) != size {
						err = fmt.Errorf("frame of %d bytes", h.Length)
						break
					}
					if _, err = rd.Discard(int(h.Length)); err != nil {
						break
					}
				}
				read <- err
			}
		}()
	}
	defer func() {
		for i, nc := range conns {
			close(want[i])
			_ = ws.WriteFrame(nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
			_ = nc.Close()
		}
	}()
	w0, wok := writeSyscalls()
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		for i := range n {
			want[i] <- struct{}{}
			bursts[i] <- struct{}{}
		}
		for range n {
			if err := <-read; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	events := float64(b.N) * float64(n) * float64(k)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/events, "cpu-ns/event")
	if w1, ok := writeSyscalls(); ok && wok {
		b.ReportMetric(float64(w1-w0)/events, "writes/event")
	}
}

// writeSyscalls returns the process's write system calls so far (Linux:
// syscw of /proc/self/io, which counts write and writev).
func writeSyscalls() (int64, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// cpuTime returns the process's CPU time, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
