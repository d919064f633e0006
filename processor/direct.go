package processor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// Direct application at intake.
//
// A bulk import of inline POST and AGGREGATE messages needs nothing
// fetched, so queueing them costs a pending row written, read back,
// parsed again and deleted, for no benefit. Such messages are instead
// applied in the intake transaction itself, through the same batch code
// as the process stage (applyOne, flush, finish): the transaction that
// records them also records their outcome, so a kill at any instant
// leaves each message either untouched (the import submits it again) or
// settled once, and the message_status row is written once with its
// final status.
//
// What may be applied this way (directEligible): messages of an Import or
// an ImportBatch (not of SubmitBatch, whose callers may count on the
// queue) of origin import or peer with no transaction attached, or of a
// chain transaction; inline POST or AGGREGATE, signature checked, and not
// known to the node before (intakeOne). A message whose checks ask for a
// retry (an amend whose target is not there yet) gets a pending row and a
// pending status, as if it had been queued and tried once. If applying
// fails otherwise (a database error in a handler), the intake transaction
// is rolled back whole and the batch is queued as usual (submitItems).
//
// Protocol order: the batch is applied in (time, hash) order, and only
// when nothing that comes before it is waiting: no pending row and no
// queued message of the same batch (a STORE, a PROGRAM...) with a time at
// or before its latest direct message (directInOrder). Otherwise the
// whole batch is queued, and the process stage orders it with the rest.
//
// Difference from the queued path: no "pending" event is published for
// these messages, since no other transaction ever sees them pending.

// directStatus marks, in intakeOne's result, a message to apply directly.
const directStatus = "direct"

// directEligible reports whether an input may be applied at intake.
func directEligible(in Input, m *message.Message) bool {
	// An import or another node's history (ImportBatch), or the messages
	// of a chain transaction (archives): their confirmation rows are
	// written with them.
	return ((in.Origin == OriginImport || in.Origin == OriginPeer) && in.TxHash == nil || in.Origin == OriginOnchain && in.TxHash != nil) &&
		!in.NoSignature && in.Wire == nil &&
		m.ItemType == message.ItemInline && (m.Type == message.TypePost || m.Type == message.TypeAggregate)
}

// directInOrder reports whether the batch's direct messages may be
// applied at once without overtaking an earlier message: one still
// pending, or one of the batch that will be queued.
func (p *Processor) directInOrder(ctx context.Context, tx *ent.Tx, items []intakeItem) (bool, error) {
	var last, firstQueued float64
	any, queued := false, false
	for _, it := range items {
		switch {
		case it.m == nil:
		case it.direct:
			last, any = max(last, it.m.Time), true
		case !queued || it.m.Time < firstQueued:
			firstQueued, queued = it.m.Time, true
		}
	}
	if !any {
		return false, nil
	}
	if queued && firstQueued <= last {
		return false, nil
	}
	first, err := tx.PendingMessage.Query().Order(pendingmessage.ByTime()).Select(pendingmessage.FieldTime).First(ctx)
	switch {
	case ent.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read pending: %w", err)
	}
	return first.Time.After(message.Timestamp(last)), nil
}

// directItem is a message applied in the intake transaction.
type directItem struct {
	idx    int // in the intake batch
	m      *message.Message
	verr   error // signature check
	pc     *ent.PendingMessageCreate
	origin Origin
	txHash *string
}

