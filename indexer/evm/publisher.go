package evm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm/alephsync"
	"github.com/alephql/alephql/ipfs"
)

// PublishClient is what the publisher asks an EVM node (ethclient.Client
// has it).
type PublishClient interface {
	ChainID(ctx context.Context) (*big.Int, error)
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	PendingNonceAt(ctx context.Context, account common.Address) (uint64, error)
	SuggestGasTipCap(ctx context.Context) (*big.Int, error)
	FeeHistory(ctx context.Context, blockCount uint64, lastBlock *big.Int, rewardPercentiles []float64) (*ethereum.FeeHistory, error)
	EstimateGas(ctx context.Context, msg ethereum.CallMsg) (uint64, error)
	SendTransaction(ctx context.Context, tx *types.Transaction) error
	TransactionReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error)
	TransactionByHash(ctx context.Context, hash common.Hash) (tx *types.Transaction, isPending bool, err error)
}

// PublishStore is where the publisher finds the messages to publish and
// records what it published (processor.Processor has it).
type PublishStore interface {
	// Unpublished returns up to limit signed messages no chain confirms
	// and not yet published on chain, oldest first, with their hashes.
	Unpublished(ctx context.Context, chain string, limit int) ([]indexer.ArchiveMessage, []string, error)
	// ReservePublication records, before txHash is sent, the messages
	// as published in cid.
	ReservePublication(ctx context.Context, chain, cid, txHash string, hashes []string, at time.Time) error
	// DropPublication forgets cid's publication: its messages are
	// published again.
	DropPublication(ctx context.Context, chain, cid string) error
	// OpenPublications returns the publications still holding an
	// unconfirmed message; their TxHash lists every transaction sent
	// for them, comma-separated, newest first.
	OpenPublications(ctx context.Context, chain string) ([]indexer.Publication, error)
	// ReplacePublication records that cid's transaction was replaced:
	// txHashes is the new list (newest first, comma-separated).
	ReplacePublication(ctx context.Context, chain, cid, txHashes string) error
}

// ArchiveAdder stores an archive locally and adds it to IPFS, returning
// its CIDv0.
type ArchiveAdder interface {
	AddArchive(ctx context.Context, archive []byte) (cid string, err error)
}

// ErrGasPriceTooHigh: the fee the publisher would pay is above
// PublisherConfig.MaxGasPrice; nothing is sent.
var ErrGasPriceTooHigh = errors.New("evm: publisher: gas price above the cap")

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Chain is the chain's name (ETH...).
	Chain string
	// Contract is the sync contract's address.
	Contract common.Address
	// Key signs the transactions (never logged).
	Key *ecdsa.PrivateKey
	// Interval is the wait between publications (default 1m).
	Interval time.Duration
	// MaxMessages is the largest archive, in messages (default 10 000).
	MaxMessages int
	// MaxGasPrice, if set, caps the fee per gas (maxFeePerGas): the fee
	// offered is lowered to it, and refused when the cap is below the
	// current base fee; a replacement whose bump it prevents is not sent.
	MaxGasPrice *big.Int
	// ReplaceAfter is how long a transaction may stay pending before it
	// is replaced (same nonce, fees bumped by at least 12.5%, geth's
	// replacement rule, or the market fees if higher) (default 5m).
	ReplaceAfter time.Duration
	// ReceiptPoll is the wait between receipt polls (default 1s).
	ReceiptPoll time.Duration
	// TipPercentile is the percentile of the priority fees paid in the
	// last FeeHistoryBlocks blocks (eth_feeHistory) that the publisher
	// offers as its tip: the median over those blocks of each block's
	// percentile (default 50).
	TipPercentile float64
	// FeeHistoryBlocks is how many recent blocks the tip is read from
	// (default 20).
	FeeHistoryBlocks uint64
}

func (c PublisherConfig) withDefaults() PublisherConfig {
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.MaxMessages == 0 {
		c.MaxMessages = 10_000
	}
	if c.ReplaceAfter == 0 {
		c.ReplaceAfter = 5 * time.Minute
	}
	if c.ReceiptPoll == 0 {
		c.ReceiptPoll = time.Second
	}
	if c.TipPercentile == 0 {
		c.TipPercentile = 50
	}
	if c.FeeHistoryBlocks == 0 {
		c.FeeHistoryBlocks = 20
	}
	return c
}

