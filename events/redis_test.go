package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/events"
)

// redisNode is one node's connection to the shared Redis: its own client
// and bus, run until the test ends.
type redisNode struct {
	client *redis.Client
	bus    *events.Redis
}

// uniqueName returns a name no other test uses, so tests sharing the
// Redis server do not see each other's events.
func uniqueName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b)
}

func startRedisNode(t *testing.T, channel, name string, buffer int) redisNode {
	t.Helper()
	opts, err := redis.ParseURL(dbtest.RedisURL(t))
	require.NoError(t, err)
	opts.ClientName = name
	client := redis.NewClient(opts)
	bus, err := events.NewRedis(t.Context(), client, channel, buffer, dbtest.Logger())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, client.Close())
	})
	return redisNode{client: client, bus: bus}
}

func receive(t *testing.T, s *events.Subscription) events.Event {
	t.Helper()
	select {
	case ev, ok := <-s.C:
		require.True(t, ok, "subscription closed: %v", s.Err())
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return events.Event{}
	}
}

func TestRedisDeliversAcrossNodes(t *testing.T) {
	channel := uniqueName(t, "test:events:")
	a := startRedisNode(t, channel, uniqueName(t, "a"), 16)
	b := startRedisNode(t, channel, uniqueName(t, "b"), 16)
	onA, err := a.bus.Subscribe(t.Context())
	require.NoError(t, err)
	onB, err := b.bus.Subscribe(t.Context())
	require.NoError(t, err)

	code := 5
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	sent := []events.Event{
		{Seq: 1, Kind: events.Processed, At: at, ItemHash: "h1", Type: "POST", Chain: "ETH", Sender: "0xa", Owner: "0xb", Channel: "TEST", ContentType: "note", Tags: []string{"x", "y"}, Time: at.Add(-time.Minute)},
		{Seq: 2, Kind: events.Rejected, At: at, ItemHash: "h2", ErrorCode: &code, Time: at},
	}
	require.NoError(t, a.bus.Publish(t.Context(), sent...))
	require.NoError(t, a.bus.Publish(t.Context(), events.Event{Seq: 3, Kind: events.Forgotten, ItemHash: "h1", Related: "h3"}))

	for name, s := range map[string]*events.Subscription{"publishing node": onA, "other node": onB} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, sent[0], receive(t, s))
			require.Equal(t, sent[1], receive(t, s))
			third := receive(t, s)
			require.Equal(t, int64(3), third.Seq)
			require.Equal(t, "h3", third.Related)
		})
	}
	require.Zero(t, a.bus.Dropped())
}

func TestRedisCutsOffSlowConsumerWithoutBlocking(t *testing.T) {
	channel := uniqueName(t, "test:events:")
	a := startRedisNode(t, channel, uniqueName(t, "a"), 2)
	b := startRedisNode(t, channel, uniqueName(t, "b"), 2)
	slow, err := b.bus.Subscribe(t.Context())
	require.NoError(t, err)
	fast, err := b.bus.Subscribe(t.Context())
	require.NoError(t, err)

	// The publisher goes on (paced by the fast consumer, whose buffer is
	// as small) while the slow one never reads.
	got := make(chan int64, 5)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			if a.bus.Publish(t.Context(), events.Event{Seq: int64(i + 1)}) != nil {
				return
			}
			select {
			case ev := <-fast.C:
				got <- ev.Seq
			case <-time.After(5 * time.Second):
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher blocked on a slow consumer")
	}
	close(got)
	var seqs []int64
	for s := range got {
		seqs = append(seqs, s)
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5}, seqs, "the fast consumer gets every event")
	n := 0
	for range slow.C {
		n++
	}
	require.Equal(t, 2, n, "the buffer's events are delivered, then the channel closes")
	require.ErrorIs(t, slow.Err(), events.ErrSlowConsumer)
	require.Equal(t, 1, b.bus.Subscribers())
}

func TestRedisSkipsUndecodablePayloads(t *testing.T) {
	channel := uniqueName(t, "test:events:")
	a := startRedisNode(t, channel, uniqueName(t, "a"), 4)
	s, err := a.bus.Subscribe(t.Context())
	require.NoError(t, err)
	require.NoError(t, a.client.Publish(t.Context(), channel, "not json").Err())
	require.NoError(t, a.client.Publish(t.Context(), channel, `{"seq":1}`).Err(), "an object, not an array")
	require.NoError(t, a.bus.Publish(t.Context(), events.Event{Seq: 7, Kind: events.Confirmed}))
	require.Equal(t, int64(7), receive(t, s).Seq)
}

func TestRedisReconnectClosesSubscriptionsAndResumes(t *testing.T) {
	channel := uniqueName(t, "test:events:")
	nameB := uniqueName(t, "b")
	a := startRedisNode(t, channel, uniqueName(t, "a"), 4)
	b := startRedisNode(t, channel, nameB, 4)
	before, err := b.bus.Subscribe(t.Context())
	require.NoError(t, err)

	// Kill node B's connections (its subscription among them), as a
	// network failure or a Redis restart would.
	list, err := a.client.ClientList(t.Context()).Result()
	require.NoError(t, err)
	killed := 0
	for line := range strings.SplitSeq(strings.TrimSpace(list), "\n") {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != nameB {
			continue
		}
		id, err := strconv.ParseInt(fields["id"], 10, 64)
		require.NoError(t, err)
		require.NoError(t, a.client.ClientKillByFilter(t.Context(), "ID", strconv.FormatInt(id, 10)).Err())
		killed++
	}
	require.Positive(t, killed, "node B's subscription connection is listed")

	// go-redis reconnects and subscribes again; the bus tells its
	// listeners that events may have been missed.
	require.Eventually(t, func() bool {
		select {
		case _, ok := <-before.C:
			return !ok
		default:
			return false
		}
	}, 10*time.Second, 10*time.Millisecond, "the subscription is closed after the reconnection")
	require.ErrorIs(t, before.Err(), events.ErrStreamInterrupted)

	after, err := b.bus.Subscribe(t.Context())
	require.NoError(t, err)
	require.NoError(t, a.bus.Publish(t.Context(), events.Event{Seq: 9, Kind: events.Processed}))
	require.Equal(t, int64(9), receive(t, after).Seq)
}
