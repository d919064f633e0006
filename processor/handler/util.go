package handler

import (
	"database/sql"
	"errors"
)

// isNoRows reports the error ent returns for ON CONFLICT DO NOTHING that
// inserted nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
