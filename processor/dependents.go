package processor

import (
	"context"
	"fmt"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/errcode"
)

// Dependents: a message retried for a missing dependency (an amend before
// its original, a FORGET before its target, a STORE update before the
// STORE it refers to, a VM before its volumes or the program it replaces)
// records what it waits for in pending_messages.waits_on (the handler's
// errcode.Error.Awaits). The batch that processes that dependency makes
// the waiting rows due at once, in its own transaction, so they are
// claimed by the very next batch instead of after their back-off (which
// grows to minutes). The back-off stays as the fallback: a dependency
// committed by another processor between a dependent's check and its
// retry's commit does not wake it.

// wakeDependents makes the pending rows waiting for a message or an
// aggregate processed by b due now. It runs inside b's transaction.
func (p *Processor) wakeDependents(ctx context.Context, tx *ent.Tx, b *batch) error {
	keys := dependencyKeys(b.events)
	if len(keys) == 0 {
		return nil
	}
	n := 0
	if b.pg {
		// SKIP LOCKED: rows locked by the batch prefetched meanwhile
		// (pipeline.go) or by another processor are being retried already;
		// waiting for their locks would deadlock with the prefetch, whose
		// transaction stays open until this one commits.
		t, id, next, waits := pendingmessage.Table, pendingmessage.FieldID, pendingmessage.FieldNextAttempt, pendingmessage.FieldWaitsOn
		res, err := tx.ExecContext(ctx, `UPDATE "`+t+`" SET "`+next+`" = $1, "`+waits+`" = NULL WHERE "`+id+`" IN (SELECT "`+id+
			`" FROM "`+t+`" WHERE "`+waits+`" = ANY($2::text[]) FOR UPDATE SKIP LOCKED)`, b.now, keys)
		if err != nil {
			return fmt.Errorf("processor: wake dependents: %w", err)
		}
		if c, err := res.RowsAffected(); err == nil {
			n = int(c)
		}
	} else {
		for i := 0; i < len(keys); i += 500 {
			c, err := tx.PendingMessage.Update().Where(pendingmessage.WaitsOnIn(keys[i:min(i+500, len(keys))]...)).
				SetNextAttempt(b.now).ClearWaitsOn().Save(ctx)
			if err != nil {
				return fmt.Errorf("processor: wake dependents: %w", err)
			}
			n += c
		}
	}
	if n > 0 {
		p.log.DebugContext(ctx, "dependents due now", "rows", n)
	}
	return nil
}

// dependencyKeys returns what the processed messages among evs satisfy:
// their item hashes, and for AGGREGATE messages their aggregate's key.
// A forgotten message settles what waits for it too (an amend of a post
// forgotten meanwhile is forgotten with it at its next try).
func dependencyKeys(evs []events.Event) []string {
	var keys []string
	for _, e := range evs {
		if e.Kind == events.Forgotten {
			keys = append(keys, e.ItemHash)
			continue
		}
		if e.Kind != events.Processed {
			continue
		}
		keys = append(keys, e.ItemHash)
		if e.Type == "AGGREGATE" && e.Owner != "" && e.ContentKey != "" {
			keys = append(keys, errcode.AggregateKey(e.Owner, e.ContentKey))
		}
	}
	return keys
}
