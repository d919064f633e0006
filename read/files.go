package read

import (
	"context"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/filetag"
	"github.com/alephql/alephql/ent/predicate"
)

// accountPins selects the message pins (STORE messages) of owner,
// optionally of one file.
func accountPins(owner, fileHash string) []predicate.FilePin {
	ps := []predicate.FilePin{filepin.Owner(owner), filepin.TypeEQ(filepin.TypeMessage)}
	if fileHash != "" {
		ps = append(ps, filepin.FileHash(fileHash))
	}
	return ps
}

// FileCursor is the position of a pin in an address's file list.
type FileCursor struct {
	Created time.Time
	ID      int
}

// AccountFileCursor is the position of pin in AccountFiles.
func AccountFileCursor(pin *ent.FilePin) FileCursor {
	return FileCursor{Created: pin.Created.UTC(), ID: pin.ID}
}

// AccountFiles lists the files an address stored (its STORE messages'
// pins, with their file), by creation time then pin id (descending when
// p.Desc), p.N beyond after (keyset; nil: the start) or from p.Offset;
// more reports rows beyond the page.
func (r *Reader) AccountFiles(ctx context.Context, owner, fileHash string, p Page, after *FileCursor) ([]*ent.FilePin, bool, error) {
	o := ent.Asc
	if p.Desc {
		o = ent.Desc
	}
	q := r.client.FilePin.Query().Where(accountPins(owner, fileHash)...)
	if after != nil {
		q.Where(func(s *sql.Selector) {
			keysetAfter(s, p.Desc, []string{s.C(filepin.FieldCreated), s.C(filepin.FieldID)}, after.Created.UTC(), after.ID)
		})
	}
	rows, err := q.WithFile().Order(o(filepin.FieldCreated), o(filepin.FieldID)).Limit(p.N + 1).Offset(p.Offset).All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(Page{N: p.N}, rows)
	return rows, more, nil
}

// AccountFilesTotal counts an address's stored files (pins) and adds up
// their sizes.
func (r *Reader) AccountFilesTotal(ctx context.Context, owner, fileHash string) (count, size int64, err error) {
	var v []struct {
		N    int64 `json:"n"`
		Size int64 `json:"size"`
	}
	err = r.client.FilePin.Query().Where(accountPins(owner, fileHash)...).Modify(func(s *sql.Selector) {
		t := sql.Table(file.Table)
		s.Join(t).On(s.C(filepin.FieldFileHash), t.C(file.FieldID))
		s.Select(sql.As(sql.Count("*"), "n"), sql.As("COALESCE(SUM("+t.C(file.FieldSize)+"), 0)", "size"))
	}).Scan(ctx, &v)
	if err != nil || len(v) == 0 {
		return 0, 0, err
	}
	return v[0].N, v[0].Size, nil
}

// File returns a file row, nil if unknown.
func (r *Reader) File(ctx context.Context, hash string) (*ent.File, error) {
	f, err := r.client.File.Get(ctx, hash)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return f, err
}

// FilePinCount counts a file's pins of every type.
func (r *Reader) FilePinCount(ctx context.Context, hash string) (int, error) {
	return r.client.FilePin.Query().Where(filepin.FileHash(hash)).Count(ctx)
}

// MessagePin returns the pin a STORE message holds, nil if none.
func (r *Reader) MessagePin(ctx context.Context, itemHash string) (*ent.FilePin, error) {
	p, err := r.client.FilePin.Query().Where(filepin.ItemHash(itemHash), filepin.TypeEQ(filepin.TypeMessage)).
		WithFile().First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return p, err
}

// FileTag returns a file tag (the latest version of a reference), nil if
// none.
func (r *Reader) FileTag(ctx context.Context, tag string) (*ent.FileTag, error) {
	t, err := r.client.FileTag.Query().Where(filetag.ID(tag)).WithFile().First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return t, err
}
