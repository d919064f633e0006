package handler

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config holds the network constants the handlers use. DefaultConfig has
// the values of the Aleph mainnet (spec 13.1 and 5); every field is
// configuration so that a test network can use its own oracles.
type Config struct {
	// BalanceAddresses may publish balances-update posts.
	BalanceAddresses []string
	// BalancePostType is the post type of balance updates.
	BalancePostType string
	// CreditAddresses may publish credit distribution and expense posts.
	CreditAddresses []string
	// CreditPostTypes are the credit post types (distribution, transfer,
	// expense).
	CreditPostTypes []string
	// CreditChannels are the channels credit posts must be in.
	CreditChannels []string
	// ScoringAddresses may publish network metrics posts.
	ScoringAddresses []string
	// ScoringChannel is the channel of metrics posts.
	ScoringChannel string
	// ScoringPostType is the post type of metrics posts.
	ScoringPostType string
	// PricingOwner owns the pricing and settings aggregates.
	PricingOwner string
	// CorechannelAddress owns the corechannel aggregate (peer allowlist).
	CorechannelAddress string
	// FrozenAggregateOwner is the owner whose aggregates are never merged
	// (pyaleph hard-codes it; its elements are still stored).
	FrozenAggregateOwner string
	// HoldAndStreamCutoff: INSTANCE and persistent PROGRAM messages from
	// this time on must pay with credits.
	HoldAndStreamCutoff time.Time
	// CreditOnlyCutoff: STORE, INSTANCE and PROGRAM messages from this time
	// on must pay with credits.
	CreditOnlyCutoff time.Time
	// FreeStoreAndProgramBefore: unconfirmed STORE and non-persistent
	// PROGRAM messages older than this are free.
	FreeStoreAndProgramBefore time.Time
	// FreeConfirmationHeight: messages first confirmed below this ETH
	// height are free (STORE and non-persistent PROGRAM).
	FreeConfirmationHeight int64
	// MaxUnauthenticatedUploadSize is the STORE size (bytes) under which
	// a hold STORE needs no balance.
	MaxUnauthenticatedUploadSize int64
	// MaxFileSize is the largest STORE file fetched (bytes).
	MaxFileSize int64
	// MaxContentSize is the largest non-inline message content (bytes).
	MaxContentSize int64
	// GracePeriod is how long a file stays after its last pin goes.
	GracePeriod time.Duration
}

// DefaultConfig returns the Aleph mainnet's values.
func DefaultConfig() Config {
	return Config{
		BalanceAddresses:             []string{"0xB34f25f2c935bCA437C061547eA12851d719dEFb", "0xa1B3bb7d2332383D96b7796B908fB7f7F3c2Be10"},
		BalancePostType:              "balances-update",
		CreditAddresses:              []string{"0x2E4454fAD1906c0Ce6e45cBFA05cE898Ac3AC1dC"},
		CreditPostTypes:              []string{"aleph_credit_distribution", "aleph_credit_transfer", "aleph_credit_expense"},
		CreditChannels:               []string{"ALEPH_CREDIT"},
		ScoringAddresses:             []string{"0x4D52380D3191274a04846c89c069E6C3F2Ed94e4"},
		ScoringChannel:               "aleph-scoring",
		ScoringPostType:              "aleph-network-metrics",
		PricingOwner:                 "0xFba561a84A537fCaa567bb7A2257e7142701ae2A",
		CorechannelAddress:           "0xa1B3bb7d2332383D96b7796B908fB7f7F3c2Be10",
		FrozenAggregateOwner:         "0x51A58800b26AA1451aaA803d1746687cB88E0501",
		HoldAndStreamCutoff:          time.Unix(1773187200, 0).UTC(),
		CreditOnlyCutoff:             time.Unix(1798761600, 0).UTC(),
		FreeStoreAndProgramBefore:    time.Unix(1743775079, 0).UTC(),
		FreeConfirmationHeight:       22196000,
		MaxUnauthenticatedUploadSize: 25 << 20,
		MaxFileSize:                  100 << 20,
		MaxContentSize:               10 << 20,
		GracePeriod:                  24 * time.Hour,
	}
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.BalancePostType == "" {
		errs = append(errs, errors.New("handler: BalancePostType is empty"))
	}
	if c.MaxFileSize <= 0 {
		errs = append(errs, fmt.Errorf("handler: MaxFileSize %d must be positive", c.MaxFileSize))
	}
	if c.MaxContentSize <= 0 {
		errs = append(errs, fmt.Errorf("handler: MaxContentSize %d must be positive", c.MaxContentSize))
	}
	if c.GracePeriod < 0 {
		errs = append(errs, fmt.Errorf("handler: GracePeriod %s is negative", c.GracePeriod))
	}
	return errors.Join(errs...)
}

// Deps is what handlers are built with.
type Deps struct {
	// Config holds the network constants.
	Config Config
	// Storage fetches content and files; NoStorage when nil.
	Storage Storage
	// PostEffects are applied by the POST handler.
	PostEffects []PostEffect
	// Log is the logger; slog.Default() when nil.
	Log *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// withDefaults fills nil dependencies.
func (d Deps) withDefaults() Deps {
	if d.Storage == nil {
		d.Storage = NoStorage{}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}
