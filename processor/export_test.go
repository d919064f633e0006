package processor

import "context"

// SetReleaseHook sets the function called when the pipelined process
// stage releases a prefetched batch because the batch before it failed.
func SetReleaseHook(p *Processor, f func(rows int)) { p.onRelease = f }

// ReleaseDeadClaims runs the start-up release of dead processes' claims.
func ReleaseDeadClaims(ctx context.Context, p *Processor) (int, error) {
	return p.releaseDeadClaims(ctx)
}

// ID returns the processor's claim holder ID.
func ID(p *Processor) string { return p.cfg.ID }
