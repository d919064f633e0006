package main

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/p2p"
	"github.com/alephql/alephql/processor/demo"
)

// p2pNode is the identity and address of a test node, chosen before it
// starts so that others can name it as a bootstrap peer.
type p2pNode struct {
	dir, listen, addr string
	id                peer.ID
}

func newP2PNode(t testing.TB) p2pNode {
	t.Helper()
	dir := t.TempDir()
	key, err := p2p.LoadOrCreateKey(filepath.Join(dir, "node-key"))
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(key)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())
	listen := "/ip4/127.0.0.1/tcp/" + port
	return p2pNode{dir: dir, listen: listen, addr: listen + "/p2p/" + id.String(), id: id}
}

// peersOf lists the peer ids a node recorded, by kind.
func peersOf(t *testing.T, base string) map[string]string {
	t.Helper()
	out := gql(t, base, `{ peers(first: 50) { edges { node { peerId kind address } } } }`, nil)
	require.Nil(t, out["errors"], out)
	got := map[string]string{}
	for _, e := range out["data"].(map[string]any)["peers"].(map[string]any)["edges"].([]any) {
		n := e.(map[string]any)["node"].(map[string]any)
		got[n["peerId"].(string)] = n["kind"].(string)
	}
	return got
}

func TestP2PGossipAcrossALineOfNodes(t *testing.T) {
	// Three nodes in a line, A - B - C (A and C know only B): a message
	// submitted to A is processed by C. C takes aliveness announcements
	// from B (its bootstrap peer, so in its allowlist) and ignores those
	// of D, a peer outside the allowlist connected to it directly.
	a, b, c := newP2PNode(t), newP2PNode(t), newP2PNode(t)
	common := []string{"--log-level", "warn", "--p2p", "--alive-interval", "200ms"}
	baseB, stopB := startServe(t, append([]string{"--data-dir", b.dir, "--p2p-listen", b.listen}, common...)...)
	baseA, stopA := startServe(t, append([]string{"--data-dir", a.dir, "--p2p-listen", a.listen, "--p2p-bootstrap", b.addr}, common...)...)
	baseC, stopC := startServe(t, append([]string{"--data-dir", c.dir, "--p2p-listen", c.listen, "--p2p-bootstrap", b.addr}, common...)...)
	_ = baseB

	acct, err := demo.NewAccount()
	require.NoError(t, err)
	const q = `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`
	// The gossip mesh forms over a few heartbeats: submit a fresh message
	// every second until one reaches C.
	var sent []string
	tick := 0
	require.Eventually(t, func() bool {
		if tick%20 == 0 {
			raw, h, err := acct.Post(float64(time.Now().UnixNano())/1e9, "GOSSIP", "note", map[string]any{"body": "over gossip"}, "")
			require.NoError(t, err)
			out := gql(t, baseA, q, map[string]any{"m": json.RawMessage(raw)})
			require.Nil(t, out["errors"], out)
			sent = append(sent, h)
		}
		tick++
		for _, h := range sent {
			if messageStatus(t, baseC, h) == "PROCESSED" {
				return true
			}
		}
		return false
	}, 60*time.Second, 50*time.Millisecond)

	// D: a libp2p node outside C's allowlist, dialling C directly. A
	// message it gossips reaches C (so its announcements do too).
	d := newP2PNode(t)
	dNode, err := p2p.New(t.Context(), p2p.Config{
		KeyFile: filepath.Join(d.dir, "node-key"), Listen: []string{d.listen}, Bootstrap: []string{c.addr},
		AliveInterval: 100 * time.Millisecond,
	}, p2p.Deps{Submitter: indexer.SubmitterFunc(func(_ context.Context, _ indexer.Origin, raws [][]byte) ([]indexer.Result, error) {
		return make([]indexer.Result, len(raws)), nil
	}), Log: dbtest.Logger()})
	require.NoError(t, err)
	dctx, dcancel := context.WithCancel(context.Background())
	ddone := make(chan error, 1)
	go func() { ddone <- dNode.Run(dctx) }()
	t.Cleanup(func() { dcancel(); <-ddone })
	tick = 0
	var fromD []string
	require.Eventually(t, func() bool {
		if tick%20 == 0 {
			raw, h, err := acct.Post(float64(time.Now().UnixNano())/1e9, "GOSSIP", "note", map[string]any{"body": "from D"}, "")
			require.NoError(t, err)
			_ = dNode.Publish(t.Context(), raw)
			fromD = append(fromD, h)
		}
		tick++
		for _, h := range fromD {
			if messageStatus(t, baseC, h) == "PROCESSED" {
				return true
			}
		}
		return false
	}, 60*time.Second, 50*time.Millisecond)

	require.Eventually(t, func() bool { return peersOf(t, baseC)[b.id.String()] == "P2P" }, 10*time.Second, 50*time.Millisecond)
	require.Never(t, func() bool {
		p := peersOf(t, baseC)
		_, hasD := p[d.id.String()]
		_, hasA := p[a.id.String()]
		return hasD || hasA
	}, time.Second, 100*time.Millisecond)

	// networkStatus counts what gossip brought to C.
	out := gql(t, baseC, `{ networkStatus { name kind received accepted state } }`, nil)
	require.Nil(t, out["errors"], out)
	st := out["data"].(map[string]any)["networkStatus"].([]any)
	require.Len(t, st, 1)
	s := st[0].(map[string]any)
	require.Equal(t, "p2p-gossip", s["name"])
	require.Equal(t, "live", s["state"])
	require.GreaterOrEqual(t, s["accepted"].(float64), 2.0)

	require.Equal(t, 0, stopA())
	require.Equal(t, 0, stopB())
	require.Equal(t, 0, stopC())
}
