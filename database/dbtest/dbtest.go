// Package dbtest gives tests a fresh, migrated database on each back-end:
// a SQLite file in the test's temporary directory, and a new database on
// the PostgreSQL server that `make test` starts (ALEPHQL_TEST_POSTGRES).
//
// A test that needs PostgreSQL fails, never skips, when the server is not
// configured: run the tests with `make test`.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/alephql/alephql/database"
)

// PostgresEnv names the environment variable holding the test server's URL.
const PostgresEnv = "ALEPHQL_TEST_POSTGRES"

// RedisEnv names the environment variable holding the test Redis URL.
const RedisEnv = "ALEPHQL_TEST_REDIS"

// Backend is one storage back-end under test.
type Backend struct {
	// Name is "sqlite" or "postgres".
	Name string
	// URL returns the URL of a new, empty database on this back-end.
	URL func(t *testing.T) string
}

// Backends returns both back-ends.
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", URL: func(t *testing.T) string {
			t.Helper()
			return filepath.Join(t.TempDir(), "alephql.db")
		}},
		{Name: "postgres", URL: func(t *testing.T) string { return NewPostgresDatabase(t) }},
	}
}

// Each runs f as a subtest once per back-end, with a fresh migrated
// database.
func Each(t *testing.T, f func(t *testing.T, db *database.DB)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f(t, Open(t, b.URL(t)))
		})
	}
}

// Open opens and migrates the database at url, closing it when the test
// ends.
func Open(t *testing.T, url string) *database.DB {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: url}, Logger())
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx, Logger()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// PostgresURL returns the test server's URL, failing the test if it is not
// configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresEnv)
	if u == "" {
		t.Fatalf("%s is not set: PostgreSQL tests run against the server `make test` starts", PostgresEnv)
	}
	return u
}

// RedisURL returns the test Redis URL, failing the test if it is not
// configured.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(RedisEnv)
	if u == "" {
		t.Fatalf("%s is not set: Redis tests run against the server `make test` starts", RedisEnv)
	}
	return u
}

// NewPostgresDatabase creates an empty database on the test server and
// drops it when the test or benchmark ends. It returns the new database's
// URL.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	name := "t_" + randomHex(t, 8)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Logger returns a logger that discards everything unless
// ALEPHQL_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("ALEPHQL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
