package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
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

// BenchmarkFollowBackfill compares, on fresh PostgreSQL databases, the
// backfill of ALEPHQL_BENCH_FOLLOW_N signed POST and AGGREGATE messages
// (default 20 000) from one alephql node to a fresh one over loopback
// HTTP (`serve --follow`) with `alephql import` of the same messages,
// which is also how the first node gets them: node A is an `alephql
// serve` process on the import's database, and node B follows it in this
// process, so the CPU figures are the import's and the follower's alone
// (A's serving CPU is reported apart). Run with -benchtime=1x, against
// durable servers (ALEPHQL_PG_DURABLE=1 scripts/test-servers.sh start
// DIR); it reports both rates and their ratio. At 1 000 000 messages pass
// -timeout 0 (or a few hours): the messages are signed on every core and
// kept on disk (about 0.5 GB), not in memory.
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
			_, _ = bw.Write(raw)
			_ = bw.WriteByte('\n')
		}
	}
	require.NoError(b, bw.Flush())
	require.NoError(b, fw.Close())
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

	bin := buildNode(b)
	b.ResetTimer()
	// Baseline: alephql import.
	importDB := dbtest.NewPostgresDatabase(b)
	stopProf := profile(b, "import")
	cpu := cpuTime()
	importDBCPU := serverCPU("postgres")
	start := time.Now()
	var out, errOut syncBuffer
	importData := b.TempDir()
	require.Equal(b, 0, run(context.Background(), []string{"import", "--db", importDB, "--data-dir", importData, "--log-level", "warn", file}, &out, &errOut), errOut.String())
	importDur := time.Since(start)
	importCPU := cpuTime() - cpu
	importDBCPU = serverCPU("postgres") - importDBCPU
	stopProf()
	require.Equal(b, n, settled(importDB)())

	// Node A serves the imported messages; node B follows it.
	peer := startNodeProc(b, bin, freeAddr(b), "--db", importDB, "--data-dir", importData, "--log-level", "warn", "--billing-jobs=false")
	peerCPU := procCPU(b, peer.cmd.Process.Pid)
	dbCPU := serverCPU("postgres")
	followDB := dbtest.NewPostgresDatabase(b)
	stopProf = profile(b, "follow")
	cpu = cpuTime()
	start = time.Now()
	// A node catching up runs the collector as bench-chain.sh's chain
	// node does (serve's defaults suit a node serving subscribers).
	follower := serveTB(b, "--db", followDB, "--data-dir", b.TempDir(), "--log-level", "warn", "--follow", strings.TrimSuffix(peer.base, "/"),
		"--billing-jobs=false", "--gc-percent", "400", "--memory-limit", "320")
	startup := time.Since(start)
	// B's processed total comes from its counters (one small read every
	// 200 ms); counting a growing status table often loaded the database
	// the follow writes to.
	require.Eventually(b, func() bool { return processedTotal(b, follower) >= n }, 6*time.Hour, 200*time.Millisecond)
	followDur := time.Since(start)
	followCPU := cpuTime() - cpu
	peerCPU = procCPU(b, peer.cmd.Process.Pid) - peerCPU
	dbCPU = serverCPU("postgres") - dbCPU
	stopProf()
	b.StopTimer()
	require.Equal(b, n, settled(followDB)())

	ir, fr := float64(n)/importDur.Seconds(), float64(n)/followDur.Seconds()
	b.ReportMetric(ir, "import_msgs/s")
	b.ReportMetric(fr, "follow_msgs/s")
	b.ReportMetric(fr/ir, "ratio")
	b.ReportMetric(importCPU.Seconds(), "import_cpu_s")
	b.ReportMetric(followCPU.Seconds(), "follow_cpu_s")
	b.ReportMetric(importCPU.Seconds()/followCPU.Seconds(), "cpu_ratio")
	b.ReportMetric(peerCPU.Seconds(), "peer_cpu_s")
	b.ReportMetric(importDBCPU.Seconds(), "import_db_cpu_s")
	b.ReportMetric(dbCPU.Seconds(), "follow_db_cpu_s")
	b.Log(fmt.Sprintf("%d messages: import %.0f msg/s (%s, CPU %s, PostgreSQL's %s), follow %.0f msg/s (%s, of which node start %s; CPU %s; peer node's CPU %s, PostgreSQL's %s), ratio %.2f, CPU ratio (import/follow) %.2f",
		n, ir, importDur.Round(time.Millisecond), importCPU.Round(time.Millisecond), importDBCPU.Round(time.Millisecond), fr, followDur.Round(time.Millisecond),
		startup.Round(time.Millisecond), followCPU.Round(time.Millisecond), peerCPU.Round(time.Millisecond), dbCPU.Round(time.Millisecond), fr/ir, importCPU.Seconds()/followCPU.Seconds()))
}

// procCPU is the CPU time (user and system) process pid has used, from
// /proc.
func procCPU(tb testing.TB, pid int) time.Duration {
	_, ticks, err := procStat(fmt.Sprintf("/proc/%d/stat", pid), 11, 12) // utime stime
	require.NoError(tb, err)
	return ticks
}

// serverCPU is the CPU time (user and system) of every process named
// comm, with that of their reaped children: the database server's work
// during a phase (PostgreSQL forks a process per connection), on a
// machine running one such server.
func serverCPU(comm string) time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		name, ticks, err := procStat("/proc/"+e.Name()+"/stat", 11, 12, 13, 14) // utime stime cutime cstime
		if err == nil && name == comm {
			total += ticks
		}
	}
	return total
}

// procStat reads a /proc/<pid>/stat file: the command name, and the sum
// of the clock-tick fields numbered as counted after the name (10 ms
// each), as a duration.
func procStat(path string, fields ...int) (string, time.Duration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	// The command name is in parentheses, and may hold spaces.
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(string(raw[end+1:]))
	var ticks int64
	for _, i := range fields {
		if i >= len(f) {
			return "", 0, fmt.Errorf("%s: %d fields", path, len(f))
		}
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return "", 0, fmt.Errorf("%s: field %d: %w", path, i, err)
		}
		ticks += v
	}
	return string(raw[open+1 : end]), time.Duration(ticks) * 10 * time.Millisecond, nil
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
