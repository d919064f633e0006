package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/balance"
	"github.com/alephql/alephql/ent/creditbalance"
	"github.com/alephql/alephql/ent/credithistory"
	"github.com/alephql/alephql/processor/cost"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/message"
)

// Credit post types.
const (
	CreditDistribution = "aleph_credit_distribution"
	CreditExpense      = "aleph_credit_expense"
	CreditTransfer     = "aleph_credit_transfer"
)

// MoneyEffects returns the post effects that maintain balances and
// credits: balances-update posts from the balance oracles, and credit
// distribution, expense and transfer posts. Give them to the POST handler
// in Deps.PostEffects. deps gives the configuration and the clock.
func MoneyEffects(deps Deps, dialectName string) []PostEffect {
	deps = deps.withDefaults()
	return []PostEffect{
		&BalancesEffect{cfg: deps.Config, dialect: dialectName, now: deps.Now},
		&CreditEffect{cfg: deps.Config, dialect: dialectName, now: deps.Now},
	}
}

// postOf returns the POST content of m, or nil.
func postOf(m *message.Message) *message.PostContent {
	c, _ := m.Content.(*message.PostContent)
	return c
}

// truthyJSON is Python's truth value of a post's content.content.
func truthyJSON(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "", "null", "false", "0", `""`, "[]", "{}", "0.0":
		return false
	}
	return true
}

// BalancesEffect applies balances-update posts of the oracle addresses
// (spec 4.2, 5.1): each (address, chain, dapp) balance is replaced when
// the update's main_height is newer than the stored one.
type BalancesEffect struct {
	cfg     Config
	dialect string
	now     func() time.Time
}

// Applies implements PostEffect.
func (e *BalancesEffect) Applies(m *message.Message) bool {
	c := postOf(m)
	return c != nil && c.Type == e.cfg.BalancePostType && slices.Contains(e.cfg.BalanceAddresses, c.Address) && truthyJSON(c.Content)
}

// Apply implements PostEffect. A post without chain or main_height, with
// an unknown chain or a non-numeric balance is INVALID_FORMAT.
func (e *BalancesEffect) Apply(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c := postOf(m)
	var body struct {
		Chain      *string                    `json:"chain"`
		MainHeight *json.Number               `json:"main_height"`
		Dapp       *string                    `json:"dapp"`
		Balances   map[string]json.RawMessage `json:"balances"`
	}
	d := json.NewDecoder(bytes.NewReader(c.Content))
	d.UseNumber()
	if err := d.Decode(&body); err != nil {
		return errcode.Field(errcode.InvalidFormat, "content.content", "invalid balance post: "+err.Error())
	}
	if body.Chain == nil || body.MainHeight == nil {
		return errcode.Field(errcode.InvalidFormat, "content.content", "missing field(s) chain and/or main_height for balance post")
	}
	if !message.KnownChain(chains.Chain(*body.Chain)) {
		return errcode.Field(errcode.InvalidFormat, "content.content.chain", "unknown chain "+*body.Chain)
	}
	height, err := body.MainHeight.Int64()
	if err != nil {
		return errcode.Field(errcode.InvalidFormat, "content.content.main_height", "not an integer")
	}
	dapp := ""
	if body.Dapp != nil {
		dapp = *body.Dapp
	}
	values := make(map[string]string, len(body.Balances))
	addrs := make([]string, 0, len(body.Balances))
	for addr, raw := range body.Balances {
		v, err := balanceText(raw)
		if err != nil {
			return errcode.Field(errcode.InvalidFormat, "content.content.balances."+addr, err.Error())
		}
		values[addr] = v
		addrs = append(addrs, addr)
	}
	slices.Sort(addrs)
	if err := Lock(ctx, tx, e.dialect, "balances:"+*body.Chain+"/"+dapp); err != nil {
		return err
	}
	now := e.now().UTC()
	for i := 0; i < len(addrs); i += 500 {
		chunk := addrs[i:min(i+500, len(addrs))]
		rows, err := tx.Balance.Query().Where(balance.Chain(*body.Chain), balance.Dapp(dapp), balance.AddressIn(chunk...)).All(ctx)
		if err != nil {
			return errcode.Wrap(errcode.InternalError, err, "read balances")
		}
		known := make(map[string]*ent.Balance, len(rows))
		for _, r := range rows {
			known[r.Address] = r
		}
		var creates []*ent.BalanceCreate
		for _, a := range chunk {
			r, ok := known[a]
			if !ok {
				creates = append(creates, tx.Balance.Create().SetAddress(a).SetChain(*body.Chain).SetDapp(dapp).
					SetBalance(values[a]).SetEthHeight(height).SetLastUpdate(now))
				continue
			}
			if height <= r.EthHeight {
				continue
			}
			u := tx.Balance.UpdateOne(r).SetBalance(values[a]).SetEthHeight(height)
			if same, _ := sameDecimal(r.Balance, values[a]); !same {
				u.SetLastUpdate(now)
			}
			if err := u.Exec(ctx); err != nil {
				return errcode.Wrap(errcode.InternalError, err, "update balance")
			}
		}
		if len(creates) > 0 {
			if err := tx.Balance.CreateBulk(creates...).Exec(ctx); err != nil {
				return errcode.Wrap(errcode.InternalError, err, "insert balances")
			}
		}
	}
	return nil
}

