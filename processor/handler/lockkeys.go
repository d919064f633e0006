package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"entgo.io/ent/dialect"

	"github.com/alephql/alephql/ent"
	entmessage "github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// Lock order. A handler takes transaction-scoped advisory locks (Lock)
// while it processes a message: the aggregate it merges into, the
// original post an amend moves, the balances or credits a post changes,
// the file tag a STORE versions. Taken one by one in message order, two
// transactions applying overlapping batches (archives expanded in
// parallel, the process stage beside an import) could take two keys in
// opposite orders and deadlock. So the pipeline asks every handler for
// the keys its messages will lock (Locker), and takes them all at once,
// sorted, at the start of the batch transaction, before any write
// (LockBatch): afterwards a handler's own Lock of a key is re-entrant and
// never waits. A key no handler predicted (a VM's version root) is still
// taken in message order.

// Locker is implemented by handlers that take advisory locks while
// processing: LockKeys returns the keys (as given to Lock) that checking
// and processing ms may lock. Extra keys only serialize more; a missing
// one loses the deadlock freedom for that key.
type Locker interface {
	LockKeys(ctx context.Context, tx *ent.Tx, ms []*message.Message) ([]string, error)
}

// EffectLocker is Locker for a PostEffect: the keys its Apply locks for
// m, a POST it applies to.
type EffectLocker interface {
	LockKeys(m *message.Message) []string
}

// LockBatch takes, in one statement and sorted, the advisory locks that
// the handlers of reg will take while applying ms (see Locker), after the
// forget lock when ms hold a FORGET. It is a no-op on SQLite.
func LockBatch(ctx context.Context, tx *ent.Tx, dialectName string, reg Registry, ms []*message.Message) error {
	if dialectName != dialect.Postgres {
		return nil
	}
	for _, m := range ms {
		if m != nil && m.Type == message.TypeForget {
			if err := lockForget(ctx, tx, false); err != nil {
				return err
			}
			break
		}
	}
	keys, err := BatchLockKeys(ctx, tx, reg, ms)
	if err != nil {
		return err
	}
	return LockAll(ctx, tx, dialectName, keys)
}

// forgetLock is the advisory lock a batch holding FORGETs takes
// exclusively, first: a FORGET deletes messages rows, one by one, in its
// targets' order; a transaction that writes existing messages rows beside
// it (the confirmations of known messages in a chain transaction, which
// update their first confirmation) takes it shared, before any write
// (LockAgainstForget), so the two never hold rows the other waits for.
const forgetLock = "forget"

// LockAgainstForget takes the forget lock shared (PostgreSQL only): call
// it before the first write of a transaction that will write messages
// rows it did not insert.
func LockAgainstForget(ctx context.Context, tx *ent.Tx, dialectName string) error {
	if dialectName != dialect.Postgres {
		return nil
	}
	return lockForget(ctx, tx, true)
}

// lockForget takes the forget lock, shared or exclusive.
func lockForget(ctx context.Context, tx *ent.Tx, shared bool) error {
	fn := "pg_advisory_xact_lock"
	if shared {
		fn = "pg_advisory_xact_lock_shared"
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+fn+"($1)", lockID(forgetLock))
	if err != nil {
		return errcode.Wrap(errcode.InternalError, fmt.Errorf("forget lock: %w", err), "lock")
	}
	return rows.Close()
}

