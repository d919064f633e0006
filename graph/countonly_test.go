package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/graph"
)

// TestCountOnlyReadsNoPage: a messages connection asked only for its
// count reads the counter and no page of rows; asking for edges or
// pageInfo (also through a fragment) reads the page, and the count is the
// same either way.
func TestCountOnlyReadsNoPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		seedFixture(t, db.Client, 10)
		var statements atomic.Int64
		var mu sync.Mutex
		var texts []string
		dia := dialect.SQLite
		if db.Dialect == dialect.Postgres {
			dia = dialect.Postgres
		}
		counted := ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(dia, db.SQL), func(_ context.Context, args ...any) {
			statements.Add(1)
			mu.Lock()
			texts = append(texts, fmt.Sprint(args...))
			mu.Unlock()
		})))
		schema, err := graph.NewSchema(graph.Limits{}, counted, dbtest.Logger())
		require.NoError(t, err)
		srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
		defer srv.Close()
		total := -1
		for _, tc := range []struct {
			name, q    string
			statements int64
			edges      int
			// fromCounters: every statement reads message_counters (the
			// count is O(1), never a COUNT(*) over messages).
			fromCounters bool
		}{
			{"count only", `{ messages(filter: {channels: ["FEED"]}) { totalCount countIsExact } }`, 1, 0, true},
			// One counter per status, summed in one statement.
			{"count only, two statuses", `{ messages(filter: {channels: ["FEED"], statuses: [PROCESSED, REMOVING]}) { totalCount countIsExact } }`, 1, 0, true},
			{"edges", `{ messages(filter: {channels: ["FEED"]}, first: 3) { totalCount countIsExact edges { cursor } } }`, 2, 3, false},
			{"page info in a fragment", `{ messages(filter: {channels: ["FEED"]}, first: 3) { totalCount countIsExact ...P } }
				fragment P on MessageConnection { pageInfo { hasNextPage } }`, 2, 0, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				statements.Store(0)
				mu.Lock()
				texts = nil
				mu.Unlock()
				out := query(t, srv.URL, tc.q, nil)
				require.Empty(t, out.Errors)
				require.Equal(t, tc.statements, statements.Load())
				if tc.fromCounters {
					mu.Lock()
					for _, q := range texts {
						require.Contains(t, q, "message_counters", "a count-only query reads its counters")
					}
					mu.Unlock()
				}
				var d struct {
					Messages struct {
						TotalCount   int
						CountIsExact bool
						Edges        []json.RawMessage
						PageInfo     *struct{ HasNextPage bool }
					}
				}
				require.NoError(t, json.Unmarshal(out.Data, &d))
				require.Positive(t, d.Messages.TotalCount)
				if total >= 0 {
					require.Equal(t, total, d.Messages.TotalCount, "the same count with or without a page")
				}
				total = d.Messages.TotalCount
				require.True(t, d.Messages.CountIsExact)
				require.Len(t, d.Messages.Edges, tc.edges)
				if tc.name == "page info in a fragment" {
					require.NotNil(t, d.Messages.PageInfo)
					require.True(t, d.Messages.PageInfo.HasNextPage)
				}
			})
		}
	})
}
