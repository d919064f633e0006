package live

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/cache"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/events"
)

// keysObserver records what the hub hands its observers.
type keysObserver struct {
	mu  sync.Mutex
	evs []*Event
}

func (o *keysObserver) Started(int64) {}
func (o *keysObserver) Dispatched(e *Event) {
	o.mu.Lock()
	o.evs = append(o.evs, e)
	o.mu.Unlock()
}

func (o *keysObserver) take() []*Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	evs := o.evs
	o.evs = nil
	return evs
}

// runObservedHub runs a hub of cfg on db, over a local bus, until the test
// ends, with a keysObserver; it returns once the hub is ready.
func runObservedHub(t *testing.T, db *database.DB, cfg Config) (*Hub, *events.Local, *keysObserver) {
	t.Helper()
	bus := events.NewLocal(256)
	h, err := NewHub(cfg, db.Client, bus, dbtest.Logger())
	require.NoError(t, err)
	obs := &keysObserver{}
	h.Observe(obs)
	hctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(hctx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })
	<-h.Ready()
	return h, bus, obs
}

// TestHubWithoutSubscribersReadsKeys: with no subscriber, the hub reads
// the messages of outbox rows with the key columns only, and hands its
// observers events whose cache invalidation keys are exactly those of
// the whole messages; it keeps none of them as recent events, so a
// subscription resuming before them reads the outbox and gets the whole
// messages. Once a subscriber listens, events carry whole messages again
// and are kept. Both back-ends.
func TestHubWithoutSubscribersReadsKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		h, bus, obs := runObservedHub(t, db, Config{RecentEvents: 100, PollInterval: time.Hour})

		tm := time.Now().UTC().Truncate(time.Second)
		n := 0
		emit := func(typ string) (string, int64) {
			n++
			hash := fmt.Sprintf("%064x", n)
			tx, err := db.Client.Tx(ctx)
			require.NoError(t, err)
			tx.Message.Create().SetID(hash).SetType(typ).SetChain("ETH").SetSender("0xsender").SetItemType("inline").
				SetItemContent(`{"k":1}`).SetContent(json.RawMessage(`{"address":"0xowner","type":"note","ref":"r","key":"k"}`)).
				SetTime(tm).SetReceptionTime(tm).SetOwner("0xowner").SetChannel(fmt.Sprintf("C%d", n%2)).
				SetContentRef("r").SetContentKey("k").SetContentType("note").SetTags([]string{"t1", "t2"}).SetSize(7).SaveX(ctx)
			ev := tx.MessageEvent.Create().SetItemHash(hash).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx)
			require.NoError(t, tx.Commit())
			require.NoError(t, bus.Publish(ctx, events.Event{Seq: ev.ID, Kind: events.Processed, ItemHash: hash}))
			return hash, ev.ID
		}
		wait := func(seq int64) []*Event {
			require.Eventually(t, func() bool { s, _ := h.LastEvent(); return s == seq }, 5*time.Second, 5*time.Millisecond)
			return obs.take()
		}

		var first, last int64
		for i, typ := range []string{"POST", "AGGREGATE", "STORE", "POST"} {
			_, seq := emit(typ)
			if i == 0 {
				first = seq
			}
			last = seq
		}
		got := wait(last)
		require.Len(t, got, 4)
		for _, e := range got {
			full, err := db.Client.Message.Get(ctx, e.Ev.ItemHash)
			require.NoError(t, err)
			require.NotNil(t, e.Message)
			require.Nil(t, e.Message.Content, "keys only")
			require.Nil(t, e.Message.ItemContent, "keys only")
			require.Equal(t, cache.EventKeys(e.Ev, full), cache.EventKeys(e.Ev, e.Message))
		}

		// A subscription resuming before them reads them whole from the
		// outbox.
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		after := first - 1
		st := h.NewStream(sctx, nil, &after, func() {})
		for seq := first; seq <= last; seq++ {
			e, ok, idle, err := st.Poll(sctx)
			require.NoError(t, err)
			require.True(t, ok && !idle)
			require.Equal(t, seq, e.Ev.Seq)
			require.JSONEq(t, `{"address":"0xowner","type":"note","ref":"r","key":"k"}`, string(e.Message.Content))
			require.Equal(t, []string{"t1", "t2"}, e.Message.Tags)
		}
		require.Zero(t, h.Stats().ReplaysFromMemory, "nothing kept without a subscriber")
		require.Positive(t, h.Stats().ReplaysFromOutbox)

		// The stream is registered now: events are whole, and kept.
		hash, seq := emit("POST")
		got = wait(seq)
		require.Len(t, got, 1)
		require.Equal(t, hash, got[0].Ev.ItemHash)
		require.NotNil(t, got[0].Message.Content, "a subscriber listens")
		e, ok, idle, err := st.Poll(sctx)
		require.NoError(t, err)
		require.True(t, ok && !idle)
		require.Same(t, got[0], e)
		h.mu.Lock()
		evs, inMemory := h.recent.after(last, seq, 10)
		h.mu.Unlock()
		require.True(t, inMemory)
		require.Equal(t, []*Event{got[0]}, evs)
	})
}

// TestHubBehindInvalidatesAll: with no subscriber, a hub a full batch
// behind hands its observers events without their messages, whose cache
// keys invalidate every cached answer (cache.All); the batch that brings
// it up to date reads the key columns again, and invalidates only the
// lists of its messages. Both back-ends.
func TestHubBehindInvalidatesAll(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		h, bus, obs := runObservedHub(t, db, Config{ReplayBatch: 4, PollInterval: time.Hour})

		tm := time.Now().UTC().Truncate(time.Second)
		var last int64
		// Nine rows committed before the hub hears of the last one:
		// batches of 4, 4 and 1.
		for i := range 9 {
			hash := fmt.Sprintf("%064x", i+1)
			tx, err := db.Client.Tx(ctx)
			require.NoError(t, err)
			tx.Message.Create().SetID(hash).SetType("POST").SetChain("ETH").SetSender("0xsender").SetItemType("inline").
				SetItemContent(`{"k":1}`).SetContent(json.RawMessage(`{"address":"0xowner","type":"note"}`)).
				SetTime(tm).SetReceptionTime(tm).SetOwner("0xowner").SetChannel("C").SetContentType("note").SetSize(7).SaveX(ctx)
			last = tx.MessageEvent.Create().SetItemHash(hash).SetKind(string(events.Processed)).SetCreatedAt(tm).SaveX(ctx).ID
			require.NoError(t, tx.Commit())
		}
		require.NoError(t, bus.Publish(ctx, events.Event{Seq: last, Kind: events.Processed, ItemHash: fmt.Sprintf("%064x", 9)}))
		require.Eventually(t, func() bool { s, _ := h.LastEvent(); return s == last }, 5*time.Second, 5*time.Millisecond)
		got := obs.take()
		require.Len(t, got, 9)
		for i, e := range got {
			keys := cache.EventKeys(e.Ev, e.Message)
			require.Contains(t, keys, cache.MessageKey(e.Ev.ItemHash), "event %d", i)
			if i < 8 {
				require.Nil(t, e.Message, "event %d: a full batch behind, not read", i)
				require.Contains(t, keys, cache.All, "event %d", i)
				continue
			}
			require.NotNil(t, e.Message, "the last batch is read")
			require.NotContains(t, keys, cache.All)
			full, err := db.Client.Message.Get(ctx, e.Ev.ItemHash)
			require.NoError(t, err)
			require.Equal(t, cache.EventKeys(e.Ev, full), keys)
		}
	})
}
