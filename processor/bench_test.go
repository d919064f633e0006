package processor_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/processor/message"
)

// benchN is the number of messages per ingestion run
// (ALEPHQL_BENCH_INGEST_N overrides it).
func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_INGEST_N")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// benchMessages signs n inline POST and AGGREGATE messages (no FORGET, no
// delegation: the plain ingestion path).
func benchMessages(b *testing.B, n int) [][]byte {
	b.Helper()
	accts := make([]*demo.Account, 16)
	for i := range accts {
		a, err := demo.NewAccount()
		if err != nil {
			b.Fatal(err)
		}
		accts[i] = a
	}
	out := make([][]byte, n)
	g := new(errgroup.Group)
	g.SetLimit(4)
	for i := range n {
		g.Go(func() error {
			a := accts[i%len(accts)]
			t := base + float64(i)
			var raw []byte
			var err error
			if i%4 == 3 {
				raw, _, err = a.Aggregate(t, "BENCH", "k"+strconv.Itoa(i%7), map[string]any{"n": i, "f" + strconv.Itoa(i%13): true})
			} else {
				raw, _, err = a.Post(t, "BENCH", "note", map[string]any{"body": "benchmark message", "n": i, "tags": []string{"bench"}}, "")
			}
			out[i] = raw
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkIngest imports N signed inline messages into a fresh
// PostgreSQL database through the whole pipeline (intake, queue,
// verification, handlers) and reports messages per second end to end and
// the process's peak RSS.
func BenchmarkIngest(b *testing.B) {
	n := benchN()
	msgs := benchMessages(b, n)
	var lines bytes.Buffer
	for _, m := range msgs {
		lines.Write(m)
		lines.WriteByte('\n')
	}
	var total, intake time.Duration
	for b.Loop() {
		b.StopTimer()
		db := benchDB(b)
		p, err := processor.New(processor.Config{Idle: 5 * time.Millisecond, BatchSize: benchBatch()}, processor.Deps{DB: db, Log: dbtest.Logger()})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan error, 1)
		b.StartTimer()
		start := time.Now()
		go func() { done <- p.Run(ctx) }()
		if _, err := p.Import(ctx, bytes.NewReader(lines.Bytes()), 1000, nil); err != nil {
			b.Fatal(err)
		}
		intake += time.Since(start)
		for {
			k, err := p.Pending(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "msgs/s")
	b.ReportMetric(float64(n*b.N)/intake.Seconds(), "intake-msgs/s")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
}

// BenchmarkVerifyOnly is the ceiling of the same run: decoding and
// verifying the same messages in parallel, with no database.
func BenchmarkVerifyOnly(b *testing.B) {
	n := benchN()
	msgs := benchMessages(b, n)
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		g := new(errgroup.Group)
		g.SetLimit(processor.DefaultConfig().VerifyWorkers)
		for _, raw := range msgs {
			g.Go(func() error {
				m, err := message.Decode(raw)
				if err != nil {
					return err
				}
				return m.Verify()
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "msgs/s")
}

// peakRSS is VmHWM of this process, in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// benchDB creates, migrates and opens a fresh PostgreSQL database on the
// test server, dropped when the benchmark ends.
func benchDB(b *testing.B) *database.DB {
	b.Helper()
	base := dbtest.PostgresURL(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = admin.Close() })
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	db, err := database.Open(b.Context(), database.Config{URL: u.String()}, dbtest.Logger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(b.Context(), dbtest.Logger()); err != nil {
		b.Fatal(err)
	}
	return db
}

// benchBatch is the batch size (ALEPHQL_BENCH_BATCH overrides the
// default).
func benchBatch() int {
	n, _ := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_BATCH"))
	return n
}
