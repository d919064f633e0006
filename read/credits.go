package read

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/balance"
	"github.com/alephql/alephql/ent/creditbalance"
	"github.com/alephql/alephql/ent/credithistory"
	"github.com/alephql/alephql/ent/predicate"
)

// CreditHistoryFilter selects an address's credit history entries; zero
// fields do not filter.
type CreditHistoryFilter struct {
	Address              string
	TxHash, Token, Chain string
	Provider, Origin     string
	OriginRef            string
	PaymentMethod        string
	ExcludePaymentMethod string
	// HasExpiration, if set, keeps entries with (true) or without (false)
	// an expiration date.
	HasExpiration *bool
	// Start and End bound message_timestamp: [Start, End).
	Start, End *time.Time
	// Direction is "incoming" (amount > 0), "outgoing" (amount < 0) or "".
	Direction string
}

func (f CreditHistoryFilter) predicates() []predicate.CreditHistory {
	ps := []predicate.CreditHistory{credithistory.Address(f.Address)}
	eq := func(v string, p func(string) predicate.CreditHistory) {
		if v != "" {
			ps = append(ps, p(v))
		}
	}
	eq(f.TxHash, credithistory.TxHash)
	eq(f.Token, credithistory.Token)
	eq(f.Chain, credithistory.Chain)
	eq(f.Provider, credithistory.Provider)
	eq(f.Origin, credithistory.Origin)
	eq(f.OriginRef, credithistory.OriginRef)
	eq(f.PaymentMethod, credithistory.PaymentMethod)
	if f.ExcludePaymentMethod != "" {
		ps = append(ps, credithistory.Or(credithistory.PaymentMethodIsNil(), credithistory.PaymentMethodNEQ(f.ExcludePaymentMethod)))
	}
	if f.HasExpiration != nil {
		if *f.HasExpiration {
			ps = append(ps, credithistory.ExpirationDateNotNil())
		} else {
			ps = append(ps, credithistory.ExpirationDateIsNil())
		}
	}
	if f.Start != nil {
		ps = append(ps, credithistory.MessageTimestampGTE(f.Start.UTC()))
	}
	if f.End != nil {
		ps = append(ps, credithistory.MessageTimestampLT(f.End.UTC()))
	}
	switch f.Direction {
	case "incoming":
		ps = append(ps, credithistory.AmountGT(0))
	case "outgoing":
		ps = append(ps, credithistory.AmountLT(0))
	}
	return ps
}

// CreditCursor is the position of an entry in a credit history.
type CreditCursor struct {
	Timestamp time.Time
	Ref       string
	Index     int
}

// CreditHistoryCursor is the position of h in CreditHistory.
func CreditHistoryCursor(h *ent.CreditHistory) CreditCursor {
	return CreditCursor{Timestamp: h.MessageTimestamp.UTC(), Ref: h.CreditRef, Index: h.CreditIndex}
}

// CreditHistory lists credit history entries by message time, then
// credit_ref and index (descending when p.Desc), p.N beyond after
// (keyset; nil: the start) or from p.Offset; more reports rows beyond
// the page.
func (r *Reader) CreditHistory(ctx context.Context, f CreditHistoryFilter, p Page, after *CreditCursor) ([]*ent.CreditHistory, bool, error) {
	o := ent.Asc
	if p.Desc {
		o = ent.Desc
	}
	q := r.client.CreditHistory.Query().Where(f.predicates()...)
	if after != nil {
		q.Where(func(s *sql.Selector) {
			keysetAfter(s, p.Desc, []string{s.C(credithistory.FieldMessageTimestamp), s.C(credithistory.FieldCreditRef),
				s.C(credithistory.FieldCreditIndex)}, after.Timestamp.UTC(), after.Ref, after.Index)
		})
	}
	rows, err := q.Order(o(credithistory.FieldMessageTimestamp), o(credithistory.FieldCreditRef), o(credithistory.FieldCreditIndex)).
		Limit(p.N + 1).Offset(p.Offset).All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(Page{N: p.N}, rows)
	return rows, more, nil
}

// CreditSummary sums the credit history entries f selects.
type CreditSummary struct {
	Count    int64
	Total    int64
	Incoming int64
	Outgoing int64
}

