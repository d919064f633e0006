package evm

import (
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Config configures a Reader.
type Config struct {
	// Chain is the chain's name in chain_txs and messages (ETH, BSC...).
	Chain string
	// Contract is the sync contract's address.
	Contract common.Address
	// StartHeight is the first block read when the reader has no cursor
	// yet (the contract's deployment block).
	StartHeight int64
	// Emitters are the addresses whose SyncEvents are accepted; a
	// SyncEvent from any other address is recorded as invalid.
	// MessageEvents (smart-contract messages) are accepted from anyone.
	Emitters []common.Address
	// Confirmations, if positive, follows the chain that many blocks
	// behind its head (and handles reorgs); 0 reads only finalized blocks.
	Confirmations int64
	// Window is the largest block range of one eth_getLogs (default
	// 10 000). It halves when the node answers "too many results" and
	// grows back after successful reads.
	Window int64
	// Poll is the wait between reads once caught up (default 5s).
	Poll time.Duration
	// BackoffMin and BackoffMax bound the wait after a failed read
	// (defaults 1s and 1m); it doubles per failure.
	BackoffMin, BackoffMax time.Duration
	// ReorgDepth is how many blocks are kept for reorg detection when
	// following with Confirmations (default 512).
	ReorgDepth int64
	// ProgressEvery is the interval of the progress line logged while
	// catching up (default 10s).
	ProgressEvery time.Duration
}

func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = 10_000
	}
	if c.Poll == 0 {
		c.Poll = 5 * time.Second
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = time.Second
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = time.Minute
	}
	if c.ReorgDepth == 0 {
		c.ReorgDepth = 512
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 10 * time.Second
	}
	return c
}

// Validate reports a configuration error.
func (c Config) Validate() error {
	var errs []error
	if c.Chain == "" {
		errs = append(errs, errors.New("no chain name"))
	}
	if c.Contract == (common.Address{}) {
		errs = append(errs, errors.New("no contract address"))
	}
	if c.StartHeight < 0 {
		errs = append(errs, fmt.Errorf("negative start height %d", c.StartHeight))
	}
	if c.Confirmations < 0 {
		errs = append(errs, fmt.Errorf("negative confirmations %d", c.Confirmations))
	}
	if c.Window < 0 || c.ReorgDepth < 0 {
		errs = append(errs, errors.New("negative window or reorg depth"))
	}
	if c.Poll < 0 || c.BackoffMin < 0 || c.BackoffMax < 0 || c.ProgressEvery < 0 {
		errs = append(errs, errors.New("negative duration"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("evm: config: %w", err)
	}
	return nil
}
