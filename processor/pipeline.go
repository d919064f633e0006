package processor

import (
	"context"
	"errors"
	"time"
)

// The process stage on PostgreSQL is a two-step pipeline: while one
// batch runs its handlers, writes and commit, the next batch is claimed
// and its signatures verified in a transaction of its own. A batch's
// writes are mostly database time and its verification mostly CPU time,
// so overlapping them keeps both cores busy.
//
// Correctness rests on PostgreSQL's row locks and READ COMMITTED:
//   - the prefetch claims with FOR UPDATE SKIP LOCKED, so it takes the
//     due rows after the applying batch's (which are locked), in the same
//     order (next attempt, time, hash) as a claim made after the commit;
//   - the prefetched batch reads nothing else before the applying batch
//     has committed: its de-duplication reads and its handlers run after
//     the commit, and each statement sees what was committed when it
//     started, so it sees the previous batch's effects;
//   - when the applying batch fails, the prefetched one is rolled back
//     before the failed batch's rows are applied one by one, and claimed
//     again afterwards: protocol order holds as in the sequential stage.
//
// SQLite has one writer and no row locks: it keeps the sequential stage
// (ProcessOnce).

// prefetch is the outcome of claiming the next batch.
type prefetch struct {
	c   *claimed
	err error
}

// processLoop is the process stage on PostgreSQL: processStep until no
// row is due, then wait for a wake-up or the idle period, as loop does.
// A prefetched batch is released when ctx ends.
func (p *Processor) processLoop(ctx context.Context) error {
	var next *claimed
	defer func() {
		if next != nil {
			next.rollback()
		}
	}()
	for {
		n, err := p.processStep(ctx, &next)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.log.Error("pipeline step failed", "err", err)
		}
		if next != nil || (n > 0 && err == nil) {
			continue
		}
		t := time.NewTimer(p.cfg.Idle)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// processStep applies one batch, *next when a batch was prefetched or a
// newly claimed one otherwise, while claiming and verifying the following
// batch into *next. It returns the rows settled.
func (p *Processor) processStep(ctx context.Context, next **claimed) (int, error) {
	cur := *next
	*next = nil
	if cur == nil {
		var err error
		if cur, err = p.claim(ctx, nil, p.cfg.BatchSize); err != nil || cur == nil {
			return 0, err
		}
	}
	pre := make(chan prefetch, 1)
	go func() {
		c, err := p.claim(ctx, nil, p.cfg.BatchSize)
		pre <- prefetch{c, err}
	}()
	n, ids, err := p.apply(ctx, cur)
	r := <-pre
	if err != nil {
		// The prefetched rows come after the failed batch's: release them
		// before retrying those, and claim them again after.
		if r.c != nil {
			r.c.rollback()
			if p.onRelease != nil {
				p.onRelease(len(r.c.rows))
			}
		}
		if errors.Is(err, errAbort) {
			return p.applyEach(ctx, ids)
		}
		return n, err
	}
	if r.err != nil {
		return n, r.err
	}
	*next = r.c
	return n, nil
}