// applyDirect applies the items in protocol order inside the intake
// transaction and returns their events, final statuses and what the ones
// retried for a missing dependency await. Any error means the transaction
// must be rolled back.
func (p *Processor) applyDirect(ctx context.Context, tx *ent.Tx, items []directItem, now time.Time) ([]events.Event, map[string]messagestatus.Status, []string, error) {
	slices.SortStableFunc(items, func(a, b directItem) int {
		if a.m.Time != b.m.Time {
			if a.m.Time < b.m.Time {
				return -1
			}
			return 1
		}
		return strings.Compare(a.m.ItemHash, b.m.ItemHash)
	})
	b := &batch{
		now: now, pg: p.db.Dialect == dialectPostgres, counters: counters{}, seen: map[string]string{}, tx: tx,
		direct:  make(map[string]directItem, len(items)),
		settled: make(map[string]messagestatus.Status, len(items)),
	}
	ctx = context.WithValue(ctx, batchKey{}, b)
	ctx = handler.WithBatch(ctx, b)
	if pf, ok := p.handlers.For(message.TypeAggregate).(aggregatePrefetcher); ok {
		ms := make([]*message.Message, len(items))
		for i, it := range items {
			ms[i] = it.m
		}
		if err := pf.Prefetch(ctx, tx, b, ms); err != nil {
			return nil, nil, nil, err
		}
	}
	none, noStatus := map[string]string{}, map[string]messagestatus.Status{}
	for _, it := range items {
		m := it.m
		b.direct[m.ItemHash] = it
		if err := p.applyOne(ctx, tx, b, directRow(m, it.origin, it.txHash, now), m, it.verr, none, noStatus); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := p.finish(ctx, tx, b); err != nil {
		return nil, nil, nil, err
	}
	return b.events, b.settled, b.awaits, nil
}

// aggregatePrefetcher is the AGGREGATE handler's batch prefetch: a direct
// batch locks and reads all its aggregates in a few statements, before
// its first message, instead of two round trips per aggregate.
type aggregatePrefetcher interface {
	Prefetch(ctx context.Context, tx *ent.Tx, b handler.Batch, ms []*message.Message) error
}

// directRow is the pending row a directly applied message would have had
// (ID 0: it is never written unless the message is retried).
func directRow(m *message.Message, origin Origin, txHash *string, now time.Time) *ent.PendingMessage {
	t := message.Timestamp(m.Time)
	r := &ent.PendingMessage{
		ItemHash: m.ItemHash, Type: string(m.Type), Chain: string(m.Chain), Sender: m.Sender,
		Signature: m.Signature, ItemType: string(m.ItemType), Time: t, ReceptionTime: now,
		CheckMessage: true, NextAttempt: t, Fetched: true, Origin: origin, TxHash: txHash,
	}
	if t.After(now) {
		r.NextAttempt = now
	}
	c := m.ItemContent
	r.ItemContent = &c
	if m.HasChannel {
		ch := m.Channel
		r.Channel = &ch
	}
	return r
}

// retryDirect queues a directly applied message for a retry: its pending
// status and its pending row, tried once.
func (p *Processor) retryDirect(ctx context.Context, tx *ent.Tx, b *batch, r *ent.PendingMessage, code errcode.Code, cause error) error {
	it, ok := b.direct[r.ItemHash]
	if !ok {
		return fmt.Errorf("processor: no pending row for %s", r.ItemHash)
	}
	pc := it.pc
	err := tx.MessageStatus.Create().SetID(r.ItemHash).SetStatus(messagestatus.StatusPending).
		SetReceptionTime(b.now).SetUpdatedAt(b.now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("insert status: %w", err)
	}
	pc.SetRetries(1).SetNextAttempt(b.now.Add(p.backoff(0))).SetLastErrorCode(int(code)).SetLastError(cause.Error())
	if k := errcode.AwaitsOf(cause); k != "" {
		pc.SetWaitsOn(k)
		b.awaits = append(b.awaits, k)
	}
	if code == errcode.ContentUnavailable {
		pc.SetFetched(false)
	}
	err = pc.OnConflict(entsql.ConflictColumns(pendingmessage.FieldSender, pendingmessage.FieldItemHash, pendingmessage.FieldSignature)).
		DoNothing().Exec(ctx)
	if err != nil && !isNoRows(err) {
		return fmt.Errorf("insert pending: %w", err)
	}
	b.settled[r.ItemHash] = messagestatus.StatusPending
	b.events = append(b.events, eventOf(it.m, events.Pending, b.now))
	return nil
}

// insertStatuses writes status rows (ON CONFLICT DO NOTHING).
func insertStatuses(ctx context.Context, tx *ent.Tx, pg bool, rows []*ent.MessageStatusCreate) error {
	if pg {
		st := newRows(pgStatuses, len(rows))
		for _, c := range rows {
			m := c.Mutation()
			id, _ := m.ID()
			if err := st.add(id, m); err != nil {
				return err
			}
		}
		return st.exec(ctx, tx)
	}
	for i := 0; i < len(rows); i += 1000 {
		err := tx.MessageStatus.CreateBulk(rows[i:min(i+1000, len(rows))]...).
			OnConflictColumns(messagestatus.FieldID).DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("insert statuses: %w", err)
		}
	}
	return nil
}

// Interface guards
var _ aggregatePrefetcher = (*handler.Aggregate)(nil)
