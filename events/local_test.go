package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/events"
)

func TestLocalDeliversInOrderToEverySubscriber(t *testing.T) {
	bus := events.NewLocal(16)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a, err := bus.Subscribe(ctx)
	require.NoError(t, err)
	b, err := bus.Subscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, bus.Publish(ctx, events.Event{Seq: 1, Kind: events.Processed}, events.Event{Seq: 2, Kind: events.Rejected}))
	for _, s := range []*events.Subscription{a, b} {
		require.Equal(t, int64(1), (<-s.C).Seq)
		require.Equal(t, int64(2), (<-s.C).Seq)
	}
}

func TestLocalCutsOffSlowConsumerWithoutBlocking(t *testing.T) {
	bus := events.NewLocal(2)
	slow, err := bus.Subscribe(t.Context())
	require.NoError(t, err)
	fast, err := bus.Subscribe(t.Context())
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3 {
			require.NoError(t, bus.Publish(t.Context(), events.Event{Seq: int64(i + 1)}))
			<-fast.C
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked on a slow consumer")
	}
	n := 0
	for range slow.C {
		n++
	}
	require.Equal(t, 2, n, "the buffer's events are delivered, then the channel closes")
	require.ErrorIs(t, slow.Err(), events.ErrSlowConsumer)
	require.Equal(t, 1, bus.Subscribers())
}

func TestLocalEndsWithContext(t *testing.T) {
	bus := events.NewLocal(4)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := bus.Subscribe(ctx)
	require.NoError(t, err)
	cancel()
	_, open := <-s.C
	require.False(t, open)
	require.NoError(t, s.Err())
	require.Eventually(t, func() bool { return bus.Subscribers() == 0 }, time.Second, 5*time.Millisecond)
}
