package main

import (
	"testing"

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
