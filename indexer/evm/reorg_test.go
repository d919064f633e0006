package evm_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/chaintx"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm"
	"github.com/alephql/alephql/indexer/evm/alephsync"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// TestReorg follows a simulated chain below finality: a confirmation in a
// block that a reorg orphans disappears (the message stays processed,
// unconfirmed), the canonical one appears, and the cursor ends on the
// canonical chain. Both back-ends.
func TestReorg(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		key, err := crypto.GenerateKey()
		require.NoError(t, err)
		from := crypto.PubkeyToAddress(key.PublicKey)
		eth := new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)
		sim := simulated.NewBackend(types.GenesisAlloc{from: {Balance: eth}})
		t.Cleanup(func() { _ = sim.Close() })
		client := sim.Client()
		id, err := client.ChainID(ctx)
		require.NoError(t, err)
		opts := bind.NewKeyedTransactor(key, id)

		code := common.FromHex(strings.TrimSpace(alephsync.AlephSyncMetaData.Bin))
		addr, _, err := bind.DeployContract(opts, code, client, nil)
		require.NoError(t, err)
		sim.Commit()
		c := alephsync.NewAlephSync().Instance(client, addr)
		emit := func(payload string) *types.Transaction {
			tx, err := bind.Transact(c, opts, alephsync.NewAlephSync().PackDoEmit(payload))
			require.NoError(t, err)
			return tx
		}
		blockOf := func(tx *types.Transaction) int64 { // the canonical block holding tx
			head := headerAt(t, client, nil).Number.Int64()
			for i := head; i > 0; i-- {
				b, err := client.BlockByNumber(ctx, big.NewInt(i))
				require.NoError(t, err)
				if b.Transaction(tx.Hash()) != nil {
					return i
				}
			}
			t.Fatalf("tx %s in no block", tx.Hash())
			return 0
		}

		alice, err := demo.NewAccount()
		require.NoError(t, err)
		m, h, err := alice.Post(float64(time.Now().Unix()), "TEST", "reorg", map[string]any{"x": 1}, "")
		require.NoError(t, err)

		base := headerAt(t, client, nil) // the common ancestor to be
		tx1 := emit(syncPayload(indexer.ProtocolAleph, map[string]any{"messages": []json.RawMessage{m}}))
		sim.Commit()
		orphanHeight := blockOf(tx1)
		orphan := headerAt(t, client, big.NewInt(orphanHeight)).Hash()
		sim.Commit()
		sim.Commit()

		p, err := processor.New(processor.DefaultConfig(), processor.Deps{DB: db, Log: dbtest.Logger()})
		require.NoError(t, err)
		require.NoError(t, p.SeedErrorCodes(ctx))
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(pctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		})
		ex, err := indexer.NewExpander(indexer.ExpanderConfig{}, indexer.ExpanderDeps{Sink: p, Log: dbtest.Logger()})
		require.NoError(t, err)
		r, err := evm.New(evm.Config{Chain: "ETH", Contract: addr, StartHeight: 1, Confirmations: 1,
			Emitters: []common.Address{from}}, evm.Deps{Client: client, Sink: p, Log: dbtest.Logger()})
		require.NoError(t, err)
		catchUp := func() {
			t.Helper()
			for {
				more, err := r.Step(ctx)
				require.NoError(t, err)
				if !more {
					break
				}
			}
			_, err := ex.Step(ctx)
			require.NoError(t, err)
		}
		confirmedBy := func() []string {
			var out []string
			require.NoError(t, db.Client.ChainTx.Query().Where(chaintx.HasConfirmationsWith()).
				Select(chaintx.FieldID).Scan(ctx, &out))
			return out
		}
		catchUp()
		require.Eventually(t, func() bool {
			s, err := db.Client.MessageStatus.Get(ctx, h)
			return err == nil && s.Status == "processed"
		}, 20*time.Second, 20*time.Millisecond)
		msg, err := db.Client.Message.Get(ctx, h)
		require.NoError(t, err)
		require.NotNil(t, msg.FirstConfirmedHeight)
		oldHeight := *msg.FirstConfirmedHeight
		oldTx := confirmedBy()
		require.Len(t, oldTx, 1)
		require.Equal(t, orphanHeight, oldHeight)

		// The reorg: a longer side chain from base, where the archive lands
		// in a later block through another transaction.
		require.NoError(t, sim.Fork(base.Hash())) // the head is now base
		sim.Rollback()                            // drop tx1 from the pool
		sim.Commit()
		tx2 := emit(syncPayload(indexer.ProtocolAleph, map[string]any{"messages": []json.RawMessage{m}, "note": "again"}))
		for range 4 {
			sim.Commit()
		}
		canonHeight := blockOf(tx2)
		require.NotEqual(t, orphan, headerAt(t, client, big.NewInt(oldHeight)).Hash(), "the reorg happened")

		// First step: walks back to the common ancestor.
		_, err = r.Step(ctx)
		require.NoError(t, err)
		cur, _, err := p.ChainCursor(ctx, "ETH", indexer.KindSync)
		require.NoError(t, err)
		require.LessOrEqual(t, cur.Height, base.Number.Int64())
		require.Empty(t, confirmedBy(), "the orphaned confirmation is gone")
		msg, err = db.Client.Message.Get(ctx, h)
		require.NoError(t, err)
		require.Nil(t, msg.FirstConfirmedAt, "unconfirmed")
		st, err := db.Client.MessageStatus.Get(ctx, h)
		require.NoError(t, err)
		require.Equal(t, "processed", string(st.Status), "still processed")

		// Reading again confirms it in the canonical block.
		catchUp()
		require.Eventually(t, func() bool {
			m, err := db.Client.Message.Get(ctx, h)
			return err == nil && m.FirstConfirmedHeight != nil
		}, 20*time.Second, 20*time.Millisecond)
		msg, err = db.Client.Message.Get(ctx, h)
		require.NoError(t, err)
		require.Equal(t, canonHeight, *msg.FirstConfirmedHeight)
		newTx := confirmedBy()
		require.Len(t, newTx, 1)
		require.NotEqual(t, oldTx, newTx)
		n, err := db.Client.ChainTx.Query().Where(chaintx.ID(oldTx[0])).Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "orphaned chain tx deleted")
		cur, _, err = p.ChainCursor(ctx, "ETH", indexer.KindSync)
		require.NoError(t, err)
		require.Equal(t, headerAt(t, client, big.NewInt(cur.Height)).Hash().Hex(), cur.Hash, "cursor on the canonical chain")
		head := headerAt(t, client, nil)
		require.Equal(t, head.Number.Int64()-1, cur.Height)
	})
}

func headerAt(t *testing.T, c simulated.Client, n *big.Int) *types.Header {
	t.Helper()
	h, err := c.HeaderByNumber(t.Context(), n)
	require.NoError(t, err)
	return h
}
