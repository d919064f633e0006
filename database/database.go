package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/alephql/alephql/ent"
)

// Config says which database to use.
type Config struct {
	// URL is a PostgreSQL URL (postgres://user@host:port/db) or a SQLite
	// database: a file path, optionally prefixed by "sqlite://" or "file:".
	URL string
	// MaxOpenConns bounds the connection pool (PostgreSQL). Zero means 20.
	MaxOpenConns int
	// ConnectTimeout bounds the first connection. Zero means 10 s.
	ConnectTimeout time.Duration
	// StatementCache bounds the prepared statements kept per connection
	// (PostgreSQL; an LRU, the least recently used one deallocated).
	// Zero means DefaultStatementCache; a statement_cache_capacity in
	// the URL wins over both.
	StatementCache int
}

// DefaultStatementCache is the prepared statements kept per PostgreSQL
// connection. pgx's own default, 512, costs tens of MiB over a pool of
// 20: the node's queries with IN lists and multi-row inserts have one
// text per list length, so the caches fill with one-off statements for
// the first half hour of a busy node (RELIABILITY.md, Soak). The hot
// fixed-shape queries stay cached at this size.
const DefaultStatementCache = 128

// DefaultURL is the embedded default: a SQLite file under ./data.
const DefaultURL = "./data/alephql.db"

// Validate reports a configuration error.
func (c Config) Validate() error {
	if strings.TrimSpace(c.URL) == "" {
		return fmt.Errorf("%w: empty", ErrUnsupportedURL)
	}
	_, _, err := parseURL(c.URL)
	return err
}

// DB is an open database: the ent client and the underlying pool.
type DB struct {
	// prepared counts the statements prepared on PostgreSQL connections
	// (a statement cache miss each); nil on SQLite.
	prepared *atomic.Int64
	// stmtCache is the statement cache's capacity per connection (0 on
	// SQLite).
	stmtCache int
	// Client is the ent client over the pool.
	Client *ent.Client
	// SQL is the underlying connection pool.
	SQL *sql.DB
	// Dialect is dialect.SQLite or dialect.Postgres.
	Dialect string
	// Name is the database's description for logs, without credentials.
	Name string
}

// Open connects to the database described by cfg and checks that it
// answers. It does not migrate. For SQLite it creates the file's directory.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dia, dsn, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var db *sql.DB
	var prepared *atomic.Int64
	var stmtCache int
	switch dia {
	case dialect.SQLite:
		db, err = openSQLite(dsn)
	case dialect.Postgres:
		prepared = new(atomic.Int64)
		db, stmtCache, err = openPostgres(dsn, cfg, prepared)
	}
	name := redact(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, name, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := check(pctx, db, dia); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, name, err)
	}
	drv := entsql.OpenDB(dia, db)
	log.Info("database open", "dialect", dia, "database", name)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dia, Name: name, prepared: prepared, stmtCache: stmtCache}, nil
}

// openPostgres opens a pgx pool of cfg.MaxOpenConns connections, each
// keeping at most cfg.StatementCache prepared statements, counting the
// statements prepared into prepared. It returns the pool and the cache's
// capacity.
func openPostgres(dsn string, cfg Config, prepared *atomic.Int64) (*sql.DB, int, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, 0, err
	}
	if !strings.Contains(dsn, "statement_cache_capacity=") {
		pc.StatementCacheCapacity = cfg.StatementCache
		if pc.StatementCacheCapacity <= 0 {
			pc.StatementCacheCapacity = DefaultStatementCache
		}
	}
	pc.Tracer = prepareCounter{prepared}
	db := stdlib.OpenDB(*pc)
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = 20
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, pc.StatementCacheCapacity, nil
}

// StatementsPrepared is the number of statements prepared on PostgreSQL
// connections since Open: statement cache misses, each a round trip and
// a parse on the server. Zero on SQLite.
func (d *DB) StatementsPrepared() int64 {
	if d.prepared == nil {
		return 0
	}
	return d.prepared.Load()
}

