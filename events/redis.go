package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisChannel is the Redis pub/sub channel a Redis bus uses when
// none is given.
const DefaultRedisChannel = "alephql:events"

// ErrStreamInterrupted ends every local subscription of a Redis bus when
// its connection to Redis was lost and re-established: events published
// meanwhile were not delivered, so listeners must catch up from the outbox.
var ErrStreamInterrupted = errors.New("event stream interrupted: events may have been missed")

// publishQueue is the number of Publish calls a Redis bus holds while
// Redis is slow or unreachable; beyond it, batches are dropped (listeners
// catch up from the outbox).
const publishQueue = 1024

// Redis is a Bus shared by every node connected to one Redis server: each
// Publish becomes one PUBLISH of the events as a JSON array on the bus's
// channel, and each node listens to that channel once, through a single
// Redis subscription, fanning events out locally through a Local bus (so a
// slow local consumer is cut off with ErrSlowConsumer without blocking the
// listener or the publisher).
//
// Delivery is best effort, as Redis pub/sub is: Publish hands the events to
// a bounded queue and returns at once, so the processor never waits on
// Redis; a queue overflow, a PUBLISH error or a lost connection drops
// events. go-redis reconnects and resubscribes by itself; after a
// reconnection every local subscription is closed with
// ErrStreamInterrupted. Nothing is lost for listeners that treat events as
// wake-ups and read the message_events outbox (as graph.Hub does, which
// also polls the outbox): events are notifications, the outbox is the
// source of truth.
//
// Call Run to listen and to publish; Subscribe and Publish may be called
// before Run starts.
type Redis struct {
	client  *redis.Client
	channel string
	pubsub  *redis.PubSub
	local   *Local
	log     *slog.Logger

	out     chan batch
	dropped atomic.Int64
	running atomic.Bool
}

// NewRedis subscribes to channel (DefaultRedisChannel when empty) on
// client and returns the bus. Once it returns, events published by any
// node are received (and delivered once Run runs). buffer is the number of
// events each local subscriber may have waiting (default 1024 when
// buffer <= 0). The bus does not close client.
func NewRedis(ctx context.Context, client *redis.Client, channel string, buffer int, log *slog.Logger) (*Redis, error) {
	if client == nil {
		return nil, errors.New("redis bus: nil client")
	}
	if channel == "" {
		channel = DefaultRedisChannel
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ps := client.Subscribe(ctx, channel)
	// The first reply confirms the subscription: from now on Redis
	// delivers this channel's messages to this connection.
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("subscribe to redis channel %q: %w", channel, err)
	}
	return &Redis{
		client:  client,
		channel: channel,
		pubsub:  ps,
		local:   NewLocal(buffer),
		log:     log.With("component", "events", "bus", "redis", "channel", channel),
		out:     make(chan batch, publishQueue),
	}, nil
}

// Publish queues evs for one PUBLISH and returns without waiting for
// Redis. It fails only if the events cannot be encoded; a full queue drops
// the batch (counted by Dropped).
func (r *Redis) Publish(_ context.Context, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	payload, err := json.Marshal(evs)
	if err != nil {
		return fmt.Errorf("encode events: %w", err)
	}
	select {
	case r.out <- batch{payload: payload, n: len(evs)}:
	default:
		// Logged once per process: Dropped counts every loss.
		if r.dropped.Add(int64(len(evs))) == int64(len(evs)) {
			r.log.Warn("publish queue full: dropping events; listeners catch up from the outbox")
		}
	}
	return nil
}

// Subscribe registers a local listener of every node's events until ctx
// ends.
func (r *Redis) Subscribe(ctx context.Context) (*Subscription, error) {
	return r.local.Subscribe(ctx)
}

// Subscribers returns the number of live local subscriptions.
func (r *Redis) Subscribers() int { return r.local.Subscribers() }

// Dropped returns the number of events dropped because the publish queue
// was full or PUBLISH failed.
func (r *Redis) Dropped() int64 { return r.dropped.Load() }

// Run publishes queued events and delivers received ones until ctx ends,
// then closes the Redis subscription (the bus cannot be run again). It
// returns nil when ctx ends.
func (r *Redis) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("redis bus already running")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.publishLoop(ctx)
	}()
	defer func() { <-done }()
	// Closing the PubSub stops go-redis's reader goroutine and closes the
	// channel below.
	defer r.pubsub.Close()

	in := r.pubsub.ChannelWithSubscriptions(redis.WithChannelSize(publishQueue))
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-in:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("redis subscription closed")
			}
			r.receive(ctx, m)
		}
	}
}

// receive handles one item of the Redis subscription.
func (r *Redis) receive(ctx context.Context, m any) {
	switch m := m.(type) {
	case *redis.Message:
		var evs []Event
		if err := json.Unmarshal([]byte(m.Payload), &evs); err != nil {
			r.log.Warn("skip undecodable event payload", "err", err, "bytes", len(m.Payload))
			return
		}
		_ = r.local.Publish(ctx, evs...)
	case *redis.Subscription:
		// NewRedis consumed the first confirmation: another one means
		// go-redis reconnected and subscribed again, and whatever was
		// published in between is lost.
		if m.Kind == "subscribe" {
			r.log.Warn("redis connection re-established; listeners catch up from the outbox")
			r.local.closeAll(ErrStreamInterrupted)
		}
	}
}

// batch is one Publish call's events, encoded.
type batch struct {
	payload []byte
	n       int
}

// publishLoop sends queued payloads until ctx ends.
func (r *Redis) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-r.out:
			if err := r.client.Publish(ctx, r.channel, b.payload).Err(); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.dropped.Add(int64(b.n))
				r.log.Warn("publish events to redis", "err", err)
			}
		}
	}
}

// closeAll ends every subscription of l with err.
func (l *Local) closeAll(err error) {
	l.mu.Lock()
	subs := l.subs
	l.subs = map[*Subscription]struct{}{}
	l.mu.Unlock()
	for s := range subs {
		s.close(err)
	}
}

// Interface guards
var _ Bus = (*Redis)(nil)
