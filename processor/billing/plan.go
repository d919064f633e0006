package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/file"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/removedmessage"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/handler"
)

// Action is what a job decides for one message.
type Action string

// The actions.
const (
	// Remove: the message is not covered; it becomes removing.
	Remove Action = "remove"
	// Recover: a removing message is covered again; it becomes processed.
	Recover Action = "recover"
	// Spare: the message is not covered but is a small STORE the rules
	// spare.
	Spare Action = "spare"
)

// Decision is a job's decision about one message, with why.
type Decision struct {
	Job      string `json:"job"`
	Address  string `json:"address"`
	ItemHash string `json:"item_hash"`
	Type     string `json:"type"`
	Action   Action `json:"action"`
	Reason   string `json:"reason"` // removal reason of the job
	// Cost is what the message needs: tokens held (hold job) or credits
	// for a day (credit job).
	Cost string `json:"cost"`
	// Available is what remained of the address's balance or credits for
	// this message, after the messages before it.
	Available string `json:"available"`
	// Height is the message's lowest confirmation height.
	Height int64 `json:"height"`
	// Why explains the decision in a sentence.
	Why string `json:"why"`
}

// secondsPerDay is the runtime credits must cover (pyaleph DAY).
const secondsPerDay = 86400

// paid is one paid, confirmed message of an address, with its summed cost.
type paid struct {
	hash   string
	cost   *cost.Decimal
	height int64
	msg    *ent.Message
}