// Validate reports a configuration error.
func (c PublisherConfig) Validate() error {
	var errs []error
	if c.Chain == "" {
		errs = append(errs, errors.New("no chain name"))
	}
	if c.Contract == (common.Address{}) {
		errs = append(errs, errors.New("no contract address"))
	}
	if c.Key == nil {
		errs = append(errs, errors.New("no key"))
	}
	if c.Interval < 0 || c.ReceiptPoll < 0 || c.MaxMessages < 0 || c.ReplaceAfter < 0 {
		errs = append(errs, errors.New("negative interval, receipt poll, replace-after or max messages"))
	}
	if c.TipPercentile < 0 || c.TipPercentile > 100 {
		errs = append(errs, errors.New("tip percentile outside [0, 100]"))
	}
	if c.MaxGasPrice != nil && c.MaxGasPrice.Sign() <= 0 {
		errs = append(errs, errors.New("non-positive max gas price"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("evm: publisher config: %w", err)
	}
	return nil
}

// LoadKey reads a hex private key (with or without 0x) from a file. The
// error never quotes the file's content.
func LoadKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evm: publish key: %w", err)
	}
	k, err := crypto.HexToECDSA(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"))
	if err != nil {
		return nil, fmt.Errorf("evm: publish key %s: not a hex secp256k1 private key", path)
	}
	return k, nil
}

// PublisherDeps are a Publisher's collaborators.
type PublisherDeps struct {
	// Client is the chain's RPC client (required).
	Client PublishClient
	// Store finds and records publications (required).
	Store PublishStore
	// Archives adds archives to IPFS (required).
	Archives ArchiveAdder
	// Registerer, if set, registers the publisher's metrics.
	Registerer prometheus.Registerer
	// Log is the logger.
	Log *slog.Logger
}

// PublisherStatus is the publisher's state, for status queries.
type PublisherStatus struct {
	Chain   string
	Address string
	// Last is the last successful publication (zero before the first).
	Last      indexer.Publication
	LastError string
	LastErrAt time.Time
}

// Publisher publishes the node's unconfirmed messages on an EVM chain:
// every Interval it writes them (oldest first) in a sync archive, adds
// it to IPFS and emits its CID with the sync contract's doEmit, then
// waits for the receipt. A message is published once: the publication
// is recorded before the transaction is sent, and dropped (to be
// published again) only if the transaction failed or vanished.
type Publisher struct {
	cfg  PublisherConfig
	deps PublisherDeps
	log  *slog.Logger
	addr common.Address
	abi  *alephsync.AlephSync

	published  prometheus.Counter
	messages   prometheus.Counter
	failures   *prometheus.CounterVec
	lastHeight prometheus.Gauge
	replaced   prometheus.Counter
	blocked    prometheus.Counter

	// lastTry is when the pending transaction of an open publication
	// (by CID) was last sent or replaced, for settle.
	lastTry map[string]time.Time

	mu     sync.Mutex
	status PublisherStatus
}

// NewPublisher returns a Publisher.
func NewPublisher(cfg PublisherConfig, deps PublisherDeps) (*Publisher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Client == nil || deps.Store == nil || deps.Archives == nil {
		return nil, errors.New("evm: publisher: client, store and archives are required")
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	p := &Publisher{cfg: cfg, deps: deps, log: log.With("component", "publisher", "chain", cfg.Chain),
		addr: crypto.PubkeyToAddress(cfg.Key.PublicKey), abi: alephsync.NewAlephSync()}
	labels := prometheus.Labels{"chain": cfg.Chain}
	p.published = prometheus.NewCounter(prometheus.CounterOpts{Name: "alephql_publisher_archives_total",
		Help: "Archives the publisher emitted on chain (receipt successful).", ConstLabels: labels})
	p.messages = prometheus.NewCounter(prometheus.CounterOpts{Name: "alephql_publisher_messages_total",
		Help: "Messages the publisher emitted on chain.", ConstLabels: labels})
	p.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "alephql_publisher_failures_total",
		Help: "Failed publication rounds, by stage.", ConstLabels: labels}, []string{"stage"})
	p.lastHeight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "alephql_publisher_last_block",
		Help: "Block of the publisher's last successful transaction.", ConstLabels: labels})
	p.replaced = prometheus.NewCounter(prometheus.CounterOpts{Name: "alephql_publisher_replacements_total",
		Help: "Pending transactions replaced with bumped fees after ReplaceAfter.", ConstLabels: labels})
	p.blocked = prometheus.NewCounter(prometheus.CounterOpts{Name: "alephql_publisher_replacements_blocked_total",
		Help: "Replacements of a stuck transaction not sent because the max gas price prevents the fee bump.", ConstLabels: labels})
	p.lastTry = map[string]time.Time{}
	if deps.Registerer != nil {
		for _, c := range []prometheus.Collector{p.published, p.messages, p.failures, p.lastHeight, p.replaced, p.blocked} {
			if err := deps.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("evm: publisher metrics: %w", err)
			}
		}
	}
	p.status = PublisherStatus{Chain: cfg.Chain, Address: p.addr.Hex()}
	return p, nil
}

