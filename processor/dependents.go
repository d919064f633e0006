package processor

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/messagestatus"
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
// grows to minutes).
//
// On PostgreSQL two transactions can cross: a dependent checked in one
// transaction (X) while its dependency commits in another (Y: the intake
// transaction of an import, the other half of the pipelined process stage,
// another processor). Y's wake skips the dependent's row, which X holds
// locked, and X then commits the row with its waits_on and back-off. So
// after each commit (afterCommit) both sides look again, outside any
// transaction: X makes its awaited rows due when what they await is now
// there, and Y wakes its dependents once more. Whichever commits last
// sees the other: if Y's second wake ran before X's commit, X's check
// comes after Y's commit and finds the dependency. The back-off remains
// for what a database error leaves behind. SQLite has one writer at a
// time, so its transactions never cross and it needs neither look.

// wakeDependents makes the pending rows waiting for a message or an
// aggregate processed by b due now. It runs inside b's transaction.
func (p *Processor) wakeDependents(ctx context.Context, tx *ent.Tx, b *batch) error {
	return p.wakeKeys(ctx, tx, tx.PendingMessage, dependencyKeys(b.events), b.now)
}

// execer runs a statement: a transaction, or the client outside one.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// wakeKeys makes the pending rows waiting on keys due at now.
func (p *Processor) wakeKeys(ctx context.Context, ex execer, pm *ent.PendingMessageClient, keys []string, now time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	n := 0
	if p.db.Dialect == dialectPostgres {
		// SKIP LOCKED: rows locked by the batch prefetched meanwhile
		// (pipeline.go) or by another processor are being retried already;
		// waiting for their locks would deadlock with the prefetch, whose
		// transaction stays open until this one commits.
		t, id, next, waits := pendingmessage.Table, pendingmessage.FieldID, pendingmessage.FieldNextAttempt, pendingmessage.FieldWaitsOn
		res, err := ex.ExecContext(ctx, `UPDATE "`+t+`" SET "`+next+`" = $1, "`+waits+`" = NULL WHERE "`+id+`" IN (SELECT "`+id+
			`" FROM "`+t+`" WHERE "`+waits+`" = ANY($2::text[]) FOR UPDATE SKIP LOCKED)`, now, keys)
		if err != nil {
			return fmt.Errorf("processor: wake dependents: %w", err)
		}
		if c, err := res.RowsAffected(); err == nil {
			n = int(c)
		}
	} else {
		for i := 0; i < len(keys); i += 500 {
			c, err := pm.Update().Where(pendingmessage.WaitsOnIn(keys[i:min(i+500, len(keys))]...)).
				SetNextAttempt(now).ClearWaitsOn().Save(ctx)
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

// afterCommit is the second look of both sides of a crossing (see
// above), run once a transaction has committed evs and retried rows
// awaiting awaits. It is a no-op on SQLite. A failure is logged: the
// rows concerned keep their back-off.
//
// It runs on ctx's values but not its cancellation, within
// afterCommitTimeout: what it looks at was committed under ctx, so a
// caller whose context ends right after the commit (a client's request
// answered, a source stopping) must not leave a crossed dependent waiting
// out its back-off.
func (p *Processor) afterCommit(ctx context.Context, evs []events.Event, awaits []string) {
	if p.db.Dialect != dialectPostgres {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterCommitTimeout)
	defer cancel()
	keys := dependencyKeys(evs)
	if len(awaits) > 0 {
		ready, err := p.present(ctx, uniq(awaits))
		if err != nil {
			p.log.WarnContext(ctx, "look for awaited dependencies", "err", err)
		}
		p.metrics.crossedDependencies(len(ready))
		keys = append(keys, ready...)
	}
	if err := p.wakeKeys(ctx, p.client, p.client.PendingMessage, keys, p.now().UTC()); err != nil {
		p.log.WarnContext(ctx, "wake dependents after commit", "err", err)
	}
}

// afterCommitTimeout bounds afterCommit's two statements.
const afterCommitTimeout = 30 * time.Second

// present returns the keys among awaits (dependency keys: item hashes and
// errcode.AggregateKey) whose dependency is there now: a message
// processed, removing or forgotten, an aggregate with an element.
func (p *Processor) present(ctx context.Context, awaits []string) ([]string, error) {
	var hashes []string
	var out []string
	for _, k := range awaits {
		rest, ok := strings.CutPrefix(k, errcode.AggregatePrefix)
		if !ok {
			hashes = append(hashes, k)
			continue
		}
		addr, key, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		there, err := p.client.AggregateElement.Query().Where(aggregateelement.Owner(addr), aggregateelement.Key(key)).Exist(ctx)
		if err != nil {
			return out, fmt.Errorf("read aggregate elements: %w", err)
		}
		if there {
			out = append(out, k)
		}
	}
	if len(hashes) > 0 {
		ids, err := p.client.MessageStatus.Query().Where(messagestatus.IDIn(hashes...),
			messagestatus.StatusIn(messagestatus.StatusProcessed, messagestatus.StatusRemoving, messagestatus.StatusForgotten)).IDs(ctx)
		if err != nil {
			return out, fmt.Errorf("read statuses: %w", err)
		}
		out = append(out, ids...)
	}
	return out, nil
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
