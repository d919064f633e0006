package graph

import (
	"context"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/messagecounter"
	"github.com/alephql/alephql/graph/model"
)

// The account's queries live in the read layer (shared with REST).

func (r *Resolver) accountBalances(ctx context.Context, addr string) ([]*ent.Balance, error) {
	return r.reader.AccountBalances(ctx, addr, r.limits.MaxPageSize)
}

func (r *Resolver) accountTotalBalance(ctx context.Context, addr string) (string, error) {
	return r.reader.TotalBalance(ctx, addr)
}

func (r *Resolver) accountCredits(ctx context.Context, addr string) (int, error) {
	n, err := r.reader.Credits(ctx, addr, time.Now())
	return int(n), err
}

func (r *Resolver) accountLocked(ctx context.Context, addr string) (string, error) {
	return r.reader.LockedAmount(ctx, addr)
}

func (r *Resolver) accountCosts(ctx context.Context, addr string) ([]*ent.AccountCost, error) {
	return r.reader.AccountCosts(ctx, addr, r.limits.MaxPageSize)
}

// accountMessageCounts reads the sender×type counters: one statement.
func (r *Resolver) accountMessageCounts(ctx context.Context, addr string) ([]*model.TypeCount, error) {
	keys := make([]string, len(model.AllMessageType))
	for i, t := range model.AllMessageType {
		keys[i] = countkey.Key(map[string]string{"sender": addr, "type": storedMessageType(t)})
	}
	rows, err := r.client.MessageCounter.Query().Where(messagecounter.IDIn(keys...)).All(ctx)
	if err != nil {
		return nil, err
	}
	got := byKey(rows, func(c *ent.MessageCounter) string { return c.ID })
	out := make([]*model.TypeCount, len(keys))
	for i, t := range model.AllMessageType {
		out[i] = &model.TypeCount{Type: t}
		if c := got[keys[i]]; c != nil {
			out[i].Count = int(c.Count)
		}
	}
	return out, nil
}

func (r *Resolver) accountChannels(ctx context.Context, addr string) ([]string, error) {
	return r.reader.AccountChannels(ctx, addr, r.limits.MaxPageSize)
}

func (r *Resolver) accountPostTypes(ctx context.Context, addr string) ([]string, error) {
	return r.reader.AccountPostTypes(ctx, addr, r.limits.MaxPageSize)
}
