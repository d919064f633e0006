package processor

import "context"

// SetReleaseHook sets the function called when the pipelined process
// stage releases a prefetched batch because the batch before it failed.
func SetReleaseHook(p *Processor, f func(rows int)) { p.onRelease = f }

// SetBeforeCommitHook sets the function a process-stage batch calls
// before its commit.
func SetBeforeCommitHook(p *Processor, f func()) { p.beforeCommit = f }

// AfterCommit runs the second look after a commit that retried rows
// awaiting awaits.
func AfterCommit(ctx context.Context, p *Processor, awaits []string) { p.afterCommit(ctx, nil, awaits) }

// ReleaseDeadClaims runs the start-up release of dead processes' claims.
func ReleaseDeadClaims(ctx context.Context, p *Processor) (int, error) {
	return p.releaseDeadClaims(ctx)
}

// ID returns the processor's claim holder ID.
func ID(p *Processor) string { return p.cfg.ID }

// HoldIntake takes every flight of the shared intake queue, so that
// single submissions queue up; Queued reports how many wait, and release
// ends the held flights, handing the queue on.
func (p *Processor) HoldIntake() (queued func() int, release func()) {
	q := &p.intake
	q.mu.Lock()
	q.flights += maxIntakeFlights
	q.mu.Unlock()
	queued = func() int {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.waiting)
	}
	release = func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		for range maxIntakeFlights {
			q.land()
		}
	}
	return queued, release
}

// IntakeIdle reports whether the shared intake queue is empty with no
// flight.
func (p *Processor) IntakeIdle() bool {
	q := &p.intake
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting) == 0 && q.flights == 0
}
