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
	// online: the daemon runs online, isolated (NewOnlineDaemon).
	online bool
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

// NewOnlineDaemon is NewDaemon for a daemon that runs online but isolated,
// as scripts/test-servers.sh runs the shared one: pubsub enabled, no
// bootstrap peers, no routing, a loopback swarm address. Daemons of one
// test find each other only through Connect.
func NewOnlineDaemon(t testing.TB) *Daemon {
	t.Helper()
	bin := os.Getenv("ALEPHQL_TEST_IPFS_BIN")
	require.NotEmpty(t, bin, "ALEPHQL_TEST_IPFS_BIN is not set (scripts/test-servers.sh exports it)")
	d := &Daemon{t: t, bin: bin, repo: t.TempDir(), online: true}
	apiPort, gwPort, swPort := freePort(t), freePort(t), freePort(t)
	d.run("init", "--profile=test")
	d.run("config", "Addresses.API", "/ip4/127.0.0.1/tcp/"+apiPort)
	d.run("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/"+gwPort)
	d.run("config", "--json", "Addresses.Swarm", `["/ip4/127.0.0.1/tcp/`+swPort+`"]`)
	d.run("config", "--json", "Bootstrap", "[]")
	d.run("config", "Routing.Type", "none")
	d.run("config", "--json", "AutoTLS.Enabled", "false")
	d.run("config", "--json", "AutoConf.Enabled", "false")
	d.run("config", "--json", "Pubsub.Enabled", "true")
	d.API = "http://127.0.0.1:" + apiPort
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

// Connect connects the daemon to other (both must be online) through
// `ipfs swarm connect`.
func (d *Daemon) Connect(other *Daemon) {
	d.t.Helper()
	cmd := exec.Command(other.bin, "id", "-f", "<addrs>")
	cmd.Env = other.env()
	out, err := cmd.Output()
	require.NoError(d.t, err)
	addr := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	require.NotEmpty(d.t, addr, "ipfs id: no swarm address")
	d.run("swarm", "connect", addr)
}

// ID returns the daemon's peer id.
func (d *Daemon) ID() string {
	d.t.Helper()
	cmd := exec.Command(d.bin, "id", "-f", "<id>")
	cmd.Env = d.env()
	out, err := cmd.Output()
	require.NoError(d.t, err)
	return strings.TrimSpace(string(out))
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
	args := []string{"daemon", "--offline", "--migrate=false"}
	if d.online {
		args = []string{"daemon", "--migrate=false"}
	}
	cmd := exec.Command(d.bin, args...)
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
