package handler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/creditbalance"
	"github.com/alephql/alephql/ent/credithistory"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
)

// lots returns address's lots in FIFO order as (remaining, expiration).
func lots(ctx context.Context, t *testing.T, tx *ent.Tx, address string) []*ent.CreditBalance {
	t.Helper()
	ls, err := tx.CreditBalance.Query().Where(creditbalance.Address(address)).
		Order(ent.Asc(creditbalance.FieldMessageTimestamp), ent.Asc(creditbalance.FieldCreditRef), ent.Asc(creditbalance.FieldCreditIndex)).All(ctx)
	require.NoError(t, err)
	return ls
}

// TestCreditFIFO: expenses drain lots oldest first, skipping lots that are
// expired at the expense's time or granted after it; transfers pass the
// source lots' expirations on; old posts are scaled by the precision
// multiplier; invalid posts are INVALID_FORMAT.
func TestCreditFIFO(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice, bob := newSigner(t), newSigner(t)
		base := 1780000000.0
		exp := time.Unix(int64(base)+100, 0).UTC()
		// Lot 1 expires at base+100; lot 2 never; lot 3 comes later.
		e.mustApply(e.distribution(base,
			map[string]any{"address": alice.addr(), "amount": 100, "price": "1", "tx_hash": "0xa", "provider": "ALEPH", "expiration": exp.UnixMilli()},
			map[string]any{"address": alice.addr(), "amount": 50, "price": 2.5, "tx_hash": "0xb", "provider": "ALEPH"}))
		e.mustApply(e.distribution(base+1000, map[string]any{"address": alice.addr(), "amount": 70, "price": "1", "tx_hash": "0xc", "provider": "ALEPH"}))

		expense := func(at float64, amount int) {
			e.mustApply(e.creditPost(e.oracle, "aleph_credit_expense", at, map[string]any{
				"expense": map[string]any{"credits": []any{map[string]any{"address": alice.addr(), "amount": amount, "execution_id": "vm", "size": 12.5}}},
			}))
		}
		expense(base+10, 120) // 100 from lot 1, 20 from lot 2
		e.read(func(ctx context.Context, tx *ent.Tx) {
			ls := lots(ctx, t, tx, alice.addr())
			require.Len(t, ls, 3)
			require.Equal(t, []int64{0, 30, 70}, []int64{ls[0].AmountRemaining, ls[1].AmountRemaining, ls[2].AmountRemaining})
			h, err := tx.CreditHistory.Query().Where(credithistory.Amount(-120)).Only(ctx)
			require.NoError(t, err)
			require.Equal(t, "credit_expense", *h.PaymentMethod)
			require.Equal(t, int64(12), *h.ExpenseSizeMib)
		})
		// At base+500 lot 3 does not exist yet: only lot 2 is drained, the
		// over-draw is dropped.
		expense(base+500, 50)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			ls := lots(ctx, t, tx, alice.addr())
			require.Equal(t, []int64{0, 0, 70}, []int64{ls[0].AmountRemaining, ls[1].AmountRemaining, ls[2].AmountRemaining})
		})

		// Expiry counts for the balance: a fresh expiring lot, seen before
		// and after its expiration.
		soon := e.now.Add(time.Hour)
		e.mustApply(e.distribution(base+2000, map[string]any{"address": bob.addr(), "amount": 40, "price": "1", "tx_hash": "0xd", "provider": "ALEPH", "expiration": soon.UnixMilli()}))
		e.read(func(ctx context.Context, tx *ent.Tx) {
			n, err := handler.CreditBalance(ctx, tx, bob.addr(), e.now)
			require.NoError(t, err)
			require.Equal(t, int64(40), n)
			n, err = handler.CreditBalance(ctx, tx, bob.addr(), soon)
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = handler.CreditBalance(ctx, tx, alice.addr(), e.now)
			require.NoError(t, err)
			require.Equal(t, int64(70), n)
		})

		// bob transfers 30 of his expiring lot to alice: her lot keeps the
		// source's expiration, capped by the requested one.
		requested := soon.Add(-10 * time.Minute)
		e.mustApply(e.creditPost(bob, "aleph_credit_transfer", base+3000, map[string]any{
			"transfer": map[string]any{"credits": []any{map[string]any{"address": alice.addr(), "amount": 30, "expiration": requested.UnixMilli()}}},
		}))
		e.read(func(ctx context.Context, tx *ent.Tx) {
			ls := lots(ctx, t, tx, alice.addr())
			require.Len(t, ls, 4)
			require.Equal(t, int64(30), ls[3].AmountRemaining)
			require.True(t, requested.Equal(*ls[3].ExpirationDate))
			require.Equal(t, int64(10), lots(ctx, t, tx, bob.addr())[0].AmountRemaining)
		})

		// Invalid transfers and schemas are INVALID_FORMAT.
		for name, body := range map[string]map[string]any{
			"beyond balance": {"transfer": map[string]any{"credits": []any{map[string]any{"address": alice.addr(), "amount": 11}}}},
			"to oneself":     {"transfer": map[string]any{"credits": []any{map[string]any{"address": bob.addr(), "amount": 1}}}},
			"float amount":   {"transfer": map[string]any{"credits": []any{map[string]any{"address": alice.addr(), "amount": 1.5}}}},
			"empty list":     {"transfer": map[string]any{"credits": []any{}}},
			"duplicate": {"transfer": map[string]any{"credits": []any{
				map[string]any{"address": alice.addr(), "amount": 1}, map[string]any{"address": alice.addr(), "amount": 1},
			}}},
		} {
			_, err := e.apply(e.creditPost(bob, "aleph_credit_transfer", base+4000, body))
			require.Error(t, err, name)
			requireCode(t, err, errcode.InvalidFormat)
		}
		// A balances-update without main_height is INVALID_FORMAT.
		_, err := e.apply(e.oracle.msg(t, "POST", tPaid, map[string]any{
			"type": "balances-update", "content": map[string]any{"chain": "ETH", "balances": map[string]any{alice.addr(): 1}},
		}))
		requireCode(t, err, errcode.InvalidFormat)
		_, err = e.apply(e.distribution(base, map[string]any{"address": alice.addr(), "amount": 5, "price": "abc", "tx_hash": "0x", "provider": "x"}))
		requireCode(t, err, errcode.InvalidFormat)

		// A distribution sent before the precision cut-off is scaled.
		e.mustApply(e.distribution(1769990399, map[string]any{"address": bob.addr(), "amount": 3, "price": "1", "tx_hash": "0xe", "provider": "ALEPH"}))
		e.read(func(ctx context.Context, tx *ent.Tx) {
			n, err := handler.CreditBalance(ctx, tx, bob.addr(), e.now)
			require.NoError(t, err)
			require.Equal(t, int64(10+30000), n)
		})
		// A distribution from someone else is not a credit post at all.
		e.mustApply(e.creditPost(bob, "aleph_credit_distribution", base, map[string]any{
			"distribution": map[string]any{"token": "ALEPH", "chain": "ETH", "credits": []any{map[string]any{"address": bob.addr(), "amount": 1000, "price": "1", "tx_hash": "0xf", "provider": "x"}}},
		}))
		e.read(func(ctx context.Context, tx *ent.Tx) {
			n, err := handler.CreditBalance(ctx, tx, bob.addr(), e.now)
			require.NoError(t, err)
			require.Equal(t, int64(30010), n)
		})
	})
}
