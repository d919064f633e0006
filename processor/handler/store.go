package handler

import (
	"context"
	"errors"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/filetag"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// pinThreshold is the IPFS file size above which a file is pinned rather
// than downloaded (pyaleph: files/stat size > 1 MiB, or a directory).
const pinThreshold = 1 << 20

// Store handles STORE messages (spec 4.4): file records, pins and tags.
//
// Improvement on the reference node: forgetting a version of an
// "owner/ref" tag points the tag back at the newest remaining version of
// that owner's ref; the reference node deletes the tag.
type Store struct {
	deps    Deps
	client  *ent.Client
	dialect string
}

// NewStore returns the STORE handler. client records file sizes in the
// fetch stage (outside the batch transaction, as the reference node does);
// dialectName is the database's dialect (for locking).
func NewStore(deps Deps, client *ent.Client, dialectName string) *Store {
	return &Store{deps: deps.withDefaults(), client: client, dialect: dialectName}
}

// storeContent returns the STORE content of m.
func storeContent(m *message.Message) (*message.StoreContent, error) {
	c, ok := m.Content.(*message.StoreContent)
	if !ok {
		return nil, errcode.Newf(errcode.InternalError, "STORE handler got %T content", m.Content)
	}
	return c, nil
}

// FetchRelated implements Handler: the file's item_type must match its
// hash (else INVALID_FORMAT), then the file is made available and its size
// recorded: a large IPFS file or directory is pinned, a small one and a
// storage file are downloaded. An unavailable file is FILE_UNAVAILABLE
// (retried).
func (h *Store) FetchRelated(ctx context.Context, m *message.Message) error {
	c, err := storeContent(m)
	if err != nil {
		return err
	}
	inferred, ok := message.InferItemType(c.ItemHash)
	if !ok || inferred != c.ItemType {
		return errcode.Field(errcode.InvalidFormat, "content.item_type",
			"item_type "+string(c.ItemType)+" does not match the item hash "+c.ItemHash)
	}
	size, dir := int64(0), false
	if c.ItemType == message.ItemIPFS {
		if size, dir, err = h.deps.Storage.Stat(ctx, c.ItemHash); err != nil {
			return fileUnavailable(c.ItemHash, err)
		}
		if dir || size > pinThreshold {
			if err := h.deps.Storage.Pin(ctx, c.ItemHash); err != nil {
				return fileUnavailable(c.ItemHash, err)
			}
			return recordFile(ctx, h.client, c.ItemHash, size, dir, h.deps.Now().UTC())
		}
	}
	b, err := h.deps.Storage.Get(ctx, c.ItemHash, h.deps.Config.MaxFileSize)
	if err != nil {
		return fileUnavailable(c.ItemHash, err)
	}
	return recordFile(ctx, h.client, c.ItemHash, int64(len(b)), false, h.deps.Now().UTC())
}

// fileUnavailable wraps a storage failure as FILE_UNAVAILABLE.
func fileUnavailable(hash string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return errcode.Wrap(errcode.FileUnavailable, err, "file "+hash+" is not available")
}

// CheckDependencies implements Handler: a ref that is an item hash must be
// a known STORE (else STORE_REF_NOT_FOUND, retried) that is not itself an
// update (STORE_UPDATE_UPDATE). A free-text ref has no dependency.
func (h *Store) CheckDependencies(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := storeContent(m)
	if err != nil {
		return err
	}
	if c.Ref == "" {
		return nil
	}
	if _, ok := message.StrictItemType(c.Ref); !ok {
		return nil
	}
	pin, err := messagePin(ctx, tx, c.Ref)
	if err != nil {
		return err
	}
	if pin == nil {
		return errcode.Newf(errcode.StoreRefNotFound, "referenced STORE %s is not known", c.Ref).Awaiting(c.Ref)
	}
	if pin.Ref != nil {
		return errcode.Newf(errcode.StoreUpdateUpdate, "referenced STORE %s is itself an update of %s", c.Ref, *pin.Ref)
	}
	return nil
}

// CheckPermissions implements Handler: the default rule, and a tag that
// exists must belong to the message's owner.
func (h *Store) CheckPermissions(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	if err := CheckDefaultPermissions(ctx, tx, m); err != nil {
		return err
	}
	c, err := storeContent(m)
	if err != nil {
		return err
	}
	if c.Ref == "" {
		return nil
	}
	tag, err := tx.FileTag.Get(ctx, FileTag(c.Address, c.Ref, m.ItemHash))
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read file tag")
	}
	if tag.Owner != c.Address {
		return errcode.Newf(errcode.PermissionDenied, "%s attempts to update a file tag belonging to another user", m.ItemHash)
	}
	return nil
}

