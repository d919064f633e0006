package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPersistedOnlyServesOnlyTheAllowlist(t *testing.T) {
	const allowed = `{ messages(first: 1) { edges { cursor } } }`
	const sub = `subscription { messages { seq } }`
	hash := func(q string) string { s := sha256.Sum256([]byte(q)); return hex.EncodeToString(s[:]) }
	file := filepath.Join(t.TempDir(), "persisted.json")
	b, err := json.Marshal(map[string]string{hash(allowed): allowed, hash(sub): sub})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, b, 0o600))
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn", "--graphql-persisted-only", file)

	post := func(body map[string]any) map[string]any {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		res, err := http.Post(base+"graphql", "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return out
	}
	pq := func(h string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": h}}
	}
	cases := []struct {
		name string
		body map[string]any
		ok   bool
	}{
		{"allowed hash", map[string]any{"extensions": pq(hash(allowed))}, true},
		{"allowed hash with its text", map[string]any{"query": allowed, "extensions": pq(hash(allowed))}, true},
		{"raw query", map[string]any{"query": allowed}, false},
		{"unknown hash with its text (APQ registration)", map[string]any{"query": "{ __typename }", "extensions": pq(hash("{ __typename }"))}, false},
		{"allowed hash with another text", map[string]any{"query": "{ __typename }", "extensions": pq(hash(allowed))}, false},
	}
	for _, tc := range cases {
		out := post(tc.body)
		if tc.ok {
			require.Nil(t, out["errors"], "%s: %v", tc.name, out)
			require.NotNil(t, out["data"], tc.name)
			continue
		}
		require.Equal(t, "PERSISTED_QUERY_NOT_ALLOWED", firstErrorExtensions(t, out)["code"], "%s: %v", tc.name, out)
	}
	// Websocket subscriptions are held to the allowlist too.
	refused := subscribeWS(t, base, `subscription { messages { hash } }`, nil)
	select {
	case p := <-refused:
		require.Contains(t, string(p), "PERSISTED_QUERY_NOT_ALLOWED")
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to a subscription outside the allowlist")
	}
	require.Equal(t, 0, stop())
}

func TestServeRateLimitsClients(t *testing.T) {
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--log-level", "warn", "--rate-limit", "0.5", "--rate-burst", "2")
	codes := []int{}
	for range 3 {
		res, err := http.Post(base+"graphql", "application/json", bytes.NewReader([]byte(`{"query":"{ __typename }"}`)))
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		codes = append(codes, res.StatusCode)
		if res.StatusCode == http.StatusTooManyRequests {
			require.Equal(t, "2", res.Header.Get("Retry-After"))
		}
	}
	require.Equal(t, []int{200, 200, 429}, codes)
	// Probes are not limited: the client spent its burst, yet /readyz
	// answers (503 until the node is ready, then 200), never 429.
	require.Eventually(t, func() bool {
		res, err := http.Get(base + "readyz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		require.NotEqual(t, http.StatusTooManyRequests, res.StatusCode, "probes are not limited")
		return res.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, 0, stop())
}
