package processor_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// TestChainTxConfirmsClientMessage: a message first received from a
// client and still pending when a chain transaction carries it is
// confirmed by that transaction once processed (the transaction waits),
// with its first confirmation height and time; the cursor commits with
// the transactions. Both back-ends.
func TestChainTxConfirmsClientMessage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.DefaultConfig())
		ctx := e.ctx
		a, err := demo.NewAccount()
		require.NoError(t, err)
		m1, h1, err := a.Post(1700000000, "TEST", "t", map[string]any{"a": 1}, "")
		require.NoError(t, err)
		m2, h2, err := a.Post(1700000001, "TEST", "t", map[string]any{"a": 2}, "")
		require.NoError(t, err)
		e.submit(m1) // from a client, pending

		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		tx := indexer.ChainTx{Hash: "0xabc", Chain: "ETH", Height: 42, Time: at, Publisher: "0xpub",
			Protocol: indexer.ProtocolAleph, Version: 1, Content: json.RawMessage(`{"messages":[]}`)}
		require.NoError(t, e.p.CommitChainBatch(ctx, indexer.ChainBatch{Chain: "ETH", Kind: indexer.KindSync,
			Cursor: indexer.Cursor{Height: 50, Hash: "0xblock"}, Txs: []indexer.ChainTx{tx}}))
		cur, ok, err := e.p.ChainCursor(ctx, "ETH", indexer.KindSync)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, indexer.Cursor{Height: 50, Hash: "0xblock"}, cur)
		due, err := e.p.DuePendingTxs(ctx, time.Now().Add(time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, due, 1)

		msgs := indexer.TxMessages{Messages: []json.RawMessage{m1, m2}}
		res, err := e.p.SubmitTxMessages(ctx, "0xabc", msgs)
		require.NoError(t, err)
		require.Equal(t, 1, res.Waiting, "m1 was pending from a client")
		due, err = e.p.DuePendingTxs(ctx, time.Now().Add(time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, due, 1, "the transaction stays pending")

		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(h1))
		require.Equal(t, messagestatus.StatusProcessed, e.status(h2))
		res, err = e.p.SubmitTxMessages(ctx, "0xabc", msgs)
		require.NoError(t, err)
		require.Zero(t, res.Waiting)
		due, err = e.p.DuePendingTxs(ctx, time.Now().Add(time.Hour), 10)
		require.NoError(t, err)
		require.Empty(t, due)
		for _, h := range []string{h1, h2} {
			m, err := db.Client.Message.Get(ctx, h)
			require.NoError(t, err)
			require.NotNil(t, m.FirstConfirmedHeight, h)
			require.Equal(t, int64(42), *m.FirstConfirmedHeight)
			require.True(t, at.Equal(*m.FirstConfirmedAt))
		}

		// A rewind below the transaction un-confirms both; they stay
		// processed.
		n, err := e.p.RewindChain(ctx, "ETH", indexer.KindSync, indexer.Cursor{Height: 41, Hash: "0xold"})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		for _, h := range []string{h1, h2} {
			m, err := db.Client.Message.Get(ctx, h)
			require.NoError(t, err)
			require.Nil(t, m.FirstConfirmedAt, h)
			require.Equal(t, messagestatus.StatusProcessed, e.status(h))
		}
	})
}
