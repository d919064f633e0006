package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/peterbourgon/ff/v3"

	"github.com/alephql/alephql/database"
)

// ffOptions are the option sources every subcommand reads: flags, then
// ALEPHQL_* environment variables, then the --config file.
func ffOptions() []ff.Option {
	return []ff.Option{
		ff.WithEnvVarPrefix("ALEPHQL"),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(ff.PlainParser),
	}
}

// commonFlags are the settings shared by serve and migrate.
type commonFlags struct {
	dataDir    string
	db         string
	dbMaxConns int
	dbStmts    int
	logLevel   string
	logFormat  string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.String("config", "", "config file of flag-value lines, e.g. \"db postgres://...\" (env ALEPHQL_CONFIG)")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory for the embedded database and local files (env ALEPHQL_DATA_DIR)")
	fs.StringVar(&c.db, "db", "", "database: a SQLite file path, or a postgres:// URL; default DATA_DIR/alephql.db (env ALEPHQL_DB)")
	fs.IntVar(&c.dbMaxConns, "db-max-conns", 20, "maximum open PostgreSQL connections (env ALEPHQL_DB_MAX_CONNS)")
	fs.IntVar(&c.dbStmts, "db-statement-cache", database.DefaultStatementCache, "prepared statements kept per PostgreSQL connection (env ALEPHQL_DB_STATEMENT_CACHE)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error (env ALEPHQL_LOG_LEVEL)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json (env ALEPHQL_LOG_FORMAT)")
}

// databaseConfig returns the database settings, naming the flag at fault
// on error.
func (c *commonFlags) databaseConfig() (database.Config, error) {
	url := c.db
	if url == "" {
		url = filepath.Join(c.dataDir, "alephql.db")
	}
	cfg := database.Config{URL: url, MaxOpenConns: c.dbMaxConns, StatementCache: c.dbStmts}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{fmt.Errorf("--db (ALEPHQL_DB): %w", err)}
	}
	if c.dbMaxConns < 1 {
		return cfg, usageError{fmt.Errorf("--db-max-conns (ALEPHQL_DB_MAX_CONNS): must be at least 1, got %d", c.dbMaxConns)}
	}
	if c.dbStmts < 1 {
		return cfg, usageError{fmt.Errorf("--db-statement-cache (ALEPHQL_DB_STATEMENT_CACHE): must be at least 1, got %d", c.dbStmts)}
	}
	return cfg, nil
}

// logger builds the root logger.
func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level (ALEPHQL_LOG_LEVEL): %q is not one of debug, info, warn, error", c.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format (ALEPHQL_LOG_FORMAT): %q is not text or json", c.logFormat)}
}
