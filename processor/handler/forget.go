package handler

import (
	"context"
	"slices"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/file"
	entmessage "github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/removedmessage"
	"github.com/alephql/alephql/ent/vmvolume"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// ForgetHook is told of every message a FORGET removes, inside the
// transaction, after its effects were undone and before its row goes: the
// pipeline uses it to write the outbox event and adjust the counters.
type ForgetHook func(ctx context.Context, tx *ent.Tx, target *ent.Message, forgetHash string) error

// Forget handles FORGET messages (spec 4.7).
//
// Improvement on the reference node: a target that is already forgotten is
// not a missing dependency (which the reference node retries, then rejects
// with 501): the FORGET is accepted and added to the target's forgotten_by
// list, as the reference node's own process step intends.
type Forget struct {
	deps     Deps
	handlers Registry
	hook     ForgetHook
}

// NewForget returns the FORGET handler. handlers undo the effects of each
// target type; hook (optional) is called for every forgotten message.
func NewForget(deps Deps, handlers Registry, hook ForgetHook) *Forget {
	return &Forget{deps: deps.withDefaults(), handlers: handlers, hook: hook}
}

// forgetContent returns the FORGET content of m.
func forgetContent(m *message.Message) (*message.ForgetContent, error) {
	c, ok := m.Content.(*message.ForgetContent)
	if !ok {
		return nil, errcode.Newf(errcode.InternalError, "FORGET handler got %T content", m.Content)
	}
	return c, nil
}

// FetchRelated implements Handler: nothing to fetch.
func (*Forget) FetchRelated(context.Context, *message.Message) error { return nil }

// CheckBalance implements Handler: FORGET is free.
func (*Forget) CheckBalance(context.Context, *ent.Tx, *message.Message) ([]Cost, error) {
	return nil, nil
}

// targets returns the hashes a FORGET targets: content.hashes, then the
// elements of the named aggregates of the FORGET's owner. It fails with
// 501 when an aggregate has no element.
func (h *Forget) targets(ctx context.Context, tx *ent.Tx, c *message.ForgetContent) ([]string, error) {
	out := slices.Clone(c.Hashes)
	for _, key := range c.Aggregates {
		ids, err := tx.AggregateElement.Query().
			Where(aggregateelement.Owner(c.Address), aggregateelement.Key(key)).IDs(ctx)
		if err != nil {
			return nil, errcode.Wrap(errcode.InternalError, err, "read aggregate elements")
		}
		if len(ids) == 0 {
			return nil, errcode.Newf(errcode.ForgetTargetNotFound, "aggregate %s of %s is not known", key, c.Address).
				Awaiting(errcode.AggregateKey(c.Address, key))
		}
		out = append(out, ids...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// CheckDependencies implements Handler: there must be targets, each known
// (processed, removing or already forgotten) and none used as a VM volume.
func (h *Forget) CheckDependencies(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := forgetContent(m)
	if err != nil {
		return err
	}
	if len(c.Hashes) == 0 && len(c.Aggregates) == 0 {
		return errcode.New(errcode.ForgetNoTarget, "nothing to forget")
	}
	targets, err := h.targets(ctx, tx, c)
	if err != nil {
		return err
	}
	statuses := make(map[string]messagestatus.Status, len(targets))
	usedByVM := make(map[string]bool)
	for _, chunk := range chunks(targets) {
		rows, err := tx.MessageStatus.Query().Where(messagestatus.IDIn(chunk...)).All(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "read target statuses")
		}
		for _, r := range rows {
			statuses[r.ID] = r.Status
		}
		refs, err := tx.VMVolume.Query().Where(vmvolume.RefIn(chunk...)).Select(vmvolume.FieldRef).Strings(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "read vm volumes")
		}
		for _, r := range refs {
			usedByVM[r] = true
		}
	}
	for _, t := range targets {
		st, ok := statuses[t]
		if !ok {
			return errcode.Newf(errcode.ForgetTargetNotFound, "message %s is not known", t).Awaiting(t)
		}
		switch st {
		case messagestatus.StatusPending:
			return errcode.Newf(errcode.ForgetTargetNotFound, "message %s is not processed yet", t).Awaiting(t)
		case messagestatus.StatusProcessed, messagestatus.StatusRemoving:
			if usedByVM[t] {
				return errcode.Newf(errcode.ForgetNotAllowed, "message %s is used as a VM volume", t)
			}
		}
	}
	return nil
}

// chunkSize bounds the parameters of one IN (...) query, well under
// SQLite's and PostgreSQL's limits.
const chunkSize = 500

// chunks splits hashes into slices of at most chunkSize.
func chunks(hashes []string) [][]string {
	var out [][]string
	for len(hashes) > chunkSize {
		out = append(out, hashes[:chunkSize])
		hashes = hashes[chunkSize:]
	}
	if len(hashes) > 0 {
		out = append(out, hashes)
	}
	return out
}

// CheckPermissions implements Handler: for each live target, the target
// must not be a FORGET, and the sender must be allowed to have created it
// (spec 4.1 rules against the target's owner and attributes).
func (h *Forget) CheckPermissions(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := forgetContent(m)
	if err != nil {
		return err
	}
	targets, err := h.targets(ctx, tx, c)
	if err != nil {
		return err
	}
	live := make(map[string]*ent.Message, len(targets))
	for _, chunk := range chunks(targets) {
		rows, err := tx.Message.Query().Where(entmessage.IDIn(chunk...)).All(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "read targets")
		}
		for _, r := range rows {
			live[r.ID] = r
		}
	}
	for _, t := range targets {
		tm, ok := live[t]
		if !ok {
			continue // forgotten, rejected or removed: skipped
		}
		if tm.Type == string(message.TypeForget) {
			return errcode.Newf(errcode.ForgetForget, "message %s is a FORGET", t)
		}
		if err := Authorize(ctx, tx, targetAction(m.Sender, tm)); err != nil {
			return err
		}
	}
	return nil
}

// targetAction is what creating the target would have needed.
func targetAction(sender string, tm *ent.Message) Action {
	a := Action{Sender: sender, Owner: tm.Owner, Chain: tm.Chain, Type: tm.Type}
	if tm.Channel != nil {
		a.Channel, a.HasChan = *tm.Channel, true
	}
	if tm.ContentType != nil {
		a.PostType = *tm.ContentType
	}
	if tm.ContentKey != nil {
		a.AggKey = *tm.ContentKey
	}
	return a
}

// Process implements Handler: it forgets every target and, recursively,
// what their handlers return (the amends of a post).
func (h *Forget) Process(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c, err := forgetContent(m)
	if err != nil {
		return err
	}
	targets, err := h.targets(ctx, tx, c)
	if err != nil {
		return err
	}
	at := message.Timestamp(m.Time)
	queue := targets
	seen := map[string]bool{}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if seen[t] {
			continue
		}
		seen[t] = true
		more, err := h.forgetOne(ctx, tx, t, m.ItemHash, at)
		if err != nil {
			return err
		}
		queue = append(queue, more...)
	}
	return nil
}

