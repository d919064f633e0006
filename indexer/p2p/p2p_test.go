package p2p_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/p2p"
)

// recorder keeps what a node hands on.
type recorder struct {
	mu    sync.Mutex
	raws  [][]byte
	peers map[string]indexer.Peer
}

func (r *recorder) SubmitRaw(_ context.Context, _ indexer.Origin, raws [][]byte) ([]indexer.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raws = append(r.raws, raws...)
	return make([]indexer.Result, len(raws)), nil
}

func (r *recorder) RecordPeer(_ context.Context, p indexer.Peer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers == nil {
		r.peers = map[string]indexer.Peer{}
	}
	r.peers[p.ID] = p
	return nil
}

func (r *recorder) peer(id string) (indexer.Peer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[id]
	return p, ok
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.raws)
}

// start runs a node until the test ends.
func start(t *testing.T, cfg p2p.Config, rec *recorder) *p2p.Node {
	t.Helper()
	cfg.KeyFile = filepath.Join(t.TempDir(), "node-key")
	if cfg.Listen == nil {
		cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	}
	n, err := p2p.New(t.Context(), cfg, p2p.Deps{Submitter: rec, Peers: rec,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func TestAliveFromBootstrapPeerIsRecorded(t *testing.T) {
	recA, recB := &recorder{}, &recorder{}
	a := start(t, p2p.Config{AliveInterval: 100 * time.Millisecond, HTTPAddress: "http://a.example"}, recA)
	b := start(t, p2p.Config{AliveInterval: 100 * time.Millisecond, Bootstrap: a.Addrs()[:1]}, recB)
	// B trusts A (its bootstrap peer); A trusts nobody.
	require.Eventually(t, func() bool {
		p, ok := recB.peer(a.ID())
		return ok && p.Kind == indexer.PeerHTTP || ok && p.Kind == indexer.PeerP2P
	}, 20*time.Second, 20*time.Millisecond)
	require.Never(t, func() bool { _, ok := recA.peer(b.ID()); return ok }, 500*time.Millisecond, 50*time.Millisecond)

	require.Eventually(t, func() bool {
		_ = b.Publish(t.Context(), []byte(`{"item_hash":"x"}`))
		return recA.count() > 0
	}, 20*time.Second, 200*time.Millisecond)
}

func TestKeyFileIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "node-key")
	k1, err := p2p.LoadOrCreateKey(path)
	require.NoError(t, err)
	k2, err := p2p.LoadOrCreateKey(path)
	require.NoError(t, err)
	require.True(t, k1.Equals(k2))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.NoError(t, os.WriteFile(path, []byte("junk"), 0o600))
	_, err = p2p.LoadOrCreateKey(path)
	require.Error(t, err)
}
