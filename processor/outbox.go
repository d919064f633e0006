package processor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/messagecounter"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor/message"
)

// withTx runs f in a transaction and commits it.
func (p *Processor) withTx(ctx context.Context, f func(tx *ent.Tx) error) error {
	tx, err := p.begin(ctx)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("processor: commit: %w", err)
	}
	return nil
}

// begin starts a transaction. On SQLite, where transactions take the
// write lock when they begin, a lock held past the busy timeout by
// another connection (the process stage applying a large batch while an
// import takes messages in) is transient: begin waits and tries again,
// with a doubling pause of at most a second, until ctx ends, instead of
// failing the intake or the batch.
func (p *Processor) begin(ctx context.Context) (*ent.Tx, error) {
	pause := 10 * time.Millisecond
	for {
		tx, err := p.client.Tx(ctx)
		switch {
		case err == nil:
			return tx, nil
		case !database.IsBusy(err):
			return nil, fmt.Errorf("processor: begin: %w", err)
		}
		p.log.WarnContext(ctx, "database locked; retrying", "err", err, "pause", pause)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("processor: begin: %w", errors.Join(err, ctx.Err()))
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// isNoRows reports the error of an ON CONFLICT DO NOTHING insert that
// inserted nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// eventOf builds the event of a message.
func eventOf(m *message.Message, kind events.Kind, at time.Time) events.Event {
	ev := events.Event{
		Kind: kind, At: at, ItemHash: m.ItemHash, Type: string(m.Type), Chain: string(m.Chain),
		Sender: m.Sender, Time: message.Timestamp(m.Time),
	}
	if m.HasChannel {
		ev.Channel = m.Channel
	}
	if m.Content != nil {
		ev.Owner = m.Owner()
		ev.ContentType = m.ContentType()
		ev.ContentKey = m.ContentKey()
		ev.ContentRef = m.ContentRef()
		ev.Tags = m.Tags()
	}
	return ev
}

// writeEvents appends the events to the outbox and sets their Seq.
func (p *Processor) writeEvents(ctx context.Context, tx *ent.Tx, evs []events.Event) error {
	if p.db.Dialect == dialectPostgres {
		return writeEventsPostgres(ctx, tx, evs)
	}
	for i := 0; i < len(evs); i += 1000 {
		chunk := evs[i:min(i+1000, len(evs))]
		b := make([]*ent.MessageEventCreate, len(chunk))
		for j, ev := range chunk {
			c := tx.MessageEvent.Create().SetItemHash(ev.ItemHash).SetKind(string(ev.Kind)).
				SetCreatedAt(ev.At).SetNillableErrorCode(ev.ErrorCode)
			if ev.Related != "" {
				c.SetRelated(ev.Related)
			}
			b[j] = c
		}
		rows, err := tx.MessageEvent.CreateBulk(b...).Save(ctx)
		if err != nil {
			return fmt.Errorf("write outbox: %w", err)
		}
		for j, r := range rows {
			chunk[j].Seq = r.ID
		}
	}
	return nil
}

// publish hands committed events to the bus.
func (p *Processor) publish(ctx context.Context, evs []events.Event) {
	if p.events == nil || len(evs) == 0 {
		return
	}
	if err := p.events.Publish(ctx, evs...); err != nil {
		p.log.Warn("publish events", "err", err, "events", len(evs))
	}
}

// counterDims are the counter dimensions of a message in the messages
// table.
func counterDims(typ, chain, sender, owner, status string, channel *string) dimSet {
	d := dimSet{typ: typ, chain: chain, sender: sender, owner: owner, status: status}
	if channel != nil {
		d.channel = *channel
	}
	return d
}

// dimSet is the counter dimensions of one message, comparable so that a
// batch sums its deltas per distinct set before expanding them into
// counter keys (a bulk import has few distinct sets per batch, and each
// expands into up to 22 keys).
type dimSet struct{ typ, chain, sender, owner, status, channel string }

// dims returns d as countkey's map (empty values are absent dimensions).
func (d dimSet) dims() map[string]string {
	return map[string]string{"type": d.typ, "chain": d.chain, "sender": d.sender, "owner": d.owner,
		"status": d.status, "channel": d.channel}
}

// counters accumulates counter deltas for one transaction, per dimension
// set.
type counters map[dimSet]int64

// add adds delta to every counter of dims.
func (c counters) add(dims dimSet, delta int64) { c[dims] += delta }

// deltas expands the accumulated sets into counter keys and their deltas.
func (c counters) deltas() map[string]int64 {
	out := make(map[string]int64, 4*len(c))
	for d, n := range c {
		if n == 0 {
			continue
		}
		for _, k := range countkey.Keys(d.dims()) {
			out[k] += n
		}
	}
	return out
}

// write upserts the deltas.
func (c counters) write(ctx context.Context, tx *ent.Tx) error {
	deltas := c.deltas()
	// Sorted keys: two transactions upserting overlapping counters lock
	// them in the same order, so they never deadlock.
	ks := make([]string, 0, len(deltas))
	for k, d := range deltas {
		if d != 0 {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	b := make([]*ent.MessageCounterCreate, len(ks))
	for i, k := range ks {
		b[i] = tx.MessageCounter.Create().SetID(k).SetCount(deltas[k])
	}
	for i := 0; i < len(b); i += 1000 {
		err := tx.MessageCounter.CreateBulk(b[i:min(i+1000, len(b))]...).
			OnConflict(entsql.ConflictColumns(messagecounter.FieldID), entsql.ResolveWith(func(u *entsql.UpdateSet) {
				u.Set(messagecounter.FieldCount, entsql.Expr(u.Table().C(messagecounter.FieldCount)+" + excluded."+messagecounter.FieldCount))
			})).Exec(ctx)
		if err != nil {
			return fmt.Errorf("write counters: %w", err)
		}
	}
	return nil
}

// writeEventsPostgres is writeEvents in one unnest insert (bulk.go).
func writeEventsPostgres(ctx context.Context, tx *ent.Tx, evs []events.Event) error {
	r := newRows(pgEvents, len(evs))
	for _, ev := range evs {
		c := tx.MessageEvent.Create().SetItemHash(ev.ItemHash).SetKind(string(ev.Kind)).
			SetCreatedAt(ev.At).SetNillableErrorCode(ev.ErrorCode)
		if ev.Related != "" {
			c.SetRelated(ev.Related)
		}
		if err := r.add(nil, c.Mutation()); err != nil {
			return err
		}
	}
	ids, err := r.returningIDs(ctx, tx)
	if err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	for i, id := range ids {
		evs[i].Seq = id
	}
	return nil
}
