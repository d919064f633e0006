// Package migrations embeds alephql's versioned SQL migrations, one
// directory per dialect, in pressly/goose format. They are written by
// `make migrate-diff NAME=...` (atlas diffs the ent schema against the
// replayed directory) and committed; never edit an applied migration, add a
// new one.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// SQLite returns the SQLite migrations.
func SQLite() fs.FS { return sub("sqlite") }

// Postgres returns the PostgreSQL migrations.
func Postgres() fs.FS { return sub("postgres") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// The directories are embedded at compile time; a failure here is a
		// build defect, not a runtime condition.
		panic(err)
	}
	return f
}
