package handler

import (
	"context"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// amendType is the POST type of amends.
const amendType = "amend"

// Post handles POST messages and their amends (spec 4.2).
type Post struct {
	Base
	deps    Deps
	dialect string
}

// NewPost returns the POST handler. dialectName is the database's dialect
// (for locking).
func NewPost(deps Deps, dialectName string) *Post {
	return &Post{deps: deps.withDefaults(), dialect: dialectName}
}

// postContent returns the POST content of m.
func postContent(m *message.Message) (*message.PostContent, error) {
	c, ok := m.Content.(*message.PostContent)
	if !ok {
		return nil, errcode.Newf(errcode.InternalError, "POST handler got %T content", m.Content)
	}
	return c, nil
}

// CheckDependencies implements Handler: an amend needs its original, which
// must not be an amend itself.
func (h *Post) CheckDependencies(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := postContent(m)
	if err != nil {
		return err
	}
	if c.Type != amendType {
		return nil
	}
	if c.Ref == "" {
		return errcode.Field(errcode.PostAmendNoTarget, "content.ref", "an amend needs a ref")
	}
	orig, err := tx.Post.Get(ctx, c.Ref)
	if ent.IsNotFound(err) {
		return h.forgottenOriginal(ctx, tx, m, c)
	}
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read amended post")
	}
	if orig.Type == amendType {
		return errcode.Newf(errcode.PostAmendAmend, "post %s is itself an amend", c.Ref)
	}
	return nil
}

// forgottenOriginal decides about an amend whose original is not a post:
// when a FORGET removed the original (a POST in forgotten_messages), the
// amend is forgotten with it (*ForgottenTargetError), provided it would
// have been allowed to amend it (same owner, the sender authorized for
// the original's chain and channel; the original's post type is gone, so
// a delegation restricted to post types does not cover it). Otherwise
// the amend waits for its original.
func (h *Post) forgottenOriginal(ctx context.Context, tx *ent.Tx, m *message.Message, c *message.PostContent) error {
	fm, err := tx.ForgottenMessage.Get(ctx, c.Ref)
	switch {
	case ent.IsNotFound(err) || err == nil && fm.Type != string(message.TypePost):
		return errcode.Newf(errcode.PostAmendTargetNotFound, "amended post %s is not known", c.Ref).Awaiting(c.Ref)
	case err != nil:
		return errcode.Wrap(errcode.InternalError, err, "read forgotten post")
	}
	if !strings.EqualFold(fm.Owner, c.Address) {
		return errcode.Newf(errcode.PermissionDenied, "amend owner %s differs from the original's %s", c.Address, fm.Owner)
	}
	a := Action{Sender: m.Sender, Owner: fm.Owner, Type: string(message.TypePost), Chain: fm.Chain}
	if fm.Channel != nil {
		a.Channel, a.HasChan = *fm.Channel, true
	}
	if err := Authorize(ctx, tx, a); err != nil {
		return err
	}
	return &ForgottenTargetError{Target: c.Ref, By: fm.ForgottenBy, At: fm.ForgottenAt}
}

// CheckPermissions implements Handler: an amend must keep the original's
// owner, and its sender must be allowed to post what the original is (its
// chain, channel and post type); other posts follow the default rule.
func (h *Post) CheckPermissions(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := postContent(m)
	if err != nil {
		return err
	}
	if c.Type != amendType {
		return CheckDefaultPermissions(ctx, tx, m)
	}
	orig, err := tx.Post.Get(ctx, c.Ref)
	if ent.IsNotFound(err) {
		return CheckDefaultPermissions(ctx, tx, m)
	}
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read amended post")
	}
	if !strings.EqualFold(orig.Owner, c.Address) {
		return errcode.Newf(errcode.PermissionDenied, "amend owner %s differs from the original's %s", c.Address, orig.Owner)
	}
	a := Action{Sender: m.Sender, Owner: orig.Owner, Type: string(message.TypePost), PostType: orig.Type}
	if orig.Channel != nil {
		a.Channel, a.HasChan = *orig.Channel, true
	}
	a.Chain = string(m.Chain)
	if om, err := tx.Message.Get(ctx, c.Ref); err == nil {
		a.Chain = om.Chain
	} else if !ent.IsNotFound(err) {
		return errcode.Wrap(errcode.InternalError, err, "read amended message")
	}
	return Authorize(ctx, tx, a)
}

