package processor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/processor"
)

// The crash test runs this test binary again as a child process that
// imports a file and processes it (crashChild), kills it with SIGKILL in
// the middle, starts it again and checks that every message was settled
// exactly once.
const (
	crashDBEnv   = "ALEPHQL_CRASH_CHILD_DB"
	crashFileEnv = "ALEPHQL_CRASH_CHILD_FILE"
	// crashQueuedEnv makes the child submit through the queue (origin
	// api) rather than import, whose POSTs and AGGREGATEs are applied at
	// intake.
	crashQueuedEnv = "ALEPHQL_CRASH_CHILD_QUEUED"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(crashDBEnv); url != "" {
		if err := crashChild(url, os.Getenv(crashFileEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if url := os.Getenv(ingestDBEnv); url != "" {
		if err := ingestChild(url, os.Getenv(ingestFileEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "ingest child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild imports the file in small batches, then processes until
// killed.
func crashChild(url, file string) error {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: url}, dbtest.Logger())
	if err != nil {
		return err
	}
	p, err := processor.New(processor.Config{BatchSize: 100, Idle: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, processor.Deps{DB: db, Log: dbtest.Logger()})
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if os.Getenv(crashQueuedEnv) == "" {
		if _, err := p.Import(ctx, f, 50, nil); err != nil {
			return err
		}
		return <-done
	}
	var batch []processor.Input
	err = processor.ReadMessages(f, func(raw json.RawMessage) error {
		batch = append(batch, processor.Input{Raw: raw, Origin: processor.OriginAPI})
		if len(batch) < 50 {
			return nil
		}
		_, err := p.SubmitBatch(ctx, batch)
		batch = nil
		return err
	})
	if err == nil && len(batch) > 0 {
		_, err = p.SubmitBatch(ctx, batch)
	}
	if err != nil {
		return err
	}
	return <-done
}

func TestKillDuringImport(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, b := range dbtest.Backends() {
		for _, queued := range []bool{false, true} {
			name := b.Name + "/import"
			if queued {
				name = b.Name + "/queued"
			}
			t.Run(name, func(t *testing.T) { killDuringImport(t, exe, b.URL(t), queued) })
		}
	}
}

// killDuringImport is TestKillDuringImport on one back-end, through
// Import (applied at intake) or through the queue.
func killDuringImport(t *testing.T, exe, url string, queued bool) {
	db := dbtest.Open(t, url)
	data, hashes := dataset(t, 3000)
	file := filepath.Join(t.TempDir(), "messages.jsonl")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	start := func() *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashDBEnv+"="+url, crashFileEnv+"="+file, "ALEPHQL_TEST_LOG=1")
		if queued {
			cmd.Env = append(cmd.Env, crashQueuedEnv+"=1")
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("importer stderr (last 4 KiB):\n%s", tail(stderr.Bytes(), 4096))
			}
		})
		return cmd
	}
	count := func() int {
		n, err := db.Client.MessageStatus.Query().Count(context.Background())
		if err != nil {
			return -1
		}
		return n
	}
	// First run: killed once part of the file is in.
	cmd := start()
	require.Eventually(t, func() bool { return count() >= len(hashes)/3 }, 180*time.Second, 5*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	killedAt := count()
	t.Logf("killed with %d of %d messages taken in", killedAt, len(hashes))
	require.Less(t, killedAt, len(hashes), "the kill must land mid-import")

	// Second run: imports the whole file again (known messages
	// are duplicates) and processes everything.
	cmd = start()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		n, err := db.Client.PendingMessage.Query().Count(context.Background())
		return err == nil && n == 0 && count() == len(hashes)
	}, 300*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	requireExactlyOnce(t, db, hashes)
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