// balanceText is the NUMERIC text the reference node stores for a balance:
// Python's str() of the JSON number, read by PostgreSQL.
func balanceText(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return "", fmt.Errorf("balance %s is not a number", s)
	}
	if !strings.ContainsAny(s, ".eE") {
		return cost.NumericText(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", fmt.Errorf("balance %s is not a number", s)
	}
	return cost.NumericText(cost.PythonFloatText(f))
}

// sameDecimal compares two decimal strings by value.
func sameDecimal(a, b string) (bool, error) {
	x, err := cost.ParseDecimal(a)
	if err != nil {
		return false, err
	}
	y, err := cost.ParseDecimal(b)
	if err != nil {
		return false, err
	}
	return x.Cmp(y) == 0, nil
}

// CreditEffect applies credit posts in the credit channels (spec 5.1):
// distributions and expenses from the credit oracles, transfers from
// anyone. Credits are kept as lots drained first in, first out.
type CreditEffect struct {
	cfg     Config
	dialect string
	now     func() time.Time
}

// Applies implements PostEffect.
func (e *CreditEffect) Applies(m *message.Message) bool {
	c := postOf(m)
	if c == nil || !slices.Contains(e.cfg.CreditPostTypes, c.Type) || !truthyJSON(c.Content) {
		return false
	}
	if len(e.cfg.CreditChannels) > 0 && !(m.HasChannel && slices.Contains(e.cfg.CreditChannels, m.Channel)) {
		return false
	}
	switch c.Type {
	case CreditDistribution, CreditExpense:
		return slices.Contains(e.cfg.CreditAddresses, c.Address)
	}
	return c.Type == CreditTransfer
}

