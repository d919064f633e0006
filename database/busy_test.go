package database_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/alephql/alephql/database"
)

func TestIsBusy(t *testing.T) {
	ctx := t.Context()
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(1)&_txlock=immediate", filepath.Join(t.TempDir(), "busy.db"))
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(2)
	_, err = db.ExecContext(ctx, "CREATE TABLE t (x int)")
	require.NoError(t, err)
	holder, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer holder.Rollback() //nolint:errcheck
	_, err = db.BeginTx(context.Background(), nil)
	require.Error(t, err, "a second immediate transaction must find the write lock taken")
	require.True(t, database.IsBusy(err), "%v", err)
	require.False(t, database.IsBusy(fmt.Errorf("wrapped: %w", sql.ErrNoRows)))
	require.False(t, database.IsBusy(nil))
}
