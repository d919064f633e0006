package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/chaintx"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/ent/rejectedmessage"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// Origin is the intake a message came through.
type Origin = pendingmessage.Origin

// The origins.
const (
	OriginAPI     = pendingmessage.OriginAPI
	OriginP2P     = pendingmessage.OriginP2p
	OriginIPFS    = pendingmessage.OriginIpfs
	OriginOnchain = pendingmessage.OriginOnchain
	OriginPeer    = pendingmessage.OriginPeer
	OriginImport  = pendingmessage.OriginImport
)

// Input is one message handed to SubmitBatch.
type Input struct {
	// Raw is the wire message as JSON. Ignored when Wire is set.
	Raw []byte
	// Wire is an already validated wire message (from a chain event).
	Wire *message.Wire
	// Origin is the intake.
	Origin Origin
	// TxHash is the chain transaction that carried the message, if any;
	// it must be in chain_txs.
	TxHash *string
	// NoSignature marks messages from smart-contract events, whose
	// signature is not checked.
	NoSignature bool
}

// Outcome is what intake did with a message.
type Outcome string

// Intake outcomes.
const (
	// Queued: stored as pending (new, or re-submitted after a rejection),
	// or, for messages applied at intake (direct.go), taken in: their
	// Status then says how they settled.
	Queued Outcome = "pending"
	// Duplicate: already known (pending, processed, forgotten...); nothing
	// changed.
	Duplicate Outcome = "duplicate"
	// Confirmed: already processed; the new transaction was recorded as a
	// confirmation.
	Confirmed Outcome = "confirmed"
	// Rejected: malformed; recorded in rejected_messages.
	Rejected Outcome = "rejected"
)

// SubmitResult reports the intake of one message.
type SubmitResult struct {
	// ItemHash is the message's item hash; empty when the message was too
	// malformed to have one.
	ItemHash string
	// Outcome is what intake did.
	Outcome Outcome
	// Status is the message's status after intake ("" if unknown).
	Status string
	// Err is the *errcode.Error of a Rejected message.
	Err error
}

// Submit takes one wire message (JSON) in. It returns once the message is
// durably pending, or known, or recorded as rejected; a malformed message
// also returns its *errcode.Error.
//
// Concurrent calls without txHash share intake transactions (coalesce.go).
func (p *Processor) Submit(ctx context.Context, raw []byte, origin Origin, txHash *string) (SubmitResult, error) {
	return p.submitSingle(ctx, Input{Raw: raw, Origin: origin, TxHash: txHash})
}

// SubmitWire is Submit for a wire message decoded by the caller.
func (p *Processor) SubmitWire(ctx context.Context, w *message.Wire, origin Origin, txHash *string, noSignature bool) (SubmitResult, error) {
	return p.submitSingle(ctx, Input{Wire: w, Origin: origin, TxHash: txHash, NoSignature: noSignature})
}

// submitSingle is Submit and SubmitWire: a message carrying a chain
// transaction is stored alone (an unknown transaction fails its whole
// batch), any other through the shared intake queue.
func (p *Processor) submitSingle(ctx context.Context, in Input) (SubmitResult, error) {
	items, err := p.prepare([]Input{in}, false)
	if err != nil {
		return SubmitResult{}, err
	}
	var res SubmitResult
	if in.TxHash != nil {
		var rs []SubmitResult
		if rs, err = p.submitItems(ctx, items); err == nil {
			res, err = rs[0], rs[0].Err
		}
	} else {
		res, err = p.submitOne(ctx, items[0])
	}
	if err != nil && res.Outcome == "" {
		return SubmitResult{}, err
	}
	return res, err
}

// intakeItem is one input during SubmitBatch.
type intakeItem struct {
	in  Input
	m   *message.Message
	err error
	raw json.RawMessage
	// direct: the message may be applied in the intake transaction
	// (direct.go); verr is then its signature check's outcome.
	direct bool
	verr   error
	// verified: its signature was checked here and holds; if it is
	// queued after all (directInOrder refused the batch, or an amend
	// waits), its pending row says so (check_message false) and the
	// process stage does not check it again.
	verified bool
}

// SubmitBatch takes many messages in one transaction (bulk import, chain
// sync). The error is a database failure, in which case nothing was
// stored; per-message rejections are in the results.
func (p *Processor) SubmitBatch(ctx context.Context, ins []Input) ([]SubmitResult, error) {
	items, err := p.prepare(ins, false)
	if err != nil {
		return nil, err
	}
	return p.submitItems(ctx, items)
}

