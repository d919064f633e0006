package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/chaintx"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/messagetag"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	msg "github.com/alephql/alephql/processor/message"
)

// batch is the state of one process-stage transaction.
type batch struct {
	now      time.Time
	pg       bool // PostgreSQL: bulk inserts through unnest (bulk.go)
	events   []events.Event
	counters counters
	done     []int // pending rows to delete
	// seen are the item hashes inserted into messages by this batch.
	seen map[string]string // item hash -> signature

	// Rows written in bulk by flush: the messages rows of processed
	// messages with their tags, confirmations and costs, and their status
	// change. POST and AGGREGATE handlers never read them, so a batch of
	// those costs a few statements per message; any other message flushes
	// them before its checks.
	tx       *ent.Tx
	flushers []func(context.Context, *ent.Tx) error
	cache    map[string]any
	elemRows []*ent.AggregateElementCreate
	postRows []*ent.PostCreate
	msgRows  []*ent.MessageCreate
	tagRows  []*ent.MessageTagCreate
	confirms [][2]string
	// firsts are the messages rows of msgRows carried by a chain
	// transaction: their first confirmation is that transaction's, set
	// on the row itself (setFirstConfirmed); recheck are the messages
	// confirmed again by another copy, whose first confirmation is
	// recomputed from all their confirmations (refreshFirstConfirmed).
	firsts    []firstConf
	recheck   map[string]bool
	chainTxs  map[string]*ent.ChainTx // read by setFirstConfirmed, for the batch
	costRows  []*ent.AccountCostCreate
	processed []string
	// awaits are what the rows retried for a missing dependency wait for
	// (their waits_on), looked for again after the commit (dependents.go).
	awaits []string

	// direct is set for a batch applied in the intake transaction
	// (direct.go): its rows have ID 0 and no status row yet; settled
	// collects their final statuses.
	direct  map[string]directItem
	settled map[string]messagestatus.Status
}

// DeferPost implements handler.Batch.
func (b *batch) DeferPost(c *ent.PostCreate) { b.postRows = append(b.postRows, c) }

// DeferElement implements handler.Batch.
func (b *batch) DeferElement(c *ent.AggregateElementCreate) { b.elemRows = append(b.elemRows, c) }

// Cache implements handler.Batch.
func (b *batch) Cache() map[string]any {
	if b.cache == nil {
		b.cache = map[string]any{}
	}
	return b.cache
}

// OnFlush implements handler.Batch.
func (b *batch) OnFlush(f func(context.Context, *ent.Tx) error) { b.flushers = append(b.flushers, f) }

// Flush implements handler.Batch.
func (b *batch) Flush(ctx context.Context) error { return b.flush(ctx, b.tx) }

