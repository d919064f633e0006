package processor

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	msg "github.com/alephql/alephql/processor/message"
)

// FetchOnce runs the fetch stage on one batch of due rows that are not
// fetched yet: it fetches non-inline content through the storage, checks
// the signature and lets the handler fetch related content (STORE files).
// Rows are claimed with a lease (claimed_by, claimed_until) so that fetches
// run outside any transaction and another processor takes over a row whose
// holder died.
//
// For a storage or ipfs message, the fetched content is kept in the row's
// item_content (the reference node keeps it in a JSON column; text keeps
// the exact bytes the item hash covers).
func (p *Processor) FetchOnce(ctx context.Context) (int, error) {
	rows, err := p.claimFetch(ctx)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.FetchWorkers)
	for _, r := range rows {
		g.Go(func() error { return p.fetchOne(gctx, r) })
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	notify(p.wake)
	return len(rows), nil
}

// claimFetch leases due unfetched rows to this processor.
func (p *Processor) claimFetch(ctx context.Context) ([]*ent.PendingMessage, error) {
	var rows []*ent.PendingMessage
	err := p.withTx(ctx, func(tx *ent.Tx) error {
		now := p.now().UTC()
		q := tx.PendingMessage.Query().
			Where(pendingmessage.Fetched(false), pendingmessage.NextAttemptLTE(now),
				pendingmessage.Or(pendingmessage.ClaimedUntilIsNil(), pendingmessage.ClaimedUntilLT(now))).
			Order(pendingmessage.ByNextAttempt(), pendingmessage.ByID()).
			Limit(p.cfg.FetchWorkers * 4)
		if p.db.Dialect == dialectPostgres {
			q.ForUpdate(skipLocked())
		}
		var err error
		if rows, err = q.All(ctx); err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]int, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		return tx.PendingMessage.Update().Where(pendingmessage.IDIn(ids...)).
			SetClaimedBy(p.cfg.ID).SetClaimedUntil(now.Add(p.cfg.Lease)).Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("processor: claim fetch: %w", err)
	}
	return rows, nil
}

// fetchOne fetches one row and records the outcome.
func (p *Processor) fetchOne(ctx context.Context, r *ent.PendingMessage) error {
	var content *string
	m, err := rebuild(r)
	if err == nil && r.CheckMessage {
		err = m.Verify()
	}
	if err == nil && m.ItemType != msg.ItemInline && m.Content == nil {
		var raw []byte
		raw, err = p.storage.Get(ctx, m.ItemHash, p.hcfg.MaxContentSize)
		switch {
		case errors.Is(err, handler.ErrTooLarge):
			err = errcode.Wrap(errcode.InvalidFormat, err, "content too large")
		case err != nil:
			err = errcode.Wrap(errcode.ContentUnavailable, err, "content unavailable")
		default:
			if err = m.SetContent(raw); err == nil {
				s := string(raw)
				content = &s
			}
		}
	}
	if err == nil {
		if h := p.handlers.For(m.Type); h != nil {
			err = h.FetchRelated(ctx, m)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		// The signature was verified above (when it had to be): the
		// process stage need not verify it again (check_message false;
		// see intakeOne).
		u := tx0(p).PendingMessage.Update().
			Where(pendingmessage.ID(r.ID), pendingmessage.ClaimedBy(p.cfg.ID)).
			SetFetched(true).SetCheckMessage(false).SetRetries(0).ClearClaimedBy().ClearClaimedUntil().
			ClearLastError().ClearLastErrorCode()
		if content != nil {
			u.SetItemContent(*content)
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("processor: record fetch: %w", err)
		}
		return nil
	}
	if _, ok := errcode.CodeOf(err); !ok {
		err = errcode.Wrap(errcode.InternalError, err, "fetch")
	}
	b := &batch{now: p.now().UTC(), counters: counters{}}
	werr := p.withTx(ctx, func(tx *ent.Tx) error {
		b.events, b.done, b.awaits = b.events[:0], b.done[:0], b.awaits[:0]
		if ferr := p.fail(ctx, tx, b, r, err); ferr != nil {
			return ferr
		}
		return p.finish(ctx, tx, b)
	})
	if werr != nil {
		return fmt.Errorf("processor: record fetch failure: %w", werr)
	}
	p.publish(ctx, b.events)
	p.afterCommit(ctx, b.events, b.awaits)
	return nil
}

// tx0 is the client, for single statements outside a transaction.
func tx0(p *Processor) *ent.Client { return p.client }
