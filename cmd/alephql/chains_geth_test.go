package main

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/indexer/evm/alephsync"
	"github.com/alephql/alephql/processor/demo"
)

// TestServeFollowsEthereum runs `alephql serve --eth-rpc` against geth
// --dev, on both back-ends: a signed message carried by a SyncEvent is
// processed and GraphQL reports it confirmed at its block.
func TestServeFollowsEthereum(t *testing.T) {
	url := os.Getenv("ALEPHQL_TEST_ETH_RPC")
	if url == "" {
		t.Fatal("ALEPHQL_TEST_ETH_RPC is not set: start the test servers (scripts/test-servers.sh start DIR && . DIR/env)")
	}
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			chain := dialDevChain(t, url)
			ec, dev := chain.Eth, chain.Dev
			send := func(to *common.Address, data []byte) *types.Receipt { return chain.Send(to, nil, data) }
			var err error
			deployed := send(nil, common.FromHex(strings.TrimSpace(alephsync.AlephSyncMetaData.Bin)))
			contract := deployed.ContractAddress

			a, err := demo.NewAccount()
			require.NoError(t, err)
			raw, hash, err := a.Post(float64(time.Now().Unix()), "TEST", "eth", map[string]any{"body": "from the chain"}, "")
			require.NoError(t, err)
			payload, _ := json.Marshal(map[string]any{"protocol": "aleph", "version": 1,
				"content": map[string]any{"messages": []json.RawMessage{raw}}})
			emitted := send(&contract, alephsync.NewAlephSync().PackDoEmit(string(payload)))
			for { // geth --dev finalizes at multiples of 32
				h, err := ec.HeaderByNumber(t.Context(), big.NewInt(int64(rpc.FinalizedBlockNumber)))
				require.NoError(t, err)
				if h.Number.Cmp(emitted.BlockNumber) >= 0 {
					break
				}
				send(&dev, nil)
			}

			base, stop := startServe(t, "--db", b.URL(t), "--data-dir", t.TempDir(), "--log-level", "warn",
				"--eth-rpc", url, "--eth-contract", contract.Hex(), "--eth-emitters", dev.Hex(),
				"--eth-start-height", deployed.BlockNumber.String())
			q := `query($h: String!) { message(hash: $h) { confirmed confirmations { txHash height } } }`
			var got map[string]any
			require.Eventually(t, func() bool {
				out := gql(t, base, q, map[string]any{"h": hash})
				m, _ := out["data"].(map[string]any)["message"].(map[string]any)
				got = m
				return m != nil && m["confirmed"] == true
			}, 60*time.Second, 100*time.Millisecond, "last answer %v", got)
			require.Equal(t, []any{map[string]any{"txHash": emitted.TxHash.Hex(),
				"height": float64(emitted.BlockNumber.Int64())}}, got["confirmations"], fmt.Sprint(got))
			require.Equal(t, 0, stop())
		})
	}
}
