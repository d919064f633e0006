package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/bench/baseline"
	"github.com/alephql/alephql/database/dbtest"
)

// TestBenchBaselineMatchesGraphQL checks that the API benchmark compares
// like with like: for every benchmark query, over sample data with amends,
// aggregates and forgotten messages, the baseline handler answers exactly
// the bytes of the GraphQL response's data.
func TestBenchBaselineMatchesGraphQL(t *testing.T) {
	pg := dbtest.NewPostgresDatabase(t)
	base, stop := startServe(t, "--db", pg, "--data-dir", t.TempDir(), "--sample-data", "--sample-size", "600", "--bench-baseline")
	gql := func(query string, vars map[string]any) json.RawMessage {
		t.Helper()
		body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		require.NoError(t, err)
		res, err := http.Post(base+"graphql", "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		defer res.Body.Close()
		var out struct {
			Data   json.RawMessage
			Errors []any
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		require.Empty(t, out.Errors)
		return out.Data
	}
	db, err := sql.Open("pgx", pg)
	require.NoError(t, err)
	defer db.Close()
	// Every sample message settled: known to the status table, none
	// pending (FORGETs change which messages exist until then).
	require.Eventually(t, func() bool {
		var statuses, pending int
		err := db.QueryRowContext(t.Context(), `SELECT (SELECT count(*) FROM message_status), (SELECT count(*) FROM pending_messages)`).Scan(&statuses, &pending)
		return err == nil && statuses == 600 && pending == 0
	}, 120*time.Second, 200*time.Millisecond, "sample data not processed")

	get := func(path string, q url.Values) []byte {
		t.Helper()
		res, err := http.Get(base + baseline.Prefix[1:] + path + "?" + q.Encode())
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, string(b))
		return b
	}
	column := func(query string) []string {
		rows, err := db.QueryContext(t.Context(), query)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		require.NotEmpty(t, out, query)
		return out
	}
	channels := append(column(`SELECT DISTINCT channel FROM messages WHERE channel IS NOT NULL`), "NO-SUCH-CHANNEL")
	owners := append(column(`SELECT DISTINCT owner FROM posts WHERE latest_amend IS NOT NULL AND latest_amend <> item_hash`),
		column(`SELECT DISTINCT sender FROM messages`)...)
	hashes := append(column(`SELECT item_hash FROM messages ORDER BY item_hash LIMIT 30`), "0000000000000000000000000000000000000000000000000000000000000000")

	same := func(name string, want json.RawMessage, got []byte) {
		t.Helper()
		if bytes.Equal(want, got) {
			return
		}
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		from := max(0, i-80)
		t.Fatalf("%s: baseline differs from GraphQL at byte %d:\ngraphql:  ...%s\nbaseline: ...%s", name, i,
			want[from:min(len(want), i+80)], got[from:min(len(got), i+80)])
	}
	// Feeds: every channel and the whole feed, three pages deep, with
	// the cursors GraphQL hands out.
	for _, ch := range append(channels, "") {
		var after string
		for range 3 {
			vars := map[string]any{"filter": nil}
			q := url.Values{}
			if ch != "" {
				vars["filter"] = map[string]any{"channels": []string{ch}}
				q.Set("channel", ch)
			}
			if after != "" {
				vars["after"] = after
				q.Set("after", after)
			}
			data := gql(baseline.FeedQuery, vars)
			same("feed "+ch, data, get("feed", q))
			var page struct {
				Messages struct {
					PageInfo struct{ EndCursor string }
				}
			}
			require.NoError(t, json.Unmarshal(data, &page))
			if after = page.Messages.PageInfo.EndCursor; after == "" {
				break
			}
		}
		if ch != "" {
			same("count "+ch, gql(baseline.CountQuery, map[string]any{"channel": ch}), get("count", url.Values{"channel": {ch}}))
		}
	}
	for _, h := range hashes {
		same("message "+h, gql(baseline.MessageQuery, map[string]any{"hash": h}), get("message", url.Values{"hash": {h}}))
	}
	amended := 0
	for _, a := range owners {
		data := gql(baseline.AddressQuery, map[string]any{"address": a})
		same("address "+a, data, get("address", url.Values{"address": {a}}))
		if bytes.Contains(data, []byte(`"amended at`)) {
			amended++
		}
	}
	assert.Positive(t, amended, "no address page showed an amended post")
	// A cursor of a known message equals the one GraphQL hands out.
	var tm time.Time
	var h string
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT time, item_hash FROM messages ORDER BY time DESC, item_hash DESC LIMIT 1`).Scan(&tm, &h))
	assert.Contains(t, string(gql(baseline.FeedQuery, nil)), `"cursor":"`+baseline.MessageCursor(tm, h)+`"`)
	require.Equal(t, 0, stop())
}
