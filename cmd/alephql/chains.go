package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
)

// The Ethereum mainnet sync contract's settings (spec §6.2).
const (
	ethSyncContract = "0x166fd4299364B21c7567e163d85D78d2fb2f8Ad5"
	ethSyncStart    = 11474360
	ethSyncEmitter  = "0x23eC28598DCeB2f7082Cc3a9D670592DfEd6e0dC"
)

// chainFlags are the settings of the chain readers. All readers are off
// unless --eth-rpc or --evm-chain is given.
type chainFlags struct {
	ethRPC           string
	ethContract      string
	ethStart         int64
	ethEmitters      string
	ethConfirmations int64
	evmChains        evmChainFlag

	ethPublishKey      string
	ethPublishInterval time.Duration
	ethMaxGasPrice     string
}

// evmChainFlag collects repeated --evm-chain settings.
type evmChainFlag []string

func (e *evmChainFlag) String() string     { return strings.Join(*e, " ") }
func (e *evmChainFlag) Set(s string) error { *e = append(*e, s); return nil }

func (f *chainFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.ethRPC, "eth-rpc", "", "Ethereum JSON-RPC URL: read the sync contract's events (archives and smart-contract messages) from it; empty: no Ethereum reader (env ALEPHQL_ETH_RPC)")
	fs.StringVar(&f.ethContract, "eth-contract", ethSyncContract, "address of the Ethereum sync contract (env ALEPHQL_ETH_CONTRACT)")
	fs.Int64Var(&f.ethStart, "eth-start-height", ethSyncStart, "first block read when the reader has no cursor yet (env ALEPHQL_ETH_START_HEIGHT)")
	fs.StringVar(&f.ethEmitters, "eth-emitters", ethSyncEmitter, "comma-separated addresses whose SyncEvents are accepted (env ALEPHQL_ETH_EMITTERS)")
	fs.Int64Var(&f.ethConfirmations, "eth-confirmations", 0, "follow the chain this many blocks behind its head, handling reorgs; 0: read only finalized blocks (env ALEPHQL_ETH_CONFIRMATIONS)")
	fs.StringVar(&f.ethPublishKey, "eth-publish-key", "", "file holding a hex private key: publish this node's unconfirmed messages on Ethereum (sync archives on IPFS, doEmit from the key's account); needs --eth-rpc and kubo; empty: no publisher (env ALEPHQL_ETH_PUBLISH_KEY)")
	fs.DurationVar(&f.ethPublishInterval, "eth-publish-interval", time.Minute, "wait between two publications (env ALEPHQL_ETH_PUBLISH_INTERVAL)")
	fs.StringVar(&f.ethMaxGasPrice, "eth-max-gas-price", "", "largest maxFeePerGas the publisher pays, in wei; a higher fee is refused; empty: no cap (env ALEPHQL_ETH_MAX_GAS_PRICE)")
	fs.Var(&f.evmChains, "evm-chain", "another EVM chain carrying the sync contract, repeatable: name=BSC,rpc=URL,contract=0x...,start=N[,emitters=0xA;0xB][,confirmations=N] (env ALEPHQL_EVM_CHAIN)")
}

// enabled reports whether any chain reader is configured.
func (f chainFlags) enabled() bool { return f.ethRPC != "" || len(f.evmChains) > 0 }

// configs returns the readers' configurations and RPC URLs.
func (f chainFlags) configs() ([]evm.Config, []string, error) {
	var cfgs []evm.Config
	var urls []string
	if f.ethRPC != "" {
		cfg, err := evmConfig("ETH", f.ethContract, f.ethStart, strings.Split(f.ethEmitters, ","), f.ethConfirmations)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--eth-*: %w", err)}
		}
		cfgs, urls = append(cfgs, cfg), append(urls, f.ethRPC)
	}
	for _, s := range f.evmChains {
		kv := map[string]string{}
		for _, part := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(part, "=")
			if !ok {
				return nil, nil, usageError{fmt.Errorf("--evm-chain %q: %q is not key=value", s, part)}
			}
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		start, err := strconv.ParseInt(kv["start"], 10, 64)
		if err != nil && kv["start"] != "" {
			return nil, nil, usageError{fmt.Errorf("--evm-chain %q: start: %w", s, err)}
		}
		var conf int64
		if kv["confirmations"] != "" {
			if conf, err = strconv.ParseInt(kv["confirmations"], 10, 64); err != nil {
				return nil, nil, usageError{fmt.Errorf("--evm-chain %q: confirmations: %w", s, err)}
			}
		}
		var emitters []string
		if kv["emitters"] != "" {
			emitters = strings.Split(kv["emitters"], ";")
		}
		cfg, err := evmConfig(strings.ToUpper(kv["name"]), kv["contract"], start, emitters, conf)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--evm-chain %q: %w", s, err)}
		}
		if kv["rpc"] == "" {
			return nil, nil, usageError{fmt.Errorf("--evm-chain %q: no rpc", s)}
		}
		cfgs, urls = append(cfgs, cfg), append(urls, kv["rpc"])
	}
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.Chain] {
			return nil, nil, usageError{fmt.Errorf("chain %s configured twice", c.Chain)}
		}
		seen[c.Chain] = true
	}
	return cfgs, urls, nil
}