// flush writes the deferred rows.
func (b *batch) flush(ctx context.Context, tx *ent.Tx) error {
	for _, f := range b.flushers {
		if err := f(ctx, tx); err != nil {
			return err
		}
	}
	b.flushers, b.cache = b.flushers[:0], nil
	preset, err := b.setFirstConfirmed(ctx, tx)
	if err != nil {
		return err
	}
	if b.pg {
		if err := b.flushPostgres(ctx, tx); err != nil {
			return err
		}
	} else if err := b.flushEnt(ctx, tx); err != nil {
		return err
	}
	b.elemRows, b.postRows = b.elemRows[:0], b.postRows[:0]
	// One statement per 1 000 confirmations (a chain catch-up confirms
	// every message it processes); on PostgreSQL one bulk statement per
	// batch (bulk.go: ent's multi-row builder was 4 % of a catching-up
	// chain node's CPU, on the process stage's path).
	if b.pg && len(b.confirms) > 0 {
		rows := newRows(pgConfirmations, len(b.confirms))
		for _, c := range b.confirms {
			if err := rows.add(nil, tx.MessageConfirmation.Create().SetItemHash(c[0]).SetTxHash(c[1]).Mutation()); err != nil {
				return fmt.Errorf("insert confirmations: %w", err)
			}
		}
		if err := rows.exec(ctx, tx); err != nil {
			return err
		}
	}
	for i := 0; i < len(b.confirms) && !b.pg; i += 1000 {
		part := b.confirms[i:min(i+1000, len(b.confirms))]
		rows := make([]*ent.MessageConfirmationCreate, len(part))
		for j, c := range part {
			rows[j] = tx.MessageConfirmation.Create().SetItemHash(c[0]).SetTxHash(c[1])
		}
		err := tx.MessageConfirmation.CreateBulk(rows...).
			OnConflictColumns(messageconfirmation.FieldItemHash, messageconfirmation.FieldTxHash).DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("insert confirmations: %w", err)
		}
	}
	refresh := confirmHashes(b.confirms)
	if len(preset) > 0 {
		refresh = slices.DeleteFunc(refresh, func(h string) bool { return preset[h] && !b.recheck[h] })
	}
	if err := refreshFirstConfirmed(ctx, tx, refresh); err != nil {
		return err
	}
	clear(b.recheck)
	for i := 0; i < len(b.costRows); i += 500 {
		if err := tx.AccountCost.CreateBulk(b.costRows[i:min(i+500, len(b.costRows))]...).Exec(ctx); err != nil {
			return fmt.Errorf("insert costs: %w", err)
		}
	}
	if b.direct != nil {
		rows := make([]*ent.MessageStatusCreate, len(b.processed))
		for i, h := range b.processed {
			rows[i] = tx.MessageStatus.Create().SetID(h).SetStatus(messagestatus.StatusProcessed).
				SetReceptionTime(b.now).SetUpdatedAt(b.now)
		}
		if err := insertStatuses(ctx, tx, b.pg, rows); err != nil {
			return err
		}
		b.processed = b.processed[:0]
	}
	for i := 0; i < len(b.processed); i += 1000 {
		err := tx.MessageStatus.Update().Where(messagestatus.IDIn(b.processed[i:min(i+1000, len(b.processed))]...)).
			SetStatus(messagestatus.StatusProcessed).SetUpdatedAt(b.now).Exec(ctx)
		if err != nil {
			return fmt.Errorf("update statuses: %w", err)
		}
	}
	b.msgRows, b.tagRows, b.confirms, b.costRows, b.processed = b.msgRows[:0], b.tagRows[:0], b.confirms[:0], b.costRows[:0], b.processed[:0]
	return nil
}

// flushEnt writes the deferred elements, posts, messages and tags with
// ent's bulk builders (SQLite).
func (b *batch) flushEnt(ctx context.Context, tx *ent.Tx) error {
	for i := 0; i < len(b.elemRows); i += 1000 {
		err := tx.AggregateElement.CreateBulk(b.elemRows[i:min(i+1000, len(b.elemRows))]...).
			OnConflictColumns(aggregateelement.FieldID).DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("insert aggregate elements: %w", err)
		}
	}
	for i := 0; i < len(b.postRows); i += 1000 {
		err := tx.Post.CreateBulk(b.postRows[i:min(i+1000, len(b.postRows))]...).
			OnConflictColumns(post.FieldID).DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("insert posts: %w", err)
		}
	}
	for i := 0; i < len(b.msgRows); i += 500 {
		if err := tx.Message.CreateBulk(b.msgRows[i:min(i+500, len(b.msgRows))]...).Exec(ctx); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
	}
	for i := 0; i < len(b.tagRows); i += 1000 {
		err := tx.MessageTag.CreateBulk(b.tagRows[i:min(i+1000, len(b.tagRows))]...).
			OnConflictColumns(messagetag.FieldItemHash, messagetag.FieldTag).DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("insert tags: %w", err)
		}
	}
	return nil
}

