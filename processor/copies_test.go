package processor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

func TestLaterCopyWithAnotherSignatureIsDropped(t *testing.T) {
	// Two copies of one message (same item hash) signed by different
	// senders, processed in separate batches: the second batch finds the
	// first copy among the processed messages and drops its own (the
	// first wins), instead of checking and rejecting it.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{BatchSize: 1})
		alice, bob := account(t), account(t)
		m := must(t)
		content := map[string]any{"address": alice.Address(), "type": "note", "content": map[string]any{"body": "hi"}}
		first, h := m(alice.Sign(demo.Msg{Type: "POST", Channel: "TEST", Time: base, Content: content}))
		second, h2 := m(bob.Sign(demo.Msg{Type: "POST", Channel: "TEST", Time: base, Content: content}))
		require.Equal(t, h, h2)
		tx := "0xtx"
		_, err := db.Client.ChainTx.Create().SetID(tx).SetChain("ETH").SetHeight(1).SetDatetime(time.Unix(int64(base), 0).UTC()).
			SetPublisher("0xpub").SetProtocol("aleph").SetProtocolVersion(1).Save(t.Context())
		require.NoError(t, err)
		e.submit(first)
		r, err := e.p.Submit(t.Context(), second, processor.OriginOnchain, &tx)
		require.NoError(t, err)
		require.Equal(t, processor.Queued, r.Outcome, "another copy carrying a transaction is queued")
		e.drain()

		require.Equal(t, messagestatus.StatusProcessed, e.status(h))
		msg, err := db.Client.Message.Get(t.Context(), h)
		require.NoError(t, err)
		require.Equal(t, alice.Address(), msg.Sender)
		n, err := db.Client.RejectedMessage.Query().Count(t.Context())
		require.NoError(t, err)
		require.Zero(t, n, "the second copy is dropped, not checked and rejected")
		n, err = db.Client.PendingMessage.Query().Count(t.Context())
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
