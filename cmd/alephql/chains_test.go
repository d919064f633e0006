package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/require"
)

// TestChainFlags checks the chain readers' flag parsing.
func TestChainFlags(t *testing.T) {
	const c = "0xdF270752C8C71D08acbae4372687DA65AECe2D5D"
	for _, tc := range []struct {
		name   string
		f      chainFlags
		chains []string
		err    string
	}{
		{name: "off", f: chainFlags{}},
		{name: "eth defaults", f: chainFlags{ethRPC: "http://x", ethContract: ethSyncContract, ethStart: ethSyncStart, ethEmitters: ethSyncEmitter},
			chains: []string{"ETH"}},
		{name: "eth and bsc", f: chainFlags{ethRPC: "http://x", ethContract: ethSyncContract, ethEmitters: ethSyncEmitter,
			evmChains: evmChainFlag{"name=bsc,rpc=http://y,contract=" + c + ",start=5,emitters=" + c + ";" + ethSyncEmitter + ",confirmations=12"}},
			chains: []string{"ETH", "BSC"}},
		{name: "bad contract", f: chainFlags{ethRPC: "http://x", ethContract: "nope"}, err: "not an address"},
		{name: "bad emitter", f: chainFlags{ethRPC: "http://x", ethContract: c, ethEmitters: "0x12"}, err: "not an address"},
		{name: "no rpc", f: chainFlags{evmChains: evmChainFlag{"name=BSC,contract=" + c}}, err: "no rpc"},
		{name: "not key=value", f: chainFlags{evmChains: evmChainFlag{"BSC"}}, err: "key=value"},
		{name: "twice", f: chainFlags{ethRPC: "http://x", ethContract: c, evmChains: evmChainFlag{"name=eth,rpc=http://y,contract=" + c}},
			err: "twice"},
		{name: "negative confirmations", f: chainFlags{ethRPC: "http://x", ethContract: c, ethConfirmations: -1}, err: "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgs, urls, err := tc.f.configs()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, urls, len(tc.chains))
			var names []string
			for _, c := range cfgs {
				names = append(names, c.Chain)
			}
			require.Equal(t, tc.chains, names)
		})
	}
	cfgs, _, err := chainFlags{evmChains: evmChainFlag{"name=BSC,rpc=http://y,contract=" + c + ",start=5,emitters=" + c + ",confirmations=12"}}.configs()
	require.NoError(t, err)
	require.Equal(t, int64(5), cfgs[0].StartHeight)
	require.Equal(t, int64(12), cfgs[0].Confirmations)
	require.Equal(t, []common.Address{common.HexToAddress(c)}, cfgs[0].Emitters)
}

// TestPublishFlags checks the publisher's flags; a bad key file's text
// never appears in the error.
func TestPublishFlags(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	require.NoError(t, os.WriteFile(good, []byte("0xb71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291\n"), 0o600))
	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.WriteFile(bad, []byte("hunter2-secret"), 0o600))
	eth := chainFlags{ethRPC: "http://x", ethContract: ethSyncContract, ethEmitters: ethSyncEmitter}
	with := func(key, gas string) chainFlags {
		f := eth
		f.ethPublishKey, f.ethMaxGasPrice = key, gas
		return f
	}
	for _, tc := range []struct {
		name string
		f    chainFlags
		kubo bool
		err  string
		cap  string
		// chain is the first publisher's chain (ETH unless set); second,
		// if set, the second publisher's cap.
		chain, second string
	}{
		{name: "off", f: eth, kubo: true},
		{name: "key", f: with(good, ""), kubo: true},
		{name: "key and cap", f: with(good, "50000000000"), kubo: true, cap: "50000000000"},
		{name: "no rpc", f: chainFlags{ethPublishKey: good, evmChains: evmChainFlag{"name=BSC,rpc=http://y,contract=" + ethSyncContract}}, kubo: true, err: "needs --eth-rpc"},
		{name: "no kubo", f: with(good, ""), err: "needs kubo"},
		{name: "bad key", f: with(bad, ""), kubo: true, err: "not a hex secp256k1 private key"},
		{name: "missing key", f: with(filepath.Join(dir, "none"), ""), kubo: true, err: "no such file"},
		{name: "bad cap", f: with(good, "1.5e9"), kubo: true, err: "not a number of wei"},
		{name: "zero cap", f: with(good, "0"), kubo: true, err: "non-positive"},
		{name: "bsc only", f: chainFlags{evmChains: evmChainFlag{"name=bsc,rpc=http://y,contract=" + ethSyncContract + ",publish-key=" + good}},
			kubo: true, chain: "BSC"},
		{name: "eth and bsc", f: chainFlags{ethRPC: "http://x", ethContract: ethSyncContract, ethPublishKey: good, ethMaxGasPrice: "7",
			evmChains: evmChainFlag{"name=BSC,rpc=http://y,contract=" + ethSyncContract + ",publish-key=" + good + ",max-gas-price=9,replace-after=2s"}},
			kubo: true, chain: "ETH", cap: "7", second: "9"},
		{name: "bsc bad key", f: chainFlags{evmChains: evmChainFlag{"name=BSC,rpc=http://y,contract=" + ethSyncContract + ",publish-key=" + bad}},
			kubo: true, err: "not a hex secp256k1 private key"},
		{name: "bsc bad cap", f: chainFlags{evmChains: evmChainFlag{"name=BSC,rpc=http://y,contract=" + ethSyncContract + ",publish-key=" + good + ",max-gas-price=x"}},
			kubo: true, err: "BSC: max gas price"},
		{name: "bsc no kubo", f: chainFlags{evmChains: evmChainFlag{"name=BSC,rpc=http://y,contract=" + ethSyncContract + ",publish-key=" + good}},
			err: "needs kubo"},
		{name: "bsc bad duration", f: chainFlags{evmChains: evmChainFlag{"name=BSC,rpc=http://y,contract=" + ethSyncContract + ",publish-key=" + good + ",publish-interval=soon"}},
			kubo: true, err: "BSC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgs, _, err := tc.f.configs()
			require.NoError(t, err)
			pcs, err := tc.f.publisherConfigs(cfgs, tc.kubo, slog.New(slog.DiscardHandler))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), "hunter2")
				return
			}
			require.NoError(t, err)
			require.Len(t, pcs, len(cfgs))
			pc := pcs[0]
			if tc.f.ethPublishKey == "" && tc.chain == "" {
				require.Nil(t, pc)
				return
			}
			want := tc.chain
			if want == "" {
				want = "ETH"
			}
			require.Equal(t, want, pc.Chain)
			if tc.cap != "" {
				require.Equal(t, tc.cap, pc.MaxGasPrice.String())
			}
			if tc.second != "" {
				require.Equal(t, "BSC", pcs[1].Chain)
				require.Equal(t, tc.second, pcs[1].MaxGasPrice.String())
				require.Equal(t, 2*time.Second, pcs[1].ReplaceAfter)
				require.Equal(t, pc.Key.D, pcs[1].Key.D)
			}
		})
	}
}