// Apply implements PostEffect. Content not matching the post type's schema
// is INVALID_FORMAT, and so is a transfer to oneself or beyond the
// sender's credits.
func (e *CreditEffect) Apply(ctx context.Context, tx *ent.Tx, m *message.Message) error {
	c := postOf(m)
	at := message.Timestamp(c.Time)
	now := e.now().UTC()
	rules := e.cfg.Rules()
	switch c.Type {
	case CreditDistribution:
		d, err := parseDistribution(c.Content)
		if err != nil {
			return err
		}
		for i, en := range d.credits {
			amount := rules.CreditAmount(en.amount, at)
			if err := e.lock(ctx, tx, en.address); err != nil {
				return err
			}
			if err := insertLot(ctx, tx, en.address, m.ItemHash, i, amount, en.expiration, at, now); err != nil {
				return err
			}
			h := history(tx, en.address, m.ItemHash, i, amount, at, now).SetPrice(en.price).
				SetTxHash(en.txHash).SetToken(d.token).SetChain(d.chain).SetProvider(en.provider).
				SetOrigin(en.origin).SetOriginRef(en.ref).SetPaymentMethod(en.paymentMethod).
				SetNillableExpirationDate(en.expiration).SetNillableBonusAmount(en.bonus)
			if err := saveHistory(ctx, h); err != nil {
				return err
			}
		}
	case CreditExpense:
		entries, err := parseExpense(c.Content)
		if err != nil {
			return err
		}
		for i, en := range entries {
			amount := rules.CreditAmount(en.amount, at)
			if err := e.lock(ctx, tx, en.address); err != nil {
				return err
			}
			if _, err := consume(ctx, tx, en.address, amount, at, now); err != nil {
				return err
			}
			h := history(tx, en.address, m.ItemHash, i, -amount, at, now).SetOrigin(en.executionID).
				SetOriginRef(en.ref).SetProvider("ALEPH").SetPaymentMethod("credit_expense").SetTxHash(en.nodeID).
				SetNillablePrice(en.price).SetNillableExpenseCount(en.count).SetNillableExpenseSizeMib(en.size)
			if err := saveHistory(ctx, h); err != nil {
				return err
			}
		}
	case CreditTransfer:
		return e.transfer(ctx, tx, m, c, at, now)
	}
	return nil
}

// lock serializes credit changes of one address across processors.
func (e *CreditEffect) lock(ctx context.Context, tx *ent.Tx, address string) error {
	return Lock(ctx, tx, e.dialect, "credits:"+address)
}

// transfer moves credits from the post's owner to the recipients: each
// recipient's lots keep the expiration of the sender's lots they come
// from, capped by the requested one. A credit oracle mints instead.
func (e *CreditEffect) transfer(ctx context.Context, tx *ent.Tx, m *message.Message, c *message.PostContent, at, now time.Time) error {
	entries, err := parseTransfer(c.Content)
	if err != nil {
		return err
	}
	sender := c.Address
	minter := slices.Contains(e.cfg.CreditAddresses, sender)
	var total int64
	for _, en := range entries {
		if en.address == sender {
			return errcode.Field(errcode.InvalidFormat, "content.content", "self-transfer not allowed: sender and recipient are both "+sender)
		}
		total += en.amount
	}
	if err := e.lock(ctx, tx, sender); err != nil {
		return err
	}
	if !minter {
		bal, err := CreditBalance(ctx, tx, sender, now)
		if err != nil {
			return err
		}
		if bal < total {
			return errcode.Field(errcode.InvalidFormat, "content.content",
				fmt.Sprintf("insufficient credit balance for transfer. Required: %d, Available: %d", total, bal))
		}
	}
	rules := e.cfg.Rules()
	index := 0
	for _, en := range entries {
		amount := rules.CreditAmount(en.amount, at)
		parts := []lotPart{{amount, en.expiration}}
		if !minter {
			consumed, err := consume(ctx, tx, sender, amount, at, now)
			if err != nil {
				return err
			}
			if merged := capExpirations(consumed, en.expiration); len(merged) > 0 {
				parts = merged
			}
		}
		if err := e.lock(ctx, tx, en.address); err != nil {
			return err
		}
		for _, p := range parts {
			if err := insertLot(ctx, tx, en.address, m.ItemHash, index, p.amount, p.expiration, at, now); err != nil {
				return err
			}
			h := history(tx, en.address, m.ItemHash, index, p.amount, at, now).SetNillableExpirationDate(p.expiration).
				SetOrigin(sender).SetProvider("ALEPH").SetPaymentMethod("credit_transfer")
			if err := saveHistory(ctx, h); err != nil {
				return err
			}
			index++
		}
		if !minter {
			h := history(tx, sender, m.ItemHash, index, -amount, at, now).SetOrigin(en.address).
				SetProvider("ALEPH").SetPaymentMethod("credit_transfer")
			if err := saveHistory(ctx, h); err != nil {
				return err
			}
			index++
		}
	}
	return nil
}