// flushPostgres is flushEnt on PostgreSQL: one unnest insert per table
// (see bulk.go).
func (b *batch) flushPostgres(ctx context.Context, tx *ent.Tx) error {
	elems := newRows(pgElements, len(b.elemRows))
	for _, c := range b.elemRows {
		m := c.Mutation()
		id, _ := m.ID()
		if err := elems.add(id, m); err != nil {
			return err
		}
	}
	posts := newRows(pgPosts, len(b.postRows))
	for _, c := range b.postRows {
		m := c.Mutation()
		id, _ := m.ID()
		if err := posts.add(id, m); err != nil {
			return err
		}
	}
	msgs := newRows(pgMessages, len(b.msgRows))
	for _, c := range b.msgRows {
		m := c.Mutation()
		id, _ := m.ID()
		if err := msgs.add(id, m); err != nil {
			return err
		}
	}
	tags := newRows(pgTags, len(b.tagRows))
	for _, c := range b.tagRows {
		if err := tags.add(nil, c.Mutation()); err != nil {
			return err
		}
	}
	for _, r := range []*pgRows{elems, posts, msgs, tags} {
		if err := r.exec(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// readsMessages reports whether checking or processing m may read rows
// the batch defers (messages, statuses): everything but plain POSTs and
// AGGREGATEs.
func readsMessages(m *msg.Message) bool {
	switch m.Type {
	case msg.TypeAggregate:
		return false
	case msg.TypePost:
		return m.ContentType() == "amend"
	}
	return true
}

type batchKey struct{}

// onForgotten is the FORGET hook: outbox event and counters of a message
// a FORGET removes.
func (p *Processor) onForgotten(ctx context.Context, _ *ent.Tx, t *ent.Message, by string) error {
	b, _ := ctx.Value(batchKey{}).(*batch)
	if b == nil {
		return errcode.New(errcode.InternalError, "forget outside a batch")
	}
	b.counters.add(counterDims(t.Type, t.Chain, t.Sender, t.Owner, string(t.Status), t.Channel), -1)
	ev := events.Event{
		Kind: events.Forgotten, At: b.now, ItemHash: t.ID, Type: t.Type, Chain: t.Chain,
		Sender: t.Sender, Owner: t.Owner, Time: t.Time, Related: by, Tags: t.Tags,
	}
	if t.Channel != nil {
		ev.Channel = *t.Channel
	}
	if t.ContentType != nil {
		ev.ContentType = *t.ContentType
	}
	if t.ContentKey != nil {
		ev.ContentKey = *t.ContentKey
	}
	if t.ContentRef != nil {
		ev.ContentRef = *t.ContentRef
	}
	b.events = append(b.events, ev)
	return nil
}

// ProcessOnce applies one batch of due, fetched pending messages and
// returns how many rows it settled. When a message fails in a way that
// may have left partial writes in the transaction, the batch is rolled
// back and its rows are applied one per transaction.
func (p *Processor) ProcessOnce(ctx context.Context) (int, error) {
	n, ids, err := p.applyBatch(ctx, nil, p.cfg.BatchSize)
	if !errors.Is(err, errAbort) {
		return n, err
	}
	return p.applyEach(ctx, ids)
}

// applyEach applies the rows of an aborted batch one per transaction.
func (p *Processor) applyEach(ctx context.Context, ids []int) (int, error) {
	done := 0
	for _, id := range ids {
		k, _, err := p.applyBatch(ctx, []int{id}, 1)
		if err != nil && !errors.Is(err, errAbort) {
			return done, err
		}
		done += k
	}
	return done, nil
}

// abortError carries the row that aborted a batch.
type abortError struct {
	id  int
	err error
}

func (e *abortError) Error() string { return fmt.Sprintf("pending row %d: %v", e.id, e.err) }
func (e *abortError) Unwrap() []error {
	return []error{errAbort, e.err}
}

// applyBatch claims and applies rows: the due ones (ids nil) or the given
// ones. It returns the rows settled, and on errAbort the claimed ids.
func (p *Processor) applyBatch(ctx context.Context, ids []int, limit int) (int, []int, error) {
	c, err := p.claim(ctx, ids, limit)
	if err != nil || c == nil {
		return 0, nil, err
	}
	return p.apply(ctx, c)
}

// claimed is a batch whose rows are claimed (locked by its open
// transaction) and whose messages are rebuilt and verified: what the
// process stage can do before the previous batch commits (pipeline.go).
type claimed struct {
	tx       *ent.Tx
	now      time.Time
	rows     []*ent.PendingMessage
	msgs     []*msg.Message
	errs     []error // rebuild or signature error per row
	verified time.Time
}

// rollback releases the claim.
func (c *claimed) rollback() { _ = c.tx.Rollback() }

// claim begins the batch transaction, locks the rows (FOR UPDATE SKIP
// LOCKED on PostgreSQL, so that other processors and a prefetched batch
// take other rows), then rebuilds and verifies their messages in
// parallel. It returns nil, with the transaction ended, when no row is
// due.
func (p *Processor) claim(ctx context.Context, ids []int, limit int) (*claimed, error) {
	tx, err := p.begin(ctx)
	if err != nil {
		return nil, err
	}
	now := p.now().UTC()
	q := tx.PendingMessage.Query()
	if p.db.Dialect == dialect.Postgres {
		q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked))
	}
	if ids != nil {
		q = q.Where(pendingmessage.IDIn(ids...))
	} else {
		q = q.Where(pendingmessage.Fetched(true), pendingmessage.NextAttemptLTE(now)).
			Order(pendingmessage.ByNextAttempt(), pendingmessage.ByTime(), pendingmessage.ByItemHash(), pendingmessage.ByID()).
			Limit(limit)
	}
	rows, err := q.All(ctx)
	if err != nil || len(rows) == 0 {
		_ = tx.Rollback()
		if err != nil {
			return nil, fmt.Errorf("processor: claim: %w", err)
		}
		return nil, nil
	}
	c := &claimed{tx: tx, now: now, rows: rows, msgs: make([]*msg.Message, len(rows)), errs: make([]error, len(rows))}
	// Rebuild and verify in parallel: signature checks are the CPU-bound
	// part of the pipeline.
	g := new(errgroup.Group)
	g.SetLimit(p.cfg.VerifyWorkers)
	for i, r := range rows {
		g.Go(func() error {
			m, err := rebuild(r)
			if err == nil && r.CheckMessage {
				err = m.Verify()
			}
			c.msgs[i], c.errs[i] = m, err
			return nil
		})
	}
	_ = g.Wait()
	c.verified = time.Now()
	return c, nil
}

// apply applies a claimed batch and ends its transaction. It returns the
// rows settled, and on errAbort the claimed ids (the transaction is then
// rolled back).
func (p *Processor) apply(ctx context.Context, c *claimed) (_ int, _ []int, err error) {
	tx, rows, now := c.tx, c.rows, c.now
	defer func() {
		_ = tx.Rollback()
		if err != nil {
			p.metrics.failed("process", err, false)
		}
	}()
	claimed := make([]int, len(rows))
	for i, r := range rows {
		claimed[i] = r.ID
	}
	b := &batch{now: now, pg: p.db.Dialect == dialect.Postgres, counters: counters{}, seen: map[string]string{}, tx: tx}
	ctx = context.WithValue(ctx, batchKey{}, b)
	ctx = handler.WithBatch(ctx, b)

	// Read after the previous batch's commit (READ COMMITTED: each
	// statement sees what was committed when it started), even when the
	// rows were claimed before it.
	tStart := time.Now()
	hashes := make([]string, 0, len(rows))
	for _, r := range rows {
		hashes = append(hashes, r.ItemHash)
	}
	// Every advisory lock the batch's handlers will take, sorted, before
	// its first write and its reads of existing rows (handler/lockkeys.go).
	if err := handler.LockBatch(ctx, tx, p.db.Dialect, p.handlers, c.msgs); err != nil {
		return 0, nil, fmt.Errorf("processor: lock batch: %w", err)
	}
	existing, err := p.existing(ctx, tx, hashes)
	if err != nil {
		return 0, nil, err
	}
	statuses, err := p.statuses(ctx, tx, hashes)
	if err != nil {
		return 0, nil, err
	}
	for i, r := range rows {
		if err := p.applyOne(ctx, tx, b, r, c.msgs[i], c.errs[i], existing, statuses); err != nil {
			if errors.Is(err, errAbort) {
				if len(rows) == 1 {
					_ = tx.Rollback()
					return p.settleAborted(ctx, r, err)
				}
				return 0, claimed, err
			}
			return 0, nil, err
		}
	}
	tApplied := time.Now()
	if err := p.finish(ctx, tx, b); err != nil {
		return 0, nil, err
	}
	tFinished := time.Now()
	if p.beforeCommit != nil {
		p.beforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return 0, claimed, &abortError{id: claimed[0], err: fmt.Errorf("commit: %w", err)}
	}
	p.publish(ctx, b.events)
	p.afterCommit(ctx, b.events, b.awaits)
	p.log.Debug("batch applied", "rows", len(rows), "claim_verify", c.verified.Sub(now), "wait", tStart.Sub(c.verified),
		"apply", tApplied.Sub(tStart), "finish", tFinished.Sub(tApplied), "commit", time.Since(tFinished))
	return len(rows), nil, nil
}

// existing returns the signatures of the hashes already in messages.
func (p *Processor) existing(ctx context.Context, tx *ent.Tx, hashes []string) (map[string]string, error) {
	if p.db.Dialect == dialect.Postgres {
		return existingPostgres(ctx, tx, hashes)
	}
	rows, err := tx.Message.Query().Where(message.IDIn(hashes...)).
		Select(message.FieldID, message.FieldSignature).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("processor: read messages: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		s := ""
		if r.Signature != nil {
			s = *r.Signature
		}
		out[r.ID] = s
	}
	return out, nil
}

// existingPostgres is existing with the hashes as one array parameter
// (see statusesPostgres).
func existingPostgres(ctx context.Context, tx *ent.Tx, hashes []string) (map[string]string, error) {
	out := make(map[string]string, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT "`+message.FieldID+`", "`+message.FieldSignature+`" FROM "`+
		message.Table+`" WHERE "`+message.FieldID+`" = ANY($1::text[])`, hashes)
	if err != nil {
		return nil, fmt.Errorf("processor: read messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var sig *string
		if err := rows.Scan(&id, &sig); err != nil {
			return nil, fmt.Errorf("processor: read messages: %w", err)
		}
		out[id] = ""
		if sig != nil {
			out[id] = *sig
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("processor: read messages: %w", err)
	}
	return out, nil
}

// applyOne settles one row inside the batch. It returns errAbort (wrapped)
// when the transaction may hold partial writes of the row.
func (p *Processor) applyOne(ctx context.Context, tx *ent.Tx, b *batch, r *ent.PendingMessage, m *msg.Message, verr error, existing map[string]string, st map[string]messagestatus.Status) error {
	h := r.ItemHash
	sig, inDB := existing[h]
	if s, ok := b.seen[h]; ok {
		sig, inDB = s, true
	}
	if inDB {
		// Another copy of a processed message: a confirmation at most. A
		// copy with another signature is dropped (the first one wins).
		if sig == r.Signature && r.TxHash != nil {
			b.confirms = append(b.confirms, [2]string{h, *r.TxHash})
			if b.recheck == nil {
				b.recheck = map[string]bool{}
			}
			b.recheck[h] = true
			b.events = append(b.events, events.Event{Kind: events.Confirmed, At: b.now, ItemHash: h, Related: *r.TxHash})
		}
		b.done = append(b.done, r.ID)
		return nil
	}
	if s := st[h]; s == messagestatus.StatusForgotten || s == messagestatus.StatusRemoved {
		b.done = append(b.done, r.ID) // FORGOTTEN_DUPLICATE: status unchanged
		return nil
	}
	if verr != nil {
		return p.fail(ctx, tx, b, r, verr)
	}
	if readsMessages(m) {
		if err := b.flush(ctx, tx); err != nil {
			return &abortError{id: r.ID, err: err}
		}
	}
	hd := p.handlers.For(m.Type)
	if hd == nil {
		return p.fail(ctx, tx, b, r, errcode.Newf(errcode.InvalidFormat, "no handler for %s messages", m.Type))
	}
	if err := hd.CheckDependencies(ctx, tx, m); err != nil {
		var fe *handler.ForgottenTargetError
		if errors.As(err, &fe) {
			return p.settleForgotten(ctx, tx, b, r, m, fe)
		}
		return p.failChecked(ctx, tx, b, r, err)
	}
	if err := hd.CheckPermissions(ctx, tx, m); err != nil {
		return p.failChecked(ctx, tx, b, r, err)
	}
	costs, err := hd.CheckBalance(ctx, tx, m)
	if err != nil {
		return p.failChecked(ctx, tx, b, r, err)
	}
	p.insertMessage(tx, b, r, m)
	p.insertCosts(tx, b, m, costs)
	if err := hd.Process(ctx, tx, m); err != nil {
		return &abortError{id: r.ID, err: err}
	}
	b.seen[h] = r.Signature
	status := string(messagestatus.StatusProcessed)
	var ch *string
	if m.HasChannel {
		ch = &m.Channel
	}
	b.counters.add(counterDims(string(m.Type), string(m.Chain), m.Sender, m.Owner(), status, ch), 1)
	ev := eventOf(m, events.Processed, b.now)
	b.events = append(b.events, ev)
	b.processed = append(b.processed, h)
	b.done = append(b.done, r.ID)
	if b.settled != nil {
		b.settled[h] = messagestatus.StatusProcessed
	}
	return nil
}

// settleForgotten settles a message whose target a FORGET removed (an
// amend of a forgotten post) as forgotten by the same FORGETs: the
// forgotten_messages skeleton and status that a FORGET processed after it
// would have left, and a Forgotten event. It is never processed, so no
// counter changes.
func (p *Processor) settleForgotten(ctx context.Context, tx *ent.Tx, b *batch, r *ent.PendingMessage, m *msg.Message, fe *handler.ForgottenTargetError) error {
	h := r.ItemHash
	by := fe.By
	if len(by) == 0 {
		by = []string{}
	}
	c := tx.ForgottenMessage.Create().
		SetID(h).SetType(string(m.Type)).SetChain(string(m.Chain)).SetSender(m.Sender).
		SetItemType(string(m.ItemType)).SetTime(r.Time).SetOwner(m.Owner()).
		SetSize(int64(m.Content.Base().Size)).SetForgottenBy(by).SetForgottenAt(fe.At).
		SetPaymentType("hold")
	if m.Signature != "" {
		c.SetSignature(m.Signature)
	}
	if s := m.PaymentType(); s != "" {
		c.SetPaymentType(string(s))
	}
	if m.HasChannel {
		c.SetChannel(m.Channel)
	}
	if err := c.OnConflictColumns("item_hash").DoNothing().Exec(ctx); err != nil && !isNoRows(err) {
		return &abortError{id: r.ID, err: fmt.Errorf("insert forgotten message: %w", err)}
	}
	var err error
	if b.direct != nil {
		err = tx.MessageStatus.Create().SetID(h).SetStatus(messagestatus.StatusForgotten).
			SetReceptionTime(b.now).SetUpdatedAt(b.now).Exec(ctx)
	} else {
		err = tx.MessageStatus.UpdateOneID(h).SetStatus(messagestatus.StatusForgotten).SetUpdatedAt(b.now).Exec(ctx)
	}
	if err != nil {
		return &abortError{id: r.ID, err: fmt.Errorf("forgotten status: %w", err)}
	}
	ev := eventOf(m, events.Forgotten, b.now)
	if len(by) > 0 {
		ev.Related = by[0]
	}
	b.events = append(b.events, ev)
	b.done = append(b.done, r.ID)
	if b.settled != nil {
		b.settled[h] = messagestatus.StatusForgotten
	}
	p.log.Debug("message forgotten with its target", "item_hash", h, "target", fe.Target)
	return nil
}

// failChecked handles a failed check: check steps only read, so the
// transaction is intact unless the failure is a database error.
func (p *Processor) failChecked(ctx context.Context, tx *ent.Tx, b *batch, r *ent.PendingMessage, err error) error {
	if c, ok := errcode.CodeOf(err); !ok || c == errcode.InternalError {
		return &abortError{id: r.ID, err: err}
	}
	return p.fail(ctx, tx, b, r, err)
}

// fail rejects the row (Invalid errors, or retries exhausted) or schedules
// a retry with back-off.
func (p *Processor) fail(ctx context.Context, tx *ent.Tx, b *batch, r *ent.PendingMessage, err error) error {
	if errcode.KindOf(err) != errcode.Invalid && r.Retries < p.cfg.MaxRetries {
		if b.direct != nil {
			code := errcode.InternalError
			if c, ok := errcode.CodeOf(err); ok {
				code = c
			}
			if rerr := p.retryDirect(ctx, tx, b, r, code, err); rerr != nil {
				return &abortError{id: r.ID, err: rerr}
			}
			return nil
		}
		return p.retry(ctx, tx, b, r, err)
	}
	ev, rerr := p.reject(ctx, tx, r.ItemHash, rowWireJSON(r), r.TxHash, err, b.now, b.direct != nil)
	if rerr != nil {
		return &abortError{id: r.ID, err: rerr}
	}
	b.events = append(b.events, *ev)
	b.done = append(b.done, r.ID)
	if b.settled != nil {
		b.settled[r.ItemHash] = messagestatus.StatusRejected
	}
	p.log.Debug("message rejected", "item_hash", r.ItemHash, "err", err)
	return nil
}

// retry schedules the row again after a full-jitter back-off.
func (p *Processor) retry(ctx context.Context, tx *ent.Tx, b *batch, r *ent.PendingMessage, err error) error {
	code := errcode.InternalError
	if c, ok := errcode.CodeOf(err); ok {
		code = c
	}
	u := tx.PendingMessage.UpdateOneID(r.ID).
		SetRetries(r.Retries + 1).SetNextAttempt(b.now.Add(p.backoff(r.Retries))).
		SetLastErrorCode(int(code)).SetLastError(err.Error()).ClearClaimedBy().ClearClaimedUntil()
	if k := errcode.AwaitsOf(err); k != "" {
		u.SetWaitsOn(k)
		b.awaits = append(b.awaits, k)
	} else {
		u.ClearWaitsOn()
	}
	if code == errcode.ContentUnavailable {
		u.SetFetched(false)
	}
	if uerr := u.Exec(ctx); uerr != nil {
		return &abortError{id: r.ID, err: uerr}
	}
	return nil
}

// settleAborted records the failure of a row applied alone whose
// transaction had to be rolled back, in a transaction of its own.
func (p *Processor) settleAborted(ctx context.Context, r *ent.PendingMessage, err error) (int, []int, error) {
	var ae *abortError
	if errors.As(err, &ae) {
		err = ae.err
	}
	p.log.Warn("message failed", "item_hash", r.ItemHash, "err", err)
	b := &batch{now: p.now().UTC(), counters: counters{}}
	werr := p.withTx(ctx, func(tx *ent.Tx) error {
		b.events = b.events[:0]
		b.done = b.done[:0]
		b.awaits = b.awaits[:0]
		if ferr := p.fail(ctx, tx, b, r, err); ferr != nil {
			return ferr
		}
		return p.finish(ctx, tx, b)
	})
	if werr != nil {
		return 0, nil, werr
	}
	p.publish(ctx, b.events)
	p.afterCommit(ctx, b.events, b.awaits)
	return 1, nil, nil
}

// insertMessage queues the messages row with its denormalized columns,
// tags and confirmation.
func (p *Processor) insertMessage(tx *ent.Tx, b *batch, r *ent.PendingMessage, m *msg.Message) {
	base := m.Content.Base()
	c := tx.Message.Create().
		SetID(m.ItemHash).SetType(string(m.Type)).SetChain(string(m.Chain)).SetSender(m.Sender).
		SetItemType(string(m.ItemType)).SetContent(base.JSON()).SetTime(r.Time).
		SetSize(int64(base.Size)).SetReceptionTime(r.ReceptionTime).SetOwner(m.Owner()).
		SetTags(m.Tags())
	if m.Signature != "" {
		c.SetSignature(m.Signature)
	}
	if m.ItemType == msg.ItemInline {
		c.SetItemContent(m.ItemContent)
	}
	if m.HasChannel {
		c.SetChannel(m.Channel)
	}
	if s := m.ContentType(); s != "" {
		c.SetContentType(s)
	}
	if s := m.ContentRef(); s != "" {
		c.SetContentRef(s)
	}
	if s := m.ContentKey(); s != "" {
		c.SetContentKey(s)
	}
	if s := m.ContentItemHash(); s != "" {
		c.SetContentItemHash(s)
	}
	if s := m.PaymentType(); s != "" {
		c.SetPaymentType(string(s))
	}
	b.msgRows = append(b.msgRows, c)
	for _, t := range uniq(m.Tags()) {
		b.tagRows = append(b.tagRows, tx.MessageTag.Create().SetItemHash(m.ItemHash).SetTag(t).SetTime(r.Time))
	}
	if r.TxHash != nil {
		b.confirms = append(b.confirms, [2]string{m.ItemHash, *r.TxHash})
		b.firsts = append(b.firsts, firstConf{c: c, hash: m.ItemHash, tx: *r.TxHash})
	}
}

// firstConf is a new messages row and the chain transaction that carried
// it.
type firstConf struct {
	c        *ent.MessageCreate
	hash, tx string
}

// setFirstConfirmed sets, on the messages rows about to be inserted, the
// first confirmation from the transaction that carried each (its height
// and time, read once per batch transaction), and returns the hashes so
// set. A row being inserted is new: no confirmation of it can exist yet
// (message_confirmations references messages), so its first confirmation
// is its own transaction's, and refreshFirstConfirmed, which reads every
// confirmation back and updates the rows just inserted, is left to the
// messages that another copy confirms again (recheck) and to
// confirmations of messages processed earlier. A transaction not found
// (it cannot be, its confirmation references it) leaves the row to
// refreshFirstConfirmed.
func (b *batch) setFirstConfirmed(ctx context.Context, tx *ent.Tx) (map[string]bool, error) {
	if len(b.firsts) == 0 {
		return nil, nil
	}
	defer func() { b.firsts = b.firsts[:0] }()
	if b.chainTxs == nil {
		b.chainTxs = map[string]*ent.ChainTx{}
	}
	var hashes []string
	seen := map[string]bool{}
	for _, f := range b.firsts {
		if _, ok := b.chainTxs[f.tx]; !ok && !seen[f.tx] {
			seen[f.tx] = true
			hashes = append(hashes, f.tx)
		}
	}
	if len(hashes) > 0 {
		txs, err := tx.ChainTx.Query().Where(chaintx.IDIn(hashes...)).
			Select(chaintx.FieldID, chaintx.FieldHeight, chaintx.FieldDatetime).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read chain txs: %w", err)
		}
		for _, t := range txs {
			b.chainTxs[t.ID] = t
		}
	}
	preset := make(map[string]bool, len(b.firsts))
	for _, f := range b.firsts {
		if t, ok := b.chainTxs[f.tx]; ok {
			f.c.SetFirstConfirmedAt(t.Datetime.UTC()).SetFirstConfirmedHeight(t.Height)
			preset[f.hash] = true
		}
	}
	return preset, nil
}

// insertCosts queues the account_costs rows of a message.
func (p *Processor) insertCosts(tx *ent.Tx, b *batch, m *msg.Message, costs []handler.Cost) {
	for _, c := range costs {
		b.costRows = append(b.costRows, tx.AccountCost.Create().SetOwner(m.Owner()).SetItemHash(m.ItemHash).
			SetType(c.Type).SetName(c.Name).SetNillableRef(c.Ref).SetPaymentType(c.PaymentType).
			SetCostHold(orZero(c.Hold)).SetCostStream(orZero(c.Stream)).SetCostCredit(orZero(c.Credit)))
	}
}

// finish writes what the batch accumulated: deleted pending rows,
// counters, outbox.
func (p *Processor) finish(ctx context.Context, tx *ent.Tx, b *batch) error {
	if err := b.flush(ctx, tx); err != nil {
		return err
	}
	done := b.done
	if b.direct != nil {
		done = slices.DeleteFunc(done, func(id int) bool { return id == 0 })
	}
	for i := 0; i < len(done); i += 1000 {
		if _, err := tx.PendingMessage.Delete().Where(pendingmessage.IDIn(done[i:min(i+1000, len(done))]...)).Exec(ctx); err != nil {
			return fmt.Errorf("processor: delete pending: %w", err)
		}
	}
	if err := b.counters.write(ctx, tx); err != nil {
		return err
	}
	if err := p.wakeDependents(ctx, tx, b); err != nil {
		return err
	}
	return p.writeEvents(ctx, tx, b.events)
}

// uniq drops repeated strings, keeping the first.
func uniq(ss []string) []string {
	if len(ss) < 2 {
		return ss
	}
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// orZero maps "" to "0".
func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// Interface guards
var _ handler.Batch = (*batch)(nil)
