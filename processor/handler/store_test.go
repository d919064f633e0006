package handler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/processor/errcode"
)

func tagOf(ctx context.Context, t *testing.T, tx *ent.Tx, tag string) *ent.FileTag {
	t.Helper()
	ft, err := tx.FileTag.Get(ctx, tag)
	if ent.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return ft
}

func TestStoreVersionsAndTags(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice, bob := newSigner(t), newSigner(t)
		f1, f2, f3, f4 := e.file("version one"), e.file("version two"), e.file("named v1"), e.file("named v2")

		orig := storeMsg(t, alice, tPaid, f1, nil)
		costs := e.mustApply(orig)
		require.Len(t, costs, 1, "a STORE always has its cost row, even free")
		require.Equal(t, "STORAGE", costs[0].Type)

		// A hash ref updates the original's tag when newer.
		upd := storeMsg(t, alice, tPaid+10, f2, map[string]any{"ref": orig.ItemHash})
		e.mustApply(upd)
		// An older update of the same tag does not win.
		old := storeMsg(t, alice, tPaid+5, f1, map[string]any{"ref": orig.ItemHash})
		e.mustApply(old)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			tag := tagOf(ctx, t, tx, orig.ItemHash)
			require.NotNil(t, tag)
			require.Equal(t, f2, tag.FileHash)
			require.Equal(t, upd.ItemHash, tag.ItemHash)
			f, err := tx.File.Get(ctx, f2)
			require.NoError(t, err)
			require.Equal(t, int64(len("version two")), f.Size)
		})

		// Someone else may not update alice's tag.
		_, err := e.apply(storeMsg(t, bob, tPaid+20, f3, map[string]any{"ref": orig.ItemHash}))
		requireCode(t, err, errcode.PermissionDenied)
		// An unknown hash ref waits; a ref to an update is refused.
		_, err = e.apply(storeMsg(t, alice, tPaid+20, f3, map[string]any{"ref": "0000000000000000000000000000000000000000000000000000000000000001"}))
		require.Equal(t, errcode.MissingDependency, requireCode(t, err, errcode.StoreRefNotFound).Kind())
		_, err = e.apply(storeMsg(t, alice, tPaid+20, f3, map[string]any{"ref": upd.ItemHash}))
		requireCode(t, err, errcode.StoreUpdateUpdate)
		// item_type must match the hash.
		_, err = e.apply(storeMsg(t, alice, tPaid+20, f3, map[string]any{"item_type": "ipfs"}))
		requireCode(t, err, errcode.InvalidFormat)
		// A file nobody has is FILE_UNAVAILABLE (retried).
		_, err = e.apply(storeMsg(t, alice, tPaid+20, "ab00000000000000000000000000000000000000000000000000000000000000", nil))
		require.Equal(t, errcode.Transient, requireCode(t, err, errcode.FileUnavailable).Kind())

		// Free-text refs tag "owner/ref"; each owner has their own.
		n1 := storeMsg(t, alice, tPaid+30, f3, map[string]any{"ref": "site"})
		n2 := storeMsg(t, alice, tPaid+40, f4, map[string]any{"ref": "site"})
		e.mustApply(n1)
		e.mustApply(n2)
		e.mustApply(storeMsg(t, bob, tPaid+50, f1, map[string]any{"ref": "site"}))
		aliceTag, bobTag := alice.addr()+"/site", bob.addr()+"/site"
		e.read(func(ctx context.Context, tx *ent.Tx) {
			require.Equal(t, f4, tagOf(ctx, t, tx, aliceTag).FileHash)
			require.Equal(t, f1, tagOf(ctx, t, tx, bobTag).FileHash)
			require.Equal(t, bob.addr(), tagOf(ctx, t, tx, bobTag).Owner)
		})

		// Forgetting the newest owner/ref version points the tag back at
		// the previous one (the reference node deletes the tag).
		e.forget(n2.ItemHash)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			tag := tagOf(ctx, t, tx, aliceTag)
			require.NotNil(t, tag)
			require.Equal(t, f3, tag.FileHash)
			require.Equal(t, n1.ItemHash, tag.ItemHash)
			// f4 lost its last pin: a grace-period pin keeps it a day.
			pins, err := tx.FilePin.Query().Where(filepin.FileHash(f4)).All(ctx)
			require.NoError(t, err)
			require.Len(t, pins, 1)
			require.Equal(t, filepin.TypeGracePeriod, pins[0].Type)
			require.WithinDuration(t, e.now.Add(24*time.Hour), *pins[0].DeleteBy, time.Second)
		})
		e.forget(n1.ItemHash)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			require.Nil(t, tagOf(ctx, t, tx, aliceTag), "no version left: the tag goes")
		})

		// Forgetting the hash-ref update moves the tag to the next newest.
		e.forget(upd.ItemHash)
		e.read(func(ctx context.Context, tx *ent.Tx) {
			tag := tagOf(ctx, t, tx, orig.ItemHash)
			require.Equal(t, old.ItemHash, tag.ItemHash)
			// f2 is unpinned; f1 is still pinned by orig and old and bob.
			n, err := tx.FilePin.Query().Where(filepin.FileHash(f2), filepin.TypeEQ(filepin.TypeGracePeriod)).Count(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = tx.FilePin.Query().Where(filepin.FileHash(f1), filepin.TypeEQ(filepin.TypeGracePeriod)).Count(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
		})
	})
}

// TestStoreBalance: a large hold STORE needs a balance, a small one does
// not, and after the credit-only cut-off hold is refused.
func TestStoreBalance(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		alice := newSigner(t)
		big := e.file(string(make([]byte, 26<<20)))
		_, err := e.apply(storeMsg(t, alice, tPaid, big, nil))
		d := requireCode(t, err, errcode.BalanceInsufficient)
		require.Equal(t, map[string]any{"errors": []any{map[string]any{
			"required_balance": "8.666666658000000000", "account_balance": "0",
		}}}, d.Details)

		small := e.file("small")
		e.mustApply(storeMsg(t, alice, tPaid, small, nil))
		e.mustApply(storeMsg(t, alice, 1700000000, big, nil)) // before the free cut-off

		_, err = e.apply(storeMsg(t, alice, 1798761600, small, nil))
		requireCode(t, err, errcode.InvalidPaymentMethod)
		_, err = e.apply(storeMsg(t, alice, 1798761600, small, map[string]any{"payment": map[string]any{"type": "credit"}}))
		d = requireCode(t, err, errcode.CreditInsufficient)
		require.Equal(t, "0", d.Details.(map[string]any)["errors"].([]any)[0].(map[string]any)["account_credits"])
	})
}
