package database_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
)

func TestIsUnavailable(t *testing.T) {
	// A server that is not there: nothing listens on a port just freed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	down, err := sql.Open("pgx", "postgres://postgres@"+addr+"/postgres?connect_timeout=2")
	require.NoError(t, err)
	defer down.Close()
	pingDown := down.PingContext(t.Context())
	require.Error(t, pingDown)

	// A statement error on a server that is up.
	up, err := sql.Open("pgx", dbtest.PostgresURL(t))
	require.NoError(t, err)
	defer up.Close()
	_, syntaxErr := up.ExecContext(t.Context(), "SELEC 1")
	require.Error(t, syntaxErr)

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", pingDown, true},
		{"wrapped connection refused", fmt.Errorf("query messages: %w", pingDown), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"syntax error", syntaxErr, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"canceled", context.Canceled, false},
		{"other", errors.New("boom"), false},
	} {
		require.Equal(t, tc.want, database.IsUnavailable(tc.err), "%s: %v", tc.name, tc.err)
	}
}
