package ipfs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testKuboAPI returns the shared kubo daemon started by
// scripts/test-servers.sh. Tests that need it fail without it.
func testKuboAPI(t testing.TB) string {
	t.Helper()
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	require.NotEmpty(t, api, "ALEPHQL_TEST_IPFS is not set: start the servers with scripts/test-servers.sh start DIR and source DIR/env")
	return api
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTestService returns a Service with an empty local store, on kubo api
// ("" for none).
func newTestService(t testing.TB, api string, peers PeerLister, tune func(*Config)) *Service {
	t.Helper()
	cfg := Config{Dir: t.TempDir(), API: api}
	if tune != nil {
		tune(&cfg)
	}
	s, err := New(cfg, peers, testLogger(t))
	require.NoError(t, err)
	return s
}

// kuboCLI runs the kubo binary against api, as an independent reference.
func kuboCLI(t testing.TB, api string, stdin io.Reader, args ...string) string {
	t.Helper()
	bin := os.Getenv("ALEPHQL_TEST_IPFS_BIN")
	require.NotEmpty(t, bin, "ALEPHQL_TEST_IPFS_BIN is not set (scripts/test-servers.sh exports it)")
	addr := strings.TrimPrefix(api, "http://")
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"--api", "/ip4/" + host + "/tcp/" + port}, args...)...)
	cmd.Env = append(os.Environ(), "IPFS_TELEMETRY=off", "IPFS_PATH="+t.TempDir())
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ipfs %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// ownKubo is a kubo daemon private to one test, so the test may stop it.
type ownKubo struct {
	t    testing.TB
	bin  string
	repo string
	api  string
	cmd  *exec.Cmd
	done chan struct{}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// startOwnKubo initialises a repository and starts an offline daemon from
// the cached binary the harness built.
func startOwnKubo(t testing.TB) *ownKubo {
	t.Helper()
	bin := os.Getenv("ALEPHQL_TEST_IPFS_BIN")
	require.NotEmpty(t, bin, "ALEPHQL_TEST_IPFS_BIN is not set (scripts/test-servers.sh exports it)")
	k := &ownKubo{t: t, bin: bin, repo: t.TempDir()}
	apiPort, gwPort := freePort(t), freePort(t)
	k.run("init", "--profile=test")
	k.run("config", "Addresses.API", "/ip4/127.0.0.1/tcp/"+apiPort)
	k.run("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/"+gwPort)
	k.run("config", "--json", "Addresses.Swarm", "[]")
	k.api = "http://127.0.0.1:" + apiPort
	k.start()
	t.Cleanup(k.stop)
	return k
}

func (k *ownKubo) env() []string {
	return append(os.Environ(), "IPFS_TELEMETRY=off", "IPFS_PATH="+k.repo)
}

func (k *ownKubo) run(args ...string) {
	k.t.Helper()
	cmd := exec.Command(k.bin, args...)
	cmd.Env = k.env()
	out, err := cmd.CombinedOutput()
	require.NoError(k.t, err, "ipfs %v: %s", args, out)
}

func (k *ownKubo) start() {
	k.t.Helper()
	cmd := exec.Command(k.bin, "daemon", "--offline", "--migrate=false")
	cmd.Env = k.env()
	out, err := cmd.StdoutPipe()
	require.NoError(k.t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(k.t, cmd.Start())
	k.cmd, k.done = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(k.done)
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "Daemon is ready") {
				close(ready)
				signalled = true
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-ready:
	case <-k.done:
		k.t.Fatal("own kubo daemon exited before it was ready")
	case <-time.After(30 * time.Second):
		k.t.Fatal("own kubo daemon not ready after 30s")
	}
}

func (k *ownKubo) stop() {
	if k.cmd == nil {
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(20 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
	k.cmd = nil
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
