package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor"
)

// Finalizable lists the removing messages the collector would finalize
// now: every removing message but the STOREs a message or grace pin still
// holds.
func (j *Jobs) Finalizable(ctx context.Context) ([]*ent.Message, error) {
	ms, err := j.client.Message.Query().Where(message.StatusEQ(message.StatusRemoving)).
		Order(ent.Asc(message.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read removing messages: %w", err)
	}
	out := ms[:0]
	for _, m := range ms {
		held, err := pinned(ctx, j.client.FilePin, m)
		if err != nil {
			return nil, err
		}
		if !held {
			out = append(out, m)
		}
	}
	return out, nil
}

// pinned reports whether a STORE's file is still held for it by a message
// or grace pin. Other types hold no pin of their own: they are finalized
// at the first collection after they became removing, as on the reference
// node.
func pinned(ctx context.Context, pins *ent.FilePinClient, m *ent.Message) (bool, error) {
	if m.Type != "STORE" {
		return false, nil
	}
	held, err := pins.Query().Where(filepin.ItemHash(m.ID),
		filepin.TypeIn(filepin.TypeMessage, filepin.TypeGracePeriod)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("read pins of %s: %w", m.ID, err)
	}
	return held, nil
}

// FinalizeRemoved turns removing messages that no pin holds any more into
// removed (spec 5.5), one transaction each: status (guarded, so a message
// recovered meanwhile stays processed), removed_at on the snapshot, the
// messages row and its cost rows deleted, a REMOVED event. It returns how
// many it finalized. The garbage collector calls it after each round.
func (j *Jobs) FinalizeRemoved(ctx context.Context, _ time.Time) (int, error) {
	ms, err := j.Finalizable(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, cand := range ms {
		evs, err := j.apply.Lifecycle(ctx, func(ctx context.Context, tx *ent.Tx, l *processor.Lifecycle) error {
			return finalize(ctx, tx, l, cand.ID)
		})
		if err != nil {
			return done, fmt.Errorf("finalize %s: %w", cand.ID, err)
		}
		for _, ev := range evs {
			done++
			j.metrics.removed(ev.Related)
			j.log.Info("message removed", "item_hash", ev.ItemHash, "reason", ev.Related)
		}
	}
	return done, nil
}

// finalize finalizes one removing message in tx, if it still qualifies.
func finalize(ctx context.Context, tx *ent.Tx, l *processor.Lifecycle, hash string) error {
	m, err := tx.Message.Get(ctx, hash)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Status != message.StatusRemoving {
		return nil
	}
	if held, err := pinned(ctx, tx.FilePin, m); err != nil || held {
		return err
	}
	now := l.Now()
	n, err := tx.MessageStatus.Update().
		Where(messagestatus.ID(hash), messagestatus.StatusEQ(messagestatus.StatusRemoving)).
		SetStatus(messagestatus.StatusRemoved).SetUpdatedAt(now).Save(ctx)
	if err != nil || n == 0 {
		return err
	}
	reason := ""
	snap, err := tx.RemovedMessage.Get(ctx, hash)
	switch {
	case ent.IsNotFound(err):
		// Removing without a snapshot (it predates them): write it now.
		err = tx.RemovedMessage.Create().SetID(m.ID).SetType(m.Type).SetChain(m.Chain).SetSender(m.Sender).
			SetNillableSignature(m.Signature).SetItemType(m.ItemType).SetTime(m.Time).SetNillableChannel(m.Channel).
			SetOwner(m.Owner).SetNillablePaymentType(m.PaymentType).SetSize(m.Size).SetRemovedAt(now).Exec(ctx)
	case err == nil:
		if snap.Reason != nil {
			reason = string(*snap.Reason)
		}
		err = tx.RemovedMessage.UpdateOneID(hash).SetRemovedAt(now).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("removal snapshot: %w", err)
	}
	if _, err := tx.AccountCost.Delete().Where(accountcost.ItemHash(hash)).Exec(ctx); err != nil {
		return fmt.Errorf("delete costs: %w", err)
	}
	if err := tx.Message.DeleteOneID(hash).Exec(ctx); err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	l.Left(m, string(message.StatusRemoving), events.Removed, reason)
	return nil
}
