package database_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
)

func TestIsFull(t *testing.T) {
	// A real SQLITE_FULL: a database capped at a few pages by
	// max_page_count fails the insert that needs one more page.
	ctx := t.Context()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "full.db"))
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.ExecContext(ctx, "CREATE TABLE t (x text)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "PRAGMA max_page_count = 3")
	require.NoError(t, err)
	var fullErr error
	for i := 0; i < 100 && fullErr == nil; i++ {
		_, fullErr = db.ExecContext(ctx, "INSERT INTO t VALUES (?)", strings.Repeat("x", 4000))
	}
	require.Error(t, fullErr, "the capped database must fill up")
	_, syntaxErr := db.ExecContext(ctx, "SELEC 1")
	require.Error(t, syntaxErr)
	_, otherPathErr := os.ReadFile("/") // a path error that is not ENOSPC

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"sqlite full", fullErr, true},
		{"wrapped sqlite full", fmt.Errorf("insert message: %w", fullErr), true},
		{"postgres disk_full", &pgconn.PgError{Code: "53100"}, true},
		{"postgres out of memory", &pgconn.PgError{Code: "53200"}, false},
		{"ENOSPC", &os.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}, true},
		{"other path error", otherPathErr, false},
		{"sqlite syntax error", syntaxErr, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, database.IsFull(tc.err), "%v", tc.err)
		})
	}
}
