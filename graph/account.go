package graph

import (
	"context"
	"math/big"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/balance"
	"github.com/alephql/alephql/ent/countkey"
	"github.com/alephql/alephql/ent/creditbalance"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messagecounter"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/graph/model"
)

func (r *Resolver) accountBalances(ctx context.Context, addr string) ([]*ent.Balance, error) {
	return r.client.Balance.Query().Where(balance.Address(addr)).
		Order(ent.Asc(balance.FieldChain), ent.Asc(balance.FieldDapp)).Limit(r.limits.MaxPageSize).All(ctx)
}

// sumDecimals adds exact decimal strings.
func sumDecimals(vs []string) string {
	total := new(big.Rat)
	for _, v := range vs {
		if x, ok := new(big.Rat).SetString(v); ok {
			total.Add(total, x)
		}
	}
	if total.IsInt() {
		return total.Num().String()
	}
	return total.FloatString(18)
}

func (r *Resolver) accountTotalBalance(ctx context.Context, addr string) (string, error) {
	vs, err := r.client.Balance.Query().Where(balance.Address(addr), balance.Dapp("")).Select(balance.FieldBalance).Strings(ctx)
	return sumDecimals(vs), err
}

func (r *Resolver) accountCredits(ctx context.Context, addr string) (int, error) {
	now := time.Now().UTC()
	lots, err := r.client.CreditBalance.Query().Where(creditbalance.Address(addr),
		creditbalance.Or(creditbalance.ExpirationDateIsNil(), creditbalance.ExpirationDateGT(now))).All(ctx)
	total := 0
	for _, l := range lots {
		total += int(l.AmountRemaining)
	}
	return total, err
}

func (r *Resolver) accountLocked(ctx context.Context, addr string) (string, error) {
	vs, err := r.client.AccountCost.Query().Where(accountcost.Owner(addr), accountcost.PaymentType("hold")).
		Select(accountcost.FieldCostHold).Strings(ctx)
	return sumDecimals(vs), err
}

func (r *Resolver) accountCosts(ctx context.Context, addr string) ([]*ent.AccountCost, error) {
	return r.client.AccountCost.Query().Where(accountcost.Owner(addr)).
		Order(ent.Asc(accountcost.FieldItemHash), ent.Asc(accountcost.FieldType), ent.Asc(accountcost.FieldName)).
		Limit(r.limits.MaxPageSize).All(ctx)
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
	return r.client.Message.Query().Where(message.Sender(addr), message.ChannelNotNil()).Unique(true).
		Order(ent.Asc(message.FieldChannel)).Limit(r.limits.MaxPageSize).Select(message.FieldChannel).Strings(ctx)
}

func (r *Resolver) accountPostTypes(ctx context.Context, addr string) ([]string, error) {
	return r.client.Post.Query().Where(post.Owner(addr), post.AmendsIsNil()).Unique(true).
		Order(ent.Asc(post.FieldType)).Limit(r.limits.MaxPageSize).Select(post.FieldType).Strings(ctx)
}
