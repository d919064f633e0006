package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor/demo"
)

// referencePeer serves signed messages in the reference node's
// messages.json cursor-mode shape (pages of 200, oldest first). The
// messages are read from a JSON-lines file by their offsets, so a
// million of them do not sit in memory.
type referencePeer struct {
	file   *os.File
	offs   []int64      // start of each line, and the file's end
	served *atomic.Bool // the last page was served
}

func (p referencePeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v0/messages.json" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	n := len(p.offs) - 1
	per, _ := strconv.Atoi(q.Get("pagination"))
	per = min(max(per, 1), 200)
	i := 0
	if c := q.Get("cursor"); c != "" {
		i, _ = strconv.Atoi(c)
	}
	walk := q.Get("startDate") == "" && q.Get("msgStatuses") == ""
	if !walk {
		i = n // catch-up: nothing newer here; nothing forgotten
	}
	end := min(i+per, n)
	buf := make([]byte, p.offs[end]-p.offs[i])
	if _, err := p.file.ReadAt(buf, p.offs[i]); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// The body is written as it is, the messages being JSON lines: the
	// peer stands for another machine, whose encoding is not the
	// follower's cost (json.Encoder re-validated every message).
	out := make([]byte, 0, len(buf)+128)
	out = append(out, `{"messages":[`...)
	for first := true; len(buf) > 0; first = false {
		j := bytes.IndexByte(buf, '\n')
		if !first {
			out = append(out, ',')
		}
		out = append(out, buf[:j]...)
		buf = buf[j+1:]
	}
	out = append(out, `],"pagination_per_page":`...)
	out = strconv.AppendInt(out, int64(per), 10)
	out = append(out, `,"next_cursor":`...)
	if end < n {
		out = strconv.AppendQuote(out, strconv.Itoa(end))
	} else {
		out = append(out, "null"...)
		if walk {
			p.served.Store(true)
		}
	}
	out = append(out, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// BenchmarkFollowBackfill compares, on fresh PostgreSQL databases, the
// backfill of ALEPHQL_BENCH_FOLLOW_N signed POST and AGGREGATE messages
// (default 20 000) from a peer serving messages.json over loopback HTTP
// (`serve --follow`) with `alephql import` of the same messages. Run with
// -benchtime=1x; it reports both rates and their ratio. At 1 000 000
// messages pass -timeout 0 (or a few hours): the messages are signed on
// every core and kept on disk (about 0.5 GB), not in memory.
func BenchmarkFollowBackfill(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_FOLLOW_N")); err == nil && v > 0 {
		n = v
	}
	var accts []*demo.Account
	for range 20 {
		a, err := demo.NewAccount()
		require.NoError(b, err)
		accts = append(accts, a)
	}
	t0 := float64(time.Now().Add(-30 * 24 * time.Hour).Unix())
	// Signed on every core by chunks, written as JSON lines in order.
	file := filepath.Join(b.TempDir(), "msgs.jsonl")
	fw, err := os.Create(file)
	require.NoError(b, err)
	bw := bufio.NewWriterSize(fw, 1<<20)
	offs := make([]int64, 0, n+1)
	var off int64
	workers := runtime.GOMAXPROCS(0)
	const chunk = 10000
	raws := make([][]byte, chunk)
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		var g errgroup.Group
		for w := range workers {
			g.Go(func() error {
				for i := start + w; i < end; i += workers {
					a := accts[i%len(accts)]
					t := t0 + float64(i)/10
					var err error
					if i%4 == 3 {
						raws[i-start], _, err = a.Aggregate(t, "BENCH", "k"+strconv.Itoa(i%7), map[string]any{"i": i})
					} else {
						raws[i-start], _, err = a.Post(t, "BENCH", "note", map[string]any{"i": i}, "")
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
		}
		require.NoError(b, g.Wait())
		for _, raw := range raws[:end-start] {
			offs = append(offs, off)
			_, _ = bw.Write(raw)
			_ = bw.WriteByte('\n')
			off += int64(len(raw)) + 1
		}
	}
	offs = append(offs, off)
	require.NoError(b, bw.Flush())
	require.NoError(b, fw.Close())
	rf, err := os.Open(file)
	require.NoError(b, err)
	b.Cleanup(func() { _ = rf.Close() })

	settled := func(url string) func() int {
		db, err := database.Open(context.Background(), database.Config{URL: url}, dbtest.Logger())
		require.NoError(b, err)
		b.Cleanup(func() { _ = db.Close() })
		return func() int {
			c, err := db.Client.MessageStatus.Query().Where(messagestatus.StatusNEQ(messagestatus.StatusPending)).Count(context.Background())
			require.NoError(b, err)
			return c
		}
	}

	b.ResetTimer()
	// Baseline: alephql import.
	importDB := dbtest.NewPostgresDatabase(b)
	stopProf := profile(b, "import")
	cpu := cpuTime()
	start := time.Now()
	var out, errOut syncBuffer
	require.Equal(b, 0, run(context.Background(), []string{"import", "--db", importDB, "--data-dir", b.TempDir(), "--log-level", "warn", file}, &out, &errOut), errOut.String())
	importDur := time.Since(start)
	importCPU := cpuTime() - cpu
	stopProf()
	require.Equal(b, n, settled(importDB)())

	// Follow a peer serving the same messages.
	peer := referencePeer{file: rf, offs: offs, served: &atomic.Bool{}}
	srv := httptest.NewServer(peer)
	b.Cleanup(srv.Close)
	followDB := dbtest.NewPostgresDatabase(b)
	count := settled(followDB)
	stopProf = profile(b, "follow")
	cpu = cpuTime()
	start = time.Now()
	// A node catching up runs the collector as bench-chain.sh's chain
	// node does (serve's defaults suit a node serving subscribers).
	serveTB(b, "--db", followDB, "--data-dir", b.TempDir(), "--log-level", "warn", "--follow", srv.URL,
		"--gc-percent", "400", "--memory-limit", "320")
	startup := time.Since(start)
	// The status table is counted once the peer has served its last
	// page: counting a growing table every 100 ms loaded the database
	// the follow writes to (and scraping the node's metrics cost the
	// node 4% of its CPU).
	require.Eventually(b, func() bool { return peer.served.Load() && count() == n }, 6*time.Hour, 100*time.Millisecond)
	followDur := time.Since(start)
	followCPU := cpuTime() - cpu
	stopProf()
	b.StopTimer()

	ir, fr := float64(n)/importDur.Seconds(), float64(n)/followDur.Seconds()
	b.ReportMetric(ir, "import_msgs/s")
	b.ReportMetric(fr, "follow_msgs/s")
	b.ReportMetric(fr/ir, "ratio")
	b.ReportMetric(importCPU.Seconds(), "import_cpu_s")
	b.ReportMetric(followCPU.Seconds(), "follow_cpu_s")
	b.ReportMetric(importCPU.Seconds()/followCPU.Seconds(), "cpu_ratio")
	b.Log(fmt.Sprintf("%d messages: import %.0f msg/s (%s, CPU %s), follow %.0f msg/s (%s, of which node start %s; CPU %s), ratio %.2f, CPU ratio (import/follow) %.2f",
		n, ir, importDur.Round(time.Millisecond), importCPU.Round(time.Millisecond), fr, followDur.Round(time.Millisecond),
		startup.Round(time.Millisecond), followCPU.Round(time.Millisecond), fr/ir, importCPU.Seconds()/followCPU.Seconds()))
}

// cpuTime is the CPU time (user and system) this process has used: the
// benchmark's figures on a shared machine. The database server's is not
// in it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// profile writes a CPU profile of one phase to
// $ALEPHQL_BENCH_FOLLOW_PROFILE/<name>.pprof when that is set (not with
// go test -cpuprofile, which profiles both phases together).
func profile(b *testing.B, name string) (stop func()) {
	dir := os.Getenv("ALEPHQL_BENCH_FOLLOW_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		require.NoError(b, f.Close())
	}
}
