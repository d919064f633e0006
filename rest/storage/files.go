package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
)

// FileInfo is what the routes need of a files row.
type FileInfo struct {
	Size int64
	Dir  bool
}

// Files is the database side of the routes.
type Files interface {
	// File returns the files row of hash, or an error wrapping ErrNotFound.
	File(ctx context.Context, hash string) (FileInfo, error)
	// RecordUpload upserts the files row of an unauthenticated upload and
	// its grace-period pin, which keeps it until graceUntil.
	RecordUpload(ctx context.Context, hash string, size int64, now, graceUntil time.Time) error
}

// EntFiles implements Files with ent.
type EntFiles struct {
	Client *ent.Client
}

// File implements Files.
func (f EntFiles) File(ctx context.Context, hash string) (FileInfo, error) {
	row, err := f.Client.File.Get(ctx, hash)
	if ent.IsNotFound(err) {
		return FileInfo{}, fmt.Errorf("file %s: %w", hash, ErrNotFound)
	}
	if err != nil {
		return FileInfo{}, fmt.Errorf("file %s: %w", hash, err)
	}
	return FileInfo{Size: row.Size, Dir: row.Type == file.TypeDir}, nil
}

// RecordUpload implements Files. A second upload of the same file moves
// its grace period to the later end; it never shortens one.
func (f EntFiles) RecordUpload(ctx context.Context, hash string, size int64, now, graceUntil time.Time) (err error) {
	tx, err := f.Client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("record upload %s: %w", hash, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	err = tx.File.Create().SetID(hash).SetSize(size).SetType(file.TypeFile).SetCreatedAt(now).
		OnConflictColumns(file.FieldID).UpdateSize().UpdateType().Exec(ctx)
	if err != nil {
		return fmt.Errorf("record upload %s: file: %w", hash, err)
	}
	pin, err := tx.FilePin.Query().Where(filepin.FileHash(hash), filepin.TypeEQ(filepin.TypeGracePeriod), filepin.ItemHash("")).
		First(ctx)
	switch {
	case ent.IsNotFound(err):
		err = tx.FilePin.Create().SetFileHash(hash).SetType(filepin.TypeGracePeriod).SetCreated(now).
			SetDeleteBy(graceUntil).Exec(ctx)
	case err == nil && (pin.DeleteBy == nil || pin.DeleteBy.Before(graceUntil)):
		err = pin.Update().SetDeleteBy(graceUntil).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("record upload %s: grace pin: %w", hash, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record upload %s: %w", hash, err)
	}
	return nil
}

// Interface guards
var _ Files = EntFiles{}
