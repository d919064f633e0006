package processor_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/processor"
)

// skeletonOf is the forgotten skeleton another node serves for raw.
func skeletonOf(t *testing.T, raw []byte, forgottenBy string) processor.Skeleton {
	t.Helper()
	var s processor.Skeleton
	require.NoError(t, json.Unmarshal(raw, &s))
	if s.ItemType == "" {
		s.ItemType = "inline"
	}
	s.Owner, s.Size, s.ForgottenBy = s.Sender, 10, []string{forgottenBy}
	return s
}

func TestForgetSkeletons(t *testing.T) {
	// A follower never sees what its peer forgot before it joined: only
	// the skeleton. The skeleton of a target this node never had is
	// recorded forgotten when a valid FORGET names it and its sender may
	// act for the skeleton's signer; the FORGET is then processed like
	// any other. Everything else is left alone.
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db, processor.Config{})
		alice, mallory := account(t), account(t)
		m := must(t)
		x, xh := m(alice.Post(base, "TEST", "note", map[string]any{"i": 1}, ""))
		y, yh := m(alice.Post(base+1, "TEST", "note", map[string]any{"i": 2}, ""))
		here, hh := m(alice.Post(base+2, "TEST", "note", map[string]any{"i": 3}, ""))
		unnamed, uh := m(mallory.Post(base+3, "TEST", "note", map[string]any{"i": 4}, ""))
		amend, amh := m(alice.Amend(base+4, "TEST", xh, map[string]any{"i": 5}))
		e.submit(here)
		e.drain()
		f, fh := m(alice.Forget(base+10, "TEST", xh, yh, hh))
		mf, mfh := m(mallory.Forget(base+11, "TEST", xh))

		bad := skeletonOf(t, y, fh)
		other := skeletonOf(t, x, fh)
		bad.Signature = other.Signature // a signature of another message

		// Mallory may not forget Alice's message, whatever the peer says.
		done, err := e.p.ForgetSkeletons(e.ctx, mf, []processor.Skeleton{skeletonOf(t, x, mfh)})
		require.NoError(t, err)
		require.Empty(t, done)

		skels := []processor.Skeleton{skeletonOf(t, amend, fh), skeletonOf(t, x, fh), bad, skeletonOf(t, here, fh), skeletonOf(t, unnamed, fh)}
		done, err = e.p.ForgetSkeletons(e.ctx, f, skels)
		require.NoError(t, err)
		require.Equal(t, []string{xh, amh}, done,
			"the valid skeleton the FORGET names, of a message unknown here, and the amend that went with it (same signer)")
		require.Equal(t, messagestatus.StatusForgotten, e.status(amh))
		require.Equal(t, messagestatus.StatusForgotten, e.status(xh))
		fm, err := db.Client.ForgottenMessage.Get(e.ctx, xh)
		require.NoError(t, err)
		require.Equal(t, []string{fh}, fm.ForgottenBy)
		require.Equal(t, alice.Address(), fm.Sender)
		for _, h := range []string{yh, uh} {
			n, err := db.Client.MessageStatus.Query().Where(messagestatus.ID(h)).Count(e.ctx)
			require.NoError(t, err)
			require.Zero(t, n, h)
		}
		require.Equal(t, messagestatus.StatusProcessed, e.status(hh))

		// Again: nothing more (the target has a status now).
		done, err = e.p.ForgetSkeletons(e.ctx, f, skels)
		require.NoError(t, err)
		require.Empty(t, done)

		// The FORGET itself: y is still unknown, so it waits for it; once
		// y arrives, the FORGET is processed and forgets y and here too.
		e.submit(f)
		e.drain()
		require.Equal(t, messagestatus.StatusPending, e.status(fh))
		e.submit(y)
		e.drain()
		require.Equal(t, messagestatus.StatusProcessed, e.status(fh))
		for _, h := range []string{xh, yh, hh} {
			require.Equal(t, messagestatus.StatusForgotten, e.status(h), h)
		}
		fm, err = db.Client.ForgottenMessage.Get(e.ctx, xh)
		require.NoError(t, err)
		require.Equal(t, []string{fh}, fm.ForgottenBy, "recorded once")
		// A copy of x arriving later with its content stays forgotten.
		r, err := e.p.Submit(e.ctx, x, processor.OriginPeer, nil)
		require.NoError(t, err)
		require.NotEqual(t, processor.Queued, r.Outcome)
		require.Equal(t, messagestatus.StatusForgotten, e.status(xh))
	})
}