// prepare validates the origins, decodes the inputs and, with direct (an
// Import), verifies the signatures of those that may be applied at
// intake, on all cores.
func (p *Processor) prepare(ins []Input, direct bool) ([]intakeItem, error) {
	items := make([]intakeItem, len(ins))
	for i, in := range ins {
		if err := pendingmessage.OriginValidator(in.Origin); err != nil {
			return nil, fmt.Errorf("%w: %q", ErrBadOrigin, in.Origin)
		}
		items[i].in = in
	}
	work := func(it *intakeItem) {
		it.m, it.err = decodeInput(it.in)
		it.raw = it.in.Raw
		if it.in.Wire != nil {
			it.raw = wireJSON(it.in.Wire)
		}
		if direct && it.m != nil && directEligible(it.in, it.m) {
			it.direct = true
			it.verr = it.m.Verify()
			it.verified = it.verr == nil
		}
	}
	if len(items) < 16 {
		for i := range items {
			work(&items[i])
		}
		return items, nil
	}
	g := new(errgroup.Group)
	workers := p.cfg.VerifyWorkers
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(items); i += workers {
				work(&items[i])
			}
			return nil
		})
	}
	_ = g.Wait()
	return items, nil
}

// submitItems stores prepared items, applying the direct ones in the same
// transaction; if applying them fails, the whole transaction is rolled
// back and the items are queued instead.
func (p *Processor) submitItems(ctx context.Context, items []intakeItem) ([]SubmitResult, error) {
	res, err := p.submitTx(ctx, items, true)
	if errors.Is(err, errAbort) {
		p.metrics.failed("intake", err, true)
		p.log.Warn("direct apply failed; queueing the batch", "err", err)
		res, err = p.submitTx(ctx, items, false)
	}
	if err != nil {
		p.metrics.failed("intake", err, false)
	}
	return res, err
}

