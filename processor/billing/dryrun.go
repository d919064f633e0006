package billing

import (
	"context"
	"fmt"
)

// Plan returns what job would do now, changing nothing: its decisions for
// the addresses it would look at (those changed since its last run), or,
// with all, for every address paying in its payment type.
func (j *Jobs) Plan(ctx context.Context, job string, all bool) ([]Decision, error) {
	if job != JobBalance && job != JobCredit {
		return nil, fmt.Errorf("billing: unknown job %q", job)
	}
	var addrs []string
	var err error
	if all {
		addrs, err = payingAddresses(ctx, j.client, job)
	} else {
		since, lerr := j.lastRun(ctx, job)
		if lerr != nil {
			return nil, lerr
		}
		if !since.IsZero() {
			since = since.Add(-Overlap)
		}
		addrs, err = j.changedAddresses(ctx, j.client, job, since)
	}
	if err != nil {
		return nil, err
	}
	tx, err := j.client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("billing: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := j.now().UTC()
	var out []Decision
	for _, a := range addrs {
		ds, err := j.planAddress(ctx, tx, job, a, now)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", a, err)
		}
		out = append(out, ds...)
	}
	return out, nil
}
