package processor_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/processor/message"
)

// The ingestion benchmark.
//
// BenchmarkIngest measures the whole pipeline on N signed inline POST
// (75 %) and AGGREGATE (25 %) messages:
//
//  1. The messages are generated once, on all cores, into a cached JSON
//     lines file (ingestFile), keyed by N and a seed; later runs reuse it.
//  2. The timed import runs in a child process (this test binary run again
//     with ingestDBEnv set): it streams the file through Processor.Import
//     while Processor.Run processes the queue, until the queue is empty,
//     into a fresh PostgreSQL database. The child's peak RSS is its
//     rusage maxrss, read by the parent: the generator and the parent's
//     state are not in it.
//  3. The same run's verify-only ceiling: the parent streams the same file
//     through message.Decode and Verify on all cores, with no database.
//
// Settings: ALEPHQL_BENCH_INGEST_N (messages, default 20 000),
// ALEPHQL_BENCH_SEED (default 1), ALEPHQL_BENCH_BATCH (processor batch
// size, default the processor's), ALEPHQL_BENCH_VERIFY_WORKERS (its
// VerifyWorkers, default the processor's), ALEPHQL_BENCH_CPUPROFILE (a
// file for the importing process's CPU profile), ALEPHQL_BENCH_CACHE
// (directory of the generated files, default $XDG_CACHE_HOME/alephql/bench
// or ~/.cache/alephql/bench). The full-size run, unattended, with its own
// servers (PostgreSQL made durable: fsync, synchronous_commit and
// full_page_writes on):
//
//	ALEPHQL_BENCH_INGEST_N=1000000 scripts/bench-ingest.sh
//
// Metrics: msgs/s (end to end), intake-msgs/s (Import alone, while the
// processor runs), verify-msgs/s (ceiling), e2e/verify (the ratio),
// peak-RSS-MiB (the importing process), importer-CPU-µs/msg (its user and
// system CPU time per message: less sensitive to other load than rates).

const (
	ingestDBEnv   = "ALEPHQL_BENCH_CHILD_DB"
	ingestFileEnv = "ALEPHQL_BENCH_CHILD_FILE"
)

// benchN is the number of messages per ingestion run
// (ALEPHQL_BENCH_INGEST_N overrides it).
func benchN() int {
	if n, err := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_INGEST_N")); err == nil && n > 0 {
		return n
	}
	return 20000
}

// benchSeed is the seed of the generated messages (ALEPHQL_BENCH_SEED).
func benchSeed() uint64 {
	if n, err := strconv.ParseUint(os.Getenv("ALEPHQL_BENCH_SEED"), 10, 64); err == nil {
		return n
	}
	return 1
}

// benchBatch is the batch size (ALEPHQL_BENCH_BATCH overrides the
// default).
func benchBatch() int {
	n, _ := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_BATCH"))
	return n
}

// benchVerifyWorkers is the importing processor's VerifyWorkers
// (ALEPHQL_BENCH_VERIFY_WORKERS; default the processor's).
func benchVerifyWorkers() int {
	n, _ := strconv.Atoi(os.Getenv("ALEPHQL_BENCH_VERIFY_WORKERS"))
	return n
}

// benchAccounts derives the benchmark's 16 signing keys from the seed, so
// a cached file and a regenerated one are the same messages.
func benchAccounts(seed uint64) ([]*demo.Account, error) {
	accts := make([]*demo.Account, 16)
	for i := range accts {
		var in [16]byte
		binary.BigEndian.PutUint64(in[:8], seed)
		binary.BigEndian.PutUint64(in[8:], uint64(i))
		sum := sha256.Sum256(in[:])
		key, err := crypto.ToECDSA(sum[:])
		if err != nil {
			return nil, err
		}
		s, err := chains.NewEthereumSigner(key)
		if err != nil {
			return nil, err
		}
		accts[i] = &demo.Account{Signer: s}
	}
	return accts, nil
}

// benchMessage signs message i of the benchmark set.
func benchMessage(accts []*demo.Account, i int) ([]byte, error) {
	a := accts[i%len(accts)]
	t := base + float64(i)
	var raw []byte
	var err error
	if i%4 == 3 {
		raw, _, err = a.Aggregate(t, "BENCH", "k"+strconv.Itoa(i%7), map[string]any{"n": i, "f" + strconv.Itoa(i%13): true})
	} else {
		raw, _, err = a.Post(t, "BENCH", "note", map[string]any{"body": "benchmark message", "n": i, "tags": []string{"bench"}}, "")
	}
	return raw, err
}

// benchCacheDir is where generated message files are kept.
func benchCacheDir() (string, error) {
	if d := os.Getenv("ALEPHQL_BENCH_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "alephql", "bench"), nil
}

// ingestFile returns the JSON lines file of the n benchmark messages of
// seed, generating it (on all cores, in chunks written in order) when it
// is not cached yet. The file is written under a temporary name and
// renamed, so an interrupted generation leaves no truncated file behind.
func ingestFile(tb testing.TB, n int, seed uint64) string {
	tb.Helper()
	dir, err := benchCacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("ingest-v1-n%d-s%d.jsonl", n, seed))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := generateIngestFile(path, n, seed); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("generated %d signed messages into %s in %s", n, path, time.Since(start).Round(time.Millisecond))
	return path
}