// Address is the account the publisher emits from.
func (p *Publisher) Address() common.Address { return p.addr }

// Status returns the publisher's state.
func (p *Publisher) Status() PublisherStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Run publishes every Interval until ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	p.log.Info("publisher started", "address", p.addr.Hex(), "contract", p.cfg.Contract.Hex(), "interval", p.cfg.Interval)
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := p.Step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.Warn("publication failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Publisher) fail(stage string, err error) error {
	p.failures.WithLabelValues(stage).Inc()
	p.mu.Lock()
	p.status.LastError, p.status.LastErrAt = err.Error(), time.Now()
	p.mu.Unlock()
	return err
}

// Step runs one round: it settles earlier publications whose transaction
// failed, then publishes the unpublished messages (if any) and waits for
// the receipt. It returns the publication made (zero if none).
func (p *Publisher) Step(ctx context.Context) (indexer.Publication, error) {
	if err := p.settle(ctx); err != nil {
		return indexer.Publication{}, p.fail("settle", err)
	}
	msgs, hashes, err := p.deps.Store.Unpublished(ctx, p.cfg.Chain, p.cfg.MaxMessages)
	if err != nil {
		return indexer.Publication{}, p.fail("select", err)
	}
	if len(msgs) == 0 {
		return indexer.Publication{}, nil
	}
	archive, err := indexer.WriteArchive(msgs)
	if err != nil {
		return indexer.Publication{}, p.fail("archive", err)
	}
	cid, err := p.deps.Archives.AddArchive(ctx, archive)
	if err != nil {
		return indexer.Publication{}, p.fail("ipfs", fmt.Errorf("add archive: %w", err))
	}
	tx, err := p.buildTx(ctx, indexer.OnChainPayload(cid))
	if err != nil {
		return indexer.Publication{}, p.fail("fees", err)
	}
	pub := indexer.Publication{Chain: p.cfg.Chain, CID: cid, TxHash: tx.Hash().Hex(), Messages: len(msgs), At: time.Now().UTC()}
	if err := p.deps.Store.ReservePublication(ctx, p.cfg.Chain, cid, pub.TxHash, hashes, pub.At); err != nil {
		return indexer.Publication{}, p.fail("record", err)
	}
	if err := p.deps.Client.SendTransaction(ctx, tx); err != nil {
		return indexer.Publication{}, p.fail("send", errors.Join(fmt.Errorf("send: %w", err), p.drop(ctx, cid)))
	}
	p.log.Info("archive emitted", "cid", cid, "tx", pub.TxHash, "messages", len(msgs), "bytes", len(archive))
	rc, err := p.waitMined(ctx, cid, []*types.Transaction{tx})
	if err != nil {
		return indexer.Publication{}, p.fail("receipt", err) // settled next round
	}
	pub.TxHash = rc.TxHash.Hex()
	if rc.Status != types.ReceiptStatusSuccessful {
		return indexer.Publication{}, p.fail("reverted", errors.Join(fmt.Errorf("tx %s failed", pub.TxHash), p.drop(ctx, cid)))
	}
	p.published.Inc()
	p.messages.Add(float64(len(msgs)))
	p.lastHeight.Set(float64(rc.BlockNumber.Int64()))
	p.mu.Lock()
	p.status.Last, p.status.LastError = pub, ""
	p.mu.Unlock()
	return pub, nil
}

