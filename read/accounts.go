package read

import (
	"context"
	"math/big"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/balance"
	"github.com/alephql/alephql/ent/creditbalance"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/post"
)

// SumDecimals adds exact decimal strings (unparsable values count as 0):
// an integer when the sum is one, else 18 decimals.
func SumDecimals(vs []string) string {
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

// AccountBalances lists an address's balance rows (one per chain and
// dApp), by chain then dApp, at most limit.
func (r *Reader) AccountBalances(ctx context.Context, addr string, limit int) ([]*ent.Balance, error) {
	return r.client.Balance.Query().Where(balance.Address(addr)).
		Order(ent.Asc(balance.FieldChain), ent.Asc(balance.FieldDapp)).Limit(limit).All(ctx)
}

// TotalBalance is the sum of an address's chain-wide balances (dApp
// balances excluded), exact.
func (r *Reader) TotalBalance(ctx context.Context, addr string) (string, error) {
	vs, err := r.client.Balance.Query().Where(balance.Address(addr), balance.Dapp("")).Select(balance.FieldBalance).Strings(ctx)
	return SumDecimals(vs), err
}

// CreditLots lists an address's credit lots unexpired at now, oldest
// first.
func (r *Reader) CreditLots(ctx context.Context, addr string, now time.Time) ([]*ent.CreditBalance, error) {
	return r.client.CreditBalance.Query().Where(creditbalance.Address(addr),
		creditbalance.Or(creditbalance.ExpirationDateIsNil(), creditbalance.ExpirationDateGT(now.UTC()))).
		Order(ent.Asc(creditbalance.FieldMessageTimestamp), ent.Asc(creditbalance.FieldCreditRef), ent.Asc(creditbalance.FieldCreditIndex)).
		All(ctx)
}

// Credits is an address's credit balance at now: the remaining amounts of
// its unexpired lots.
func (r *Reader) Credits(ctx context.Context, addr string, now time.Time) (int64, error) {
	lots, err := r.CreditLots(ctx, addr, now)
	var total int64
	for _, l := range lots {
		total += l.AmountRemaining
	}
	return total, err
}

// LockedAmount is the sum of the hold costs of an address's resources.
func (r *Reader) LockedAmount(ctx context.Context, addr string) (string, error) {
	vs, err := r.client.AccountCost.Query().Where(accountcost.Owner(addr), accountcost.PaymentType("hold")).
		Select(accountcost.FieldCostHold).Strings(ctx)
	return SumDecimals(vs), err
}

// AccountCosts lists the cost lines of an address's messages, at most
// limit.
func (r *Reader) AccountCosts(ctx context.Context, addr string, limit int) ([]*ent.AccountCost, error) {
	return r.client.AccountCost.Query().Where(accountcost.Owner(addr)).
		Order(ent.Asc(accountcost.FieldItemHash), ent.Asc(accountcost.FieldType), ent.Asc(accountcost.FieldName)).
		Limit(limit).All(ctx)
}

// AccountChannels lists the distinct channels of an address's messages
// (by sender), sorted, at most limit.
func (r *Reader) AccountChannels(ctx context.Context, addr string, limit int) ([]string, error) {
	return r.client.Message.Query().Where(message.Sender(addr), message.ChannelNotNil()).Unique(true).
		Order(ent.Asc(message.FieldChannel)).Limit(limit).Select(message.FieldChannel).Strings(ctx)
}

// AccountPostTypes lists the distinct types of an address's posts (by
// owner, amends excluded), sorted, at most limit.
func (r *Reader) AccountPostTypes(ctx context.Context, addr string, limit int) ([]string, error) {
	return r.client.Post.Query().Where(post.Owner(addr), post.AmendsIsNil()).Unique(true).
		Order(ent.Asc(post.FieldType)).Limit(limit).Select(post.FieldType).Strings(ctx)
}

// Channels lists the distinct channels of all messages, sorted, at most
// limit.
func (r *Reader) Channels(ctx context.Context, limit int) ([]string, error) {
	return r.client.Message.Query().Where(message.ChannelNotNil(), message.ChannelNEQ("")).Unique(true).
		Order(ent.Asc(message.FieldChannel)).Limit(limit).Select(message.FieldChannel).Strings(ctx)
}

// decimalAtLeast selects rows whose decimal column is at least min (a
// decimal string), on both back-ends (text on SQLite, numeric on
// PostgreSQL).
func decimalAtLeast(col, min string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("CAST(").Ident(s.C(col)).WriteString(" AS NUMERIC) >= CAST(").Arg(min).WriteString(" AS NUMERIC)")
		}))
	}
}
