package database_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
)

func TestMigrationsMatchSchema(t *testing.T) {
	// The committed migrations must produce exactly the ent schema: ent's
	// own diff of the migrated database against the schema must be empty.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		var buf bytes.Buffer
		require.NoError(t, db.Client.Schema.WriteTo(t.Context(), &buf))
		require.Empty(t, changes(buf.String()), "schema and migrations differ: run make migrate-diff NAME=...")
	})
}

// changes drops the transaction wrapper WriteTo prints around the
// statements.
func changes(sql string) string {
	var out []string
	for _, l := range strings.Split(sql, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "BEGIN;" || l == "COMMIT;" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestMigrateIsIdempotentAndKeepsData(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		insertMessage(t, db.Client, "a1", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
		res, err := db.Migrate(ctx, dbtest.Logger())
		require.NoError(t, err)
		require.Empty(t, res.Applied)
		require.Equal(t, res.From, res.To)
		n, err := db.Client.Message.Query().Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.NoError(t, db.Ready(ctx))
	})
}

func TestReadyRequiresMigrations(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db, err := database.Open(ctx, database.Config{URL: b.URL(t)}, dbtest.Logger())
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			require.ErrorIs(t, db.Ready(ctx), database.ErrNotMigrated)
			res, err := db.Migrate(ctx, dbtest.Logger())
			require.NoError(t, err)
			require.NotEmpty(t, res.Applied)
			require.NoError(t, db.Ready(ctx))
		})
	}
}

func TestRefusesDatabaseFromNewerBinary(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		cur, _, err := db.Version(ctx)
		require.NoError(t, err)
		_, err = db.SQL.ExecContext(ctx, "INSERT INTO schema_migrations (version_id, is_applied) VALUES ($1, true)", cur+1)
		require.NoError(t, err)
		_, err = db.Migrate(ctx, dbtest.Logger())
		require.ErrorIs(t, err, database.ErrTooNew)
		require.ErrorIs(t, db.Ready(ctx), database.ErrTooNew)
	})
}

func TestOpenErrors(t *testing.T) {
	corrupt := filepath.Join(t.TempDir(), "corrupt.db")
	require.NoError(t, os.WriteFile(corrupt, bytes.Repeat([]byte("not a database "), 512), 0o600))
	tests := []struct {
		name string
		url  string
		want error
		msg  string
	}{
		{"corrupt sqlite file", corrupt, database.ErrUnreachable, corrupt},
		{"unreachable postgres", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", database.ErrUnreachable, "127.0.0.1:1"},
		{"unsupported scheme", "mysql://localhost/db", database.ErrUnsupportedURL, "mysql"},
		{"empty", " ", database.ErrUnsupportedURL, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			_, err := database.Open(ctx, database.Config{URL: tt.url, ConnectTimeout: 5 * time.Second}, dbtest.Logger())
			require.ErrorIs(t, err, tt.want)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestPasswordNotInErrors(t *testing.T) {
	_, err := database.Open(t.Context(), database.Config{URL: "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=2", ConnectTimeout: 3 * time.Second}, dbtest.Logger())
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}

func TestMessagesPageByTimeThenHash(t *testing.T) {
	// Keyset pagination must order by (time, hash) identically on both
	// back-ends, including times whose fractional parts have different
	// lengths (SQLite stores times as text).
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		times := map[string]time.Time{
			"h1": base,
			"h2": base.Add(450 * time.Millisecond),
			"h3": base.Add(500 * time.Millisecond),
			"h4": base.Add(123456 * time.Microsecond),
			"h5": base.Add(time.Second),
			"h6": base.Add(time.Second), // same time as h5: the hash breaks the tie
		}
		for h, tm := range times {
			insertMessage(t, db.Client, h, tm)
		}
		order := &ent.MessageOrder{Direction: entgql.OrderDirectionDesc, Field: ent.MessageOrderFieldTime}
		var got []string
		var after *entgql.Cursor[string]
		for {
			first := 2
			page, err := db.Client.Message.Query().Paginate(ctx, after, &first, nil, nil, ent.WithMessageOrder(order))
			require.NoError(t, err)
			require.Equal(t, 6, page.TotalCount)
			for _, e := range page.Edges {
				got = append(got, e.Node.ID)
			}
			if !page.PageInfo.HasNextPage {
				break
			}
			after = page.PageInfo.EndCursor
		}
		require.Equal(t, []string{"h6", "h5", "h3", "h2", "h4", "h1"}, got)
	})
}

func TestConfirmationsAreUniqueAndCascade(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		c := db.Client
		insertMessage(t, c, "m1", time.Now().UTC())
		tx := c.ChainTx.Create().SetID("0xtx").SetChain("ETH").SetHeight(10).SetDatetime(time.Now().UTC()).
			SetPublisher("0xpub").SetProtocol("aleph").SetProtocolVersion(1).SaveX(ctx)
		c.MessageConfirmation.Create().SetItemHash("m1").SetTxHash(tx.ID).SaveX(ctx)
		err := c.MessageConfirmation.Create().SetItemHash("m1").SetTxHash(tx.ID).Exec(ctx)
		require.True(t, ent.IsConstraintError(err), "duplicate confirmation: %v", err)
		err = c.MessageConfirmation.Create().SetItemHash("unknown").SetTxHash(tx.ID).Exec(ctx)
		require.True(t, ent.IsConstraintError(err), "confirmation of unknown message: %v", err)

		c.Message.DeleteOneID("m1").ExecX(ctx)
		n := c.MessageConfirmation.Query().CountX(ctx)
		require.Zero(t, n, "confirmations must go with their message")
	})
}

func insertMessage(t *testing.T, c *ent.Client, hash string, tm time.Time) {
	t.Helper()
	c.Message.Create().SetID(hash).SetType("POST").SetChain("ETH").SetSender("0xabc").SetSignature("0xsig").
		SetItemType("inline").SetItemContent("{}").SetTime(tm).SetReceptionTime(tm).SetOwner("0xabc").
		SaveX(t.Context())
}
