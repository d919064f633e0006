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
	ethReplaceAfter    time.Duration
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
	fs.DurationVar(&f.ethReplaceAfter, "eth-publish-replace-after", 5*time.Minute, "replace a publication transaction pending this long (same nonce, fees bumped by at least 12.5%, within --eth-max-gas-price) (env ALEPHQL_ETH_PUBLISH_REPLACE_AFTER)")
	fs.Var(&f.evmChains, "evm-chain", "another EVM chain carrying the sync contract, repeatable: name=BSC,rpc=URL,contract=0x...,start=N[,emitters=0xA;0xB][,confirmations=N][,publish-key=FILE[,max-gas-price=WEI][,publish-interval=D][,replace-after=D]] (publish-key: publish on it too, the others default to the --eth-publish-* and --eth-max-gas-price values) (env ALEPHQL_EVM_CHAIN)")
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
		kv, err := parseEVMChain(s)
		if err != nil {
			return nil, nil, err
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

// parseEVMChain splits an --evm-chain value into its settings.
func parseEVMChain(s string) (map[string]string, error) {
	kv := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("--evm-chain %q: %q is not key=value", s, part)}
		}
		kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return kv, nil
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
	pubCfgs, err := f.publisherConfigs(cfgs, content.KuboConfigured(), log)
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
	pubs := make([]*evm.Publisher, len(cfgs))
	for i, pc := range pubCfgs {
		if pc == nil {
			continue
		}
		if pubs[i], err = evm.NewPublisher(*pc, evm.PublisherDeps{Client: clients[i], Store: proc,
			Archives: evm.IPFSArchives{Service: content}, Registerer: reg, Log: log}); err != nil {
			return nil, nil, err
		}
	}
	status = &chainStatus{db: db, proc: proc, readers: readers, kinds: make([]string, len(readers)),
		leases: make([]atomic.Bool, len(readers)), pubs: pubs, pubLeases: make([]atomic.Bool, len(readers))}
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
		for i, pub := range pubs {
			if pub == nil {
				continue
			}
			g.Go(func() error {
				return database.RunWithLease(gctx, db, "chain-publisher:"+cfgs[i].Chain, leased(&status.pubLeases[i], pub.Run))
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

// publisherConfigs returns the publishers' configurations, one per
// reader configuration of cfgs (nil where it has no publish key): ETH's
// from --eth-publish-key (cfgs[0] then is the Ethereum reader's), each
// --evm-chain's from its publish-key setting; interval, max gas price and
// replace-after default to the --eth-* values.
func (f chainFlags) publisherConfigs(cfgs []evm.Config, kubo bool, log *slog.Logger) ([]*evm.PublisherConfig, error) {
	out := make([]*evm.PublisherConfig, len(cfgs))
	if f.ethPublishKey != "" && f.ethRPC == "" {
		return nil, usageError{errors.New("--eth-publish-key needs --eth-rpc")}
	}
	type setting struct{ key, interval, maxGas, replace, flag string }
	settings := make([]setting, len(cfgs))
	off := 0
	if f.ethRPC != "" {
		settings[0] = setting{key: f.ethPublishKey, flag: "--eth-publish-key"}
		off = 1
	}
	for j, s := range f.evmChains {
		kv, err := parseEVMChain(s)
		if err != nil {
			return nil, err
		}
		settings[off+j] = setting{key: kv["publish-key"], interval: kv["publish-interval"], maxGas: kv["max-gas-price"],
			replace: kv["replace-after"], flag: fmt.Sprintf("--evm-chain %s publish-key", cfgs[off+j].Chain)}
	}
	for i, st := range settings {
		if st.key == "" {
			continue
		}
		if !kubo {
			return nil, usageError{fmt.Errorf("%s needs kubo (archives are published on IPFS)", st.flag)}
		}
		key, err := evm.LoadKey(st.key)
		if err != nil {
			return nil, usageError{err}
		}
		pc := evm.PublisherConfig{Chain: cfgs[i].Chain, Contract: cfgs[i].Contract, Key: key,
			Interval: f.ethPublishInterval, ReplaceAfter: f.ethReplaceAfter}
		for _, d := range []struct {
			v   string
			dst *time.Duration
		}{{st.interval, &pc.Interval}, {st.replace, &pc.ReplaceAfter}} {
			if d.v == "" {
				continue
			}
			if *d.dst, err = time.ParseDuration(d.v); err != nil {
				return nil, usageError{fmt.Errorf("%s: %w", cfgs[i].Chain, err)}
			}
		}
		maxGas := f.ethMaxGasPrice
		if st.maxGas != "" {
			maxGas = st.maxGas
		}
		if maxGas != "" {
			v, ok := new(big.Int).SetString(maxGas, 10)
			if !ok {
				return nil, usageError{fmt.Errorf("%s: max gas price %q is not a number of wei", cfgs[i].Chain, maxGas)}
			}
			pc.MaxGasPrice = v
		}
		if err := pc.Validate(); err != nil {
			return nil, usageError{err}
		}
		if addr := crypto.PubkeyToAddress(key.PublicKey); !slices.Contains(cfgs[i].Emitters, addr) {
			log.Warn("the publisher's account is not among the chain's emitters: this node will not count its own archives",
				"chain", cfgs[i].Chain, "address", addr.Hex())
		}
		out[i] = &pc
	}
	return out, nil
}
