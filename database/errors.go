package database

import "errors"

// ErrUnsupportedURL means the database URL names neither SQLite nor
// PostgreSQL.
var ErrUnsupportedURL = errors.New("unsupported database URL")

// ErrUnreachable means the database could not be opened or did not answer.
var ErrUnreachable = errors.New("database unreachable")

// ErrNotMigrated means the database's schema is older than this binary's
// migrations.
var ErrNotMigrated = errors.New("database schema is not up to date")

// ErrTooNew means the database was migrated by a newer alephql than this
// one; running against it could corrupt data.
var ErrTooNew = errors.New("database schema is newer than this binary")
