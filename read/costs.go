package read

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/predicate"
)

// CostFilter selects account_costs rows; zero fields do not filter.
type CostFilter struct {
	Owner, ItemHash, PaymentType string
}

func (f CostFilter) predicates() []predicate.AccountCost {
	var ps []predicate.AccountCost
	if f.Owner != "" {
		ps = append(ps, accountcost.Owner(f.Owner))
	}
	if f.ItemHash != "" {
		ps = append(ps, accountcost.ItemHash(f.ItemHash))
	}
	if f.PaymentType != "" {
		ps = append(ps, accountcost.PaymentType(f.PaymentType))
	}
	return ps
}

// MessageCosts lists the cost lines of one message, in a stable order.
func (r *Reader) MessageCosts(ctx context.Context, itemHash string) ([]*ent.AccountCost, error) {
	return r.client.AccountCost.Query().Where(accountcost.ItemHash(itemHash)).
		Order(ent.Asc(accountcost.FieldType), ent.Asc(accountcost.FieldName)).All(ctx)
}

// CostResources lists the messages (item hashes) f selects, by hash, n
// from offset, with all their cost lines.
func (r *Reader) CostResources(ctx context.Context, f CostFilter, n, offset int) ([]string, map[string][]*ent.AccountCost, error) {
	hashes, err := r.client.AccountCost.Query().Where(f.predicates()...).Unique(true).
		Order(ent.Asc(accountcost.FieldItemHash)).Limit(n).Offset(offset).Select(accountcost.FieldItemHash).Strings(ctx)
	if err != nil || len(hashes) == 0 {
		return hashes, nil, err
	}
	rows, err := r.client.AccountCost.Query().Where(append(f.predicates(), accountcost.ItemHashIn(hashes...))...).
		Order(ent.Asc(accountcost.FieldType), ent.Asc(accountcost.FieldName)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	by := map[string][]*ent.AccountCost{}
	for _, c := range rows {
		by[c.ItemHash] = append(by[c.ItemHash], c)
	}
	return hashes, by, nil
}

// CostSummary sums the cost lines f selects.
type CostSummary struct {
	Resources                int64
	Hold, Stream, CreditCost string
}

// CostsSummary counts the messages f selects and sums their costs (exact
// on PostgreSQL; double precision on SQLite).
func (r *Reader) CostsSummary(ctx context.Context, f CostFilter) (CostSummary, error) {
	var v []struct {
		N      int64 `json:"n"`
		Hold   any   `json:"hold"`
		Stream any   `json:"stream"`
		Credit any   `json:"credit"`
	}
	err := r.client.AccountCost.Query().Where(f.predicates()...).Modify(func(s *sql.Selector) {
		sum := func(col string) string { return "CAST(COALESCE(SUM(CAST(" + s.C(col) + " AS NUMERIC)), 0) AS TEXT)" }
		s.Select(sql.As("COUNT(DISTINCT "+s.C(accountcost.FieldItemHash)+")", "n"),
			sql.As(sum(accountcost.FieldCostHold), "hold"), sql.As(sum(accountcost.FieldCostStream), "stream"),
			sql.As(sum(accountcost.FieldCostCredit), "credit"))
	}).Scan(ctx, &v)
	if err != nil || len(v) == 0 {
		return CostSummary{Hold: "0", Stream: "0", CreditCost: "0"}, err
	}
	str := func(x any) string {
		switch t := x.(type) {
		case string:
			return t
		case nil:
			return "0"
		}
		return fmt.Sprint(x)
	}
	return CostSummary{Resources: v[0].N, Hold: str(v[0].Hold), Stream: str(v[0].Stream), CreditCost: str(v[0].Credit)}, nil
}
