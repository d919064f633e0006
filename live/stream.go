package live

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/alephql/alephql/read"
)

// Cursor is the resume position of an event: its outbox id.
func Cursor(seq int64) string { return strconv.FormatInt(seq, 10) }

// ErrBadCursor is returned by ParseCursor for a malformed cursor.
var ErrBadCursor = errors.New("malformed event cursor")

// ParseCursor reads a resume position written by Cursor.
func ParseCursor(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w %q", ErrBadCursor, s)
	}
	return n, nil
}

// Stream is one subscription's position in the event sequence (a GraphQL
// `messages` subscription, a REST websocket feed). It is pulled by its
// consumer (no goroutine of its own): register at outbox position x, replay the rows in
// (after, x] from the outbox, then take the hub's rows after x. A stream
// that falls behind re-registers and replays what it missed.
type Stream struct {
	h      *Hub
	f      *read.MessageFilter
	after  *int64 // resume position at the next registration
	notify func() // see NewStream

	mu     sync.Mutex // guards s and closed against close
	s      *Sub
	closed bool

	x, last  int64    // registration position, last event passed over
	buf      []*Event // replayed events not yet passed over
	bufShort bool     // buf was the last replay batch
}

// NewStream returns a stream of the events matching f after `after`
// (nil: live from its registration, at its first step). It ends and lets
// go of its registration when ctx ends, whether or not Next is being
// called. notify, if not nil, is called (from the hub's goroutine, which
// it must not block) when an event may be ready: it is what wakes a
// caller of Poll.
func (h *Hub) NewStream(ctx context.Context, f *read.MessageFilter, after *int64, notify func()) *Stream {
	st := &Stream{h: h, f: f, after: after, notify: notify}
	context.AfterFunc(ctx, st.close)
	return st
}

func (st *Stream) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	if st.s != nil {
		st.h.Unregister(st.s)
		st.s = nil
	}
}

// Next returns the stream's next event, waiting for it; ok is false once
// the stream ended (ctx done, or the hub never started).
func (st *Stream) Next(ctx context.Context) (e *Event, ok bool, err error) {
	e, ok, _, err = st.step(ctx, true)
	return e, ok, err
}

// Poll is Next without the wait: idle is true when no event is ready yet.
// The stream's notify (see NewStream) is called when one may be.
func (st *Stream) Poll(ctx context.Context) (e *Event, ok, idle bool, err error) {
	return st.step(ctx, false)
}

// HasMore reports whether the stream has an event ready or replay rows
// to read, so that Poll would not be idle (it may still find nothing: a
// replayed row the filter rejects).
func (st *Stream) HasMore() bool {
	st.mu.Lock()
	s := st.s
	st.mu.Unlock()
	return s == nil || len(st.buf) > 0 || st.last < st.x || s.pending()
}

func (st *Stream) step(ctx context.Context, block bool) (e *Event, ok, idle bool, err error) {
	h := st.h
	for {
		st.mu.Lock()
		s := st.s
		st.mu.Unlock()
		if s == nil {
			s, x, err := h.Register(ctx, st.f, st.notify)
			if err != nil {
				return nil, false, false, nil
			}
			st.mu.Lock()
			if st.closed {
				st.mu.Unlock()
				h.Unregister(s)
				return nil, false, false, nil
			}
			st.s = s
			st.mu.Unlock()
			st.x, st.last, st.buf, st.bufShort = x, x, nil, false
			if st.after != nil {
				st.last = *st.after
			}
			continue
		}
		for len(st.buf) > 0 {
			e := st.buf[0]
			st.buf[0] = nil
			if st.buf = st.buf[1:]; len(st.buf) == 0 {
				st.buf = nil // let the replayed rows go once passed over
			}
			st.last = e.Ev.Seq
			if Match(st.f, e.Message) {
				return e, true, false, nil
			}
		}
		if st.last < st.x {
			if st.bufShort {
				st.last = st.x
				continue
			}
			evs, err := h.replayBatch(ctx, st.last, st.x)
			if err != nil {
				if ctx.Err() != nil {
					return nil, false, false, nil
				}
				return nil, false, false, err
			}
			st.buf, st.bufShort = evs, len(evs) < h.cfg.ReplayBatch
			continue
		}
		e, lagged := s.pop()
		switch {
		case lagged:
			after := st.last
			st.after = &after
			st.mu.Lock()
			if st.s != nil {
				h.Unregister(st.s)
				st.s = nil
			}
			st.mu.Unlock()
			continue
		case e != nil:
			if e.Ev.Seq <= st.last {
				continue // resumed past the hub's position: already seen
			}
			st.last = e.Ev.Seq
			return e, true, false, nil
		}
		if !block {
			if ctx.Err() != nil {
				return nil, false, false, nil
			}
			return nil, true, true, nil
		}
		select {
		case <-ctx.Done():
			return nil, false, false, nil
		case <-s.wake:
		}
	}
}
