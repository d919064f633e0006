package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSampleDataLoadsEveryKind starts serve with --sample-data on a new
// data directory, as make run does, and checks that the sample is
// processed, STOREs (whose files the loader put in the local store)
// included.
func TestSampleDataLoadsEveryKind(t *testing.T) {
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--sample-data")
	count := func(kind string) (int, int) {
		res, err := http.Post(base+"graphql", "application/json", strings.NewReader(
			`{"query":"{ messages(filter: {types: [`+kind+`]}, first: 1) { totalCount } }"}`))
		require.NoError(t, err)
		defer res.Body.Close()
		var out struct {
			Data struct {
				Messages struct{ TotalCount int }
			}
			Extensions struct {
				Freshness struct{ PendingMessages int }
			}
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return out.Data.Messages.TotalCount, out.Extensions.Freshness.PendingMessages
	}
	// 3 000 messages, every 20th a STORE: 150 of them, all free (small hold
	// STOREs), all processed once the queue is empty.
	require.Eventually(t, func() bool {
		n, pending := count("STORE")
		return n == sampleSize/20 && pending == 0
	}, 120*time.Second, 250*time.Millisecond)
	for _, kind := range []string{"POST", "AGGREGATE", "FORGET"} {
		n, _ := count(kind)
		require.Positive(t, n, kind)
	}
	require.Equal(t, 0, stop())
}
