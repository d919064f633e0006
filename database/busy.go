package database

import (
	"errors"

	"modernc.org/sqlite"
)

// SQLite's primary result codes for a lock held by another connection.
const (
	sqliteBusy   = 5 // SQLITE_BUSY
	sqliteLocked = 6 // SQLITE_LOCKED
)

// IsBusy reports whether err is SQLite's "database is locked": another
// connection held the write lock for longer than the busy timeout. It is
// transient: the same statement may succeed when tried again.
func IsBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff // extended codes keep the primary one in the low byte
	return code == sqliteBusy || code == sqliteLocked
}
