package read

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/forgottenmessage"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ent/removedmessage"
)

// MessagesByHash reads rows of the messages table by hash.
func (r *Reader) MessagesByHash(ctx context.Context, hashes []string) (map[string]*ent.Message, error) {
	out := make(map[string]*ent.Message, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := r.client.Message.Query().Where(message.IDIn(hashes...)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range rows {
		out[m.ID] = m
	}
	return out, nil
}

// PendingCopies reads the queued copies of a message, oldest first.
func (r *Reader) PendingCopies(ctx context.Context, hash string) ([]*ent.PendingMessage, error) {
	return r.client.PendingMessage.Query().Where(pendingmessage.ItemHash(hash)).Order(ent.Asc(pendingmessage.FieldID)).All(ctx)
}

// SnapshotFilter selects forgotten or removed message snapshots: the
// criteria a snapshot keeps. From (inclusive) and To (exclusive) bound
// forgotten_at (removed_at); TimeFrom and TimeTo the message time.
type SnapshotFilter struct {
	Hashes, Senders, Owners, Channels, Chains, Types, PaymentTypes []string
	From, To                                                       *time.Time
	TimeFrom, TimeTo                                               *time.Time
}

func (f *SnapshotFilter) apply(s *sql.Selector, at string) {
	in := func(col string, vs []string) {
		if len(vs) == 0 {
			return
		}
		args := make([]any, len(vs))
		for i, v := range vs {
			args[i] = v
		}
		s.Where(sql.In(s.C(col), args...))
	}
	in("item_hash", f.Hashes)
	in("sender", f.Senders)
	in("owner", f.Owners)
	in("channel", f.Channels)
	in("chain", f.Chains)
	in("type", f.Types)
	in("payment_type", f.PaymentTypes)
	if f.From != nil {
		s.Where(sql.GTE(s.C(at), f.From.UTC()))
	}
	if f.To != nil {
		s.Where(sql.LT(s.C(at), f.To.UTC()))
	}
	if f.TimeFrom != nil {
		s.Where(sql.GTE(s.C("time"), f.TimeFrom.UTC()))
	}
	if f.TimeTo != nil {
		s.Where(sql.LT(s.C("time"), f.TimeTo.UTC()))
	}
}

// Forgotten reads a page (offset paging) of forgotten message snapshots
// by forgotten_at, and whether more follow.
func (r *Reader) Forgotten(ctx context.Context, f SnapshotFilter, desc bool, n, offset int) ([]*ent.ForgottenMessage, bool, error) {
	p := Page{N: n, Desc: desc, Offset: offset}
	where, order := p.Keyset(forgottenmessage.FieldForgottenAt, forgottenmessage.FieldID)
	rows, err := r.client.ForgottenMessage.Query().Modify(func(s *sql.Selector) {
		f.apply(s, forgottenmessage.FieldForgottenAt)
		where(s)
		order(s)
	}).All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(p, rows)
	return rows, more, nil
}

// CountForgotten counts the forgotten snapshots of a filter.
func (r *Reader) CountForgotten(ctx context.Context, f SnapshotFilter) (int64, bool, error) {
	return r.BoundedCount(ctx, forgottenmessage.Table, func(ctx context.Context) (int, error) {
		return r.client.ForgottenMessage.Query().Where(func(s *sql.Selector) { f.apply(s, forgottenmessage.FieldForgottenAt) }).Count(ctx)
	})
}

// Removed reads a page (offset paging) of removed message snapshots by
// removed_at (messages still in their grace period, removed_at NULL, are
// left out), and whether more follow.
func (r *Reader) Removed(ctx context.Context, f SnapshotFilter, desc bool, n, offset int) ([]*ent.RemovedMessage, bool, error) {
	return r.RemovedPage(ctx, f, removedmessage.FieldRemovedAt, Page{N: n, Desc: desc, Offset: offset})
}

// RemovedPage reads a page of the finalized removed message snapshots
// (removed_at set) in (by, item_hash) order, by being
// removedmessage.FieldRemovedAt or removedmessage.FieldTime (then a
// cursor's A is the message time), and whether more follow.
func (r *Reader) RemovedPage(ctx context.Context, f SnapshotFilter, by string, p Page) ([]*ent.RemovedMessage, bool, error) {
	if by != removedmessage.FieldRemovedAt && by != removedmessage.FieldTime {
		return nil, false, fmt.Errorf("removed snapshots are not ordered by %q", by)
	}
	where, order := p.Keyset(by, removedmessage.FieldID)
	rows, err := r.client.RemovedMessage.Query().Where(removedmessage.RemovedAtNotNil()).Modify(func(s *sql.Selector) {
		f.apply(s, removedmessage.FieldRemovedAt)
		where(s)
		order(s)
	}).All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(p, rows)
	return rows, more, nil
}

// CountRemoved counts the removed snapshots of a filter.
func (r *Reader) CountRemoved(ctx context.Context, f SnapshotFilter) (int64, bool, error) {
	return r.BoundedCount(ctx, removedmessage.Table, func(ctx context.Context) (int, error) {
		return r.client.RemovedMessage.Query().Where(removedmessage.RemovedAtNotNil(),
			func(s *sql.Selector) { f.apply(s, removedmessage.FieldRemovedAt) }).Count(ctx)
	})
}

// OutboxEnd is the sequence number of the latest outbox event (0 when
// there is none): a live feed started now resumes after it.
func (r *Reader) OutboxEnd(ctx context.Context) (int64, error) {
	e, err := r.client.MessageEvent.Query().Order(ent.Desc(messageevent.FieldID)).Select(messageevent.FieldID).First(ctx)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return e.ID, nil
}

// OutboxStart is the sequence number of the oldest outbox event kept (0
// when there is none): a feed can resume after any position from
// OutboxStart-1 on with nothing lost.
func (r *Reader) OutboxStart(ctx context.Context) (int64, error) {
	e, err := r.client.MessageEvent.Query().Order(ent.Asc(messageevent.FieldID)).Select(messageevent.FieldID).First(ctx)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return e.ID, nil
}

// SettledOutboxEnd is the id of the latest outbox event older than
// gapGrace (0 if none): a feed that starts reading after it with
// EventsAfter misses no event, even one whose transaction is still
// committing (its id is above, and EventsAfter waits for its hole). The
// events between it and OutboxEnd are read again; the feed skips those it
// already sent.
func (r *Reader) SettledOutboxEnd(ctx context.Context, gapGrace time.Duration) (int64, error) {
	e, err := r.client.MessageEvent.Query().Where(messageevent.CreatedAtLTE(time.Now().Add(-gapGrace))).
		Order(ent.Desc(messageevent.FieldID)).Select(messageevent.FieldID).First(ctx)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return e.ID, nil
}

// DefaultGapGrace is how long a hole in the outbox ids is waited for.
const DefaultGapGrace = 5 * time.Second

// EventsAfter reads at most limit outbox events after seq (and at most
// upTo when positive), oldest first. Without upTo it stops before a hole
// in the ids younger than gapGrace: a lower id may belong to a
// transaction still committing, and a reader that went past it would
// never see that event.
func (r *Reader) EventsAfter(ctx context.Context, seq, upTo int64, limit int, gapGrace time.Duration) ([]*ent.MessageEvent, error) {
	return EventsAfter(ctx, r.client, seq, upTo, limit, gapGrace)
}

// EventsAfter is Reader.EventsAfter over a client.
func EventsAfter(ctx context.Context, c *ent.Client, seq, upTo int64, limit int, gapGrace time.Duration) ([]*ent.MessageEvent, error) {
	q := c.MessageEvent.Query().Where(messageevent.IDGT(seq))
	if upTo > 0 {
		q.Where(messageevent.IDLTE(upTo))
	}
	rows, err := q.Order(ent.Asc(messageevent.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read outbox after %d: %w", seq, err)
	}
	prev := seq
	for i, row := range rows {
		if upTo <= 0 && row.ID != prev+1 && time.Since(row.CreatedAt) < gapGrace {
			return rows[:i], nil
		}
		prev = row.ID
	}
	return rows, nil
}
