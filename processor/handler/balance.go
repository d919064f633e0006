package handler

import (
	"context"
	"time"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/aggregate"
	"github.com/alephql/alephql/ent/balance"
	"github.com/alephql/alephql/ent/creditbalance"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// secondsPerDay is the runtime a credit balance must cover (pyaleph DAY).
const secondsPerDay = 86400

// Rules returns the payment rules of the configuration (cut-offs, free
// messages, credit precision); the credit precision values are the
// network's.
func (c Config) Rules() cost.Rules {
	r := cost.DefaultRules()
	r.FreeBefore = c.FreeStoreAndProgramBefore
	r.FreeBelowHeight = c.FreeConfirmationHeight
	r.HoldAndStreamCutoff = c.HoldAndStreamCutoff
	r.CreditOnlyCutoff = c.CreditOnlyCutoff
	r.MaxFreeStoreSize = c.MaxUnauthenticatedUploadSize
	return r
}

// CostModel reads the pricing and settings aggregates of owner, falling
// back to the built-in defaults for the one the network has not published.
// A malformed aggregate fails (as an internal error, retried).
func CostModel(ctx context.Context, tx *ent.Tx, owner string) (cost.Model, error) {
	m := cost.DefaultModel()
	aggs, err := tx.Aggregate.Query().
		Where(aggregate.Owner(owner), aggregate.KeyIn(cost.PricingKey, cost.SettingsKey)).All(ctx)
	if err != nil {
		return m, errcode.Wrap(errcode.InternalError, err, "read pricing aggregates")
	}
	for _, a := range aggs {
		switch a.Key {
		case cost.PricingKey:
			if m.Pricing, err = cost.ParsePricing(a.Content); err != nil {
				return m, errcode.Wrap(errcode.InternalError, err, "pricing aggregate")
			}
		case cost.SettingsKey:
			if m.Settings, err = cost.ParseSettings(a.Content); err != nil {
				return m, errcode.Wrap(errcode.InternalError, err, "settings aggregate")
			}
		}
	}
	return m, nil
}

// computeCosts prices m with the network's current pricing and returns the
// cost rows with the message's total in its payment type.
func computeCosts(ctx context.Context, tx *ent.Tx, cfg Config, m *message.Message) ([]Cost, *cost.Decimal, error) {
	return computeCostsWith(ctx, tx, cfg, m, txSizer{tx})
}

// computeCostsWith is computeCosts with the file sizes from files.
func computeCostsWith(ctx context.Context, tx *ent.Tx, cfg Config, m *message.Message, files cost.FileSizer) ([]Cost, *cost.Decimal, error) {
	model, err := CostModel(ctx, tx, cfg.PricingOwner)
	if err != nil {
		return nil, nil, err
	}
	lines, err := model.Costs(ctx, m.ItemHash, m.Content, files)
	if err != nil {
		if _, ok := errcode.CodeOf(err); ok {
			return nil, nil, err
		}
		return nil, nil, errcode.Wrap(errcode.InternalError, err, "compute costs")
	}
	total, err := cost.Total(lines, cost.PaymentOf(m.Content))
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.InternalError, err, "total cost")
	}
	out := make([]Cost, len(lines))
	for i, l := range lines {
		c := Cost{Type: l.Type, Name: l.Name, Ref: l.Ref, PaymentType: string(l.PaymentType)}
		for _, f := range []struct {
			dst *string
			v   *cost.Decimal
		}{{&c.Hold, l.Hold}, {&c.Stream, l.Stream}, {&c.Credit, l.Credit}} {
			if *f.dst, err = cost.FormatFixed(f.v); err != nil {
				return nil, nil, errcode.Wrap(errcode.InternalError, err, "format cost")
			}
		}
		out[i] = c
	}
	return out, total, nil
}

