package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/ipfs/ipfstest"
	"github.com/alephql/alephql/processor/demo"
)

// messageStatus asks a node for a message's status ("" if unknown).
func messageStatus(t *testing.T, base, hash string) string {
	t.Helper()
	out := gql(t, base, `query($h: String!) { message(hash: $h) { status { status } } }`, map[string]any{"h": hash})
	data, _ := out["data"].(map[string]any)
	m, _ := data["message"].(map[string]any)
	if m == nil {
		return ""
	}
	return m["status"].(map[string]any)["status"].(string)
}

func TestIPFSPubsubCarriesMessagesBetweenNodes(t *testing.T) {
	// Two nodes, each with its own kubo daemon (online, isolated, connected
	// to each other only): a message submitted to node A reaches node B
	// through IPFS pubsub alone, and each node records the other as a
	// peer from its aliveness announcement.
	kuboA, kuboB := ipfstest.NewOnlineDaemon(t), ipfstest.NewOnlineDaemon(t)
	kuboB.Connect(kuboA)
	baseA, stopA := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn",
		"--ipfs-api", kuboA.API, "--ipfs-pubsub", "--public-url", "http://a.example:4024", "--alive-interval", "200ms")
	// B takes A's announcements: A is in its allowlist (spec §8.2).
	baseB, stopB := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn",
		"--ipfs-api", kuboB.API, "--ipfs-pubsub", "--alive-allow", kuboA.ID())

	acct, err := demo.NewAccount()
	require.NoError(t, err)
	const q = `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`
	// Pubsub subscriptions take a moment to propagate between the
	// daemons: submit a fresh message every 2 s until one gets through.
	var hash string
	var sent []string
	tick := 0
	require.Eventually(t, func() bool {
		if tick%40 == 0 {
			raw, h, err := acct.Post(float64(time.Now().UnixNano())/1e9, "PUBSUB", "note", map[string]any{"body": "over pubsub"}, "")
			require.NoError(t, err)
			out := gql(t, baseA, q, map[string]any{"m": json.RawMessage(raw)})
			require.Nil(t, out["errors"], out)
			sent = append(sent, h)
		}
		tick++
		for _, h := range sent {
			if messageStatus(t, baseB, h) == "PROCESSED" {
				hash = h
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, "PROCESSED", messageStatus(t, baseA, hash))

	// B heard A's announcements on ALEPH_ALIVE: its kubo swarm address and
	// its API URL.
	require.Eventually(t, func() bool {
		out := gql(t, baseB, `{ peers(kind: HTTP) { edges { node { address source } } } }`, nil)
		edges, _ := out["data"].(map[string]any)["peers"].(map[string]any)["edges"].([]any)
		return len(edges) == 1 && edges[0].(map[string]any)["node"].(map[string]any)["address"] == "http://a.example:4024"
	}, 15*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return peersOf(t, baseB)[kuboA.ID()] == "IPFS" || peersOf(t, baseB)[kuboA.ID()] == "HTTP" }, 15*time.Second, 50*time.Millisecond)
	_, self := peersOf(t, baseB)[kuboB.ID()]
	require.False(t, self, "a node does not record itself")
	require.Equal(t, 0, stopA())
	require.Equal(t, 0, stopB())
}
