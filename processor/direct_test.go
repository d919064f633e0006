package processor_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/pendingmessage"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// lines joins messages as JSON lines.
func lines(raws ...[]byte) []byte {
	var b bytes.Buffer
	for _, r := range raws {
		b.Write(r)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// pendingRows counts the pending rows.
func (e *env) pendingRows() int {
	e.t.Helper()
	n, err := e.db.Client.PendingMessage.Query().Count(e.ctx)
	require.NoError(e.t, err)
	return n
}

// events returns the outbox kinds of a message, in order.
func (e *env) eventKinds(hash string) []string {
	e.t.Helper()
	evs, err := e.db.Client.MessageEvent.Query().Where(messageevent.ItemHash(hash)).Order(messageevent.ByID()).All(e.ctx)
	require.NoError(e.t, err)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Kind)
	}
	return out
}

func TestImportAppliesDirectly(t *testing.T) {
	// An import applies inline POSTs and AGGREGATEs in its own
	// transaction: once Import returns they are settled with no pending
	// row, a bad signature is rejected, and an amend whose target comes
	// in a later batch is queued for a retry, then applied.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice := account(t)
		m := must(t)
		var raws [][]byte
		var hashes []string
		for i := range 12 {
			var raw []byte
			var h string
			if i%2 == 0 {
				raw, h = m(alice.Aggregate(base+float64(i), "TEST", "k", map[string]any{"i": i}))
			} else {
				raw, h = m(alice.Post(base+float64(i), "TEST", "note", map[string]any{"i": i}, ""))
			}
			raws, hashes = append(raws, raw), append(hashes, h)
		}
		target := hashes[11] // in the second batch of 10
		amend, ah := m(alice.Amend(base+50, "TEST", target, map[string]any{"v": "amended"}))
		// A copy of a post signed for another message: bad signature.
		post, bh := m(alice.Post(base+60, "TEST", "note", map[string]any{"bad": true}, ""))
		var w map[string]any
		require.NoError(t, json.Unmarshal(post, &w))
		var other map[string]any
		require.NoError(t, json.Unmarshal(raws[1], &other))
		w["signature"] = other["signature"]
		bad, err := json.Marshal(w)
		require.NoError(t, err)
		file := lines(append([][]byte{amend, bad}, raws...)...)

		sum, err := e.p.Import(e.ctx, bytes.NewReader(file), 10, nil)
		require.NoError(t, err)
		require.Equal(t, processor.ImportSummary{Read: 14, Queued: 14}, sum)

		// Settled by Import itself: no process stage has run.
		for _, h := range hashes {
			require.Equal(t, messagestatus.StatusProcessed, e.status(h))
			require.Equal(t, []string{"processed"}, e.eventKinds(h), "no pending event for a direct message")
		}
		require.Equal(t, messagestatus.StatusRejected, e.status(bh))
		require.Equal(t, int(errcode.InvalidSignature), e.rejectedCode(bh))
		require.Equal(t, messagestatus.StatusPending, e.status(ah))
		require.Equal(t, []string{"pending"}, e.eventKinds(ah))
		rows, err := db.Client.PendingMessage.Query().All(e.ctx)
		require.NoError(t, err)
		require.Len(t, rows, 1, "only the amend waits")
		require.Equal(t, ah, rows[0].ItemHash)
		require.Equal(t, 1, rows[0].Retries)
		require.Equal(t, int(errcode.PostAmendTargetNotFound), *rows[0].LastErrorCode)

		e.clk.Add(2 * time.Second) // past the first back-off
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(ah))
		require.Equal(t, ah, *e.post(target).LatestAmend)
		require.Equal(t, map[string]any{"i": 10.0}, e.aggContent(alice.Address(), "k"))
		requireExactlyOnce(t, db, append(hashes, ah, bh))

		// Imported again: all duplicates.
		sum, err = e.p.Import(e.ctx, bytes.NewReader(file), 10, nil)
		require.NoError(t, err)
		require.Equal(t, processor.ImportSummary{Read: 14, Duplicate: 13, Queued: 1}, sum, "the rejected one is taken again")
	})
}