func (p *Publisher) drop(ctx context.Context, cid string) error {
	return p.deps.Store.DropPublication(context.WithoutCancel(ctx), p.cfg.Chain, cid)
}

// settle drops the open publications whose transaction was never signed,
// failed, or vanished (neither mined nor pending), and replaces those
// still pending ReplaceAfter after their last transaction was sent (a
// publication left by a stopped publisher included).
func (p *Publisher) settle(ctx context.Context) error {
	open, err := p.deps.Store.OpenPublications(ctx, p.cfg.Chain)
	if err != nil {
		return err
	}
	for _, o := range open {
		if o.TxHash == "" {
			if err := p.drop(ctx, o.CID); err != nil {
				return err
			}
			continue
		}
		hashes := strings.Split(o.TxHash, ",")
		mined, pending, err := p.lookup(ctx, hashes)
		if err != nil {
			return err
		}
		switch {
		case mined != nil && mined.Status == types.ReceiptStatusSuccessful:
			p.forget(o.CID)
			continue // mined: the reader confirms its messages
		case mined != nil:
			p.log.Warn("publication failed on chain; publishing again", "cid", o.CID, "tx", mined.TxHash.Hex())
		case pending != nil:
			if time.Since(p.triedAt(o.CID, o.At)) >= p.cfg.ReplaceAfter {
				if _, err := p.replace(ctx, o.CID, pending, hashes); err != nil {
					p.log.Warn("replacement failed", "cid", o.CID, "err", err)
				}
			}
			continue
		default:
			p.log.Warn("publication transaction vanished; publishing again", "cid", o.CID, "tx", o.TxHash)
		}
		p.forget(o.CID)
		if err := p.drop(ctx, o.CID); err != nil {
			return err
		}
	}
	return nil
}

// lookup returns the receipt of the mined transaction among hashes (the
// transactions sent for one publication, all of one nonce), or else the
// newest one still pending; both nil when all vanished.
func (p *Publisher) lookup(ctx context.Context, hashes []string) (*types.Receipt, *types.Transaction, error) {
	var pending *types.Transaction
	for _, s := range hashes {
		h := common.HexToHash(s)
		rc, err := p.deps.Client.TransactionReceipt(ctx, h)
		if err == nil {
			return rc, nil, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, nil, err
		}
		if pending != nil {
			continue
		}
		tx, isPending, err := p.deps.Client.TransactionByHash(ctx, h)
		switch {
		case err == nil && isPending:
			pending = tx
		case err != nil && !errors.Is(err, ethereum.NotFound):
			return nil, nil, err
		}
	}
	return nil, pending, nil
}

func (p *Publisher) triedAt(cid string, at time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.lastTry[cid]; ok {
		return t
	}
	return at
}

func (p *Publisher) tried(cid string) {
	p.mu.Lock()
	p.lastTry[cid] = time.Now()
	p.mu.Unlock()
}

func (p *Publisher) forget(cid string) {
	p.mu.Lock()
	delete(p.lastTry, cid)
	p.mu.Unlock()
}

// bump is x raised by 12.5%, rounded up: the least increase geth's
// transaction pool accepts for a replacement (its blob pool's rule, above
// the legacy pool's 10%).
func bump(x *big.Int) *big.Int {
	up := new(big.Int).Add(x, big.NewInt(7))
	return up.Add(x, up.Div(up, big.NewInt(8)))
}