// CreditHistorySummary counts and sums the entries f selects.
func (r *Reader) CreditHistorySummary(ctx context.Context, f CreditHistoryFilter) (CreditSummary, error) {
	var v []struct {
		N   int64 `json:"n"`
		In  int64 `json:"incoming"`
		Out int64 `json:"outgoing"`
	}
	err := r.client.CreditHistory.Query().Where(f.predicates()...).Modify(func(s *sql.Selector) {
		a := s.C(credithistory.FieldAmount)
		s.Select(sql.As(sql.Count("*"), "n"),
			sql.As("COALESCE(SUM(CASE WHEN "+a+" > 0 THEN "+a+" ELSE 0 END), 0)", "incoming"),
			sql.As("COALESCE(SUM(CASE WHEN "+a+" < 0 THEN -"+a+" ELSE 0 END), 0)", "outgoing"))
	}).Scan(ctx, &v)
	if err != nil || len(v) == 0 {
		return CreditSummary{}, err
	}
	return CreditSummary{Count: v[0].N, Incoming: v[0].In, Outgoing: v[0].Out, Total: v[0].In - v[0].Out}, nil
}

// BalanceFilter selects chain-wide balances (dApp balances excluded).
type BalanceFilter struct {
	Chains []string
	// MinBalance, a decimal string, keeps balances at least this high.
	MinBalance string
}

func (f BalanceFilter) apply(q *ent.BalanceQuery) *ent.BalanceQuery {
	q = q.Where(balance.Dapp(""))
	if len(f.Chains) > 0 {
		q = q.Where(balance.ChainIn(f.Chains...))
	}
	if f.MinBalance != "" {
		q = q.Where(predicate.Balance(decimalAtLeast(balance.FieldBalance, f.MinBalance)))
	}
	return q
}

// ChainBalances lists balances by address then chain, a page of p (keyset
// on (address, chain), or p.Offset); more reports rows beyond the page.
func (r *Reader) ChainBalances(ctx context.Context, f BalanceFilter, p Page) ([]*ent.Balance, bool, error) {
	where, order := p.Keyset(balance.FieldAddress, balance.FieldChain)
	rows, err := f.apply(r.client.Balance.Query()).Where(where).Modify(order).All(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more := Trim(p, rows)
	return rows, more, nil
}

// CountChainBalances counts the balances f selects.
func (r *Reader) CountChainBalances(ctx context.Context, f BalanceFilter) (int, error) {
	return f.apply(r.client.Balance.Query()).Count(ctx)
}

// AddressCredits is an address's credit balance.
type AddressCredits struct {
	Address string `json:"address"`
	Credits int64  `json:"credits"`
}

// creditTotals groups the unexpired lots at now by address, with at least
// min credits.
func creditTotals(now time.Time, min int64) func(*sql.Selector) {
	return func(s *sql.Selector) {
		s.Where(sql.Or(sql.IsNull(s.C(creditbalance.FieldExpirationDate)), sql.GT(s.C(creditbalance.FieldExpirationDate), now.UTC())))
		sum := "SUM(" + s.C(creditbalance.FieldAmountRemaining) + ")"
		s.GroupBy(s.C(creditbalance.FieldAddress))
		s.Having(sql.P(func(b *sql.Builder) { b.WriteString(sum + " >= ").Arg(min) }))
		s.Select(sql.As(s.C(creditbalance.FieldAddress), "address"), sql.As(sum, "credits"))
	}
}

// CreditBalances lists the addresses' credit balances at now (at least
// min) by address, p.N beyond the address after (keyset; "": the start)
// or from p.Offset; more reports rows beyond the page.
func (r *Reader) CreditBalances(ctx context.Context, now time.Time, min int64, p Page, after string) ([]AddressCredits, bool, error) {
	var out []AddressCredits
	err := r.client.CreditBalance.Query().Modify(func(s *sql.Selector) {
		if after != "" {
			s.Where(sql.GT(s.C(creditbalance.FieldAddress), after))
		}
		creditTotals(now, min)(s)
		s.OrderBy(s.C(creditbalance.FieldAddress)).Limit(p.N + 1).Offset(p.Offset)
	}).Scan(ctx, &out)
	if err != nil {
		return nil, false, err
	}
	out, more := Trim(Page{N: p.N}, out)
	return out, more, nil
}

// CountCreditBalances counts the addresses CreditBalances lists.
func (r *Reader) CountCreditBalances(ctx context.Context, now time.Time, min int64) (int64, error) {
	d := dialect.SQLite
	if r.IsPostgres(ctx) {
		d = dialect.Postgres
	}
	inner := sql.Dialect(d).Select().From(sql.Table(creditbalance.Table))
	creditTotals(now, min)(inner)
	query, args := sql.Dialect(d).Select(sql.Count("*")).From(inner.As("t")).Query()
	rows, err := r.client.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("count credit balances: %w", err)
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("count credit balances: %w", err)
		}
	}
	return n, rows.Err()
}
