package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/handler"
)

// kuboDaemon is a private, offline kubo daemon started from the binary the
// test harness cached (ALEPHQL_TEST_IPFS_BIN), that a test may stop and
// start again.
type kuboDaemon struct {
	t    *testing.T
	bin  string
	repo string
	api  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startKuboDaemon(t *testing.T) *kuboDaemon {
	t.Helper()
	bin := os.Getenv("ALEPHQL_TEST_IPFS_BIN")
	require.NotEmpty(t, bin, "ALEPHQL_TEST_IPFS_BIN is not set (scripts/test-servers.sh exports it)")
	k := &kuboDaemon{t: t, bin: bin, repo: t.TempDir()}
	port := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	}
	apiPort, gwPort := port(), port()
	k.run("init", "--profile=test")
	k.run("config", "Addresses.API", "/ip4/127.0.0.1/tcp/"+apiPort)
	k.run("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/"+gwPort)
	k.run("config", "--json", "Addresses.Swarm", "[]")
	k.api = "http://127.0.0.1:" + apiPort
	k.start()
	t.Cleanup(k.stop)
	return k
}

func (k *kuboDaemon) env() []string {
	return append(os.Environ(), "IPFS_TELEMETRY=off", "IPFS_PATH="+k.repo)
}

func (k *kuboDaemon) run(args ...string) {
	k.t.Helper()
	cmd := exec.Command(k.bin, args...)
	cmd.Env = k.env()
	out, err := cmd.CombinedOutput()
	require.NoError(k.t, err, "ipfs %v: %s", args, out)
}

func (k *kuboDaemon) start() {
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
		k.t.Fatal("kubo daemon exited before it was ready")
	case <-time.After(30 * time.Second):
		k.t.Fatal("kubo daemon not ready after 30s")
	}
}

func (k *kuboDaemon) stop() {
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

// TestIPFSPostWaitsForKubo: an ipfs-type POST whose content lives only in
// kubo stays pending, with its reason recorded, while kubo is down, and is
// processed once kubo is back.
func TestIPFSPostWaitsForKubo(t *testing.T) {
	k := startKuboDaemon(t)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		log := dbtest.Logger()
		st, err := newStorage(storageFlags{ipfsAPI: k.api, gcPeriod: time.Hour, grace: time.Hour, maxUpload: 1 << 20},
			t.TempDir(), db.Client, log)
		require.NoError(t, err)
		hd := handler.Deps{Config: handler.DefaultConfig(), Log: log, Storage: storageAdapter{st.Content}}
		hd.PostEffects = handler.MoneyEffects(hd, db.Dialect)
		proc, err := processor.New(processor.Config{MaxRetries: 100, MaxBackoff: time.Second, Idle: 100 * time.Millisecond},
			processor.Deps{DB: db, Handler: hd, Handlers: handler.PaidHandlers(hd, db.Client, db.Dialect), Log: log})
		require.NoError(t, err)

		// The content, in kubo only.
		signer, err := chains.GenerateEthereumSigner()
		require.NoError(t, err)
		const at = 1_700_000_000.0
		content, err := json.Marshal(map[string]any{
			"address": signer.Address(), "time": at, "type": "note", "content": map[string]any{"body": t.Name()},
		})
		require.NoError(t, err)
		cid, err := st.Content.Add(ctx, bytes.NewReader(content), ipfs.AddOptions{Pin: true})
		require.NoError(t, err)
		s := chains.Signed{Type: "POST", ItemHash: cid, Time: at}
		require.NoError(t, chains.Sign(signer, &s))
		raw, err := json.Marshal(map[string]any{
			"chain": s.Chain, "sender": s.Sender, "type": "POST", "item_hash": cid, "item_type": "ipfs",
			"signature": s.Signature, "time": at, "channel": "TEST",
		})
		require.NoError(t, err)

		k.stop()
		pctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- proc.Run(pctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("processor: %v", err)
			}
		})
		res, err := proc.Submit(ctx, raw, processor.OriginAPI, nil)
		require.NoError(t, err)
		require.Equal(t, cid, res.ItemHash)

		// Attempted and failed at least twice: still pending, with a reason.
		require.Eventually(t, func() bool {
			r, err := db.Client.PendingMessage.Query().Where(pendingmessage.ItemHash(cid)).Only(ctx)
			return err == nil && r.Retries >= 2 && r.LastError != nil && *r.LastError != ""
		}, 30*time.Second, 50*time.Millisecond)
		ms, err := db.Client.MessageStatus.Get(ctx, cid)
		require.NoError(t, err)
		require.Equal(t, messagestatus.StatusPending, ms.Status)

		k.start()
		require.Eventually(t, func() bool {
			ms, err := db.Client.MessageStatus.Get(ctx, cid)
			return err == nil && ms.Status == messagestatus.StatusProcessed
		}, 60*time.Second, 100*time.Millisecond)
		n, err := db.Client.Post.Query().Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}