// replace re-sends old (pending too long) with the same nonce, gas and
// data and fees raised to the larger of old's bumped by 12.5% and the
// market's (fees). When MaxGasPrice prevents the bump it sends nothing,
// logs and counts it, and returns nil: the publisher keeps waiting. The
// new hash is recorded (ahead of hashes) before it is sent.
func (p *Publisher) replace(ctx context.Context, cid string, old *types.Transaction, hashes []string) (*types.Transaction, error) {
	p.tried(cid)
	base, tip, err := p.fees(ctx)
	if err != nil {
		return nil, err
	}
	minFee, minTip := bump(old.GasFeeCap()), bump(old.GasTipCap())
	fee := new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	fee = bigMax(fee, minFee)
	tip = bigMax(tip, minTip)
	if p.cfg.MaxGasPrice != nil && fee.Cmp(p.cfg.MaxGasPrice) > 0 {
		fee = new(big.Int).Set(p.cfg.MaxGasPrice)
	}
	if fee.Cmp(minFee) < 0 || tip.Cmp(fee) > 0 {
		p.blocked.Inc()
		p.log.Warn("transaction pending too long, but the max gas price prevents the fee bump: waiting",
			"cid", cid, "tx", old.Hash().Hex(), "fee", old.GasFeeCap(), "needed", minFee, "cap", p.cfg.MaxGasPrice)
		return nil, nil
	}
	chainID, err := p.deps.Client.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain id: %w", err)
	}
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: chainID, Nonce: old.Nonce(), GasTipCap: tip,
		GasFeeCap: fee, Gas: old.Gas(), To: old.To(), Data: old.Data()}), types.LatestSignerForChainID(chainID), p.cfg.Key)
	if err != nil {
		return nil, err
	}
	list := strings.Join(append([]string{tx.Hash().Hex()}, hashes...), ",")
	if err := p.deps.Store.ReplacePublication(ctx, p.cfg.Chain, cid, list); err != nil {
		return nil, err
	}
	if err := p.deps.Client.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("send replacement: %w", err)
	}
	p.replaced.Inc()
	p.log.Info("stuck transaction replaced", "cid", cid, "old", old.Hash().Hex(), "tx", tx.Hash().Hex(),
		"nonce", tx.Nonce(), "fee", fee, "tip", tip)
	return tx, nil
}

func bigMax(a, b *big.Int) *big.Int {
	if a.Cmp(b) >= 0 {
		return new(big.Int).Set(a)
	}
	return new(big.Int).Set(b)
}

// tip is the priority fee to offer: the median, over the last
// FeeHistoryBlocks blocks, of each block's TipPercentile-th percentile
// of the tips it included (eth_feeHistory), what transactions like ours
// actually paid. Blocks without transactions report 0 and are left out;
// when none is left (an idle chain) or the node has no fee history, the
// node's suggestion (eth_maxPriorityFeePerGas) is used.
func (p *Publisher) tip(ctx context.Context) (*big.Int, error) {
	h, err := p.deps.Client.FeeHistory(ctx, p.cfg.FeeHistoryBlocks, nil, []float64{p.cfg.TipPercentile})
	if err == nil {
		if t := medianTip(h); t != nil {
			return t, nil
		}
	} else if ctx.Err() != nil {
		return nil, fmt.Errorf("fee history: %w", err)
	}
	t, serr := p.deps.Client.SuggestGasTipCap(ctx)
	if serr != nil {
		return nil, fmt.Errorf("tip: %w", errors.Join(err, serr))
	}
	return t, nil
}

// medianTip is the median of the blocks' non-zero first reward
// percentile, nil when there is none.
func medianTip(h *ethereum.FeeHistory) *big.Int {
	if h == nil {
		return nil
	}
	var tips []*big.Int
	for i, r := range h.Reward {
		if len(r) == 0 || r[0] == nil || r[0].Sign() <= 0 {
			continue
		}
		if i < len(h.GasUsedRatio) && h.GasUsedRatio[i] == 0 {
			continue
		}
		tips = append(tips, r[0])
	}
	if len(tips) == 0 {
		return nil
	}
	slices.SortFunc(tips, func(a, b *big.Int) int { return a.Cmp(b) })
	return new(big.Int).Set(tips[len(tips)/2])
}