// Process implements Handler: it writes the post, moves the original's
// latest amend when the amend is newer (by content time, then hash), and
// applies the post effects.
func (h *Post) Process(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := postContent(m)
	if err != nil {
		return err
	}
	created := message.Timestamp(c.Time)
	q := tx.Post.Create().
		SetID(m.ItemHash).
		SetOwner(c.Address).
		SetType(c.Type).
		SetCreationDatetime(created).
		SetTags(c.Tags())
	if c.Ref != "" {
		q.SetRef(c.Ref)
	}
	if m.HasChannel {
		q.SetChannel(m.Channel)
	}
	if len(c.Content) > 0 {
		q.SetContent(c.Content)
	}
	if c.Type == amendType {
		q.SetAmends(c.Ref)
	}
	if b := BatchFrom(ctx); b != nil && c.Type != amendType {
		b.DeferPost(q)
	} else if err := q.OnConflictColumns(post.FieldID).DoNothing().Exec(ctx); err != nil && !isNoRows(err) {
		return errcode.Wrap(errcode.InternalError, err, "insert post")
	}
	if c.Type == amendType {
		if err := h.amend(ctx, tx, c.Ref, m.ItemHash, created); err != nil {
			return err
		}
	}
	for _, e := range h.deps.PostEffects {
		if e.Applies(m) {
			if err := e.Apply(ctx, tx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// amend makes hash the latest amend of orig if it is newer than the
// current one. Ties on content time go to the larger hash, so every node
// agrees whatever the arrival order (the reference node keeps the first
// processed).
func (h *Post) amend(ctx context.Context, tx *ent.Tx, orig, hash string, created time.Time) error {
	if err := Lock(ctx, tx, h.dialect, "post:"+orig); err != nil {
		return err
	}
	o, err := tx.Post.Get(ctx, orig)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "read amended post")
	}
	if o.LatestAmend != nil {
		cur, err := tx.Post.Get(ctx, *o.LatestAmend)
		if err != nil && !ent.IsNotFound(err) {
			return errcode.Wrap(errcode.InternalError, err, "read latest amend")
		}
		if err == nil && !newer(created, hash, cur.CreationDatetime, cur.ID) {
			return nil
		}
	}
	if err := tx.Post.UpdateOneID(orig).SetLatestAmend(hash).Exec(ctx); err != nil {
		return errcode.Wrap(errcode.InternalError, err, "set latest amend")
	}
	return nil
}

// newer orders by time, then hash.
func newer(t time.Time, hash string, than time.Time, thanHash string) bool {
	if !t.Equal(than) {
		return t.After(than)
	}
	return hash > thanHash
}

// Forget implements Handler: it deletes the post; forgetting an original
// forgets its amends (returned), forgetting an amend recomputes the
// original's latest amend from the remaining ones.
func (h *Post) Forget(ctx context.Context, tx *ent.Tx, target *ent.Message) ([]string, error) {
	if err := flushBatch(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "flush batch")
	}
	p, err := tx.Post.Get(ctx, target.ID)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read post")
	}
	amends, err := tx.Post.Query().Where(post.Amends(p.ID)).IDs(ctx)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read amends")
	}
	if len(amends) > 0 {
		// The original row must outlive its amends' rows (foreign key):
		// clear the links now, the amends are forgotten next.
		if _, err := tx.Post.Update().Where(post.Amends(p.ID)).ClearAmends().Save(ctx); err != nil {
			return nil, errcode.Wrap(errcode.InternalError, err, "unlink amends")
		}
	}
	if err := tx.Post.DeleteOneID(p.ID).Exec(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "delete post")
	}
	if p.Amends != nil {
		if err := h.recomputeLatest(ctx, tx, *p.Amends); err != nil {
			return nil, err
		}
	}
	return amends, nil
}

// recomputeLatest sets the latest amend of orig from its amends.
func (h *Post) recomputeLatest(ctx context.Context, tx *ent.Tx, orig string) error {
	if err := Lock(ctx, tx, h.dialect, "post:"+orig); err != nil {
		return err
	}
	latest, err := tx.Post.Query().Where(post.Amends(orig)).
		Order(post.ByCreationDatetime(sql.OrderDesc()), post.ByID(sql.OrderDesc())).
		First(ctx)
	upd := tx.Post.Update().Where(post.ID(orig))
	switch {
	case ent.IsNotFound(err):
		upd.ClearLatestAmend()
	case err != nil:
		return errcode.Wrap(errcode.InternalError, err, "read amends")
	default:
		upd.SetLatestAmend(latest.ID)
	}
	if _, err := upd.Save(ctx); err != nil {
		return errcode.Wrap(errcode.InternalError, err, "set latest amend")
	}
	return nil
}

// Interface guards
var _ Handler = (*Post)(nil)