// planAddress decides, for every confirmed message address pays in the
// job's payment type, whether it is covered (spec 5.5). It reads only.
func (j *Jobs) planAddress(ctx context.Context, tx *ent.Tx, job, address string, now time.Time) ([]Decision, error) {
	var remaining *cost.Decimal
	if job == JobCredit {
		credits, err := handler.CreditBalance(ctx, tx, address, now)
		if err != nil {
			return nil, err
		}
		remaining = cost.FromInt(credits)
	} else {
		bal, err := handler.TotalBalance(ctx, tx, address)
		if err != nil {
			return nil, err
		}
		remaining = bal
	}
	msgs, err := j.paidMessages(ctx, tx, job, address)
	if err != nil {
		return nil, err
	}
	zero := cost.FromInt(0)
	var out []Decision
	for _, p := range msgs {
		need := p.cost
		if job == JobCredit {
			if need, err = cost.Mul(p.cost, cost.FromInt(secondsPerDay)); err != nil {
				return nil, err
			}
		}
		covered := remaining.Cmp(need) >= 0
		shouldRemove := !covered && (job == JobCredit || p.height >= j.cfg.CutoffHeight)
		d := Decision{
			Job: job, Address: address, ItemHash: p.hash, Type: p.msg.Type, Reason: reasonOf(job),
			Cost: need.Text('f'), Available: remaining.Text('f'), Height: p.height,
		}
		if remaining, err = cost.Sub(remaining, need); err != nil {
			return nil, err
		}
		if remaining.Cmp(zero) < 0 {
			remaining = zero
		}
		switch {
		case shouldRemove && p.msg.Status == message.StatusProcessed:
			spare, size, err := j.spareStore(ctx, tx, job, p.msg)
			if err != nil {
				return nil, err
			}
			if spare {
				d.Action = Spare
				d.Why = fmt.Sprintf("needs %s, %s left, but a STORE of %d bytes (at most %d) is spared", d.Cost, d.Available, size, j.cfg.MaxFreeStoreSize)
			} else {
				d.Action = Remove
				d.Why = fmt.Sprintf("needs %s, %s left", d.Cost, d.Available)
			}
			out = append(out, d)
		case !shouldRemove && p.msg.Status == message.StatusRemoving:
			d.Action = Recover
			if covered {
				d.Why = fmt.Sprintf("needs %s, %s left: covered again", d.Cost, d.Available)
			} else {
				d.Why = fmt.Sprintf("confirmed below height %d: not removable", j.cfg.CutoffHeight)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// paidMessages are address's confirmed messages paid in the job's payment
// type, in the order of their first cost row, each with the sum of its
// cost rows in that payment type's column and its lowest confirmation
// height. A message confirmed by several transactions counts once
// (pyaleph's inner join counts it once per transaction: see doc.go).
// Unconfirmed messages are left out: they are never removed.
func (j *Jobs) paidMessages(ctx context.Context, tx *ent.Tx, job, address string) ([]paid, error) {
	column := accountcost.FieldCostHold
	if job == JobCredit {
		column = accountcost.FieldCostCredit
	}
	rows, err := tx.AccountCost.Query().
		Where(accountcost.Owner(address), accountcost.PaymentType(paymentOf(job))).
		Order(ent.Asc(accountcost.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read costs of %s: %w", address, err)
	}
	var order []string
	sums := map[string][]string{}
	for _, r := range rows {
		if _, ok := sums[r.ItemHash]; !ok {
			order = append(order, r.ItemHash)
		}
		v := r.CostHold
		if column == accountcost.FieldCostCredit {
			v = r.CostCredit
		}
		sums[r.ItemHash] = append(sums[r.ItemHash], v)
	}
	heights := map[string]int64{}
	msgs := map[string]*ent.Message{}
	for i := 0; i < len(order); i += 500 {
		chunk := order[i:min(i+500, len(order))]
		confs, err := tx.MessageConfirmation.Query().Where(messageconfirmation.ItemHashIn(chunk...)).WithTx().All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read confirmations: %w", err)
		}
		for _, c := range confs {
			if c.Edges.Tx == nil {
				continue
			}
			if h, ok := heights[c.ItemHash]; !ok || c.Edges.Tx.Height < h {
				heights[c.ItemHash] = c.Edges.Tx.Height
			}
		}
		ms, err := tx.Message.Query().Where(message.IDIn(chunk...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		for _, m := range ms {
			msgs[m.ID] = m
		}
	}
	out := make([]paid, 0, len(order))
	for _, h := range order {
		height, confirmed := heights[h]
		m := msgs[h]
		if !confirmed || m == nil {
			continue
		}
		sum, err := cost.Sum(sums[h])
		if err != nil {
			return nil, err
		}
		out = append(out, paid{hash: h, cost: sum, height: height, msg: m})
	}
	return out, nil
}

// spareStore reports whether m is a STORE the job must not remove: a file
// of at most MaxFreeStoreSize bytes, always for the hold job, and for the
// credit job only when the message was observed (first confirmed, else
// received) before the credit-only cut-off.
func (j *Jobs) spareStore(ctx context.Context, tx *ent.Tx, job string, m *ent.Message) (bool, int64, error) {
	if m.Type != "STORE" || m.ContentItemHash == nil {
		return false, 0, nil
	}
	f, err := tx.File.Query().Where(file.ID(*m.ContentItemHash)).Only(ctx)
	if ent.IsNotFound(err) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("read file %s: %w", *m.ContentItemHash, err)
	}
	if f.Size <= 0 || f.Size > j.cfg.MaxFreeStoreSize {
		return false, f.Size, nil
	}
	if job == JobCredit {
		observed := m.ReceptionTime
		if m.FirstConfirmedAt != nil {
			observed = *m.FirstConfirmedAt
		}
		if !observed.Before(j.cfg.CreditOnlyCutoff) {
			return false, f.Size, nil
		}
	}
	return true, f.Size, nil
}

// settle applies the decisions in tx.
func (j *Jobs) settle(ctx context.Context, tx *ent.Tx, l *processor.Lifecycle, ds []Decision) error {
	for _, d := range ds {
		var err error
		switch d.Action {
		case Remove:
			err = j.markRemoving(ctx, tx, l, d)
		case Recover:
			err = j.recover(ctx, tx, l, d)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", d.Action, d.ItemHash, err)
		}
	}
	return nil
}

// markRemoving moves a processed message to removing: status (guarded),
// messages.status, STORE pins to grace pins, the removed_messages
// snapshot, and the event.
func (j *Jobs) markRemoving(ctx context.Context, tx *ent.Tx, l *processor.Lifecycle, d Decision) error {
	now := l.Now()
	n, err := tx.MessageStatus.Update().
		Where(messagestatus.ID(d.ItemHash), messagestatus.StatusEQ(messagestatus.StatusProcessed)).
		SetStatus(messagestatus.StatusRemoving).SetUpdatedAt(now).Save(ctx)
	if err != nil || n == 0 {
		return err
	}
	m, err := tx.Message.UpdateOneID(d.ItemHash).SetStatus(message.StatusRemoving).Save(ctx)
	if err != nil {
		return err
	}
	if m.Type == "STORE" {
		err := tx.FilePin.Update().Where(filepin.ItemHash(d.ItemHash), filepin.TypeEQ(filepin.TypeMessage)).
			SetType(filepin.TypeGracePeriod).SetDeleteBy(now.Add(j.cfg.GracePeriod)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("grace pins: %w", err)
		}
	}
	if _, err := tx.RemovedMessage.Delete().Where(removedmessage.ID(d.ItemHash)).Exec(ctx); err != nil {
		return err
	}
	size := m.Size
	if m.Type == "STORE" && m.ContentItemHash != nil {
		if f, err := tx.File.Get(ctx, *m.ContentItemHash); err == nil {
			size = f.Size
		}
	}
	err = tx.RemovedMessage.Create().SetID(m.ID).SetType(m.Type).SetChain(m.Chain).SetSender(m.Sender).
		SetNillableSignature(m.Signature).SetItemType(m.ItemType).SetTime(m.Time).SetNillableChannel(m.Channel).
		SetOwner(m.Owner).SetNillablePaymentType(m.PaymentType).SetSize(size).
		SetReason(removedmessage.Reason(d.Reason)).SetRemovingSince(now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("removal snapshot: %w", err)
	}
	l.Changed(m, string(message.StatusProcessed), string(message.StatusRemoving), events.Removing, d.Reason)
	return nil
}

// recover moves a removing message back to processed: status (guarded:
// a message the collector already finalized stays removed),
// messages.status, grace pins back to message pins, the snapshot deleted,
// and the event.
func (j *Jobs) recover(ctx context.Context, tx *ent.Tx, l *processor.Lifecycle, d Decision) error {
	now := l.Now()
	n, err := tx.MessageStatus.Update().
		Where(messagestatus.ID(d.ItemHash), messagestatus.StatusEQ(messagestatus.StatusRemoving)).
		SetStatus(messagestatus.StatusProcessed).SetUpdatedAt(now).Save(ctx)
	if err != nil || n == 0 {
		return err
	}
	m, err := tx.Message.UpdateOneID(d.ItemHash).SetStatus(message.StatusProcessed).Save(ctx)
	if err != nil {
		return err
	}
	if m.Type == "STORE" {
		err := tx.FilePin.Update().Where(filepin.ItemHash(d.ItemHash), filepin.TypeEQ(filepin.TypeGracePeriod)).
			SetType(filepin.TypeMessage).ClearDeleteBy().Exec(ctx)
		if err != nil {
			return fmt.Errorf("restore pins: %w", err)
		}
	}
	if _, err := tx.RemovedMessage.Delete().Where(removedmessage.ID(d.ItemHash)).Exec(ctx); err != nil {
		return err
	}
	l.Changed(m, string(message.StatusRemoving), string(message.StatusProcessed), events.Recovered, "")
	return nil
}