// CheckBalance implements Handler (spec 5.4): the cost rows are always
// returned; they are checked unless the STORE is free (sent before the
// free cut-off), after the credit-only cut-off only credits are accepted,
// and a small hold STORE needs no balance.
func (h *Store) CheckBalance(ctx context.Context, tx *ent.Tx, m *message.Message) ([]Cost, error) {
	c, err := storeContent(m)
	if err != nil {
		return nil, err
	}
	costs, total, err := computeCosts(ctx, tx, h.deps.Config, m)
	if err != nil {
		return nil, err
	}
	rules := h.deps.Config.Rules()
	// Confirmations are recorded after the checks: an incoming message is
	// judged by its time, as on the reference node.
	if rules.Free(m.Time, nil) {
		return costs, nil
	}
	pt := cost.PaymentOf(c)
	if rules.CreditOnly(m.Time) && pt != message.PaymentCredit {
		return nil, errcode.New(errcode.InvalidPaymentMethod, "STORE messages must pay with credits")
	}
	if pt == message.PaymentHold {
		size, ok, err := txSizer{tx}.FileSize(ctx, c.ItemHash)
		if err != nil {
			return nil, err
		}
		if ok && size > 0 && size <= rules.MaxFreeStoreSize {
			return costs, nil
		}
	}
	if err := ValidateBalance(ctx, tx, c.Address, total, pt, h.deps.Now()); err != nil {
		return nil, err
	}
	return costs, nil
}

// Process implements Handler: the message pins its file and becomes the
// tag's version when it is newer than the current one.
func (h *Store) Process(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := storeContent(m)
	if err != nil {
		return err
	}
	created := message.Timestamp(c.Time)
	pin := tx.FilePin.Create().SetFileHash(c.ItemHash).SetType(filepin.TypeMessage).
		SetOwner(c.Address).SetItemHash(m.ItemHash).SetCreated(created)
	if c.Ref != "" {
		pin.SetRef(c.Ref)
	}
	if err := pin.Exec(ctx); err != nil {
		return errcode.Wrap(errcode.InternalError, err, "insert file pin")
	}
	tag := FileTag(c.Address, c.Ref, m.ItemHash)
	if err := Lock(ctx, tx, h.dialect, "file_tag:"+tag); err != nil {
		return err
	}
	cur, err := tx.FileTag.Get(ctx, tag)
	switch {
	case ent.IsNotFound(err):
		err = tx.FileTag.Create().SetID(tag).SetOwner(c.Address).SetFileHash(c.ItemHash).
			SetItemHash(m.ItemHash).SetLastUpdated(created).Exec(ctx)
	case err != nil:
	case cur.LastUpdated.Before(created):
		err = tx.FileTag.Update().Where(filetag.ID(tag)).SetFileHash(c.ItemHash).
			SetItemHash(m.ItemHash).SetLastUpdated(created).Exec(ctx)
	}
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "upsert file tag")
	}
	return nil
}

// Forget implements Handler: the message's pin goes, its tag points at the
// newest remaining version (or goes), and a file left without any pin gets
// a grace-period pin (Config.GracePeriod) before the garbage collector may
// delete it.
func (h *Store) Forget(ctx context.Context, tx *ent.Tx, target *ent.Message) ([]string, error) {
	if target.ContentItemHash == nil {
		return nil, errcode.Newf(errcode.InternalError, "STORE %s has no file hash", target.ID)
	}
	fileHash := *target.ContentItemHash
	ref := ""
	if target.ContentRef != nil {
		ref = *target.ContentRef
	}
	if _, err := tx.FilePin.Delete().Where(filepin.ItemHash(target.ID), filepin.TypeEQ(filepin.TypeMessage)).Exec(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "delete file pin")
	}
	tag := FileTag(target.Owner, ref, target.ID)
	if err := Lock(ctx, tx, h.dialect, "file_tag:"+tag); err != nil {
		return nil, err
	}
	if err := refreshTag(ctx, tx, tag, target.Owner, ref); err != nil {
		return nil, err
	}
	if err := gracePin(ctx, tx, fileHash, h.deps.Now().UTC(), h.deps.Config.GracePeriod); err != nil {
		return nil, err
	}
	return nil, nil
}

// Interface guards
var _ Handler = (*Store)(nil)
