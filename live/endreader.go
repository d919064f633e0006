package live

import (
	"context"
	"sync"
	"time"
)

// EndReader shares reads of the outbox end between concurrent requests
// without weakening what each one learns: a request gets the result of a
// read that started after it arrived, so every change committed before
// the request is below the end it sees. Requests arriving while a read
// runs wait for the next one, which starts as soon as the running one
// ends; under load one statement serves many requests.
type EndReader struct {
	read    func(context.Context) (int64, error)
	timeout time.Duration

	mu      sync.Mutex
	running bool
	next    *endRead // the read the next arrivals wait for
}

// endRead is one shared read.
type endRead struct {
	done    chan struct{}
	end     int64
	err     error
	waiting int // requests sharing it (guarded by EndReader.mu)
}

// NewEndReader returns an EndReader sharing the reads of read.
func NewEndReader(read func(context.Context) (int64, error)) *EndReader {
	return &EndReader{read: read, timeout: 5 * time.Second}
}

// End returns an outbox end read after the call began.
func (e *EndReader) End(ctx context.Context) (int64, error) {
	e.mu.Lock()
	if e.next == nil {
		e.next = &endRead{done: make(chan struct{})}
	}
	r := e.next
	r.waiting++
	if !e.running {
		e.startLocked()
	}
	e.mu.Unlock()
	select {
	case <-r.done:
		return r.end, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// startLocked starts the read the waiters of e.next share. The read is
// not bound to the request that started it (others wait for it), only to
// its timeout; its goroutine ends with it.
func (e *EndReader) startLocked() {
	r := e.next
	e.next, e.running = nil, true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		r.end, r.err = e.read(ctx)
		cancel()
		close(r.done)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.running = false
		if e.next != nil {
			e.startLocked()
		}
	}()
}
