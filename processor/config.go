package processor

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Config tunes the pipeline. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// ID names this processor in claimed_by (lease holder); by default
	// "host:pid:nonce", which lets a restarted node release the claims of
	// its dead predecessor at once (see releaseDeadClaims).
	ID string
	// BatchSize is the most messages applied in one transaction.
	BatchSize int
	// VerifyWorkers bounds the parallel signature checks; GOMAXPROCS by
	// default.
	VerifyWorkers int
	// FetchWorkers bounds the parallel fetches (content, files).
	FetchWorkers int
	// MaxRetries is the number of retries after which a message is
	// rejected with its last error code.
	MaxRetries int
	// MaxBackoff caps the exponential back-off.
	MaxBackoff time.Duration
	// Idle is how long a stage sleeps when it found nothing to do (it is
	// woken earlier by Submit).
	Idle time.Duration
	// Lease is how long a fetch-stage claim lasts before another
	// processor may take the row over.
	Lease time.Duration
}

// DefaultConfig returns the defaults: batches of 500, 10 retries, back-off
// capped at 300 s as in the reference node.
func DefaultConfig() Config {
	return Config{
		ID:            defaultID(),
		BatchSize:     500,
		VerifyWorkers: runtime.GOMAXPROCS(0),
		FetchWorkers:  10,
		MaxRetries:    10,
		MaxBackoff:    300 * time.Second,
		Idle:          time.Second,
		Lease:         2 * time.Minute,
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ID == "" {
		c.ID = d.ID
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.VerifyWorkers == 0 {
		c.VerifyWorkers = d.VerifyWorkers
	}
	if c.FetchWorkers == 0 {
		c.FetchWorkers = d.FetchWorkers
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	if c.Idle == 0 {
		c.Idle = d.Idle
	}
	if c.Lease == 0 {
		c.Lease = d.Lease
	}
	return c
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.BatchSize < 0 || c.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("processor: BatchSize %d out of 1..10000", c.BatchSize))
	}
	if c.VerifyWorkers < 0 || c.FetchWorkers < 0 {
		errs = append(errs, errors.New("processor: worker counts must not be negative"))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, fmt.Errorf("processor: MaxRetries %d is negative", c.MaxRetries))
	}
	if c.MaxBackoff < 0 || c.Idle < 0 || c.Lease < 0 {
		errs = append(errs, errors.New("processor: durations must not be negative"))
	}
	return errors.Join(errs...)
}