// RegisterMetrics registers the database's metrics on reg:
// alephql_db_statements_prepared_total (statement cache misses) and
// alephql_db_statement_cache_capacity (statements kept per connection).
func (d *DB) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "alephql_db_statements_prepared_total",
			Help: "Statements prepared on PostgreSQL connections: statement cache misses, each a round trip and a parse on the server.",
		}, func() float64 { return float64(d.StatementsPrepared()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "alephql_db_statement_cache_capacity",
			Help: "Prepared statements a PostgreSQL connection keeps at most (0 on SQLite); the least recently used is deallocated.",
		}, func() float64 { return float64(d.stmtCache) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register database metrics: %w", err)
		}
	}
	return nil
}

// prepareCounter is the pgx tracer counting prepared statements.
type prepareCounter struct{ n *atomic.Int64 }

// TraceQueryStart implements pgx.QueryTracer.
func (prepareCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (prepareCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TracePrepareStart implements pgx.PrepareTracer.
func (prepareCounter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	return ctx
}

// TracePrepareEnd implements pgx.PrepareTracer: a statement already
// prepared on the connection is not counted.
func (c prepareCounter) TracePrepareEnd(_ context.Context, _ *pgx.Conn, d pgx.TracePrepareEndData) {
	if d.Err == nil && !d.AlreadyPrepared {
		c.n.Add(1)
	}
}

// Close closes the pool.
func (d *DB) Close() error { return d.Client.Close() }

// Analyze refreshes the query planner's statistics, as a bulk loader
// should once it has loaded: ANALYZE on PostgreSQL, PRAGMA optimize on
// SQLite. Right after an import of a hundred thousand messages,
// PostgreSQL's autovacuum had not analyzed the tables yet, and with its
// estimates of an empty table the planner read a messages.json cursor
// page through a bitmap of every row: 59 ms a page instead of 0.3 ms.
func (d *DB) Analyze(ctx context.Context) error {
	q := "PRAGMA optimize"
	if d.Dialect == dialect.Postgres {
		q = "ANALYZE"
	}
	if _, err := d.SQL.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("database: %s: %w", q, err)
	}
	return nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, d.Name, err)
	}
	return nil
}

// openSQLite opens a SQLite file with the settings the node relies on:
// foreign keys on, WAL journal (readers do not block the writer), a busy
// timeout instead of immediate "database is locked" errors, and immediate
// write transactions so that two writers never deadlock on upgrade.
func openSQLite(path string) (*sql.DB, error) {
	if path != ":memory:" {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create data directory: %w", err)
			}
		}
	}
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	return db, nil
}

// check runs a query that fails on an unreachable server or on a file that
// is not a SQLite database (opening alone succeeds on a corrupt file).
func check(ctx context.Context, db *sql.DB, dia string) error {
	if dia == dialect.SQLite {
		var res string
		if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
			return err
		}
		if res != "ok" {
			return fmt.Errorf("integrity check failed: %s", res)
		}
		return nil
	}
	return db.PingContext(ctx)
}

// parseURL returns the dialect and the driver's DSN for a database URL.
func parseURL(raw string) (dia, dsn string, err error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
		}
		return dialect.Postgres, raw, nil
	case strings.HasPrefix(raw, "sqlite://"):
		return dialect.SQLite, strings.TrimPrefix(raw, "sqlite://"), nil
	case strings.HasPrefix(raw, "file:"):
		return dialect.SQLite, strings.TrimPrefix(raw, "file:"), nil
	case strings.Contains(raw, "://"):
		return "", "", fmt.Errorf("%w: %q: use a postgres:// URL or a SQLite file path", ErrUnsupportedURL, redact(raw))
	default:
		return dialect.SQLite, raw, nil
	}
}

// redact removes the password from a URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Interface guards
var (
	_ pgx.QueryTracer   = prepareCounter{}
	_ pgx.PrepareTracer = prepareCounter{}
)