// forgetOne forgets one message and returns further hashes to forget.
func (h *Forget) forgetOne(ctx context.Context, tx *ent.Tx, hash, by string, at time.Time) ([]string, error) {
	tm, err := tx.Message.Get(ctx, hash)
	if ent.IsNotFound(err) {
		// Already forgotten: record this FORGET too. Rejected or removed:
		// nothing to do.
		fm, err := tx.ForgottenMessage.Get(ctx, hash)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, errcode.Wrap(errcode.InternalError, err, "read forgotten message")
		}
		if !slices.Contains(fm.ForgottenBy, by) {
			err = tx.ForgottenMessage.UpdateOne(fm).SetForgottenBy(append(fm.ForgottenBy, by)).Exec(ctx)
			if err != nil {
				return nil, errcode.Wrap(errcode.InternalError, err, "update forgotten message")
			}
		}
		return nil, nil
	}
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read target")
	}
	if tm.Type == string(message.TypeForget) {
		return nil, nil // a FORGET is never forgotten
	}
	var more []string
	if th := h.handlers.For(message.Type(tm.Type)); th != nil {
		if more, err = th.Forget(ctx, tx, tm); err != nil {
			return nil, err
		}
	}
	size := tm.Size
	if tm.ContentItemHash != nil {
		if f, err := tx.File.Query().Where(file.ID(*tm.ContentItemHash)).Only(ctx); err == nil {
			size = f.Size
		}
	}
	payment := "hold"
	if tm.PaymentType != nil {
		payment = *tm.PaymentType
	}
	err = tx.ForgottenMessage.Create().
		SetID(tm.ID).SetType(tm.Type).SetChain(tm.Chain).SetSender(tm.Sender).
		SetNillableSignature(tm.Signature).SetItemType(tm.ItemType).SetTime(tm.Time).
		SetNillableChannel(tm.Channel).SetOwner(tm.Owner).SetPaymentType(payment).
		SetSize(size).SetForgottenBy([]string{by}).SetForgottenAt(at).
		Exec(ctx)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "insert forgotten message")
	}
	if h.hook != nil {
		if err := h.hook(ctx, tx, tm, by); err != nil {
			return nil, err
		}
	}
	if _, err := tx.RemovedMessage.Delete().Where(removedmessage.ID(tm.ID)).Exec(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "delete removed message")
	}
	// Confirmations, tags and costs go with the row (ON DELETE CASCADE).
	if err := tx.Message.DeleteOneID(tm.ID).Exec(ctx); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "delete message")
	}
	err = tx.MessageStatus.UpdateOneID(tm.ID).
		SetStatus(messagestatus.StatusForgotten).SetUpdatedAt(h.deps.Now().UTC()).Exec(ctx)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "update status")
	}
	return more, nil
}

// Forget implements Handler: FORGET messages cannot be forgotten.
func (*Forget) Forget(context.Context, *ent.Tx, *ent.Message) ([]string, error) {
	return nil, nil
}

// Interface guards
var _ Handler = (*Forget)(nil)
