package ipfs

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
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

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
