package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/processor/demo"
)

// settledSet lists a node's messages of the given status through its REST
// API (pages of 200), as item hash -> status.
func settledSet(t *testing.T, base, status string) map[string]string {
	t.Helper()
	set := map[string]string{}
	for page := 1; ; page++ {
		resp, err := http.Get(base + "api/v0/messages.json?pagination=200&page=" + strconv.Itoa(page) + "&msgStatuses=" + status)
		require.NoError(t, err)
		var out struct {
			Messages []struct {
				ItemHash string `json:"item_hash"`
			} `json:"messages"`
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.NoError(t, resp.Body.Close())
		for _, m := range out.Messages {
			set[m.ItemHash] = status
		}
		if len(out.Messages) < 200 {
			return set
		}
	}
}

// nodeState is a node's processed and forgotten messages.
func nodeState(t *testing.T, base string) map[string]string {
	t.Helper()
	s := settledSet(t, base, "processed")
	for h, st := range settledSet(t, base, "forgotten") {
		s[h] = st
	}
	return s
}

func TestFollowAnotherAlephqlNode(t *testing.T) {
	// Node B follows node A through A's REST API (messages.json in cursor
	// mode, then /api/ws0/messages): B backfills A's sample dataset (every
	// message type, STORE files fetched from A's storage route), then
	// takes A's new messages live, restarts and resumes; B ends with A's
	// processed and forgotten sets.
	baseA, stopA := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn", "--sample-data", "--sample-size", "300")
	require.Eventually(t, func() bool {
		out := gql(t, baseA, `{ messages(filter: {statuses: [PENDING]}) { totalCount } }`, nil)
		data, _ := out["data"].(map[string]any)
		if data == nil {
			return false
		}
		return data["messages"].(map[string]any)["totalCount"].(float64) == 0 && len(nodeState(t, baseA)) > 100
	}, 60*time.Second, 100*time.Millisecond, "A processes its sample")

	dirB := t.TempDir()
	follow := strings.TrimSuffix(baseA, "/")
	baseB, stopB := startServe(t, "--data-dir", dirB, "--log-level", "warn", "--follow", follow)
	// B ends with A's processed and forgotten sets, except what a follower
	// cannot have: the API never serves a forgotten message (its content
	// is gone), so B never sees the targets A forgot before B came, and
	// their FORGETs wait for them on B (then are rejected). Nothing on B
	// is missing from A.
	var why string
	matches := func() bool {
		want, got := nodeState(t, baseA), nodeState(t, baseB)
		why = fmt.Sprintf("A %d, B %d", len(want), len(got))
		for h := range got {
			if _, ok := want[h]; !ok {
				t.Fatalf("B has %s, which A has not", h)
			}
		}
		for h, st := range want {
			if _, ok := got[h]; ok {
				continue
			}
			if st == "forgotten" {
				continue
			}
			o := gql(t, baseA, `query($h: String!) { message(hash: $h) { type } }`, map[string]any{"h": h})
			if tp := o["data"].(map[string]any)["message"].(map[string]any)["type"]; tp != "FORGET" {
				ob := gql(t, baseB, `query($h: String!) { message(hash: $h) { status { status } } }`, map[string]any{"h": h})
				why += fmt.Sprintf("; B lacks %s %s %s (B: %v)", st, tp, h, ob["data"])
				return false
			}
		}
		return true
	}
	if !assert.Eventually(t, matches, 120*time.Second, 200*time.Millisecond) {
		t.Fatal(why)
	}

	// Live: new messages on A reach B through the websocket.
	acct, err := demo.NewAccount()
	require.NoError(t, err)
	var live []string
	for i := range 3 {
		raw, h, err := acct.Post(float64(time.Now().UnixNano())/1e9, "LIVE", "note", map[string]any{"i": i}, "")
		require.NoError(t, err)
		out := gql(t, baseA, `mutation($m: JSON!) { submitMessage(message: $m) { hash } }`, map[string]any{"m": json.RawMessage(raw)})
		require.Nil(t, out["errors"], out)
		live = append(live, h)
	}
	for _, h := range live {
		require.Eventually(t, func() bool { return messageStatus(t, baseB, h) == "PROCESSED" }, 30*time.Second, 50*time.Millisecond, h)
	}

	// B restarts, resumes where it stopped and takes what A processed
	// meanwhile.
	require.Equal(t, 0, stopB())
	raw, h, err := acct.Post(float64(time.Now().UnixNano())/1e9, "LIVE", "note", map[string]any{"i": "while B was down"}, "")
	require.NoError(t, err)
	out := gql(t, baseA, `mutation($m: JSON!) { submitMessage(message: $m, sync: true) { hash } }`, map[string]any{"m": json.RawMessage(raw)})
	require.Nil(t, out["errors"], out)
	baseB, stopB = startServe(t, "--data-dir", dirB, "--log-level", "warn", "--follow", follow)
	require.Eventually(t, func() bool { return messageStatus(t, baseB, h) == "PROCESSED" }, 30*time.Second, 50*time.Millisecond)
	if !assert.Eventually(t, matches, 120*time.Second, 200*time.Millisecond) {
		t.Fatal(why)
	}
	require.Equal(t, 0, stopB())
	require.Equal(t, 0, stopA())
}
