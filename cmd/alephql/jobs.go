package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/billing"
	"github.com/alephql/alephql/processor/filegc"
)

// billingFlags are the settings of the balance and credit jobs.
type billingFlags struct {
	enabled         bool
	balanceInterval time.Duration
	creditInterval  time.Duration
	tick            time.Duration
}

// registerEnable adds the switch that runs the jobs in the node (serve
// only).
func (f *billingFlags) registerEnable(fs *flag.FlagSet) {
	fs.BoolVar(&f.enabled, "billing-jobs", true, "run the balance and credit jobs that mark unpaid VMs and files REMOVING (one node at a time on a shared database); check first with alephql jobs --dry-run (env ALEPHQL_BILLING_JOBS)")
}

func (f *billingFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.balanceInterval, "billing-balance-interval", billing.DefaultInterval, "least time between two runs of the hold-balance job (env ALEPHQL_BILLING_BALANCE_INTERVAL)")
	fs.DurationVar(&f.creditInterval, "billing-credit-interval", billing.DefaultInterval, "least time between two runs of the credit job (env ALEPHQL_BILLING_CREDIT_INTERVAL)")
	fs.DurationVar(&f.tick, "billing-tick", billing.DefaultTick, "how often the node checks whether a billing job is due (env ALEPHQL_BILLING_TICK)")
}

// newBilling builds the jobs on the processor; reg may be nil (no
// metrics).
func newBilling(f billingFlags, db *database.DB, proc *processor.Processor, reg prometheus.Registerer, log *slog.Logger) (*billing.Jobs, error) {
	cfg := billing.Config{BalanceInterval: f.balanceInterval, CreditInterval: f.creditInterval, Tick: f.tick}
	if err := cfg.Validate(); err != nil {
		return nil, usageError{fmt.Errorf("--billing-*: %w", err)}
	}
	var m *billing.Metrics
	if reg != nil {
		var err error
		if m, err = billing.NewMetrics(reg); err != nil {
			return nil, err
		}
	}
	return billing.New(cfg, billing.Deps{DB: db, Apply: proc, Metrics: m, Log: log})
}

// billingLease names the lease that lets one node at a time run the jobs.
const billingLease = "billing-jobs"

// runBilling runs the jobs while this node holds the billing lease: on a
// database shared by several nodes, one runs them and the others wait to
// take over.
func runBilling(ctx context.Context, db *database.DB, jobs *billing.Jobs) error {
	return database.RunWithLease(ctx, db, billingLease, jobs.Run)
}

// jobsFlags are the settings of the jobs subcommand.
type jobsFlags struct {
	commonFlags
	pipeline pipelineFlags
	billing  billingFlags
	dryRun   bool
	all      bool
	jsonOut  bool
}

func newJobsCommand(stdout, stderr io.Writer) *ffcli.Command {
	var f jobsFlags
	fs := quietFlagSet("alephql jobs")
	f.commonFlags.register(fs)
	f.billing.register(fs)
	fs.BoolVar(&f.dryRun, "dry-run", false, "list what the jobs would remove or recover now, and why, changing nothing")
	fs.BoolVar(&f.all, "all", false, "with --dry-run: check every paying address, not only those changed since the jobs' last run")
	fs.BoolVar(&f.jsonOut, "json", false, "with --dry-run: one JSON object per line instead of a table")
	return &ffcli.Command{
		Name:       "jobs",
		ShortUsage: "alephql jobs [--dry-run [--all] [--json]] [flags]",
		ShortHelp:  "Run the balance and credit jobs once, or list what they would do.",
		LongHelp: `The balance and credit jobs mark paid messages (VMs, large files) whose
owner no longer holds enough tokens or credits as REMOVING, and recover them
when the account pays again; the garbage collector then finalizes them as
REMOVED. alephql serve runs them hourly (--billing-jobs).

With --dry-run, list what the jobs would remove, spare or recover now, and
why (what each message needs and what the account has left), and which
REMOVING messages the next collection would finalize, changing nothing.
Without it, run both jobs once now, under the same lease as serve.`,
		FlagSet: fs,
		Options: ffOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("jobs takes no arguments, got %q", args)}
			}
			return runJobsCommand(ctx, f, stdout, stderr)
		},
	}
}

func runJobsCommand(ctx context.Context, f jobsFlags, stdout, stderr io.Writer) error {
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	cfg, err := f.databaseConfig()
	if err != nil {
		return err
	}
	db, err := database.Open(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("--db (ALEPHQL_DB): %w", err)
	}
	defer db.Close()
	proc, err := newProcessor(f.pipeline, db, nil, nil, nil, log)
	if err != nil {
		return err
	}
	jobs, err := newBilling(f.billing, db, proc, nil, log)
	if err != nil {
		return err
	}
	if !f.dryRun {
		if _, err := db.Migrate(ctx, log); err != nil {
			return fmt.Errorf("--db (ALEPHQL_DB) %s: %w", db.Name, err)
		}
		lease, err := db.AcquireLease(ctx, billingLease)
		if err != nil {
			return err
		}
		defer lease.Release()
		for _, job := range []string{billing.JobBalance, billing.JobCredit} {
			rep, err := jobs.RunJob(ctx, job)
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintf(stdout, "%s: %d addresses settled, %d removing, %d recovered\n", job, rep.Addresses, rep.Removing, rep.Recovered)
		}
		return nil
	}
	var ds []billing.Decision
	for _, job := range []string{billing.JobBalance, billing.JobCredit} {
		d, err := jobs.Plan(ctx, job, f.all)
		if err != nil {
			return fmt.Errorf("plan %s (is the database migrated? alephql migrate): %w", job, err)
		}
		ds = append(ds, d...)
	}
	fin, err := jobs.Finalizable(ctx)
	if err != nil {
		return err
	}
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		for _, d := range ds {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		for _, m := range fin {
			if err := enc.Encode(map[string]string{"job": "gc", "action": "finalize", "item_hash": m.ID, "type": m.Type, "address": m.Owner}); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "JOB\tACTION\tITEM HASH\tTYPE\tADDRESS\tWHY")
	for _, d := range ds {
		_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s (%s)\n", d.Job, d.Action, d.ItemHash, d.Type, d.Address, d.Why, d.Reason)
	}
	for _, m := range fin {
		_, _ = fmt.Fprintf(w, "gc\tfinalize\t%s\t%s\t%s\tremoving, and no pin holds it any more\n", m.ID, m.Type, m.Owner)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(stdout, "%d decisions, %d removals to finalize; nothing was changed\n", len(ds), len(fin))
	return nil
}

// finalizeWith rebuilds the storage collector so that each round ends by
// finalizing the removals whose pins are gone (billing.Jobs.FinalizeRemoved).
func (s *storageNode) finalizeWith(f storageFlags, client *ent.Client, jobs *billing.Jobs, log *slog.Logger) error {
	gc, err := filegc.New(filegc.Config{Period: f.gcPeriod}, client, s.Content, log, filegc.WithFinalizer(jobs))
	if err != nil {
		return usageError{fmt.Errorf("--storage-gc-period: %w", err)}
	}
	s.GC = gc
	return nil
}
