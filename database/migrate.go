package database

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"entgo.io/ent/dialect"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/alephql/alephql/ent/migrate/migrations"
)

// migrationsTable is where goose records applied versions.
const migrationsTable = "schema_migrations"

// MigrationResult summarises a Migrate call.
type MigrationResult struct {
	// From and To are the schema versions before and after.
	From, To int64
	// Applied lists the migrations applied, in order.
	Applied []string
}

// Migrate applies every pending migration. Each migration runs in its own
// transaction, so a failure leaves the database at the last complete
// version, never half-way through one. On PostgreSQL an advisory lock makes
// concurrent migrations from several nodes safe. A database migrated by a
// newer binary is refused with ErrTooNew.
func (d *DB) Migrate(ctx context.Context, log *slog.Logger) (MigrationResult, error) {
	return d.migrate(ctx, nil, log)
}

// migrate applies the migrations of fsys, or the embedded ones if nil.
func (d *DB) migrate(ctx context.Context, fsys fs.FS, log *slog.Logger) (MigrationResult, error) {
	p, err := d.provider(fsys)
	if err != nil {
		return MigrationResult{}, err
	}
	from, latest, err := d.versions(ctx, p)
	if err != nil {
		return MigrationResult{}, err
	}
	if from > latest {
		return MigrationResult{From: from, To: from}, fmt.Errorf("%w: database at version %d, this binary knows up to %d", ErrTooNew, from, latest)
	}
	res, err := p.Up(ctx)
	out := MigrationResult{From: from, To: from}
	for _, r := range res {
		if r.Error != nil {
			continue
		}
		out.Applied = append(out.Applied, r.Source.Path)
		out.To = r.Source.Version
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	if err != nil {
		var perr *goose.PartialError
		if errors.As(err, &perr) && perr.Failed != nil {
			return out, fmt.Errorf("migration %s failed (rolled back; database left at version %d): %w", perr.Failed.Source.Path, out.To, perr.Err)
		}
		return out, fmt.Errorf("migrate: %w", err)
	}
	return out, nil
}

// Version returns the database's schema version and the latest version
// this binary knows.
func (d *DB) Version(ctx context.Context) (current, latest int64, err error) {
	p, err := d.provider(nil)
	if err != nil {
		return 0, 0, err
	}
	return d.versions(ctx, p)
}

// Ready reports nil when the database answers and its schema is exactly the
// version this binary expects.
func (d *DB) Ready(ctx context.Context) error {
	if err := d.Ping(ctx); err != nil {
		return err
	}
	cur, latest, err := d.Version(ctx)
	if err != nil {
		return err
	}
	switch {
	case cur < latest:
		return fmt.Errorf("%w: at version %d, want %d", ErrNotMigrated, cur, latest)
	case cur > latest:
		return fmt.Errorf("%w: at version %d, want %d", ErrTooNew, cur, latest)
	}
	return nil
}

func (d *DB) versions(ctx context.Context, p *goose.Provider) (current, latest int64, err error) {
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

func (d *DB) provider(override fs.FS) (*goose.Provider, error) {
	var (
		gd   goose.Dialect
		fsys fs.FS
		opts = []goose.ProviderOption{goose.WithTableName(migrationsTable), goose.WithDisableGlobalRegistry(true)}
	)
	switch d.Dialect {
	case dialect.SQLite:
		gd, fsys = goose.DialectSQLite3, migrations.SQLite()
	case dialect.Postgres:
		gd, fsys = goose.DialectPostgres, migrations.Postgres()
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, fmt.Errorf("%w: dialect %s", ErrUnsupportedURL, d.Dialect)
	}
	if override != nil {
		fsys = override
	}
	p, err := goose.NewProvider(gd, d.SQL, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}