// lotPart is an amount taken from (or given as) one lot, with its
// expiration.
type lotPart struct {
	amount     int64
	expiration *time.Time
}

// capExpirations caps each consumed part's expiration at the requested
// one and merges neighbours with equal expirations.
func capExpirations(consumed []lotPart, requested *time.Time) []lotPart {
	var out []lotPart
	for _, p := range consumed {
		exp := p.expiration
		switch {
		case exp == nil:
			exp = requested
		case requested != nil && requested.Before(*exp):
			exp = requested
		}
		if n := len(out); n > 0 && sameTime(out[n-1].expiration, exp) {
			out[n-1].amount += p.amount
			continue
		}
		out = append(out, lotPart{p.amount, exp})
	}
	return out
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// consume drains amount from address's lots granted at or before at and
// not expired at at, oldest first; an over-draw is dropped, as on the
// reference node. It returns what each touched lot gave.
func consume(ctx context.Context, tx *ent.Tx, address string, amount int64, at, now time.Time) ([]lotPart, error) {
	if amount <= 0 {
		return nil, nil
	}
	lots, err := tx.CreditBalance.Query().Where(creditbalance.Address(address), creditbalance.AmountRemainingGT(0),
		creditbalance.MessageTimestampLTE(at),
		creditbalance.Or(creditbalance.ExpirationDateIsNil(), creditbalance.ExpirationDateGT(at))).
		Order(ent.Asc(creditbalance.FieldMessageTimestamp), ent.Asc(creditbalance.FieldCreditRef), ent.Asc(creditbalance.FieldCreditIndex)).
		All(ctx)
	if err != nil {
		return nil, errcode.Wrap(errcode.InternalError, err, "read credit lots")
	}
	var out []lotPart
	for _, l := range lots {
		if amount <= 0 {
			break
		}
		take := min(l.AmountRemaining, amount)
		if err := tx.CreditBalance.UpdateOne(l).SetAmountRemaining(l.AmountRemaining - take).SetLastUpdate(now).Exec(ctx); err != nil {
			return nil, errcode.Wrap(errcode.InternalError, err, "update credit lot")
		}
		amount -= take
		out = append(out, lotPart{take, l.ExpirationDate})
	}
	return out, nil
}

// insertLot adds a lot; replaying the same post adds nothing.
func insertLot(ctx context.Context, tx *ent.Tx, address, ref string, index int, amount int64, exp *time.Time, at, now time.Time) error {
	err := tx.CreditBalance.Create().SetAddress(address).SetCreditRef(ref).SetCreditIndex(index).
		SetAmountRemaining(amount).SetNillableExpirationDate(exp).SetMessageTimestamp(at).SetLastUpdate(now).
		OnConflictColumns(creditbalance.FieldAddress, creditbalance.FieldCreditRef, creditbalance.FieldCreditIndex).
		DoNothing().Exec(ctx)
	if err != nil && !isNoRows(err) {
		return errcode.Wrap(errcode.InternalError, err, "insert credit lot")
	}
	return nil
}

func history(tx *ent.Tx, address, ref string, index int, amount int64, at, now time.Time) *ent.CreditHistoryCreate {
	return tx.CreditHistory.Create().SetAddress(address).SetCreditRef(ref).SetCreditIndex(index).
		SetAmount(amount).SetMessageTimestamp(at).SetLastUpdate(now)
}

func saveHistory(ctx context.Context, h *ent.CreditHistoryCreate) error {
	err := h.OnConflictColumns(credithistory.FieldCreditRef, credithistory.FieldCreditIndex).DoNothing().Exec(ctx)
	if err != nil && !isNoRows(err) {
		return errcode.Wrap(errcode.InternalError, err, "insert credit history")
	}
	return nil
}
