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
	// unconfirmed message.
	OpenPublications(ctx context.Context, chain string) ([]indexer.Publication, error)
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
	// MaxGasPrice, if set, caps the fee per gas (maxFeePerGas): a higher
	// one is refused.
	MaxGasPrice *big.Int
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
	if c.Interval < 0 || c.ReceiptPoll < 0 || c.MaxMessages < 0 {
		errs = append(errs, errors.New("negative interval, receipt poll or max messages"))
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
	if deps.Registerer != nil {
		for _, c := range []prometheus.Collector{p.published, p.messages, p.failures, p.lastHeight} {
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
	rc, err := p.waitReceipt(ctx, tx.Hash())
	if err != nil {
		return indexer.Publication{}, p.fail("receipt", err) // settled next round
	}
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
// failed, or vanished (neither mined nor pending).
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
		h := common.HexToHash(o.TxHash)
		rc, err := p.deps.Client.TransactionReceipt(ctx, h)
		switch {
		case err == nil && rc.Status == types.ReceiptStatusSuccessful:
			continue // mined: the reader confirms its messages
		case err == nil:
			p.log.Warn("publication failed on chain; publishing again", "cid", o.CID, "tx", o.TxHash)
		case errors.Is(err, ethereum.NotFound):
			_, _, terr := p.deps.Client.TransactionByHash(ctx, h)
			if terr == nil {
				continue // still pending
			}
			if !errors.Is(terr, ethereum.NotFound) {
				return terr
			}
			p.log.Warn("publication transaction vanished; publishing again", "cid", o.CID, "tx", o.TxHash)
		default:
			return err
		}
		if err := p.drop(ctx, o.CID); err != nil {
			return err
		}
	}
	return nil
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

// buildTx signs a doEmit(payload) transaction with EIP-1559 fees: tip
// from the fee history (tip), maxFee = 2·baseFee + tip, refused above
// MaxGasPrice.
func (p *Publisher) buildTx(ctx context.Context, payload string) (*types.Transaction, error) {
	data, err := p.abi.TryPackDoEmit(payload)
	if err != nil {
		return nil, err
	}
	chainID, err := p.deps.Client.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain id: %w", err)
	}
	head, err := p.deps.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	if head.BaseFee == nil {
		return nil, errors.New("chain has no base fee (pre-London)")
	}
	tip, err := p.tip(ctx)
	if err != nil {
		return nil, err
	}
	maxFee := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	if p.cfg.MaxGasPrice != nil && maxFee.Cmp(p.cfg.MaxGasPrice) > 0 {
		return nil, fmt.Errorf("%w: max fee %s wei > %s wei", ErrGasPriceTooHigh, maxFee, p.cfg.MaxGasPrice)
	}
	gas, err := p.deps.Client.EstimateGas(ctx, ethereum.CallMsg{From: p.addr, To: &p.cfg.Contract,
		GasFeeCap: maxFee, GasTipCap: tip, Data: data})
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

func (p *Publisher) waitReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	t := time.NewTicker(p.cfg.ReceiptPoll)
	defer t.Stop()
	for {
		rc, err := p.deps.Client.TransactionReceipt(ctx, h)
		if err == nil {
			return rc, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, fmt.Errorf("receipt %s: %w", h.Hex(), err)
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
