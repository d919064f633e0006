package main

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// childEnv, set to 1, makes the test binary run `alephql ARGS...` instead
// of the tests: startChild runs a node as a real process that a test can
// kill with SIGKILL, without building the command first.
const childEnv = "ALEPHQL_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// child is `alephql serve` running as a process of its own.
type child struct {
	cmd  *exec.Cmd
	base string
	out  *syncBuffer
}

// startChild starts `alephql serve args...` as a child process and waits
// for its base URL. The process is killed when the test ends.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{out: &syncBuffer{}}
	c.cmd = exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	c.cmd.Env = append(os.Environ(), childEnv+"=1")
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	require.Eventually(t, func() bool {
		if m := urlRE.FindStringSubmatch(c.out.String()); m != nil {
			c.base = m[1]
			return true
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "child did not start: %s", c.out)
	return c
}

// kill sends SIGKILL and reaps the process.
func (c *child) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	err := c.cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "killed")
}
