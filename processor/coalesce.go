package processor

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Concurrent single submissions (Submit, SubmitWire: the APIs, gossip)
// share intake transactions: a submission queues its message; while
// fewer than maxIntakeFlights batches are in flight it takes the queue
// (at most maxIntakeBatch messages) and stores it in one transaction
// for all; otherwise it waits, and a batch that ends hands the queue to
// the oldest waiting submission. Nothing waits on a timer: alone, a
// submission is its own batch at once; under load a batch carries what
// queued while the ones before it ran (one transaction's round trips,
// status read and outbox write for many messages instead of one each;
// RELIABILITY.md, Soak).
const (
	maxIntakeFlights = 2
	maxIntakeBatch   = 256
	// intakeTimeout bounds a shared batch, which runs apart from the
	// contexts of the submissions in it (one client leaving must not
	// roll back the others' messages).
	intakeTimeout = 30 * time.Second
)

// errIntakePanic is the error of the submissions whose shared intake
// transaction panicked (the panic goes on in the submission that ran it).
var errIntakePanic = errors.New("processor: intake batch panicked")

// intakeQueue is the queue of single submissions. Safe for concurrent
// use; its zero value is ready.
type intakeQueue struct {
	mu      sync.Mutex
	waiting []*queuedSubmit
	flights int
}

// queuedSubmit is one submission in the queue.
type queuedSubmit struct {
	it   intakeItem
	key  string // itemKey(it)
	res  SubmitResult
	err  error
	done bool          // res and err are set
	lead bool          // handed the queue: runs the next batch
	wake chan struct{} // 1-buffered: done or lead changed
}

// submitOne stores one prepared item through the queue and returns its
// result, or ctx's error if ctx ends first (the message may then be
// stored all the same, as when a client leaves during a commit).
func (p *Processor) submitOne(ctx context.Context, it intakeItem) (SubmitResult, error) {
	q := &p.intake
	w := &queuedSubmit{it: it, key: itemKey(it), wake: make(chan struct{}, 1)}
	q.mu.Lock()
	q.waiting = append(q.waiting, w)
	if q.flights < maxIntakeFlights {
		q.flights++
		w.lead = true
	}
	q.mu.Unlock()
	for {
		q.mu.Lock()
		if w.done {
			q.mu.Unlock()
			return w.res, w.err
		}
		if w.lead {
			w.lead = false
			n := min(len(q.waiting), maxIntakeBatch)
			batch := slices.Clone(q.waiting[:n])
			q.waiting = slices.Delete(q.waiting, 0, n)
			q.mu.Unlock()
			p.runIntakeBatch(ctx, batch)
			continue
		}
		q.mu.Unlock()
		select {
		case <-w.wake:
		case <-ctx.Done():
			q.mu.Lock()
			defer q.mu.Unlock()
			if w.done {
				return w.res, w.err
			}
			if i := slices.Index(q.waiting, w); i >= 0 {
				q.waiting = slices.Delete(q.waiting, i, i+1)
			}
			if w.lead {
				w.lead = false
				q.land()
			}
			return SubmitResult{}, ctx.Err()
		}
	}
}

// land ends a flight and hands the queue, if any waits, to the oldest
// waiting submission not already handed it. q.mu is held.
func (q *intakeQueue) land() {
	q.flights--
	for _, w := range q.waiting {
		if q.flights >= maxIntakeFlights {
			return
		}
		if !w.lead {
			w.lead = true
			q.flights++
			signal(w.wake)
		}
	}
}

// runIntakeBatch stores batch in one intake transaction, hands each
// submission its result and ends the flight, even if it panics.
func (p *Processor) runIntakeBatch(ctx context.Context, batch []*queuedSubmit) {
	var res []SubmitResult
	err := errIntakePanic
	defer func() {
		q := &p.intake
		q.mu.Lock()
		defer q.mu.Unlock()
		for i, w := range batch {
			if err != nil {
				w.err = err
			} else {
				w.res, w.err = res[i], res[i].Err
			}
			w.done = true
			signal(w.wake)
		}
		q.land()
	}()
	if len(batch) == 0 {
		err = nil
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), intakeTimeout)
	defer cancel()
	// Hash order: concurrent batches insert the rows they share in the
	// same order, so they wait for each other instead of deadlocking.
	slices.SortStableFunc(batch, func(a, b *queuedSubmit) int { return cmp.Compare(a.key, b.key) })
	items := make([]intakeItem, len(batch))
	for i, w := range batch {
		items[i] = w.it
	}
	p.metrics.intakeBatch(len(items))
	res, err = p.submitItems(ctx, items)
}

// itemKey is the item hash an intake item's rows are keyed on ("" if
// it has none).
func itemKey(it intakeItem) string {
	if it.m != nil {
		return it.m.ItemHash
	}
	return hashOf(it)
}

// signal sends on a 1-buffered channel without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
