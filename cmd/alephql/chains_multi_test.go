package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/indexer/evm/alephsync"
	"github.com/alephql/alephql/processor/demo"
)

// TestPublishOnTwoChains: a node reading two chains (ETH from the --eth-*
// flags, BSC from an --evm-chain value with publish-key=FILE; on one geth
// --dev, told apart by contract) runs a publisher on each. Every message
// submitted ends confirmed exactly once, on one of the chains: published
// on one chain, never again on the other. chainSources shows both
// publishers. Both back-ends.
func TestPublishOnTwoChains(t *testing.T) {
	url := os.Getenv("ALEPHQL_TEST_ETH_RPC")
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	if url == "" || api == "" {
		t.Fatal("ALEPHQL_TEST_ETH_RPC or ALEPHQL_TEST_IPFS is not set: start the test servers (scripts/test-servers.sh start DIR && . DIR/env)")
	}
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			chain := dialDevChain(t, url)
			dev, send := chain.Dev, chain.Send
			var err error
			bin := common.FromHex(strings.TrimSpace(alephsync.AlephSyncMetaData.Bin))
			ethC, bscC := send(nil, nil, bin), send(nil, nil, bin)
			// One account per chain: on one geth, they would share nonces.
			keyFile := func(name string) (string, common.Address) {
				key, err := crypto.GenerateKey()
				require.NoError(t, err)
				addr := crypto.PubkeyToAddress(key.PublicKey)
				send(&addr, new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil), nil)
				f := filepath.Join(t.TempDir(), name)
				require.NoError(t, os.WriteFile(f, []byte(hex.EncodeToString(crypto.FromECDSA(key))), 0o600))
				return f, addr
			}
			ethKey, ethAddr := keyFile("eth.key")
			bscKey, bscAddr := keyFile("bsc.key")
			base, _ := startServe(t, "--db", b.URL(t), "--data-dir", t.TempDir(), "--log-level", "warn", "--ipfs-api", api,
				"--eth-rpc", url, "--eth-contract", ethC.ContractAddress.Hex(), "--eth-emitters", ethAddr.Hex(),
				"--eth-start-height", ethC.BlockNumber.String(), "--eth-publish-key", ethKey, "--eth-publish-interval", "150ms",
				"--evm-chain", fmt.Sprintf("name=bsc,rpc=%s,contract=%s,start=%s,emitters=%s,publish-key=%s,publish-interval=100ms",
					url, bscC.ContractAddress.Hex(), bscC.BlockNumber.String(), bscAddr.Hex(), bscKey))

			acct, err := demo.NewAccount()
			require.NoError(t, err)
			const submitQ = `mutation($m: JSON!) { submitMessage(message: $m, sync: true) { hash status } }`
			var hashes []string
			for i := range 12 {
				raw, h, err := acct.Post(float64(time.Now().Unix())+float64(i)/13, "TEST", "two-chains", map[string]any{"i": i}, "")
				require.NoError(t, err)
				out := gql(t, base, submitQ, map[string]any{"m": json.RawMessage(raw)})
				require.Nil(t, out["errors"], "%v", out)
				hashes = append(hashes, h)
				if i%3 == 2 {
					send(&dev, nil, nil) // let the publishers take turns
				}
			}
			const msgQ = `query($h: String!) { message(hash: $h) { confirmations { chain txHash } } }`
			confs := func(h string) []any {
				res := gql(t, base, msgQ, map[string]any{"h": h})
				m, _ := res["data"].(map[string]any)["message"].(map[string]any)
				if m == nil {
					return nil
				}
				c, _ := m["confirmations"].([]any)
				return c
			}
			require.Eventually(t, func() bool {
				for _, h := range hashes {
					if len(confs(h)) == 0 {
						send(&dev, nil, nil) // padding until final
						return false
					}
				}
				return true
			}, 120*time.Second, 10*time.Millisecond, "every message confirmed")
			// A few more blocks: a second publication would show now.
			for range 5 {
				send(&dev, nil, nil)
			}
			perChain := map[string]int{}
			for _, h := range hashes {
				c := confs(h)
				require.Len(t, c, 1, "%s confirmed once, on one chain: %v", h, c)
				perChain[c[0].(map[string]any)["chain"].(string)]++
			}
			t.Logf("messages published per chain: %v", perChain)

			out := gql(t, base, `{ chainSources { chain publisher { address holdsLease } } }`, nil)
			srcs := out["data"].(map[string]any)["chainSources"].([]any)
			got := map[string]string{}
			for _, s := range srcs {
				m := s.(map[string]any)
				p, _ := m["publisher"].(map[string]any)
				require.NotNil(t, p, "%v", m)
				got[m["chain"].(string)] = p["address"].(string)
			}
			require.Equal(t, map[string]string{"ETH": ethAddr.Hex(), "BSC": bscAddr.Hex()}, got)
		})
	}
}
