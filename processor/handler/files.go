package handler

import (
	"context"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/filetag"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// FileTag is the tag a STORE writes (pyaleph make_file_tag): its own item
// hash without ref, the ref when it is an item hash, "owner/ref" for a
// free-text ref.
func FileTag(owner, ref, itemHash string) string {
	if ref == "" {
		return itemHash
	}
	if _, ok := message.StrictItemType(ref); ok {
		return ref
	}
	return owner + "/" + ref
}

// messagePin returns the pin of STORE message itemHash, or nil.
func messagePin(ctx context.Context, tx *ent.Tx, itemHash string) (*ent.FilePin, error) {
	p, err := tx.FilePin.Query().Where(filepin.ItemHash(itemHash), filepin.TypeEQ(filepin.TypeMessage)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read file pin")
	}
	return p, nil
}

// refFile returns the file a volume refers to: the latest version of tag
// ref when useLatest, the file of STORE message ref otherwise; nil when
// unknown.
func refFile(ctx context.Context, tx *ent.Tx, ref string, useLatest bool) (*ent.File, error) {
	var hash string
	if useLatest {
		t, err := tx.FileTag.Get(ctx, ref)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, errcode.Wrap(errcode.InternalError, err, "read file tag")
		}
		hash = t.FileHash
	} else {
		p, err := messagePin(ctx, tx, ref)
		if err != nil || p == nil {
			return nil, err
		}
		hash = p.FileHash
	}
	f, err := tx.File.Get(ctx, hash)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read file")
	}
	return f, nil
}

// txSizer resolves file sizes for the cost model inside a transaction.
type txSizer struct{ tx *ent.Tx }

// FileSize implements cost.FileSizer.
func (s txSizer) FileSize(ctx context.Context, hash string) (int64, bool, error) {
	f, err := s.tx.File.Get(ctx, hash)
	if ent.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, errcode.Wrap(errcode.InternalError, err, "read file")
	}
	return f.Size, true, nil
}

// RefSize implements cost.FileSizer.
func (s txSizer) RefSize(ctx context.Context, ref string, useLatest bool) (int64, bool, error) {
	f, err := refFile(ctx, s.tx, ref, useLatest)
	if err != nil || f == nil {
		return 0, false, err
	}
	return f.Size, true, nil
}

// recordFile upserts a files row with the size seen by the fetch stage.
func recordFile(ctx context.Context, client *ent.Client, hash string, size int64, dir bool, now time.Time) error {
	typ := file.TypeFile
	if dir {
		typ = file.TypeDir
	}
	err := client.File.Create().SetID(hash).SetSize(size).SetType(typ).SetCreatedAt(now).
		OnConflictColumns(file.FieldID).UpdateSize().UpdateType().Exec(ctx)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "record file")
	}
	return nil
}

// refreshTag points tag at the newest remaining STORE version, or deletes
// it when none is left. Versions of a hash tag are the pins whose item
// hash or ref is the tag (pyaleph refresh_file_tag); versions of an
// "owner/ref" tag are that owner's pins with that ref, which the reference
// node never finds (it deletes such tags instead: an improvement).
func refreshTag(ctx context.Context, tx *ent.Tx, tag, owner, ref string) error {
	q := tx.FilePin.Query().Where(filepin.TypeEQ(filepin.TypeMessage))
	if ref != "" && tag == owner+"/"+ref {
		q = q.Where(filepin.Owner(owner), filepin.Ref(ref))
	} else {
		q = q.Where(filepin.Or(filepin.ItemHash(tag), filepin.Ref(tag)))
	}
	latest, err := q.Order(ent.Desc(filepin.FieldCreated), ent.Desc(filepin.FieldItemHash)).First(ctx)
	if ent.IsNotFound(err) {
		if _, err := tx.FileTag.Delete().Where(filetag.ID(tag)).Exec(ctx); err != nil {
			return errcode.Wrap(errcode.InternalError, err, "delete file tag")
		}
		return nil
	}
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read file pins")
	}
	n, err := tx.FileTag.Update().Where(filetag.ID(tag)).SetFileHash(latest.FileHash).
		SetItemHash(latest.ItemHash).SetLastUpdated(latest.Created).Save(ctx)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "update file tag")
	}
	if n == 0 {
		o := owner
		if latest.Owner != nil {
			o = *latest.Owner
		}
		if err := tx.FileTag.Create().SetID(tag).SetOwner(o).SetFileHash(latest.FileHash).
			SetItemHash(latest.ItemHash).SetLastUpdated(latest.Created).Exec(ctx); err != nil {
			return errcode.Wrap(errcode.InternalError, err, "create file tag")
		}
	}
	return nil
}

// gracePin keeps a file that lost its last pin for the grace period: the
// garbage collector deletes it once delete_by has passed, unless a new pin
// comes first.
func gracePin(ctx context.Context, tx *ent.Tx, hash string, now time.Time, grace time.Duration) error {
	n, err := tx.FilePin.Query().Where(filepin.FileHash(hash)).Count(ctx)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "count file pins")
	}
	if n > 0 {
		return nil
	}
	if err := tx.FilePin.Create().SetFileHash(hash).SetType(filepin.TypeGracePeriod).SetCreated(now).
		SetItemHash("").SetDeleteBy(now.Add(grace)).Exec(ctx); err != nil {
		return errcode.Wrap(errcode.InternalError, err, "insert grace period pin")
	}
	return nil
}

// Interface guards
var _ cost.FileSizer = txSizer{}
