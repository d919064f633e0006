package database

import (
	"errors"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// sqliteFull is SQLite's primary result code for "database or disk is
// full" (SQLITE_FULL).
const sqliteFull = 13

// IsFull reports whether err means the disk (or the database's quota) is
// full: SQLite's SQLITE_FULL, PostgreSQL's class 53 "insufficient
// resources" disk_full (53100), or ENOSPC from a file write. Nothing was
// written; the same write may succeed once space is freed, so the API
// answers it 507 (GraphQL code INSUFFICIENT_STORAGE), never 500.
func IsFull(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteFull {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "53100" {
		return true
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