// generateIngestFile writes the file of ingestFile.
func generateIngestFile(path string, n int, seed uint64) (err error) {
	accts, err := benchAccounts(seed)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ingest-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	const chunk = 1024
	workers := runtime.GOMAXPROCS(0)
	// Rounds of workers*4 chunks signed in parallel, then written in
	// order: memory stays at a few MiB whatever n.
	for lo := 0; lo < n; lo += chunk * workers * 4 {
		hi := min(n, lo+chunk*workers*4)
		bufs := make([][]byte, (hi-lo+chunk-1)/chunk)
		g := new(errgroup.Group)
		g.SetLimit(workers)
		for c := range bufs {
			g.Go(func() error {
				var out []byte
				for i := lo + c*chunk; i < min(hi, lo+(c+1)*chunk); i++ {
					raw, err := benchMessage(accts, i)
					if err != nil {
						return err
					}
					out = append(append(out, raw...), '\n')
				}
				bufs[c] = out
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for _, b := range bufs {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ingestResult is what the child reports on its standard output.
type ingestResult struct {
	Read     int     `json:"read"`
	Queued   int     `json:"queued"`
	IntakeS  float64 `json:"intake_s"`
	TotalS   float64 `json:"total_s"`
	Rejected int     `json:"rejected"`
}

// ingestChild is the timed import, in the child process: stream the file
// through Import while Run processes, until the queue is empty, then
// print an ingestResult.
func ingestChild(dbURL, file string) error {
	defer processor.TuneImportGC()() // as the import command does
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := database.Open(ctx, database.Config{URL: dbURL}, dbtest.Logger())
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := processor.New(processor.Config{BatchSize: benchBatch(), VerifyWorkers: benchVerifyWorkers()}, processor.Deps{DB: db, Log: dbtest.Logger()})
	if err != nil {
		return err
	}
	if err := p.SeedErrorCodes(ctx); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if prof := os.Getenv("ALEPHQL_BENCH_CPUPROFILE"); prof != "" {
		pf, err := os.Create(prof)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(runCtx) }()
	sum, err := p.Import(ctx, f, 1000, nil)
	if err != nil {
		return err
	}
	intake := time.Since(start)
	// Wait for the queue to empty. Polled with an index probe: a count
	// of a million-row queue would load the server it measures.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		var left bool
		err := db.SQL.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pending_messages ORDER BY id LIMIT 1)").Scan(&left)
		if err != nil {
			return err
		}
		if !left {
			break
		}
		select {
		case err := <-done:
			return fmt.Errorf("processor stopped: %w", err)
		case <-t.C:
		}
	}
	total := time.Since(start)
	stop()
	if err := <-done; err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(ingestResult{
		Read: sum.Read, Queued: sum.Queued, Rejected: sum.Rejected,
		IntakeS: intake.Seconds(), TotalS: total.Seconds(),
	})
}

// BenchmarkIngest: see the comment at the top of this file.
func BenchmarkIngest(b *testing.B) {
	n, seed := benchN(), benchSeed()
	file := ingestFile(b, n, seed)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var total, intake, verify, cpu time.Duration
	var rss int64
	for b.Loop() {
		b.StopTimer()
		dbURL := benchDB(b)
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), ingestDBEnv+"="+dbURL, ingestFileEnv+"="+file)
		cmd.Stderr = os.Stderr
		b.StartTimer()
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("import child: %v", err)
		}
		var res ingestResult
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatalf("import child said %q: %v", out, err)
		}
		if res.Read != n || res.Queued != n {
			b.Fatalf("import child read %d and queued %d of %d messages", res.Read, res.Queued, n)
		}
		total += time.Duration(res.TotalS * float64(time.Second))
		intake += time.Duration(res.IntakeS * float64(time.Second))
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss<<10) // KiB on Linux
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		b.StopTimer()
		requireAllProcessed(b, dbURL, n)
		d, err := verifyFile(file)
		if err != nil {
			b.Fatal(err)
		}
		verify += d
		b.StartTimer()
	}
	e2e := float64(n*b.N) / total.Seconds()
	ceil := float64(n*b.N) / verify.Seconds()
	b.ReportMetric(e2e, "msgs/s")
	b.ReportMetric(float64(n*b.N)/intake.Seconds(), "intake-msgs/s")
	b.ReportMetric(ceil, "verify-msgs/s")
	b.ReportMetric(e2e/ceil, "e2e/verify")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "importer-CPU-µs/msg")
}

// requireAllProcessed checks that the import processed every message.
func requireAllProcessed(b *testing.B, dbURL string, n int) {
	b.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var k int
	if err := db.QueryRow("SELECT count(*) FROM messages").Scan(&k); err != nil {
		b.Fatal(err)
	}
	if k != n {
		b.Fatalf("%d of %d messages processed", k, n)
	}
}

// verifyFile is the verify-only ceiling: stream the file and decode and
// verify every message on all cores, with no database.
func verifyFile(file string) (time.Duration, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	g := new(errgroup.Group)
	g.SetLimit(processor.DefaultConfig().VerifyWorkers)
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 1 {
			g.Go(func() error {
				m, err := message.Decode(line)
				if err != nil {
					return err
				}
				return m.Verify()
			})
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// benchDB creates and migrates a fresh PostgreSQL database on the test
// server, dropped when the benchmark ends, and returns its URL. It logs
// the server's durability settings, which the figures depend on.
func benchDB(b *testing.B) string {
	b.Helper()
	base := dbtest.PostgresURL(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = admin.Close() })
	var fsync, syncCommit, fpw, buffers, wal string
	err = admin.QueryRow("SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes'), current_setting('shared_buffers'), current_setting('max_wal_size')").
		Scan(&fsync, &syncCommit, &fpw, &buffers, &wal)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("PostgreSQL fsync=%s synchronous_commit=%s full_page_writes=%s shared_buffers=%s max_wal_size=%s", fsync, syncCommit, fpw, buffers, wal)
	u := dbtest.NewPostgresDatabase(b)
	db, err := database.Open(b.Context(), database.Config{URL: u}, dbtest.Logger())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(b.Context(), dbtest.Logger()); err != nil {
		b.Fatal(err)
	}
	return u
}