// fees returns the head's base fee and the tip to offer.
func (p *Publisher) fees(ctx context.Context) (base, tip *big.Int, err error) {
	head, err := p.deps.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("head: %w", err)
	}
	if head.BaseFee == nil {
		return nil, nil, errors.New("chain has no base fee (pre-London)")
	}
	tip, err = p.tip(ctx)
	if err != nil {
		return nil, nil, err
	}
	return head.BaseFee, tip, nil
}

// buildTx signs a doEmit(payload) transaction with EIP-1559 fees: tip
// from the fee history (tip), maxFee = 2·baseFee + tip, lowered to
// MaxGasPrice (and the tip to what is left above the base fee), refused
// when MaxGasPrice is below the base fee.
func (p *Publisher) buildTx(ctx context.Context, payload string) (*types.Transaction, error) {
	data, err := p.abi.TryPackDoEmit(payload)
	if err != nil {
		return nil, err
	}
	chainID, err := p.deps.Client.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain id: %w", err)
	}
	base, tip, err := p.fees(ctx)
	if err != nil {
		return nil, err
	}
	maxFee := new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	if c := p.cfg.MaxGasPrice; c != nil && maxFee.Cmp(c) > 0 {
		if c.Cmp(base) < 0 {
			return nil, fmt.Errorf("%w: base fee %s wei > %s wei", ErrGasPriceTooHigh, base, c)
		}
		maxFee = new(big.Int).Set(c)
		if left := new(big.Int).Sub(c, base); tip.Cmp(left) > 0 {
			tip = left
		}
	}
	gas, err := p.deps.Client.EstimateGas(ctx, ethereum.CallMsg{From: p.addr, To: &p.cfg.Contract, Data: data})
	if err != nil {
		return nil, fmt.Errorf("estimate gas: %w", err)
	}
	nonce, err := p.deps.Client.PendingNonceAt(ctx, p.addr)
	if err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: maxFee,
		Gas: gas + gas/5, To: &p.cfg.Contract, Data: data})
	return types.SignTx(tx, types.LatestSignerForChainID(chainID), p.cfg.Key)
}

// waitMined waits for one of txs (one nonce, newest first) to be mined,
// replacing the newest with bumped fees each ReplaceAfter it stays
// pending, and returns the receipt.
func (p *Publisher) waitMined(ctx context.Context, cid string, txs []*types.Transaction) (*types.Receipt, error) {
	t := time.NewTicker(p.cfg.ReceiptPoll)
	defer t.Stop()
	p.tried(cid)
	defer p.forget(cid)
	for {
		for _, tx := range txs {
			rc, err := p.deps.Client.TransactionReceipt(ctx, tx.Hash())
			if err == nil {
				return rc, nil
			}
			if !errors.Is(err, ethereum.NotFound) {
				return nil, fmt.Errorf("receipt %s: %w", tx.Hash().Hex(), err)
			}
		}
		if time.Since(p.triedAt(cid, time.Now())) >= p.cfg.ReplaceAfter {
			hashes := make([]string, len(txs))
			for i, tx := range txs {
				hashes[i] = tx.Hash().Hex()
			}
			nt, err := p.replace(ctx, cid, txs[0], hashes)
			if err != nil {
				p.log.Warn("replacement failed", "cid", cid, "err", err)
			} else if nt != nil {
				txs = append([]*types.Transaction{nt}, txs...)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// IPFSArchives adds archives with the ipfs service: to kubo (CIDv0,
// pinned) and to the local store under their CID.
type IPFSArchives struct {
	// Service is the node's ipfs service (kubo configured).
	Service *ipfs.Service
}

// AddArchive implements ArchiveAdder.
func (a IPFSArchives) AddArchive(ctx context.Context, archive []byte) (string, error) {
	cid, err := a.Service.Add(ctx, bytes.NewReader(archive), ipfs.AddOptions{Pin: true})
	if err != nil {
		return "", err
	}
	if err := a.Service.Store().Write(cid, archive); err != nil {
		return "", fmt.Errorf("store archive %s: %w", cid, err)
	}
	return cid, nil
}
