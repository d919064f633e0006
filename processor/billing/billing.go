package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ent/balance"
	"github.com/alephql/alephql/ent/credithistory"
	"github.com/alephql/alephql/ent/cronjob"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/filegc"
)

// Applier runs a transaction whose lifecycle changes (counters, outbox
// events) it records; *processor.Processor implements it.
type Applier interface {
	Lifecycle(ctx context.Context, f func(ctx context.Context, tx *ent.Tx, l *processor.Lifecycle) error) ([]events.Event, error)
}

// Deps are the jobs' collaborators.
type Deps struct {
	// DB is the database.
	DB *database.DB
	// Apply runs the settling transactions (the processor).
	Apply Applier
	// Metrics, if set, counts removals and recoveries.
	Metrics *Metrics
	// Log is the logger; slog.Default() when nil.
	Log *slog.Logger
	// Now is the clock; time.Now when nil. It should be the processor's.
	Now func() time.Time
}

// Jobs runs the hold-balance and credit jobs and finalizes removals.
type Jobs struct {
	cfg     Config
	db      *database.DB
	client  *ent.Client
	apply   Applier
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
	// beforeSettle, for tests, is called before each address is settled;
	// an error stops the run there (a crash between two addresses).
	beforeSettle func(job, address string) error
}

// New returns the jobs.
func New(cfg Config, deps Deps) (*Jobs, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.DB == nil || deps.Apply == nil {
		return nil, errors.New("billing: DB and Apply are required")
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Jobs{
		cfg: cfg.withDefaults(), db: deps.DB, client: deps.DB.Client, apply: deps.Apply,
		metrics: deps.Metrics, log: deps.Log.With("component", "billing"), now: deps.Now,
	}, nil
}

// Run runs each job when its interval has passed since its last run
// (cron_jobs.last_run, shared by every node on the database), checking
// every Config.Tick, until ctx ends. A failed run is logged and retried at
// the next tick. Several nodes sharing a database must not run it at the
// same time: wrap it in a lease (database.RunWithLease).
func (j *Jobs) Run(ctx context.Context) error {
	t := time.NewTicker(j.cfg.Tick)
	defer t.Stop()
	for {
		for _, job := range []string{JobBalance, JobCredit} {
			if err := j.runIfDue(ctx, job); err != nil && ctx.Err() == nil {
				j.log.Error("billing job failed", "job", job, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// runIfDue runs job if its interval has passed since its last run.
func (j *Jobs) runIfDue(ctx context.Context, job string) error {
	last, err := j.lastRun(ctx, job)
	if err != nil {
		return err
	}
	if !last.IsZero() && j.now().Sub(last) < j.cfg.interval(job) {
		return nil
	}
	_, err = j.RunJob(ctx, job)
	return err
}

// Report says what one run of a job did.
type Report struct {
	Job       string
	Addresses int // addresses settled
	Removing  int // messages marked removing
	Recovered int // messages recovered
}

// Overlap is how far before its last run a job looks for changed
// addresses. A balance or credit change is stamped with the time its
// transaction ran, which may have committed only after the last run read
// the changed addresses; looking back this far (longer than any processing
// transaction lasts) keeps such a change from being missed. Settling an
// address twice changes nothing the second time.
const Overlap = 5 * time.Minute

// RunJob runs one job now: it settles every address whose balance or
// credit history changed since the job's last run, one transaction per
// address, then records the run's start as the job's last run. A run that
// fails part-way leaves last_run as it was, so the next run settles the
// addresses again (settling is idempotent).
func (j *Jobs) RunJob(ctx context.Context, job string) (Report, error) {
	rep := Report{Job: job}
	if job != JobBalance && job != JobCredit {
		return rep, fmt.Errorf("billing: unknown job %q", job)
	}
	started := j.now().UTC()
	since, err := j.lastRun(ctx, job)
	if err != nil {
		return rep, err
	}
	if !since.IsZero() {
		since = since.Add(-Overlap)
	}
	addrs, err := j.changedAddresses(ctx, j.client, job, since)
	if err != nil {
		return rep, err
	}
	log := j.log.With("job", job)
	for _, a := range addrs {
		if j.beforeSettle != nil {
			if err := j.beforeSettle(job, a); err != nil {
				return rep, err
			}
		}
		evs, err := j.apply.Lifecycle(ctx, func(ctx context.Context, tx *ent.Tx, l *processor.Lifecycle) error {
			ds, err := j.planAddress(ctx, tx, job, a, l.Now())
			if err != nil {
				return err
			}
			return j.settle(ctx, tx, l, ds)
		})
		if err != nil {
			return rep, fmt.Errorf("settle %s: %w", a, err)
		}
		rep.Addresses++
		for _, ev := range evs {
			switch ev.Kind {
			case events.Removing:
				rep.Removing++
				j.metrics.removing(reasonOf(job))
				log.Info("message removing", "address", a, "item_hash", ev.ItemHash, "reason", reasonOf(job))
			case events.Recovered:
				rep.Recovered++
				j.metrics.recovered(reasonOf(job))
				log.Info("message recovered", "address", a, "item_hash", ev.ItemHash)
			}
		}
	}
	err = j.client.CronJob.Create().SetID(job).SetIntervalSeconds(int64(j.cfg.interval(job).Seconds())).
		SetLastRun(started).OnConflictColumns(cronjob.FieldID).UpdateNewValues().Exec(ctx)
	if err != nil {
		return rep, fmt.Errorf("record last run of %s: %w", job, err)
	}
	j.metrics.ran(job)
	log.Info("billing job done", "addresses", rep.Addresses, "removing", rep.Removing, "recovered", rep.Recovered)
	return rep, nil
}

// lastRun is the job's last run, zero if it never ran.
func (j *Jobs) lastRun(ctx context.Context, job string) (time.Time, error) {
	row, err := j.client.CronJob.Get(ctx, job)
	switch {
	case ent.IsNotFound(err):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("read cron job %s: %w", job, err)
	}
	return row.LastRun, nil
}

// changedAddresses are the addresses whose balance (hold job) or credit
// history (credit job) changed at or after since, sorted; with a zero
// since, every address that has one.
func (j *Jobs) changedAddresses(ctx context.Context, c *ent.Client, job string, since time.Time) ([]string, error) {
	var (
		addrs []string
		err   error
	)
	if job == JobCredit {
		q := c.CreditHistory.Query()
		if !since.IsZero() {
			q.Where(credithistory.LastUpdateGTE(since.UTC()))
		}
		addrs, err = q.Unique(true).Select(credithistory.FieldAddress).Strings(ctx)
	} else {
		q := c.Balance.Query()
		if !since.IsZero() {
			q.Where(balance.LastUpdateGTE(since.UTC()))
		}
		addrs, err = q.Unique(true).Select(balance.FieldAddress).Strings(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("read changed addresses: %w", err)
	}
	slices.Sort(addrs)
	return slices.Compact(addrs), nil
}

// payingAddresses are the owners of cost rows of the job's payment type.
func payingAddresses(ctx context.Context, c *ent.Client, job string) ([]string, error) {
	addrs, err := c.AccountCost.Query().Where(accountcost.PaymentType(paymentOf(job))).
		Unique(true).Select(accountcost.FieldOwner).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("read paying addresses: %w", err)
	}
	slices.Sort(addrs)
	return slices.Compact(addrs), nil
}

// paymentOf is the payment type a job checks.
func paymentOf(job string) string {
	if job == JobCredit {
		return "credit"
	}
	return "hold"
}

// reasonOf is the removal reason of a job.
func reasonOf(job string) string {
	if job == JobCredit {
		return ReasonCredit
	}
	return ReasonBalance
}

// Interface guards
var (
	_ Applier          = (*processor.Processor)(nil)
	_ filegc.Finalizer = (*Jobs)(nil)
)
