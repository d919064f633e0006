package processor_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
)

// chainTx commits one chain transaction (height, time) for tests.
func (e *env) chainTx(hash string, height int64, at time.Time) {
	e.t.Helper()
	tx := indexer.ChainTx{Hash: hash, Chain: "ETH", Height: height, Time: at, Publisher: "0xpub",
		Protocol: indexer.ProtocolAleph, Version: 1, Content: json.RawMessage(`{"messages":[]}`)}
	require.NoError(e.t, e.p.CommitChainBatch(e.ctx, indexer.ChainBatch{Chain: "ETH", Kind: indexer.KindSync,
		Cursor: indexer.Cursor{Height: height, Hash: "0xblock" + hash}, Txs: []indexer.ChainTx{tx}}))
}

// firstConfirmed returns a message's first confirmation (height 0 and a
// zero time when it has none).
func (e *env) firstConfirmed(hash string) (int64, time.Time) {
	e.t.Helper()
	m, err := e.db.Client.Message.Get(e.ctx, hash)
	require.NoError(e.t, err)
	if m.FirstConfirmedHeight == nil {
		require.Nil(e.t, m.FirstConfirmedAt, hash)
		return 0, time.Time{}
	}
	return *m.FirstConfirmedHeight, m.FirstConfirmedAt.UTC()
}

// TestQueuedChainBatchIsCheckedOnce: a chain transaction's batch that
// cannot be applied at intake (a FORGET older than its POSTs is queued
// with it, directInOrder) is queued whole; its POSTs, whose signatures
// intake verified, are queued with check_message false, so the process
// stage does not verify them again, while the FORGET (not verified at
// intake) and a POST whose signature failed are checked there: the bad
// one ends rejected as before. Every message processed from the queue
// gets its transaction's height and time as first confirmation, and an
// earlier transaction carrying one again later moves it back (the
// general recomputation). Both back-ends.
func TestQueuedChainBatchIsCheckedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.DefaultConfig())
		alice := account(t)
		m := must(t)
		atA := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		atB := atA.Add(time.Minute)
		atC := atA.Add(-time.Hour)
		e.chainTx("0xa", 42, atA)
		e.chainTx("0xb", 43, atB)

		// Transaction A: one POST, applied at intake.
		p0, h0 := m(alice.Post(base, "TEST", "note", map[string]any{"i": 0}, ""))
		_, err := e.p.SubmitTxMessages(e.ctx, "0xa", indexer.TxMessages{Messages: []json.RawMessage{p0}})
		require.NoError(t, err)
		require.Equal(t, messagestatus.StatusProcessed, e.status(h0))
		h, at := e.firstConfirmed(h0)
		require.Equal(t, int64(42), h)
		require.True(t, atA.Equal(at))

		// Transaction B: a FORGET of p0 older than two POSTs, and a POST
		// signed for another message.
		forget, fh := m(alice.Forget(base+1, "TEST", h0))
		p1, h1 := m(alice.Post(base+2, "TEST", "note", map[string]any{"i": 1}, ""))
		p2, h2 := m(alice.Post(base+3, "TEST", "note", map[string]any{"i": 2}, ""))
		bad, bh := m(alice.Post(base+4, "TEST", "note", map[string]any{"bad": true}, ""))
		var w, other map[string]any
		require.NoError(t, json.Unmarshal(bad, &w))
		require.NoError(t, json.Unmarshal(p1, &other))
		w["signature"] = other["signature"]
		bad, err = json.Marshal(w)
		require.NoError(t, err)
		res, err := e.p.SubmitTxMessages(e.ctx, "0xb", indexer.TxMessages{Messages: []json.RawMessage{forget, p1, p2, bad}})
		require.NoError(t, err)
		require.Equal(t, 4, res.Queued)

		rows, err := db.Client.PendingMessage.Query().All(e.ctx)
		require.NoError(t, err)
		require.Len(t, rows, 4, "queued whole")
		check := map[string]bool{}
		for _, r := range rows {
			check[r.ItemHash] = r.CheckMessage
		}
		require.Equal(t, map[string]bool{fh: true, h1: false, h2: false, bh: true}, check,
			"verified at intake: not to be checked again")

		// The process stage trusts the row: a verified row whose signature
		// were changed in the database would still be processed (who can
		// write pending rows can write messages; see intakeOne).
		n, err := db.Client.PendingMessage.Update().Where(pendingmessage.ItemHash(h2)).
			SetSignature(other["signature"].(string)).Save(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		e.drain()
		require.Equal(t, messagestatus.StatusForgotten, e.status(h0))
		require.Equal(t, messagestatus.StatusProcessed, e.status(fh))
		require.Equal(t, messagestatus.StatusProcessed, e.status(h1))
		require.Equal(t, messagestatus.StatusProcessed, e.status(h2), "not verified twice")
		require.Equal(t, messagestatus.StatusRejected, e.status(bh))
		require.Equal(t, int(errcode.InvalidSignature), e.rejectedCode(bh))
		for _, x := range []string{fh, h1, h2} {
			h, at := e.firstConfirmed(x)
			require.Equal(t, int64(43), h, x)
			require.True(t, atB.Equal(at), x)
		}

		// An earlier transaction carrying p1 again: its first
		// confirmation moves to it; p2's stays.
		e.chainTx("0xc", 41, atC)
		res, err = e.p.SubmitTxMessages(e.ctx, "0xc", indexer.TxMessages{Messages: []json.RawMessage{p1}})
		require.NoError(t, err)
		require.Equal(t, 1, res.Confirmed)
		h, at = e.firstConfirmed(h1)
		require.Equal(t, int64(41), h)
		require.True(t, atC.Equal(at))
		h, at = e.firstConfirmed(h2)
		require.Equal(t, int64(43), h)
		require.True(t, atB.Equal(at))

		// A rewind below B and C leaves p1 and p2 unconfirmed, processed.
		_, err = e.p.RewindChain(e.ctx, "ETH", indexer.KindSync, indexer.Cursor{Height: 40, Hash: "0xold"})
		require.NoError(t, err)
		for _, x := range []string{h1, h2} {
			h, _ := e.firstConfirmed(x)
			require.Zero(t, h, x)
			require.Equal(t, messagestatus.StatusProcessed, e.status(x))
		}
	})
}

// TestFetchedRowIsNotCheckedAgain: the fetch stage verifies a storage
// message's signature before fetching its content; the row it marks
// fetched says so (check_message false) and the process stage settles it
// without a second check. Both back-ends.
func TestFetchedRowIsNotCheckedAgain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		st := &memStorage{files: map[string][]byte{}}
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(),
			Handler: handler.Deps{Config: handler.DefaultConfig(), Storage: st}})
		require.NoError(t, err)
		e := &env{t: t, db: db, p: p, ctx: t.Context()}
		alice := account(t)
		raw, h, content, err := alice.SignStorage(demoMsg("POST", "TEST", base, map[string]any{"type": "note", "content": "stored"}))
		require.NoError(t, err)
		st.put(h, content)
		e.submit(raw)
		row, err := db.Client.PendingMessage.Query().Only(t.Context())
		require.NoError(t, err)
		require.True(t, row.CheckMessage, "a client's message is not verified at intake")
		n, err := p.FetchOnce(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		row, err = db.Client.PendingMessage.Query().Only(t.Context())
		require.NoError(t, err)
		require.True(t, row.Fetched)
		require.False(t, row.CheckMessage, "verified by the fetch stage")
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(h))
	})
}
