package processor_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/errcode"
)

func TestAmendChain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice, bob := account(t), account(t)
		m := must(t)
		orig, oh := m(alice.Post(base, "TEST", "note", map[string]any{"v": 0}, ""))
		// Amends submitted newest first: the latest by content time wins
		// whatever the order.
		a2, a2h := m(alice.Amend(base+20, "TEST", oh, map[string]any{"v": 2}))
		a1, a1h := m(alice.Amend(base+10, "TEST", oh, map[string]any{"v": 1}))
		amendAmend, aah := m(alice.Amend(base+30, "TEST", a1h, map[string]any{"v": 3}))
		stolen, sh := m(bob.Amend(base+40, "TEST", oh, map[string]any{"v": 4}))
		e.submit(orig, a2, a1, amendAmend, stolen)
		e.drain()

		require.Equal(t, messagestatus.StatusProcessed, e.status(oh))
		require.Equal(t, messagestatus.StatusProcessed, e.status(a1h))
		require.Equal(t, messagestatus.StatusProcessed, e.status(a2h))
		require.Equal(t, messagestatus.StatusRejected, e.status(aah))
		require.Equal(t, int(errcode.PostAmendAmend), e.rejectedCode(aah))
		require.Equal(t, messagestatus.StatusRejected, e.status(sh))
		require.Equal(t, int(errcode.PermissionDenied), e.rejectedCode(sh))
		require.Equal(t, a2h, *e.post(oh).LatestAmend)

		// Forgetting the latest amend falls back to the previous one;
		// forgetting the original forgets every amend.
		f1, f1h := m(alice.Forget(base+50, "TEST", a2h))
		e.submit(f1)
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(f1h))
		require.Equal(t, messagestatus.StatusForgotten, e.status(a2h))
		require.Equal(t, a1h, *e.post(oh).LatestAmend)

		f2, _ := m(alice.Forget(base+60, "TEST", oh))
		e.submit(f2)
		e.drain()
		require.Equal(t, messagestatus.StatusForgotten, e.status(oh))
		require.Equal(t, messagestatus.StatusForgotten, e.status(a1h))
		n, err := db.Client.Post.Query().Where(post.IDIn(oh, a1h, a2h)).Count(t.Context())
		require.NoError(t, err)
		require.Zero(t, n)
		fm, err := db.Client.ForgottenMessage.Get(t.Context(), a1h)
		require.NoError(t, err)
		require.Len(t, fm.ForgottenBy, 1)
		_, err = db.Client.Message.Get(t.Context(), oh)
		require.Error(t, err, "forgotten content is gone")
	})
}

func TestAmendWaitsForTarget(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{MaxRetries: 3})
		alice := account(t)
		m := must(t)
		orig, oh := m(alice.Post(base+5, "TEST", "note", map[string]any{"v": 0}, ""))
		amend, ah := m(alice.Amend(base+10, "TEST", oh, map[string]any{"v": 1}))
		e.submit(amend)
		e.drain()
		require.Equal(t, messagestatus.StatusPending, e.status(ah))
		row, err := db.Client.PendingMessage.Query().Only(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, row.Retries)
		require.Equal(t, int(errcode.PostAmendTargetNotFound), *row.LastErrorCode)
		// Full jitter: the next attempt is within [now, now+2^0 s].
		require.False(t, row.NextAttempt.Before(e.clk.Now().Add(-time.Millisecond)))
		require.False(t, row.NextAttempt.After(e.clk.Now().Add(time.Second+time.Millisecond)))

		// The original arrives: the amend goes through at its next try.
		e.submit(orig)
		e.clk.Add(2 * time.Second)
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(ah))
		require.Equal(t, ah, *e.post(oh).LatestAmend)
	})
}

func TestRetryLimitRejects(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{MaxRetries: 3})
		alice := account(t)
		m := must(t)
		amend, ah := m(alice.Amend(base, "TEST", "a3a86b2ae7f8ee8e7a3f8e3c33e3a5f1e1a2b3c4d5e6f708192a3b4c5d6e7f80", map[string]any{"v": 1}))
		e.submit(amend)
		for i := range 4 {
			e.drain()
			if i < 3 {
				require.Equal(t, messagestatus.StatusPending, e.status(ah), "try %d", i)
			}
			e.clk.Add(10 * time.Second)
		}
		require.Equal(t, messagestatus.StatusRejected, e.status(ah))
		require.Equal(t, int(errcode.PostAmendTargetNotFound), e.rejectedCode(ah))
		n, err := db.Client.PendingMessage.Query().Count(t.Context())
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

func TestDuplicatesAndMalformed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice := account(t)
		m := must(t)
		p1, h1 := m(alice.Post(base, "TEST", "note", map[string]any{"v": 0}, ""))
		e.submit(p1)
		r, err := e.p.Submit(t.Context(), p1, processor.OriginP2P, nil)
		require.NoError(t, err)
		require.Equal(t, processor.Duplicate, r.Outcome, "a pending copy is not queued twice")
		e.drain()
		r, err = e.p.Submit(t.Context(), p1, processor.OriginP2P, nil)
		require.NoError(t, err)
		require.Equal(t, processor.Duplicate, r.Outcome)
		require.Equal(t, "processed", r.Status)

		// A bad hash is rejected at once, with its code, and recorded.
		var w map[string]any
		require.NoError(t, json.Unmarshal(p1, &w))
		w["item_hash"] = "00" + h1[2:]
		bad, _ := json.Marshal(w)
		r, err = e.p.Submit(t.Context(), bad, processor.OriginAPI, nil)
		require.Error(t, err)
		require.Equal(t, processor.Rejected, r.Outcome)
		code, ok := errcode.CodeOf(err)
		require.True(t, ok)
		require.Equal(t, int(code), e.rejectedCode("00"+h1[2:]))
		require.Equal(t, messagestatus.StatusRejected, e.status("00"+h1[2:]))

		// Not JSON at all: typed error, nothing to key a record on.
		_, err = e.p.Submit(t.Context(), []byte("{nope"), processor.OriginAPI, nil)
		require.ErrorIs(t, err, errcode.New(errcode.InvalidFormat, ""))

		cnt, err := db.Client.MessageCounter.Get(t.Context(), "*")
		require.NoError(t, err)
		require.EqualValues(t, 1, cnt.Count)
	})
}