func evmConfig(name, contract string, start int64, emitters []string, confirmations int64) (evm.Config, error) {
	if !common.IsHexAddress(contract) {
		return evm.Config{}, fmt.Errorf("contract %q is not an address", contract)
	}
	cfg := evm.Config{Chain: name, Contract: common.HexToAddress(contract), StartHeight: start, Confirmations: confirmations}
	for _, e := range emitters {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if !common.IsHexAddress(e) {
			return evm.Config{}, fmt.Errorf("emitter %q is not an address", e)
		}
		cfg.Emitters = append(cfg.Emitters, common.HexToAddress(e))
	}
	return cfg, cfg.Validate()
}

// newChains builds the chain readers and the expander of their
// transactions. The returned run runs each reader, and the expander,
// while this node holds its lease: one node at a time per chain among
// the nodes sharing the database.
func newChains(f chainFlags, db *database.DB, proc *processor.Processor, content *ipfs.Service, reg prometheus.Registerer, log *slog.Logger) (run func(context.Context) error, status *chainStatus, err error) {
	if !f.enabled() {
		return nil, nil, nil
	}
	run, status, err = buildChains(f, db, proc, content, reg, log)
	if err == nil {
		err = status.register(reg)
	}
	return run, status, err
}

func buildChains(f chainFlags, db *database.DB, proc *processor.Processor, content *ipfs.Service, reg prometheus.Registerer, log *slog.Logger) (run func(context.Context) error, status *chainStatus, err error) {
	cfgs, urls, err := f.configs()
	if err != nil {
		return nil, nil, err
	}
	m, err := indexer.NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	wake := make(chan struct{}, 1)
	ex, err := indexer.NewExpander(indexer.ExpanderConfig{}, indexer.ExpanderDeps{
		Sink: proc, Fetcher: content, Pinner: content, Metrics: m, Log: log, Wake: wake,
	})
	if err != nil {
		return nil, nil, err
	}
	pubCfg, err := f.publisherConfig(cfgs, content.KuboConfigured(), log)
	if err != nil {
		return nil, nil, err
	}
	readers := make([]*evm.Reader, len(cfgs))
	var clients []*ethclient.Client
	for i, cfg := range cfgs {
		c, err := ethclient.Dial(urls[i])
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("%s RPC %s: %w", cfg.Chain, urls[i], err)}
		}
		clients = append(clients, c)
		if readers[i], err = evm.New(cfg, evm.Deps{Client: c, Sink: proc, Metrics: m, Log: log, Wake: wake}); err != nil {
			return nil, nil, err
		}
	}
	var pub *evm.Publisher
	if pubCfg != nil { // the Ethereum reader is cfgs[0]
		if pub, err = evm.NewPublisher(*pubCfg, evm.PublisherDeps{Client: clients[0], Store: proc,
			Archives: evm.IPFSArchives{Service: content}, Registerer: reg, Log: log}); err != nil {
			return nil, nil, err
		}
	}
	status = &chainStatus{db: db, proc: proc, readers: readers, kinds: make([]string, len(readers)),
		leases: make([]atomic.Bool, len(readers)), pub: pub}
	for i := range readers {
		status.kinds[i] = indexer.KindSync
	}
	return func(ctx context.Context) error {
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return database.RunWithLease(gctx, db, "chain-expander", ex.Run) })
		if pub != nil {
			g.Go(func() error {
				return database.RunWithLease(gctx, db, "chain-publisher:"+pubCfg.Chain, leased(&status.pubLease, pub.Run))
			})
		}
		for i, r := range readers {
			name := "chain-reader:" + cfgs[i].Chain
			g.Go(func() error {
				err := database.RunWithLease(gctx, db, name, leased(&status.leases[i], r.Run))
				if errors.Is(err, indexer.ErrFinalityViolated) {
					// Fatal for this chain only: the node keeps serving.
					log.Error("chain reader stopped", "chain", cfgs[i].Chain, "err", err)
					return nil
				}
				return err
			})
		}
		return g.Wait()
	}, status, nil
}

// publisherConfig returns the Ethereum publisher's configuration, nil
// without --eth-publish-key. cfgs[0] is the Ethereum reader's.
func (f chainFlags) publisherConfig(cfgs []evm.Config, kubo bool, log *slog.Logger) (*evm.PublisherConfig, error) {
	if f.ethPublishKey == "" {
		return nil, nil
	}
	if f.ethRPC == "" {
		return nil, usageError{errors.New("--eth-publish-key needs --eth-rpc")}
	}
	if !kubo {
		return nil, usageError{errors.New("--eth-publish-key needs kubo (archives are published on IPFS)")}
	}
	key, err := evm.LoadKey(f.ethPublishKey)
	if err != nil {
		return nil, usageError{err}
	}
	pc := evm.PublisherConfig{Chain: cfgs[0].Chain, Contract: cfgs[0].Contract, Key: key, Interval: f.ethPublishInterval}
	if f.ethMaxGasPrice != "" {
		v, ok := new(big.Int).SetString(f.ethMaxGasPrice, 10)
		if !ok {
			return nil, usageError{fmt.Errorf("--eth-max-gas-price %q is not a number of wei", f.ethMaxGasPrice)}
		}
		pc.MaxGasPrice = v
	}
	if err := pc.Validate(); err != nil {
		return nil, usageError{err}
	}
	if addr := crypto.PubkeyToAddress(key.PublicKey); !slices.Contains(cfgs[0].Emitters, addr) {
		log.Warn("the publisher's account is not in --eth-emitters: this node will not count its own archives", "address", addr.Hex())
	}
	return &pc, nil
}