// BatchLockKeys returns the sorted, distinct keys LockBatch locks.
func BatchLockKeys(ctx context.Context, tx *ent.Tx, reg Registry, ms []*message.Message) ([]string, error) {
	byType := map[message.Type][]*message.Message{}
	for _, m := range ms {
		if m != nil && m.Content != nil {
			byType[m.Type] = append(byType[m.Type], m)
		}
	}
	var keys []string
	for t, ms := range byType {
		l, ok := reg.For(t).(Locker)
		if !ok {
			continue
		}
		ks, err := l.LockKeys(ctx, tx, ms)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// LockKeys implements Locker: an amend locks its original, and each post
// effect what it changes.
func (h *Post) LockKeys(_ context.Context, _ *ent.Tx, ms []*message.Message) ([]string, error) {
	var keys []string
	for _, m := range ms {
		c, ok := m.Content.(*message.PostContent)
		if !ok {
			continue
		}
		if c.Type == amendType && c.Ref != "" {
			keys = append(keys, "post:"+c.Ref)
		}
		for _, e := range h.deps.PostEffects {
			if l, ok := e.(EffectLocker); ok && e.Applies(m) {
				keys = append(keys, l.LockKeys(m)...)
			}
		}
	}
	return keys, nil
}

// LockKeys implements Locker: the aggregate each element merges into.
func (h *Aggregate) LockKeys(_ context.Context, _ *ent.Tx, ms []*message.Message) ([]string, error) {
	var keys []string
	for _, m := range ms {
		if c, ok := m.Content.(*message.AggregateContent); ok && c.Address != h.deps.Config.FrozenAggregateOwner {
			keys = append(keys, aggKey(c.Address, c.Key))
		}
	}
	return keys, nil
}

// LockKeys implements Locker: the tag each STORE versions.
func (h *Store) LockKeys(_ context.Context, _ *ent.Tx, ms []*message.Message) ([]string, error) {
	var keys []string
	for _, m := range ms {
		if c, ok := m.Content.(*message.StoreContent); ok {
			keys = append(keys, "file_tag:"+FileTag(c.Address, c.Ref, m.ItemHash))
		}
	}
	return keys, nil
}

// LockKeys implements Locker: what forgetting each target locks (the
// original of an amend, an element's aggregate, a STORE's tag), read from
// the targets' messages rows in one query per 500 targets.
func (h *Forget) LockKeys(ctx context.Context, tx *ent.Tx, ms []*message.Message) ([]string, error) {
	var keys, hashes []string
	for _, m := range ms {
		c, ok := m.Content.(*message.ForgetContent)
		if !ok {
			continue
		}
		hashes = append(hashes, c.Hashes...)
		for _, k := range c.Aggregates {
			keys = append(keys, aggKey(c.Address, k))
		}
	}
	slices.Sort(hashes)
	for _, chunk := range chunks(slices.Compact(hashes)) {
		rows, err := tx.Message.Query().Where(entmessage.IDIn(chunk...)).
			Select(entmessage.FieldID, entmessage.FieldType, entmessage.FieldOwner, entmessage.FieldContentType,
				entmessage.FieldContentRef, entmessage.FieldContentKey).All(ctx)
		if err != nil {
			return nil, errcode.Wrap(errcode.InternalError, err, "read forget targets")
		}
		for _, r := range rows {
			ref := ""
			if r.ContentRef != nil {
				ref = *r.ContentRef
			}
			switch message.Type(r.Type) {
			case message.TypePost:
				// An original's row goes (its amends' rows point to it);
				// an amend moves its original's latest amend.
				keys = append(keys, "post:"+r.ID)
				if r.ContentType != nil && *r.ContentType == amendType && ref != "" {
					keys = append(keys, "post:"+ref)
				}
			case message.TypeAggregate:
				if r.ContentKey != nil {
					keys = append(keys, aggKey(r.Owner, *r.ContentKey))
				}
			case message.TypeStore:
				keys = append(keys, "file_tag:"+FileTag(r.Owner, ref, r.ID))
			}
		}
	}
	return keys, nil
}

// LockKeys implements EffectLocker: the balances of the post's chain and
// dapp.
func (e *BalancesEffect) LockKeys(m *message.Message) []string {
	c := postOf(m)
	var body struct {
		Chain *string `json:"chain"`
		Dapp  *string `json:"dapp"`
	}
	if c == nil || json.Unmarshal(c.Content, &body) != nil || body.Chain == nil {
		return nil
	}
	dapp := ""
	if body.Dapp != nil {
		dapp = *body.Dapp
	}
	return []string{"balances:" + *body.Chain + "/" + dapp}
}

// LockKeys implements EffectLocker: the credits of every address the
// post moves credits from or to.
func (e *CreditEffect) LockKeys(m *message.Message) []string {
	c := postOf(m)
	if c == nil {
		return nil
	}
	var addrs []string
	switch c.Type {
	case CreditDistribution:
		if d, err := parseDistribution(c.Content); err == nil {
			for _, en := range d.credits {
				addrs = append(addrs, en.address)
			}
		}
	case CreditExpense:
		if entries, err := parseExpense(c.Content); err == nil {
			for _, en := range entries {
				addrs = append(addrs, en.address)
			}
		}
	case CreditTransfer:
		addrs = append(addrs, c.Address)
		if entries, err := parseTransfer(c.Content); err == nil {
			for _, en := range entries {
				addrs = append(addrs, en.address)
			}
		}
	}
	keys := make([]string, len(addrs))
	for i, a := range addrs {
		keys[i] = "credits:" + a
	}
	return keys
}

// Interface guards
var (
	_ Locker       = (*Post)(nil)
	_ Locker       = (*Aggregate)(nil)
	_ Locker       = (*Store)(nil)
	_ Locker       = (*Forget)(nil)
	_ EffectLocker = (*BalancesEffect)(nil)
	_ EffectLocker = (*CreditEffect)(nil)
)
