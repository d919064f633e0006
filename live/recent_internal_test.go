package live

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/read"
)

// TestRecentEventsWindow: the window answers for every position at or
// above its floor, with the events after it up to a bound and a limit,
// and refuses older positions once the oldest events are dropped.
func TestRecentEventsWindow(t *testing.T) {
	seqs := func(evs []*Event) []int64 {
		out := []int64{}
		for _, e := range evs {
			out = append(out, e.Ev.Seq)
		}
		return out
	}
	r := recentEvents{max: 4}
	r.reset(10)
	got, ok := r.after(10, 10, 100)
	require.True(t, ok, "empty window at its floor")
	require.Empty(t, got)
	_, ok = r.after(9, 10, 100)
	require.False(t, ok, "below the floor")

	// Ids with a hole (13 was never dispatched): positions inside the
	// hole answer what follows it.
	for _, seq := range []int64{11, 12, 14, 15} {
		r.add(&Event{Ev: events.Event{Seq: seq}})
	}
	tests := []struct {
		after, upTo int64
		limit       int
		want        []int64
		ok          bool
	}{
		{10, 15, 100, []int64{11, 12, 14, 15}, true},
		{11, 15, 100, []int64{12, 14, 15}, true},
		{12, 15, 100, []int64{14, 15}, true},
		{13, 15, 100, []int64{14, 15}, true},
		{10, 12, 100, []int64{11, 12}, true},
		{10, 15, 3, []int64{11, 12, 14}, true},
		{15, 15, 100, []int64{}, true},
		{9, 15, 100, nil, false},
	}
	for _, tt := range tests {
		got, ok := r.after(tt.after, tt.upTo, tt.limit)
		require.Equal(t, tt.ok, ok, "after %d", tt.after)
		if ok {
			require.Equal(t, tt.want, seqs(got), "after %d up to %d limit %d", tt.after, tt.upTo, tt.limit)
		}
	}

	// Past max the oldest go and the floor rises to the last one dropped;
	// compaction keeps the order.
	for seq := int64(16); seq <= 30; seq++ {
		r.add(&Event{Ev: events.Event{Seq: seq}})
	}
	require.Equal(t, int64(26), r.floor)
	_, ok = r.after(25, 30, 100)
	require.False(t, ok)
	got, ok = r.after(26, 30, 100)
	require.True(t, ok)
	require.Equal(t, []int64{27, 28, 29, 30}, seqs(got))
	require.LessOrEqual(t, len(r.evs), 2*r.max, "dropped events do not pile up")

	// The byte bound drops the oldest too: three events of 1 KiB of
	// content cost 3 KiB each (content twice, and 1 KiB for the rest).
	big := func(seq int64) *Event {
		return &Event{Ev: events.Event{Seq: seq}, Message: &ent.Message{Content: make([]byte, 1024)}}
	}
	sized := recentEvents{max: 100, maxBytes: 7 << 10}
	sized.reset(0)
	for seq := int64(1); seq <= 3; seq++ {
		sized.add(big(seq))
	}
	require.Equal(t, int64(1), sized.floor, "two events of 3 KiB fit in 7 KiB")
	require.Equal(t, int64(6<<10), sized.bytes)
	got, ok = sized.after(1, 3, 100)
	require.True(t, ok)
	require.Equal(t, []int64{2, 3}, seqs(got))

	none := recentEvents{}
	none.reset(5)
	none.add(&Event{Ev: events.Event{Seq: 6}})
	_, ok = none.after(5, 6, 100)
	require.False(t, ok, "a hub keeping no events replays from the outbox")
	_, ok = none.after(6, 6, 100)
	require.True(t, ok, "nothing to replay after the last event")
}

