package main

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/indexer/evm/alephsync"
	"github.com/alephql/alephql/processor/demo"
)

// TestTwoNodesOneChain: node A takes messages from clients (GraphQL
// submit) and publishes archives on geth --dev; node B, configured only
// with the same geth, contract and kubo, ends with the same processed
// messages, statuses and confirmations — also when it is stopped in the
// middle of its catch-up and restarted on the same database. Both
// back-ends.
func TestTwoNodesOneChain(t *testing.T) {
	url := os.Getenv("ALEPHQL_TEST_ETH_RPC")
	api := os.Getenv("ALEPHQL_TEST_IPFS")
	if url == "" || api == "" {
		t.Fatal("ALEPHQL_TEST_ETH_RPC or ALEPHQL_TEST_IPFS is not set: start the test servers (scripts/test-servers.sh start DIR && . DIR/env)")
	}
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			rc, err := rpc.DialContext(t.Context(), url)
			require.NoError(t, err)
			defer rc.Close()
			ec := ethclient.NewClient(rc)
			dev := common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")
			send := func(to *common.Address, value *big.Int, data []byte) *types.Receipt {
				arg := map[string]any{"from": dev}
				if to != nil {
					arg["to"] = *to
				}
				if value != nil {
					arg["value"] = "0x" + value.Text(16)
				}
				if len(data) > 0 {
					arg["data"] = "0x" + hex.EncodeToString(data)
				}
				var h common.Hash
				require.Eventually(t, func() bool {
					return rc.CallContext(t.Context(), &h, "eth_sendTransaction", arg) == nil
				}, 10*time.Second, 50*time.Millisecond)
				var r *types.Receipt
				require.Eventually(t, func() bool {
					r, err = ec.TransactionReceipt(t.Context(), h)
					return err == nil
				}, 30*time.Second, 20*time.Millisecond)
				require.Equal(t, types.ReceiptStatusSuccessful, r.Status)
				return r
			}
			deployed := send(nil, nil, common.FromHex(strings.TrimSpace(alephsync.AlephSyncMetaData.Bin)))
			contract := deployed.ContractAddress

			// The publisher's account, funded by the dev account.
			key, err := crypto.GenerateKey()
			require.NoError(t, err)
			pubAddr := crypto.PubkeyToAddress(key.PublicKey)
			send(&pubAddr, new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil), nil)
			keyFile := filepath.Join(t.TempDir(), "eth.key")
			require.NoError(t, os.WriteFile(keyFile, []byte(hex.EncodeToString(crypto.FromECDSA(key))), 0o600))

			chainArgs := []string{"--log-level", "warn", "--ipfs-api", api, "--eth-rpc", url,
				"--eth-contract", contract.Hex(), "--eth-emitters", pubAddr.Hex(),
				"--eth-start-height", deployed.BlockNumber.String()}
			baseA, stopA := startServe(t, append([]string{"--db", b.URL(t), "--data-dir", t.TempDir(),
				"--eth-publish-key", keyFile, "--eth-publish-interval", "200ms"}, chainArgs...)...)

			acct, err := demo.NewAccount()
			require.NoError(t, err)
			const submitQ = `mutation($m: JSON!) { submitMessage(message: $m, sync: true) { hash status } }`
			var hashes []string
			for i := range 6 {
				raw, h, err := acct.Post(float64(time.Now().Unix())+float64(i)/7, "TEST", "two-nodes", map[string]any{"i": i}, "")
				require.NoError(t, err)
				out := gql(t, baseA, submitQ, map[string]any{"m": json.RawMessage(raw)})
				require.Nil(t, out["errors"], "%v", out)
				hashes = append(hashes, h)
			}

			const msgQ = `query($h: String!) { message(hash: $h) { status { status } confirmations { txHash height } } }`
			state := func(base string) map[string]string {
				out := map[string]string{}
				for _, h := range hashes {
					res := gql(t, base, msgQ, map[string]any{"h": h})
					m, _ := res["data"].(map[string]any)["message"].(map[string]any)
					if m == nil {
						continue
					}
					b, _ := json.Marshal(m)
					out[h] = string(b)
				}
				return out
			}
			allConfirmed := func(st map[string]string) bool {
				if len(st) != len(hashes) {
					return false
				}
				for _, v := range st {
					if !strings.Contains(v, `"txHash"`) || strings.Count(v, `"txHash"`) != 1 {
						return false
					}
				}
				return true
			}
			// Pad blocks until A's own reader confirms everything it published.
			var stA map[string]string
			require.Eventually(t, func() bool {
				if stA = state(baseA); allConfirmed(stA) {
					return true
				}
				send(&dev, nil, nil)
				return false
			}, 120*time.Second, 10*time.Millisecond, "A confirms its publications: %v", stA)

			// Node B: the chain only. Stopped as soon as it has something,
			// then restarted on the same database.
			dbB, dirB := b.URL(t), t.TempDir()
			argsB := append([]string{"--db", dbB, "--data-dir", dirB}, chainArgs...)
			baseB, stopB := startServe(t, argsB...)
			require.Eventually(t, func() bool { return len(state(baseB)) > 0 }, 60*time.Second, 5*time.Millisecond)
			require.Equal(t, 0, stopB())
			baseB, stopB = startServe(t, argsB...)
			var stB map[string]string
			require.Eventually(t, func() bool {
				stB = state(baseB)
				return allConfirmed(stB)
			}, 60*time.Second, 50*time.Millisecond, "B catches up: %v", stB)
			require.Equal(t, stA, stB)

			// chainSources: each node's reader; only A publishes.
			const srcQ = `{ chainSources { chain kind holdsLease cursorHeight safeHead lagBlocks lagSeconds pendingTxs lastError
				publisher { address holdsLease lastCid lastTxHash lastMessages lastPublishedAt lastError } } }`
			sources := func(base string) map[string]any {
				out := gql(t, base, srcQ, nil)
				require.Nil(t, out["errors"], "%v", out)
				list := out["data"].(map[string]any)["chainSources"].([]any)
				require.Len(t, list, 1)
				return list[0].(map[string]any)
			}
			var srcA map[string]any
			require.Eventually(t, func() bool {
				srcA = sources(baseA)
				return srcA["pendingTxs"] == float64(0) && srcA["safeHead"] != nil
			}, 30*time.Second, 50*time.Millisecond, "%v", srcA)
			require.Equal(t, "ETH", srcA["chain"])
			require.Equal(t, "sync", srcA["kind"])
			require.Equal(t, true, srcA["holdsLease"])
			require.GreaterOrEqual(t, srcA["cursorHeight"], float64(deployed.BlockNumber.Int64()))
			require.GreaterOrEqual(t, srcA["lagBlocks"], float64(0))
			require.NotNil(t, srcA["lagSeconds"])
			pa := srcA["publisher"].(map[string]any)
			require.Equal(t, pubAddr.Hex(), pa["address"])
			require.Equal(t, true, pa["holdsLease"])
			require.True(t, strings.HasPrefix(pa["lastCid"].(string), "Qm"), "%v", pa)
			require.Regexp(t, `^0x[0-9a-f]{64}$`, pa["lastTxHash"])
			require.GreaterOrEqual(t, pa["lastMessages"], float64(1))
			require.Nil(t, pa["lastError"])
			srcB := sources(baseB)
			require.Equal(t, true, srcB["holdsLease"])
			require.Nil(t, srcB["publisher"])

			resp, err := http.Get(baseA + "metrics")
			require.NoError(t, err)
			metrics, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			for _, re := range []string{
				`(?m)^alephql_chain_reader_lease_held\{chain="ETH"\} 1$`,
				`(?m)^alephql_chain_publisher_lease_held\{chain="ETH"\} 1$`,
				`(?m)^alephql_chain_pending_txs\{chain="ETH"\} 0$`,
				`(?m)^alephql_chain_reader_lag_seconds\{chain="ETH"\} `,
				`(?m)^alephql_publisher_archives_total\{chain="ETH"\} [1-9][0-9]*$`,
				`(?m)^alephql_publisher_messages_total\{chain="ETH"\} 6$`,
			} {
				require.Regexp(t, re, string(metrics))
			}
			require.Equal(t, 0, stopB())
			require.Equal(t, 0, stopA())
		})
	}
}
