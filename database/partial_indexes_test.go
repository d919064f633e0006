package database_test

import (
	"database/sql"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/migrate/migrations"
)

// partialIndexes are the messages indexes that hold only the rows where their
// leading column is not NULL, with that column.
var partialIndexes = map[string]string{
	"message_content_type_time_item_hash": "content_type",
	"message_content_ref":                 "content_ref",
	"message_content_key_owner":           "content_key",
	"message_content_item_hash":           "content_item_hash",
	"message_payment_type":                "payment_type",
}

// before returns the dialect's embedded migrations older than version.
func before(t *testing.T, dia, version string) fs.FS {
	t.Helper()
	src := migrations.SQLite()
	if dia == dialect.Postgres {
		src = migrations.Postgres()
	}
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(src, ".")
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() >= version {
			continue
		}
		b, err := fs.ReadFile(src, e.Name())
		require.NoError(t, err)
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}

// indexDef returns the SQL definition of a messages index.
func indexDef(t *testing.T, db *database.DB, name string) string {
	t.Helper()
	q := "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
	if db.Dialect == dialect.Postgres {
		q = "SELECT indexdef FROM pg_indexes WHERE tablename = 'messages' AND indexname = $1"
	}
	var def sql.NullString
	require.NoError(t, db.SQL.QueryRowContext(t.Context(), q, name).Scan(&def), name)
	return def.String
}

func TestPartialIndexMigrationKeepsChildRows(t *testing.T) {
	// The partial-index migration must only recreate indexes: a rebuild of
	// the messages table would cascade-delete the child rows (tags,
	// confirmations, costs) of every message on SQLite.
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := openRaw(t, b.URL(t))
			_, err := db.MigrateFS(ctx, before(t, db.Dialect, "20261121222940"), dbtest.Logger())
			require.NoError(t, err)
			for name := range partialIndexes {
				require.NotContains(t, strings.ToUpper(indexDef(t, db, name)), "WHERE", "%s is full before the migration", name)
			}
			now := time.Now().UTC()
			db.Client.Message.Create().SetID("keep-me").SetType("POST").SetChain("ETH").SetSender("0xa").
				SetItemType("inline").SetTime(now).SetReceptionTime(now).SetOwner("0xa").SetContentType("blog").SaveX(ctx)
			db.Client.MessageTag.Create().SetItemHash("keep-me").SetTag("t1").SetTime(now).SaveX(ctx)

			res, err := db.Migrate(ctx, dbtest.Logger())
			require.NoError(t, err)
			require.NotEmpty(t, res.Applied)

			require.Equal(t, 1, db.Client.Message.Query().CountX(ctx))
			require.Equal(t, 1, db.Client.MessageTag.Query().CountX(ctx), "tags survive the migration")
			for name, col := range partialIndexes {
				def := indexDef(t, db, name)
				require.Contains(t, strings.ToUpper(def), "WHERE", name)
				require.Contains(t, def, col+" IS NOT NULL", name)
			}
		})
	}
}

func TestPartialIndexesServeInFilters(t *testing.T) {
	// graph/messages.go filters these columns only with IN (...), which
	// implies NOT NULL: each planner must be able to use the partial index.
	// The values are bound parameters, as ent sends them. PostgreSQL is told
	// to avoid sequential scans so that an empty table still shows whether
	// the index is usable at all.
	queries := map[string]string{
		"message_content_type_time_item_hash": "SELECT item_hash FROM messages WHERE content_type IN (?, ?) ORDER BY time DESC, item_hash DESC LIMIT 20",
		"message_content_ref":                 "SELECT item_hash FROM messages WHERE content_ref IN (?, ?) ORDER BY time DESC, item_hash DESC LIMIT 20",
		"message_content_key_owner":           "SELECT item_hash FROM messages WHERE content_key IN (?, ?) ORDER BY time DESC, item_hash DESC LIMIT 20",
		"message_content_item_hash":           "SELECT item_hash FROM messages WHERE content_item_hash IN (?, ?) ORDER BY time DESC, item_hash DESC LIMIT 20",
		"message_payment_type":                "SELECT item_hash FROM messages WHERE payment_type IN (?, ?) ORDER BY time DESC, item_hash DESC LIMIT 20",
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		conn, err := db.SQL.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		explain := "EXPLAIN QUERY PLAN "
		if db.Dialect == dialect.Postgres {
			_, err := conn.ExecContext(ctx, "SET enable_seqscan = off")
			require.NoError(t, err)
			explain = "EXPLAIN "
		}
		for name, q := range queries {
			if db.Dialect == dialect.Postgres {
				q = strings.Replace(strings.Replace(q, "?", "$1", 1), "?", "$2", 1)
			}
			rows, err := conn.QueryContext(ctx, explain+q, "a", "b")
			require.NoError(t, err)
			cols, err := rows.Columns()
			require.NoError(t, err)
			var plan strings.Builder
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				require.NoError(t, rows.Scan(ptrs...))
				for _, v := range vals {
					if s, ok := v.(string); ok {
						plan.WriteString(s + "\n")
					} else if bs, ok := v.([]byte); ok {
						plan.Write(append(bs, '\n'))
					}
				}
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
			t.Logf("%s\n%s", q, plan.String())
			require.Contains(t, plan.String(), name, "plan of %s", q)
		}
	})
}