// TestReplayFromMemoryMatchesOutbox: subscriptions resumed at every
// position of an outbox replay the same events, in the same order, from a
// hub keeping a few recent events as from one keeping none, whether the
// position is inside the window (served from memory, payloads shared with
// live delivery) or older (read from the outbox).
func TestReplayFromMemoryMatchesOutbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		bus := events.NewLocal(256)
		start := func(recent int) *Hub {
			h, err := NewHub(Config{RecentEvents: recent, ReplayBatch: 3, PollInterval: time.Hour}, db.Client, bus, dbtest.Logger())
			require.NoError(t, err)
			hctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- h.Run(hctx) }()
			t.Cleanup(func() { stop(); require.NoError(t, <-done) })
			select {
			case <-h.Ready():
			case err := <-done:
				t.Fatalf("hub: %v", err)
			}
			return h
		}
		mem, disk := start(5), start(-1)
		// A subscriber on each: without one the hub reads only the keys
		// and keeps no recent events (TestHubWithoutSubscribersReadsKeys).
		for _, h := range []*Hub{mem, disk} {
			s, _, err := h.Register(ctx, &read.MessageFilter{Channels: []string{"none"}}, nil)
			require.NoError(t, err)
			t.Cleanup(func() { h.Unregister(s) })
		}

		tm := time.Now().UTC().Truncate(time.Second)
		var last int64
		for i := range 12 {
			h := fmt.Sprintf("%064x", i+1)
			ch := []string{"A", "B"}[i%3/2] // A A B A A B ...
			tx, err := db.Client.Tx(ctx)
			require.NoError(t, err)
			tx.Message.Create().SetID(h).SetType("POST").SetChain("ETH").SetSender("0xs").SetItemType("inline").
				SetContent(json.RawMessage(`{}`)).SetTime(tm.Add(time.Duration(i) * time.Second)).SetReceptionTime(tm).
				SetOwner("0xs").SetChannel(ch).SetSize(2).SaveX(ctx)
			kind := events.Processed
			if i == 7 {
				kind = events.Confirmed
			}
			ev := tx.MessageEvent.Create().SetItemHash(h).SetKind(string(kind)).SetCreatedAt(tm).SaveX(ctx)
			require.NoError(t, tx.Commit())
			require.NoError(t, bus.Publish(ctx, events.Event{Seq: ev.ID, Kind: kind, ItemHash: h}))
			last = ev.ID
		}
		for _, h := range []*Hub{mem, disk} {
			require.Eventually(t, func() bool { seq, _ := h.LastEvent(); return seq == last }, 5*time.Second, 5*time.Millisecond)
		}

		// replay reads a stream resumed after `after` until it is idle.
		replay := func(h *Hub, after int64) []string {
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			st := h.NewStream(sctx, &read.MessageFilter{Channels: []string{"A"}}, &after, func() {})
			var out []string
			for {
				e, ok, idle, err := st.Poll(sctx)
				require.NoError(t, err)
				require.True(t, ok)
				if idle {
					return out
				}
				out = append(out, fmt.Sprintf("%d %s %s", e.Ev.Seq, e.Ev.Kind, e.Message.ID[60:]))
			}
		}
		first := last - 11
		for after := first - 1; after <= last; after++ {
			require.Equal(t, replay(disk, after), replay(mem, after), "after %d", after)
		}
		got := replay(mem, last-5)
		require.Len(t, got, 3, "channel A among the last five events")
		require.Contains(t, got[0], " "+string(events.Confirmed)+" ")

		ms, ds := mem.Stats(), disk.Stats()
		require.Positive(t, ms.ReplaysFromMemory, "recent positions replay from memory")
		require.Positive(t, ms.ReplaysFromOutbox, "older positions read the outbox")
		require.Zero(t, ds.ReplaysFromMemory)
		require.Positive(t, ds.ReplaysFromOutbox)

		// A replay from memory shares the live event: the same payloads.
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		after := last - 1
		st := mem.NewStream(sctx, nil, &after, func() {})
		e, ok, idle, err := st.Poll(sctx)
		require.NoError(t, err)
		require.True(t, ok && !idle)
		require.True(t, e.Live(), "the event the hub dispatched")
		var dispatched *ent.Message
		mem.mu.Lock()
		w := mem.recent.evs[mem.recent.start:]
		dispatched = w[len(w)-1].Message
		mem.mu.Unlock()
		require.Same(t, dispatched, e.Message)
	})
}
