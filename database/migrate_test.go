package database_test

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/migrate/migrations"
)

// withExtra returns the embedded migrations of the dialect plus extra files.
func withExtra(t *testing.T, dia string, extra map[string]string) fs.FS {
	t.Helper()
	src := migrations.SQLite()
	if dia == dialect.Postgres {
		src = migrations.Postgres()
	}
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(src, ".")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := fs.ReadFile(src, e.Name())
		require.NoError(t, err)
		out[e.Name()] = &fstest.MapFile{Data: b}
	}
	for name, sql := range extra {
		out[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return out
}

func openRaw(t *testing.T, url string) *database.DB {
	t.Helper()
	db, err := database.Open(t.Context(), database.Config{URL: url}, dbtest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestUpgradeInPlaceKeepsData(t *testing.T) {
	// A node of today's version holds data; the next version ships a new
	// migration; starting it migrates in place and nothing is lost.
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := openRaw(t, b.URL(t))
			_, err := db.Migrate(ctx, dbtest.Logger())
			require.NoError(t, err)
			now := time.Now().UTC()
			db.Client.Message.Create().SetID("keep-me").SetType("POST").SetChain("ETH").SetSender("0xa").
				SetItemType("inline").SetTime(now).SetReceptionTime(now).SetOwner("0xa").SaveX(ctx)

			next := withExtra(t, db.Dialect, map[string]string{
				"99990101000000_next_version.sql": "-- +goose Up\nCREATE TABLE next_feature (id integer PRIMARY KEY, note text);\nCREATE INDEX next_feature_note ON next_feature (note);\n",
			})
			res, err := db.MigrateFS(ctx, next, dbtest.Logger())
			require.NoError(t, err)
			require.Equal(t, []string{"99990101000000_next_version.sql"}, res.Applied)
			require.Equal(t, int64(99990101000000), res.To)

			require.True(t, db.Client.Message.Query().ExistX(ctx), "data survives the upgrade")
			_, err = db.SQL.ExecContext(ctx, "INSERT INTO next_feature (id, note) VALUES (1, 'x')")
			require.NoError(t, err)
		})
	}
}

func TestFailedMigrationLeavesNothingHalfDone(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := openRaw(t, b.URL(t))
			_, err := db.Migrate(ctx, dbtest.Logger())
			require.NoError(t, err)
			before, _, err := db.Version(ctx)
			require.NoError(t, err)

			broken := withExtra(t, db.Dialect, map[string]string{
				"99990101000000_broken.sql": "-- +goose Up\nCREATE TABLE half_done (id integer PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n",
			})
			_, err = db.MigrateFS(ctx, broken, dbtest.Logger())
			require.Error(t, err)
			require.Contains(t, err.Error(), "99990101000000_broken.sql failed (rolled back")

			after, _, err := db.Version(ctx)
			require.NoError(t, err)
			require.Equal(t, before, after, "version unchanged")
			_, err = db.SQL.ExecContext(ctx, "SELECT * FROM half_done")
			require.Error(t, err, "the failed migration's first statement was rolled back")
			require.NoError(t, db.Ready(ctx), "the database still serves this binary")
		})
	}
}
