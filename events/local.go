package events

import (
	"context"
	"errors"
	"sync"
)

// ErrSlowConsumer ends a subscription whose buffer overflowed: the listener
// must catch up from the outbox.
var ErrSlowConsumer = errors.New("subscriber too slow: events dropped")

// Subscription is one listener's stream of events.
type Subscription struct {
	// C delivers events in publish order. It is closed when the
	// subscription ends.
	C <-chan Event

	c      chan Event
	mu     sync.Mutex
	err    error
	closed bool
}

// Err returns why the subscription ended, nil while it runs or after a
// normal end (its context ended).
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// close ends the subscription once; err is kept if it is the first reason.
func (s *Subscription) close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.err = err
	close(s.c)
}

// send delivers ev without blocking; a full buffer ends the subscription.
func (s *Subscription) send(ev Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.c <- ev:
		return true
	default:
		s.closed = true
		s.err = ErrSlowConsumer
		close(s.c)
		return false
	}
}

// Local is an in-process Bus: fan-out to subscribers with bounded buffers.
// A subscriber whose buffer is full is cut off (ErrSlowConsumer) rather
// than slowing the publisher or growing memory.
type Local struct {
	buffer int

	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// NewLocal returns an in-process bus whose subscribers buffer up to buffer
// events (default 1024 when buffer <= 0).
func NewLocal(buffer int) *Local {
	if buffer <= 0 {
		buffer = 1024
	}
	return &Local{buffer: buffer, subs: map[*Subscription]struct{}{}}
}

// Publish delivers evs to every subscriber, never blocking.
func (l *Local) Publish(_ context.Context, evs ...Event) error {
	l.mu.RLock()
	var dead []*Subscription
	for s := range l.subs {
		for _, ev := range evs {
			if !s.send(ev) {
				dead = append(dead, s)
				break
			}
		}
	}
	l.mu.RUnlock()
	if len(dead) > 0 {
		l.mu.Lock()
		for _, s := range dead {
			delete(l.subs, s)
		}
		l.mu.Unlock()
	}
	return nil
}

// Subscribe registers a listener until ctx ends.
func (l *Local) Subscribe(ctx context.Context) (*Subscription, error) {
	c := make(chan Event, l.buffer)
	s := &Subscription{C: c, c: c}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		delete(l.subs, s)
		l.mu.Unlock()
		s.close(nil)
	}()
	return s, nil
}

// Subscribers returns the number of live subscriptions.
func (l *Local) Subscribers() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.subs)
}

// Interface guards
var _ Bus = (*Local)(nil)