// submitTx is the intake transaction of submitItems.
func (p *Processor) submitTx(ctx context.Context, items []intakeItem, direct bool) ([]SubmitResult, error) {
	txs := map[string]bool{}
	for _, it := range items {
		if it.in.TxHash != nil {
			txs[*it.in.TxHash] = true
		}
	}
	results := make([]SubmitResult, len(items))
	var evs []events.Event
	var awaits []string
	var tBegin, tApply, tApplied time.Time
	err := p.withTx(ctx, func(tx *ent.Tx) error {
		tBegin = time.Now()
		evs, awaits = evs[:0], nil
		if len(txs) > 0 {
			n, err := tx.ChainTx.Query().Where(chaintx.IDIn(keys(txs)...)).Count(ctx)
			if err != nil {
				return err
			}
			if n != len(txs) {
				return ErrUnknownTx
			}
		}
		var hashes []string
		for _, it := range items {
			if it.m != nil {
				hashes = append(hashes, it.m.ItemHash)
			} else if h := hashOf(it); h != "" {
				hashes = append(hashes, h)
			}
		}
		statuses, err := p.statuses(ctx, tx, hashes)
		if err != nil {
			return err
		}
		if direct {
			if direct, err = p.directInOrder(ctx, tx, items); err != nil {
				return err
			}
		}
		locked, err := p.lockIntake(ctx, tx, items, statuses, direct)
		if err != nil {
			return err
		}
		if locked {
			// A FORGET may have removed a message since its status was
			// read: read them again under the forget lock.
			if statuses, err = p.statuses(ctx, tx, hashes); err != nil {
				return err
			}
		}
		now := p.now().UTC()
		var pend []*ent.PendingMessageCreate
		var newStatus []*ent.MessageStatusCreate
		var applied []directItem
		for i, it := range items {
			it.direct = it.direct && direct
			r, ev, pc, err := p.intakeOne(ctx, tx, it, statuses, now, &newStatus)
			if err != nil {
				return err
			}
			results[i] = r
			if ev != nil {
				evs = append(evs, *ev)
			}
			switch {
			case pc != nil && r.Status == directStatus:
				applied = append(applied, directItem{idx: i, m: it.m, verr: it.verr, pc: pc, origin: it.in.Origin, txHash: it.in.TxHash})
			case pc != nil:
				pend = append(pend, pc)
			}
		}
		if err := p.insertQueued(ctx, tx, newStatus, pend); err != nil {
			return err
		}
		if err := refreshFirstConfirmed(ctx, tx, confirmedHashes(results)); err != nil {
			return err
		}
		if err := p.writeEvents(ctx, tx, evs); err != nil {
			return err
		}
		tApply = time.Now()
		if len(applied) == 0 {
			tApplied = tApply
			return nil
		}
		devs, settled, aw, err := p.applyDirect(ctx, tx, applied, now)
		tApplied = time.Now()
		if err != nil {
			return &abortError{err: err}
		}
		for _, d := range applied {
			results[d.idx].Status = string(settled[d.m.ItemHash])
		}
		evs, awaits = append(evs, devs...), aw
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.log.Debug("intake batch", "messages", len(items), "intake", tApply.Sub(tBegin), "apply", tApplied.Sub(tApply),
		"commit", time.Since(tApplied))
	p.publish(ctx, evs)
	p.afterCommit(ctx, evs, awaits)
	if len(evs) > 0 {
		notify(p.wake)
		notify(p.wakeF)
	}
	return results, nil
}

// lockIntake takes, before the intake transaction's first write, the
// advisory locks it may need (handler/lockkeys.go): the forget lock
// shared when it confirms messages already processed (it updates their
// rows; locked is then true, and the caller reads the statuses again),
// then the sorted keys of the messages it applies directly.
func (p *Processor) lockIntake(ctx context.Context, tx *ent.Tx, items []intakeItem, st map[string]messagestatus.Status, direct bool) (locked bool, err error) {
	if p.db.Dialect != dialectPostgres {
		return false, nil
	}
	for _, it := range items {
		if it.m == nil || it.in.TxHash == nil {
			continue
		}
		if s := st[it.m.ItemHash]; s == messagestatus.StatusProcessed || s == messagestatus.StatusRemoving {
			if err := handler.LockAgainstForget(ctx, tx, p.db.Dialect); err != nil {
				return false, fmt.Errorf("lock intake: %w", err)
			}
			locked = true
			break
		}
	}
	if !direct {
		return locked, nil
	}
	var ms []*message.Message
	for _, it := range items {
		if it.direct && it.m != nil {
			ms = append(ms, it.m)
		}
	}
	if err := handler.LockBatch(ctx, tx, p.db.Dialect, p.handlers, ms); err != nil {
		return locked, fmt.Errorf("lock intake: %w", err)
	}
	return locked, nil
}

// insertQueued writes the new status rows and the pending rows of an
// intake batch (ON CONFLICT DO NOTHING both).
func (p *Processor) insertQueued(ctx context.Context, tx *ent.Tx, newStatus []*ent.MessageStatusCreate, pend []*ent.PendingMessageCreate) error {
	if p.db.Dialect == dialectPostgres {
		st := newRows(pgStatuses, len(newStatus))
		for _, c := range newStatus {
			m := c.Mutation()
			id, _ := m.ID()
			if err := st.add(id, m); err != nil {
				return err
			}
		}
		pr := newRows(pgPending, len(pend))
		for _, c := range pend {
			if err := pr.add(nil, c.Mutation()); err != nil {
				return err
			}
		}
		if err := st.exec(ctx, tx); err != nil {
			return err
		}
		return pr.exec(ctx, tx)
	}
	for i := 0; i < len(newStatus); i += 1000 {
		err := tx.MessageStatus.CreateBulk(newStatus[i:min(i+1000, len(newStatus))]...).
			OnConflictColumns(messagestatus.FieldID).DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("insert statuses: %w", err)
		}
	}
	for i := 0; i < len(pend); i += 1000 {
		err := tx.PendingMessage.CreateBulk(pend[i:min(i+1000, len(pend))]...).
			OnConflict(sql.ConflictColumns(pendingmessage.FieldSender, pendingmessage.FieldItemHash, pendingmessage.FieldSignature)).
			DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("insert pending: %w", err)
		}
	}
	return nil
}

