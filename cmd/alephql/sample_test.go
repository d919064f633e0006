package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSampleDataLoadsEveryKind starts serve with --sample-data on a new
// data directory, as make run does, and checks that the sample is
// processed, STOREs (whose files the loader put in the local store)
// included.
func TestSampleDataLoadsEveryKind(t *testing.T) {
	const size = 400
	base, stop := startServe(t, "--data-dir", t.TempDir(), "--sample-data", "--sample-size", fmt.Sprint(size))
	count := func(kind string) (total, pending int, err error) {
		res, err := http.Post(base+"graphql", "application/json", strings.NewReader(
			`{"query":"{ messages(filter: {types: [`+kind+`]}, first: 1) { totalCount } }"}`))
		if err != nil {
			return 0, 0, err
		}
		defer res.Body.Close()
		var out struct {
			Data struct {
				Messages struct{ TotalCount int }
			}
			Extensions struct {
				Freshness struct{ PendingMessages int }
			}
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		return out.Data.Messages.TotalCount, out.Extensions.Freshness.PendingMessages, err
	}
	// Every 20th sample message is a STORE of a small file: free (a small
	// hold STORE), so all of them end processed once the queue is empty.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		n, pending, err := count("STORE")
		require.NoError(c, err)
		assert.Equal(c, size/20, n, "processed STOREs")
		assert.Zero(c, pending, "pending messages")
	}, 120*time.Second, 250*time.Millisecond)
	for _, kind := range []string{"POST", "AGGREGATE", "FORGET"} {
		n, _, err := count(kind)
		require.NoError(t, err)
		require.Positive(t, n, kind)
	}
	require.Equal(t, 0, stop())
}