func TestImportFallsBackToQueue(t *testing.T) {
	// A database failure while applying an import batch directly rolls
	// the whole intake transaction back and queues the batch instead.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		alice := account(t)
		m := must(t)
		var raws [][]byte
		var hashes []string
		for i := range 15 {
			raw, h := m(alice.Post(base+float64(i), "TEST", "note", map[string]any{"i": i}, ""))
			raws, hashes = append(raws, raw), append(hashes, h)
		}
		hd := handler.Deps{Config: handler.DefaultConfig(), Log: dbtest.Logger(), Now: time.Now, Storage: handler.NoStorage{}}
		post := &failOnce{Handler: handler.NewPost(hd, db.Dialect), hash: hashes[12]}
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(),
			Handlers: handler.Registry{message.TypePost: post}})
		require.NoError(t, err)
		require.NoError(t, p.SeedErrorCodes(t.Context()))
		e := &env{t: t, db: db, p: p, ctx: t.Context()}

		sum, err := p.Import(t.Context(), bytes.NewReader(lines(raws...)), 10, nil)
		require.NoError(t, err)
		require.Equal(t, 15, sum.Queued)
		require.True(t, post.failed.Load())
		// The first batch was applied; the second, queued whole.
		for _, h := range hashes[:10] {
			require.Equal(t, messagestatus.StatusProcessed, e.status(h))
		}
		n, err := db.Client.PendingMessage.Query().Where(pendingmessage.Retries(0)).Count(t.Context())
		require.NoError(t, err)
		require.Equal(t, 5, n)
		require.Equal(t, 5, e.pendingRows())
		for _, h := range hashes[10:] {
			require.Equal(t, messagestatus.StatusPending, e.status(h))
			require.Equal(t, []string{"pending"}, e.eventKinds(h))
		}
		e.drain()
		requireExactlyOnce(t, db, hashes)
	})
}

func TestImportBatchKeepsThePeerOrigin(t *testing.T) {
	// A followed node's pages go through ImportBatch with origin peer:
	// inline POSTs are applied at intake like an import's, per-message
	// results come back in input order, and what has to wait (an amend
	// whose target is not there, a FORGET) keeps origin peer in the
	// queue, not import.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice := account(t)
		m := must(t)
		post, ph := m(alice.Post(base, "TEST", "note", map[string]any{"i": 1}, ""))
		amend, ah := m(alice.Amend(base+1, "TEST", "0000000000000000000000000000000000000000000000000000000000000001", map[string]any{"v": 2}))
		forget, fh := m(alice.Forget(base+2, "TEST", ph))
		ins := []processor.Input{
			{Raw: post, Origin: processor.OriginPeer},
			{Raw: amend, Origin: processor.OriginPeer},
			{Raw: forget, Origin: processor.OriginPeer},
		}
		res, err := e.p.ImportBatch(e.ctx, ins)
		require.NoError(t, err)
		require.Len(t, res, 3)
		for i, h := range []string{ph, ah, fh} {
			require.Equal(t, h, res[i].ItemHash)
			require.Equal(t, processor.Queued, res[i].Outcome)
		}
		require.Equal(t, messagestatus.StatusProcessed, e.status(ph), "applied at intake")
		require.Equal(t, []string{"processed"}, e.eventKinds(ph))
		rows, err := db.Client.PendingMessage.Query().Order(pendingmessage.ByItemHash()).All(e.ctx)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		for _, r := range rows {
			require.Contains(t, []string{ah, fh}, r.ItemHash)
			require.Equal(t, pendingmessage.OriginPeer, r.Origin, r.ItemHash)
		}
		e.drain()
		require.Equal(t, messagestatus.StatusForgotten, e.status(ph))
		require.Equal(t, messagestatus.StatusProcessed, e.status(fh))

		// The same history again: duplicates, still per message.
		res, err = e.p.ImportBatch(e.ctx, ins[:1])
		require.NoError(t, err)
		require.Equal(t, processor.Duplicate, res[0].Outcome)
	})
}