// decodeInput validates one input.
func decodeInput(in Input) (*message.Message, error) {
	var opts []message.Option
	if in.NoSignature {
		opts = append(opts, message.WithoutSignature())
	}
	if in.Wire != nil {
		m := &message.Message{Wire: *in.Wire}
		if m.ItemType == message.ItemInline {
			if err := m.SetContent([]byte(m.ItemContent)); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return message.Decode(in.Raw, opts...)
}

// hashOf digs the item hash out of a malformed message, if it has one
// that can key a rejection.
func hashOf(it intakeItem) string {
	var v struct {
		ItemHash string `json:"item_hash"`
	}
	if json.Unmarshal(it.raw, &v) != nil || v.ItemHash == "" || len(v.ItemHash) > 128 {
		return ""
	}
	return v.ItemHash
}

// intakeOne decides the fate of one input inside the intake transaction.
// It writes status rows itself and returns the pending row to bulk-insert.
func (p *Processor) intakeOne(ctx context.Context, tx *ent.Tx, it intakeItem, st map[string]messagestatus.Status, now time.Time, newStatus *[]*ent.MessageStatusCreate) (SubmitResult, *events.Event, *ent.PendingMessageCreate, error) {
	if it.m == nil {
		h := hashOf(it)
		r := SubmitResult{ItemHash: h, Outcome: Rejected, Err: it.err, Status: string(messagestatus.StatusRejected)}
		if h == "" {
			return r, nil, nil, nil // nothing to key a record on
		}
		if s, ok := st[h]; ok && s != messagestatus.StatusRejected {
			// A bad copy of a known message is dropped silently.
			return SubmitResult{ItemHash: h, Outcome: Duplicate, Status: string(s), Err: it.err}, nil, nil, nil
		}
		raw := it.raw
		if !json.Valid(raw) {
			raw, _ = json.Marshal(string(raw))
		}
		ev, err := p.reject(ctx, tx, h, raw, it.in.TxHash, it.err, now, st[h] == "")
		if err != nil {
			return r, nil, nil, err
		}
		st[h] = messagestatus.StatusRejected
		return r, ev, nil, nil
	}
	m := it.m
	h := m.ItemHash
	s, known := st[h]
	switch {
	case known && (s == messagestatus.StatusProcessed || s == messagestatus.StatusRemoving):
		if it.in.TxHash == nil {
			return SubmitResult{ItemHash: h, Outcome: Duplicate, Status: string(s)}, nil, nil, nil
		}
		err := tx.MessageConfirmation.Create().SetItemHash(h).SetTxHash(*it.in.TxHash).
			OnConflictColumns(messageconfirmation.FieldItemHash, messageconfirmation.FieldTxHash).
			DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return SubmitResult{}, nil, nil, fmt.Errorf("insert confirmation: %w", err)
		}
		ev := &events.Event{Kind: events.Confirmed, At: now, ItemHash: h, Related: *it.in.TxHash}
		return SubmitResult{ItemHash: h, Outcome: Confirmed, Status: string(s)}, ev, nil, nil
	case known && s == messagestatus.StatusPending && it.in.TxHash == nil:
		return SubmitResult{ItemHash: h, Outcome: Duplicate, Status: string(s)}, nil, nil, nil
	case known && s != messagestatus.StatusRejected && s != messagestatus.StatusPending:
		return SubmitResult{ItemHash: h, Outcome: Duplicate, Status: string(s)}, nil, nil, nil
	}
	// New, re-submitted after a rejection, or another copy of a pending
	// message carrying a transaction.
	direct := it.direct && !known
	if direct {
		// Applied in this transaction (direct.go), which writes its status.
	} else if !known {
		// Written in bulk by SubmitBatch, with the pending rows.
		*newStatus = append(*newStatus, tx.MessageStatus.Create().SetID(h).SetStatus(messagestatus.StatusPending).
			SetReceptionTime(now).SetUpdatedAt(now))
	} else if s == messagestatus.StatusRejected {
		_, err := tx.MessageStatus.Update().
			Where(messagestatus.ID(h), messagestatus.StatusEQ(messagestatus.StatusRejected)).
			SetStatus(messagestatus.StatusPending).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return SubmitResult{}, nil, nil, fmt.Errorf("update status: %w", err)
		}
		if _, err := tx.RejectedMessage.Delete().Where(rejectedmessage.ID(h)).Exec(ctx); err != nil {
			return SubmitResult{}, nil, nil, fmt.Errorf("delete rejection: %w", err)
		}
	}
	st[h] = messagestatus.StatusPending
	t := message.Timestamp(m.Time)
	next := t
	if next.After(now) {
		next = now // future-dated messages are due now
	}
	// check_message is whether the process stage must still verify the
	// signature: not for smart-contract messages (unsigned), nor for one
	// verified above (prepare). Who can write it false: only this
	// processor's code, here, in retryDirect (the same row) and in the
	// fetch stage once it verified the row; every node sharing the
	// database runs the same code, and whoever can write pending rows
	// can write messages rows as well, so the database is the trust
	// boundary either way.
	pc := tx.PendingMessage.Create().
		SetItemHash(h).SetType(string(m.Type)).SetChain(string(m.Chain)).SetSender(m.Sender).
		SetSignature(m.Signature).SetItemType(string(m.ItemType)).
		SetTime(t).SetReceptionTime(now).SetCheckMessage(!it.in.NoSignature && !it.verified).
		SetNextAttempt(next).SetFetched(!needsFetch(m)).SetOrigin(it.in.Origin).
		SetNillableTxHash(it.in.TxHash)
	if m.ItemType == message.ItemInline {
		pc.SetItemContent(m.ItemContent)
	}
	if m.HasChannel {
		pc.SetChannel(m.Channel)
	}
	if direct {
		return SubmitResult{ItemHash: h, Outcome: Queued, Status: directStatus}, nil, pc, nil
	}
	ev := eventOf(m, events.Pending, now)
	return SubmitResult{ItemHash: h, Outcome: Queued, Status: string(messagestatus.StatusPending)}, &ev, pc, nil
}