// TotalBalance is an address's ALEPH balance: the sum over chains of its
// chain-wide balances (dapp ""), address matched exactly as on the
// reference node.
func TotalBalance(ctx context.Context, tx *ent.Tx, address string) (*cost.Decimal, error) {
	vals, err := tx.Balance.Query().Where(balance.Address(address), balance.Dapp("")).
		Select(balance.FieldBalance).Strings(ctx)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read balances")
	}
	total, err := cost.Sum(vals)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "sum balances")
	}
	return total, nil
}

// CreditBalance is an address's credits: the remaining amounts of its lots
// that have not expired at now.
func CreditBalance(ctx context.Context, tx *ent.Tx, address string, now time.Time) (int64, error) {
	lots, err := tx.CreditBalance.Query().Where(creditbalance.Address(address),
		creditbalance.Or(creditbalance.ExpirationDateIsNil(), creditbalance.ExpirationDateGT(now))).
		All(ctx)
	if err != nil {
		return 0, errcode.Wrap(errcode.InternalError, err, "read credit balance")
	}
	var total int64
	for _, l := range lots {
		total += l.AmountRemaining
	}
	return max(total, 0), nil
}

// costColumn is the account_costs column of a payment type.
func costColumn(pt message.PaymentType) string {
	switch pt {
	case message.PaymentSuperfluid:
		return accountcost.FieldCostStream
	case message.PaymentCredit:
		return accountcost.FieldCostCredit
	}
	return accountcost.FieldCostHold
}

// existingCost is the owner's current cost in one payment type: the
// floored sum of that column over its account_costs rows of that payment
// type (pyaleph get_total_cost_for_address).
func existingCost(ctx context.Context, tx *ent.Tx, owner string, pt message.PaymentType) (*cost.Decimal, error) {
	vals, err := tx.AccountCost.Query().
		Where(accountcost.Owner(owner), accountcost.PaymentType(string(pt))).
		Select(costColumn(pt)).Strings(ctx)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read account costs")
	}
	sum, err := cost.Sum(vals)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "sum account costs")
	}
	if sum, err = cost.Floor(sum); err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "sum account costs")
	}
	return sum, nil
}

// ValidateBalance is the balance check of spec 5.4 (pyaleph
// validate_balance_for_payment). With credits, the owner's credits must
// cover one day of all its credit-paid resources and this one
// (CREDIT_INSUFFICIENT otherwise); with tokens, its balance must cover the
// hold (or stream) costs of everything it runs and this one
// (BALANCE_INSUFFICIENT). The error details hold the amounts as strings,
// written as the reference node writes them.
func ValidateBalance(ctx context.Context, tx *ent.Tx, owner string, msgCost *cost.Decimal, pt message.PaymentType, now time.Time) error {
	current, err := existingCost(ctx, tx, owner, pt)
	if err != nil {
		return err
	}
	required, err := cost.Add(current, msgCost)
	if err != nil {
		return errcode.Wrap(errcode.InternalError, err, "required balance")
	}
	if pt == message.PaymentCredit {
		credits, err := CreditBalance(ctx, tx, owner, now)
		if err != nil {
			return err
		}
		if required, err = cost.Mul(required, cost.FromInt(secondsPerDay)); err != nil {
			return errcode.Wrap(errcode.InternalError, err, "required credits")
		}
		if cost.FromInt(credits).Cmp(required) < 0 {
			e := errcode.Newf(errcode.CreditInsufficient, "%s has %d credits, needs %s for one day", owner, credits, required.String())
			e.Details = map[string]any{"errors": []any{map[string]any{
				"required_credits": required.String(),
				"account_credits":  cost.FromInt(credits).String(),
				"min_runtime_days": 1,
			}}}
			return e
		}
		return nil
	}
	bal, err := TotalBalance(ctx, tx, owner)
	if err != nil {
		return err
	}
	if bal.Cmp(required) < 0 {
		e := errcode.Newf(errcode.BalanceInsufficient, "%s has %s, needs %s", owner, bal.String(), required.String())
		e.Details = map[string]any{"errors": []any{map[string]any{
			"required_balance": required.String(),
			"account_balance":  bal.String(),
		}}}
		return e
	}
	return nil
}
