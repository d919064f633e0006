package billing

import (
	"errors"
	"fmt"
	"time"
)

// The jobs, by their cron_jobs ids (pyaleph's names).
const (
	// JobBalance is the hold-balance job.
	JobBalance = "balance"
	// JobCredit is the credit job.
	JobCredit = "credit_balance"
)

// The removal reasons, as stored in removed_messages.reason and served by
// the APIs.
const (
	// ReasonBalance: the owner's token balance no longer covers its hold
	// payments.
	ReasonBalance = "balance_insufficient"
	// ReasonCredit: the owner's credits no longer cover a day of its
	// credit payments.
	ReasonCredit = "credit_insufficient"
)

// Defaults of Config: the reference node's values.
const (
	DefaultInterval     = time.Hour        // cron_jobs interval of both jobs
	DefaultTick         = 30 * time.Minute // aleph.jobs.cron.period
	DefaultCutoffHeight = 22196000         // STORE_AND_PROGRAM_COST_CUTOFF_HEIGHT
	DefaultMaxFreeStore = 25 << 20         // storage.max_unauthenticated_upload_file_size
	DefaultGracePeriod  = 25 * time.Hour   // delete_by = now + 24 h + 1 h
)

// DefaultCreditOnlyCutoff is the network's credit-only cut-off
// (2027-01-01), after which small STOREs paid by credit are no longer
// spared by the credit job.
var DefaultCreditOnlyCutoff = time.Unix(1798761600, 0).UTC()

// Config configures the jobs. Zero fields take the defaults.
type Config struct {
	// BalanceInterval is the least time between two runs of the
	// hold-balance job. Default DefaultInterval.
	BalanceInterval time.Duration
	// CreditInterval is the least time between two runs of the credit
	// job. Default DefaultInterval.
	CreditInterval time.Duration
	// Tick is how often Run checks whether a job is due. Default
	// DefaultTick; never more than the shorter interval.
	Tick time.Duration
	// CutoffHeight: a hold payment is removable only if the message's
	// confirmation height is at least this. Default DefaultCutoffHeight.
	CutoffHeight int64
	// MaxFreeStoreSize: STOREs of at most this many bytes are never
	// removed by the hold job (nor by the credit job before
	// CreditOnlyCutoff). Default DefaultMaxFreeStore.
	MaxFreeStoreSize int64
	// CreditOnlyCutoff ends the credit job's small-STORE exception.
	// Default DefaultCreditOnlyCutoff.
	CreditOnlyCutoff time.Time
	// GracePeriod is how long a removed STORE's file stays pinned (its
	// grace pin's delete_by). Default DefaultGracePeriod.
	GracePeriod time.Duration
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.BalanceInterval < 0 || c.CreditInterval < 0 || c.Tick < 0 || c.GracePeriod < 0 {
		return errors.New("billing: durations must not be negative")
	}
	if c.CutoffHeight < 0 || c.MaxFreeStoreSize < 0 {
		return fmt.Errorf("billing: CutoffHeight %d and MaxFreeStoreSize %d must not be negative", c.CutoffHeight, c.MaxFreeStoreSize)
	}
	return nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.BalanceInterval == 0 {
		c.BalanceInterval = DefaultInterval
	}
	if c.CreditInterval == 0 {
		c.CreditInterval = DefaultInterval
	}
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	c.Tick = min(c.Tick, c.BalanceInterval, c.CreditInterval)
	if c.CutoffHeight == 0 {
		c.CutoffHeight = DefaultCutoffHeight
	}
	if c.MaxFreeStoreSize == 0 {
		c.MaxFreeStoreSize = DefaultMaxFreeStore
	}
	if c.CreditOnlyCutoff.IsZero() {
		c.CreditOnlyCutoff = DefaultCreditOnlyCutoff
	}
	if c.GracePeriod == 0 {
		c.GracePeriod = DefaultGracePeriod
	}
	return c
}

// interval is the interval of a job.
func (c Config) interval(job string) time.Duration {
	if job == JobCredit {
		return c.CreditInterval
	}
	return c.BalanceInterval
}
