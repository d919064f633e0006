package pubsub_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/pubsub"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/ipfs/ipfstest"
)

// nodeList is a corechannel node list the test changes.
type nodeList struct {
	mu    sync.Mutex
	addrs []string
}

func (n *nodeList) set(addrs ...string) { n.mu.Lock(); n.addrs = addrs; n.mu.Unlock() }

func (n *nodeList) NodeAddrs(context.Context) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.addrs...), nil
}

// spyAllow records the verdicts of the allowlist by peer id.
type spyAllow struct {
	a       *indexer.Allowlist
	mu      sync.Mutex
	refused map[string]int
}

func (s *spyAllow) Allowed(ctx context.Context, id string) bool {
	ok := s.a.Allowed(ctx, id)
	if !ok {
		s.mu.Lock()
		s.refused[id]++
		s.mu.Unlock()
	}
	return ok
}

func (s *spyAllow) refusedOf(id string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.refused[id] }

// peerLog records the peers the source records.
type peerLog struct {
	mu    sync.Mutex
	peers []indexer.Peer
}

func (p *peerLog) RecordPeer(_ context.Context, pr indexer.Peer) error {
	p.mu.Lock()
	p.peers = append(p.peers, pr)
	p.mu.Unlock()
	return nil
}

func (p *peerLog) all() []indexer.Peer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]indexer.Peer(nil), p.peers...)
}

func service(t *testing.T, d *ipfstest.Daemon) *ipfs.Service {
	t.Helper()
	s, err := ipfs.New(ipfs.Config{Dir: t.TempDir(), API: d.API}, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return s
}

func TestAliveAnnouncementsFollowTheAllowlist(t *testing.T) {
	// Two kubo daemons on loopback: A announces itself on ALEPH_ALIVE, B's
	// source listens. While A's peer id is outside the allowlist (spec
	// §8.2: bootstrap peers and corechannel nodes), B hears A's
	// announcements and records nothing; once the corechannel node list
	// names A, B records A as a peer.
	kA, kB := ipfstest.NewOnlineDaemon(t), ipfstest.NewOnlineDaemon(t)
	kB.Connect(kA)
	svcA, svcB := service(t, kA), service(t, kB)
	idA := kA.ID()

	nodes := &nodeList{}
	spy := &spyAllow{a: indexer.NewAllowlist([]string{"/ip4/127.0.0.1/tcp/4025/p2p/QmBootstrapOnly"}, nodes, time.Nanosecond, nil), refused: map[string]int{}}
	peers := &peerLog{}
	src, err := pubsub.New(pubsub.Config{AliveInterval: -1}, pubsub.Deps{
		Kubo: pubsub.FromService(svcB), Peers: peers, Allow: spy,
		Submitter: indexer.SubmitterFunc(func(context.Context, indexer.Origin, [][]byte) ([]indexer.Result, error) { return nil, nil }),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	announce := func() {
		b, err := json.Marshal(indexer.Alive{Address: "http://a.example:4024", PeerType: "HTTP", Version: "test"})
		require.NoError(t, err)
		require.NoError(t, svcA.Publish(t.Context(), pubsub.DefaultAliveTopic, b))
	}
	// Pubsub subscriptions take a moment to reach the other daemon:
	// announce until B has heard A (and refused it).
	require.Eventually(t, func() bool {
		announce()
		return spy.refusedOf(idA) > 0
	}, 30*time.Second, 200*time.Millisecond, "B hears A's announcements")
	require.Empty(t, peers.all(), "an announcement from outside the allowlist is ignored")

	nodes.set("/ip4/127.0.0.1/tcp/4025/p2p/" + idA)
	require.Eventually(t, func() bool {
		announce()
		return len(peers.all()) > 0
	}, 30*time.Second, 200*time.Millisecond, "B records A once A is a corechannel node")
	p := peers.all()[0]
	require.Equal(t, idA, p.ID)
	require.Equal(t, indexer.PeerHTTP, p.Kind)
	require.Equal(t, "http://a.example:4024", p.Address)
	require.Equal(t, "ipfs", p.Source)
}

func TestAllowlist(t *testing.T) {
	nodes := &nodeList{}
	nodes.set("/ip4/10.0.0.1/tcp/4025/p2p/QmNode", "/dns/x.example/tcp/4025", "")
	a := indexer.NewAllowlist([]string{"/ip4/1.2.3.4/tcp/4025/p2p/QmBoot", "12D3KooWBare", "/ip4/1.2.3.4/tcp/1"}, nodes, time.Hour, nil)
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"QmBoot", true},       // bootstrap multiaddr
		{"12D3KooWBare", true}, // bare id
		{"QmNode", true},       // corechannel node
		{"QmOther", false},
		{"", false},
		{"/ip4/1.2.3.4/tcp/1", false}, // a multiaddr without an id is no id
	} {
		t.Run(tc.id, func(t *testing.T) { require.Equal(t, tc.want, a.Allowed(t.Context(), tc.id)) })
	}
	require.Equal(t, "QmX", indexer.PeerIDOf("/ip4/1.2.3.4/tcp/4001/ipfs/QmX"))
	require.Equal(t, "QmY", indexer.PeerIDOf("/ip4/1.2.3.4/tcp/4001/p2p/QmR/p2p-circuit/p2p/QmY"))
	require.Equal(t, "", indexer.PeerIDOf("/ip4/1.2.3.4/tcp/4001"))
	var nilList *indexer.Allowlist
	require.False(t, nilList.Allowed(t.Context(), "QmBoot"))
}