// needsFetch reports whether a message goes through the fetch stage:
// non-inline content, and the types whose handlers fetch related content
// (everything but inline POST, AGGREGATE and FORGET).
func needsFetch(m *message.Message) bool {
	if m.ItemType != message.ItemInline {
		return true
	}
	switch m.Type {
	case message.TypePost, message.TypeAggregate, message.TypeForget:
		return false
	}
	return true
}

// statuses reads the status of every hash.
func (p *Processor) statuses(ctx context.Context, tx *ent.Tx, hashes []string) (map[string]messagestatus.Status, error) {
	out := make(map[string]messagestatus.Status, len(hashes))
	if p.db.Dialect == dialectPostgres {
		return out, statusesPostgres(ctx, tx, hashes, out)
	}
	for i := 0; i < len(hashes); i += 1000 {
		rows, err := tx.MessageStatus.Query().
			Where(messagestatus.IDIn(hashes[i:min(i+1000, len(hashes))]...)).
			Select(messagestatus.FieldID, messagestatus.FieldStatus).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read statuses: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = r.Status
		}
	}
	return out, nil
}

// statusesPostgres is statuses in one statement whose hashes travel as one
// array parameter: the server parses and plans the same short text each
// time, where a 1000-element IN list made it parse and plan 1000
// parameters per batch (8 % of its statement time in the ingestion
// benchmark).
func statusesPostgres(ctx context.Context, tx *ent.Tx, hashes []string, out map[string]messagestatus.Status) error {
	if len(hashes) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT "`+messagestatus.FieldID+`", "`+messagestatus.FieldStatus+`" FROM "`+
		messagestatus.Table+`" WHERE "`+messagestatus.FieldID+`" = ANY($1::text[])`, hashes)
	if err != nil {
		return fmt.Errorf("read statuses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			return fmt.Errorf("read statuses: %w", err)
		}
		out[id] = messagestatus.Status(st)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read statuses: %w", err)
	}
	return nil
}

// reject records a rejection: status rejected (inserted when absent, or
// changed from pending or rejected), rejected_messages upserted.
func (p *Processor) reject(ctx context.Context, tx *ent.Tx, hash string, raw json.RawMessage, txHash *string, cause error, now time.Time, insertStatus bool) (*events.Event, error) {
	code := errcode.InternalError
	var details json.RawMessage
	var e *errcode.Error
	if errors.As(cause, &e) {
		code = e.Code
		if e.Details != nil {
			details, _ = json.Marshal(e.Details)
		}
	}
	if details == nil && cause != nil {
		details, _ = json.Marshal(map[string]string{"error": cause.Error()})
	}
	if insertStatus {
		err := tx.MessageStatus.Create().SetID(hash).SetStatus(messagestatus.StatusRejected).
			SetReceptionTime(now).SetUpdatedAt(now).
			OnConflictColumns(messagestatus.FieldID).DoNothing().Exec(ctx)
		if err != nil && !isNoRows(err) {
			return nil, fmt.Errorf("insert status: %w", err)
		}
	} else {
		_, err := tx.MessageStatus.Update().
			Where(messagestatus.ID(hash), messagestatus.StatusIn(messagestatus.StatusPending, messagestatus.StatusRejected)).
			SetStatus(messagestatus.StatusRejected).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("update status: %w", err)
		}
	}
	var tb *string
	if cause != nil {
		s := cause.Error()
		tb = &s
	}
	err := tx.RejectedMessage.Create().SetID(hash).SetMessage(raw).SetErrorCode(int(code)).
		SetDetails(details).SetNillableTraceback(tb).SetNillableTxHash(txHash).SetRejectedAt(now).
		OnConflictColumns(rejectedmessage.FieldID).UpdateNewValues().Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("insert rejection: %w", err)
	}
	c := int(code)
	return &events.Event{Kind: events.Rejected, At: now, ItemHash: hash, ErrorCode: &c}, nil
}

// keys returns the keys of a set.
func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
