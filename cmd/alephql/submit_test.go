package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/processor/demo"
)

// gql posts a GraphQL query and decodes the answer.
func gql(t *testing.T, base, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	resp, err := http.Post(base+"graphql", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func TestServeProcessesSubmittedMessages(t *testing.T) {
	// serve runs the processor: a message submitted through GraphQL is
	// processed and can be queried; a malformed one is refused with its
	// protocol code.
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn")
	a, err := demo.NewAccount()
	require.NoError(t, err)
	raw, hash, err := a.Post(1_700_000_000, "TEST", "note", map[string]any{"body": "hi"}, "")
	require.NoError(t, err)
	const q = `mutation($m: JSON!) { submitMessage(message: $m, sync: true) { hash status } }`
	out := gql(t, base, q, map[string]any{"m": json.RawMessage(raw)})
	require.Nil(t, out["errors"], out)
	res := out["data"].(map[string]any)["submitMessage"].(map[string]any)
	require.Equal(t, hash, res["hash"])
	require.Equal(t, "PROCESSED", res["status"], out)

	var bad map[string]any
	require.NoError(t, json.Unmarshal(raw, &bad))
	bad["item_hash"] = "00" + hash[2:]
	badRaw, _ := json.Marshal(bad)
	out = gql(t, base, q, map[string]any{"m": json.RawMessage(badRaw)})
	errs, _ := out["errors"].([]any)
	require.Len(t, errs, 1, out)
	ext := errs[0].(map[string]any)["extensions"].(map[string]any)
	require.Equal(t, "INVALID_MESSAGE", ext["code"])
	require.EqualValues(t, 0, ext["errorCode"])

	// /metrics shows the processing and the subscription hub.
	resp, err := http.Get(base + "metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	for _, re := range []string{
		`(?m)^alephql_processor_events_total\{kind="processed",type="POST"\} [1-9][0-9]*$`,
		`(?m)^alephql_processor_pending_messages [0-9]+$`,
		`(?m)^alephql_processor_last_event_timestamp_seconds [1-9]`,
		`(?m)^alephql_graphql_subscriptions 0$`,
		`(?m)^alephql_graphql_live_payloads_total\{how="executed"\} [0-9]+$`,
	} {
		require.Regexp(t, re, string(metrics))
	}
	require.Equal(t, 0, stop())
}
