package database

import (
	"context"
	"io/fs"
	"log/slog"
)

// MigrateFS applies the migrations of fsys instead of the embedded ones, so
// that tests can simulate the next version's migrations.
func (d *DB) MigrateFS(ctx context.Context, fsys fs.FS, log *slog.Logger) (MigrationResult, error) {
	return d.migrate(ctx, fsys, log)
}
