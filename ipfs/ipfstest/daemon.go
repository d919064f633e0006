// Package ipfstest starts kubo daemons private to one test, from the binary
// scripts/test-servers.sh builds (ALEPHQL_TEST_IPFS_BIN), so a test may stop
// and restart its own daemon without disturbing the shared one.
package ipfstest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Daemon is an offline kubo daemon with its own repository and ports.
type Daemon struct {
	// API is the daemon's RPC address (http://127.0.0.1:port).
	API  string
	t    testing.TB
	bin  string
	repo string
	cmd  *exec.Cmd
	done chan struct{}
}

// NewDaemon initialises a repository and starts the daemon; it is stopped
// when the test ends.
func NewDaemon(t testing.TB) *Daemon {
	t.Helper()
	bin := os.Getenv("ALEPHQL_TEST_IPFS_BIN")
	require.NotEmpty(t, bin, "ALEPHQL_TEST_IPFS_BIN is not set (scripts/test-servers.sh exports it)")
	d := &Daemon{t: t, bin: bin, repo: t.TempDir()}
	apiPort, gwPort := freePort(t), freePort(t)
	d.run("init", "--profile=test")
	d.run("config", "Addresses.API", "/ip4/127.0.0.1/tcp/"+apiPort)
	d.run("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/"+gwPort)
	d.run("config", "--json", "Addresses.Swarm", "[]")
	d.API = "http://127.0.0.1:" + apiPort
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func (d *Daemon) env() []string {
	return append(os.Environ(), "IPFS_TELEMETRY=off", "IPFS_PATH="+d.repo)
}

func (d *Daemon) run(args ...string) {
	d.t.Helper()
	cmd := exec.Command(d.bin, args...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	require.NoError(d.t, err, "ipfs %v: %s", args, out)
}

// Start runs the daemon and waits until it says it is ready.
func (d *Daemon) Start() {
	d.t.Helper()
	cmd := exec.Command(d.bin, "daemon", "--offline", "--migrate=false")
	cmd.Env = d.env()
	out, err := cmd.StdoutPipe()
	require.NoError(d.t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(d.t, cmd.Start())
	d.cmd, d.done = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(d.done)
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
	case <-d.done:
		d.t.Fatal("kubo daemon exited before it was ready")
	case <-time.After(30 * time.Second):
		d.t.Fatal("kubo daemon not ready after 30s")
	}
}

// Stop ends the daemon (SIGTERM, then SIGKILL after 20 s); its repository
// stays, so Start brings the same node back.
func (d *Daemon) Stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}
