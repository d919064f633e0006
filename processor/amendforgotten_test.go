package processor_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
)

// TestAmendOfForgottenPostIsForgotten: an amend whose original a FORGET
// removed (before the amend arrived, or while the amend waited for it) is
// settled as forgotten by that FORGET at once, through every intake path
// (queued, import, chain transaction), as a bulk import in time order
// would have left it; it is never retried nor rejected. An amend by
// another owner is still refused. Both back-ends.
func TestAmendOfForgottenPostIsForgotten(t *testing.T) {
	const (
		queued = iota
		imported
		chainTx
		waiting
	)
	tests := []struct {
		name    string
		path    int
		other   bool // the amend's owner is not the original's
		want    messagestatus.Status
		wantErr errcode.Code
	}{
		{name: "queued after the FORGET", path: queued, want: messagestatus.StatusForgotten},
		{name: "imported after the FORGET", path: imported, want: messagestatus.StatusForgotten},
		{name: "in a chain transaction after the FORGET", path: chainTx, want: messagestatus.StatusForgotten},
		{name: "waiting while the original is processed then forgotten", path: waiting, want: messagestatus.StatusForgotten},
		{name: "another owner's amend", path: queued, other: true, want: messagestatus.StatusRejected, wantErr: errcode.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *database.DB) {
				e := newEnv(t, db, processor.Config{MaxRetries: 3})
				ctx := e.ctx
				alice, bob := account(t), account(t)
				m := must(t)
				orig, oh := m(alice.Post(base, "TEST", "note", map[string]any{"v": 0}, ""))
				author := alice
				if tt.other {
					author = bob
				}
				amend, ah := m(author.Amend(base+10, "TEST", oh, map[string]any{"v": 1}))
				forget, fh := m(alice.Forget(base+20, "TEST", oh))

				switch tt.path {
				case waiting:
					e.submit(amend)
					e.drain()
					require.Equal(t, messagestatus.StatusPending, e.status(ah), "the amend waits for its original")
					e.submit(orig, forget)
					e.drain() // no clock change: a back-off would leave it pending
				default:
					e.submit(orig, forget)
					e.drain()
					require.Equal(t, messagestatus.StatusForgotten, e.status(oh))
					switch tt.path {
					case queued:
						e.submit(amend)
					case imported:
						sum, err := e.p.Import(ctx, bytes.NewReader(lines(amend)), 100, nil)
						require.NoError(t, err)
						require.Equal(t, 1, sum.Queued)
					case chainTx:
						tx := indexer.ChainTx{Hash: "0xabc", Chain: "ETH", Height: 42, Time: time.Unix(1_700_000_100, 0),
							Publisher: "0xpub", Protocol: indexer.ProtocolAleph, Version: 1, Content: json.RawMessage(`{"messages":[]}`)}
						require.NoError(t, e.p.CommitChainBatch(ctx, indexer.ChainBatch{Chain: "ETH", Kind: indexer.KindSync,
							Cursor: indexer.Cursor{Height: 42, Hash: "0xblock"}, Txs: []indexer.ChainTx{tx}}))
						res, err := e.p.SubmitTxMessages(ctx, "0xabc", indexer.TxMessages{Messages: []json.RawMessage{amend}})
						require.NoError(t, err)
						require.Zero(t, res.Waiting)
					}
					e.drain()
				}

				require.Equal(t, tt.want, e.status(ah))
				require.Zero(t, e.pendingRows(), "nothing left to retry")
				if tt.wantErr != 0 {
					require.Equal(t, int(tt.wantErr), e.rejectedCode(ah))
				} else {
					fm, err := db.Client.ForgottenMessage.Get(ctx, ah)
					require.NoError(t, err)
					require.Equal(t, []string{fh}, fm.ForgottenBy)
					require.Equal(t, "POST", fm.Type)
					require.Equal(t, alice.Address(), fm.Owner)
					n, err := db.Client.RejectedMessage.Query().Count(ctx)
					require.NoError(t, err)
					require.Zero(t, n)
				}
				_, err := db.Client.Message.Get(ctx, ah)
				require.Error(t, err, "no messages row")
				// Only the FORGET counts as processed.
				cnt, err := db.Client.MessageCounter.Get(ctx, "*")
				require.NoError(t, err)
				require.EqualValues(t, 1, cnt.Count)
			})
		})
	}
}
