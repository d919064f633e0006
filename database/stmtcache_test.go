package database_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
)

func TestStatementCacheIsBounded(t *testing.T) {
	// Queries with an IN list have one text per list length: each is
	// prepared once per connection, and a connection keeps at most its
	// cache's capacity of them on the server (pg_prepared_statements)
	// and in memory, however many lengths it has seen. A hot query
	// stays cached: running it again prepares nothing.
	for _, tc := range []struct {
		name  string
		cfg   int    // Config.StatementCache
		param string // URL parameter
		want  int    // capacity
	}{
		{"default", 0, "", database.DefaultStatementCache},
		{"configured", 16, "", 16},
		{"URL wins", 16, "statement_cache_capacity=8", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			url := dbtest.NewPostgresDatabase(t)
			if tc.param != "" {
				url += "&" + tc.param
			}
			db, err := database.Open(ctx, database.Config{URL: url, StatementCache: tc.cfg}, dbtest.Logger())
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			conn, err := db.SQL.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()

			hot := func() {
				var n int
				require.NoError(t, conn.QueryRowContext(ctx, "SELECT $1::int + 1", 1).Scan(&n))
				require.Equal(t, 2, n)
			}
			hot()
			before := db.StatementsPrepared()
			for range 5 {
				hot()
			}
			require.Equal(t, before, db.StatementsPrepared(), "a cached statement is prepared again")

			lengths := 3 * tc.want
			for n := 1; n <= lengths; n++ {
				args, marks := make([]any, n), make([]string, n)
				for i := range n {
					args[i], marks[i] = i, fmt.Sprintf("$%d::int", i+1)
				}
				var in bool
				require.NoError(t, conn.QueryRowContext(ctx, "SELECT 0 IN ("+strings.Join(marks, ",")+")", args...).Scan(&in))
				require.True(t, in)
			}
			require.GreaterOrEqual(t, db.StatementsPrepared()-before, int64(lengths), "each IN-list length is prepared")

			// The first count prepares itself and evicts a statement, which
			// pgx deallocates before the connection's next query: count twice.
			var kept int
			for range 2 {
				require.NoError(t, conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements").Scan(&kept))
			}
			require.LessOrEqual(t, kept, tc.want, "statements kept on the server")
			require.Greater(t, kept, tc.want/2, "the cache keeps statements")

			reg := prometheus.NewRegistry()
			require.NoError(t, db.RegisterMetrics(reg))
			require.InDelta(t, float64(tc.want), metric(t, reg, "alephql_db_statement_cache_capacity"), 0)
			require.InDelta(t, float64(db.StatementsPrepared()), metric(t, reg, "alephql_db_statements_prepared_total"), 0)
		})
	}
}

func TestStatementsPreparedOnSQLite(t *testing.T) {
	db := dbtest.Open(t, t.TempDir()+"/a.db")
	require.Zero(t, db.StatementsPrepared())
	reg := prometheus.NewRegistry()
	require.NoError(t, db.RegisterMetrics(reg))
	require.Zero(t, metric(t, reg, "alephql_db_statement_cache_capacity"))
}

// metric returns the value of reg's unlabelled gauge or counter name.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
