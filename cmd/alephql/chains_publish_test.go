package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm/alephsync"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor/demo"
)

// TestTwoNodesOneChain: node A takes messages from clients (GraphQL
// submit) and publishes archives on geth --dev; node B, configured only
// with the same geth, contract and kubo, ends with the same processed
// messages, statuses and confirmations — also when, running as a process
// of its own, it is killed with SIGKILL in the middle of its catch-up (of
// 3000 more messages in six archives) and restarted on the same database:
// nothing processed twice, one confirmation per message, counters equal
// to the rows. Both back-ends.
func TestTwoNodesOneChain(t *testing.T) {
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
			deployed := send(nil, nil, common.FromHex(strings.TrimSpace(alephsync.AlephSyncMetaData.Bin)))
			contract := deployed.ContractAddress

			// The publisher's account, funded by the dev account.
			key, err := crypto.GenerateKey()
			require.NoError(t, err)
			pubAddr := crypto.PubkeyToAddress(key.PublicKey)
			send(&pubAddr, new(big.Int).Exp(big.NewInt(10), big.NewInt(19), nil), nil)
			keyFile := filepath.Join(t.TempDir(), "eth.key")
			require.NoError(t, os.WriteFile(keyFile, []byte(hex.EncodeToString(crypto.FromECDSA(key))), 0o600))

			// The dev account emits bulk archives (below) beside A's publisher.
			chainArgs := []string{"--log-level", "warn", "--ipfs-api", api, "--eth-rpc", url,
				"--eth-contract", contract.Hex(), "--eth-emitters", pubAddr.Hex() + "," + dev.Hex(),
				"--eth-start-height", deployed.BlockNumber.String()}
			dbA := b.URL(t)
			baseA, stopA := startServe(t, append([]string{"--db", dbA, "--data-dir", t.TempDir(),
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

			// Bulk for B's catch-up, so that it can be killed in the
			// middle: archives of posts (each later archive amending posts
			// of the one before, never an amend) emitted by the dev account.
			svc, err := ipfs.New(ipfs.Config{Dir: t.TempDir(), API: api}, nil, dbtest.Logger())
			require.NoError(t, err)
			const archives, perArchive = 6, 500
			var bulk, prev []string
			emit := alephsync.NewAlephSync()
			for k := range archives {
				var raws [][]byte
				var cur []string
				for i := range perArchive {
					at := float64(1_700_000_000 + k*perArchive + i)
					var raw []byte
					var h string
					if k > 0 && i%10 == 0 {
						raw, h, err = acct.Amend(at, "TEST", prev[i+1], map[string]any{"k": k, "i": i})
					} else {
						raw, h, err = acct.Post(at, "TEST", "bulk", map[string]any{"k": k, "i": i}, "")
					}
					require.NoError(t, err)
					raws, cur, bulk = append(raws, raw), append(cur, h), append(bulk, h)
				}
				prev = cur
				archive := `{"protocol":"aleph","version":1,"content":{"messages":[` + string(bytes.Join(raws, []byte(","))) + `]}}`
				cid, err := svc.Add(t.Context(), strings.NewReader(archive), ipfs.AddOptions{Pin: true})
				require.NoError(t, err)
				send(&contract, nil, emit.PackDoEmit(indexer.OnChainPayload(cid)))
			}
			dbClientA := dbtest.Open(t, dbA).Client
			processed := func(c *ent.Client) int {
				n := 0
				for i := 0; i < len(bulk); i += 500 {
					k, err := c.MessageStatus.Query().Where(messagestatus.IDIn(bulk[i:min(i+500, len(bulk))]...),
						messagestatus.StatusEQ(messagestatus.StatusProcessed)).Count(t.Context())
					require.NoError(t, err)
					n += k
				}
				return n
			}
			require.Eventually(t, func() bool {
				if processed(dbClientA) == len(bulk) {
					return true
				}
				send(&dev, nil, nil) // padding until the archives are final
				return false
			}, 180*time.Second, 10*time.Millisecond, "A processes the bulk archives")

			// Node B: the chain only, a process of its own, killed with
			// SIGKILL in the middle of its catch-up, then restarted on the
			// same database.
			dbB, dirB := b.URL(t), t.TempDir()
			argsB := append([]string{"--db", dbB, "--data-dir", dirB}, chainArgs...)
			nodeB := startChild(t, argsB...)
			dbClientB := dbtest.Open(t, dbB).Client
			var atKill int
			require.Eventually(t, func() bool { atKill = processed(dbClientB); return atKill > 0 },
				120*time.Second, 2*time.Millisecond, "B starts catching up")
			nodeB.kill(t)
			atKill = processed(dbClientB)
			t.Logf("B killed with %d of %d bulk messages processed", atKill, len(bulk))
			require.Less(t, atKill, len(bulk), "B was killed before the end of its catch-up")
			nodeB = startChild(t, argsB...)
			baseB := nodeB.base
			var stB map[string]string
			require.Eventually(t, func() bool {
				stB = state(baseB)
				return allConfirmed(stB) && processed(dbClientB) == len(bulk)
			}, 180*time.Second, 50*time.Millisecond, "B catches up: %v", stB)
			require.Equal(t, stA, stB)
			requireOnceEach(t, dbClientB)

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
			require.NoError(t, nodeB.cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, nodeB.cmd.Wait())
			require.Equal(t, 0, stopA())
		})
	}
}

// requireOnceEach checks a node's database after a kill and a restart:
// no message processed twice (one processed event each), exactly one
// confirmation per message (every message came from one transaction), and
// the message counter equal to the messages table.
func requireOnceEach(t *testing.T, c *ent.Client) {
	t.Helper()
	ctx := t.Context()
	var rows []struct {
		ItemHash string `json:"item_hash"`
		Count    int    `json:"count"`
	}
	require.NoError(t, c.MessageEvent.Query().Where(messageevent.KindEQ("processed")).
		GroupBy(messageevent.FieldItemHash).Aggregate(ent.Count()).Scan(ctx, &rows))
	for _, r := range rows {
		require.Equal(t, 1, r.Count, "%s processed %d times", r.ItemHash, r.Count)
	}
	msgs, err := c.Message.Query().Count(ctx)
	require.NoError(t, err)
	require.Len(t, rows, msgs, "one processed event per message")
	rows = rows[:0]
	require.NoError(t, c.MessageConfirmation.Query().
		GroupBy(messageconfirmation.FieldItemHash).Aggregate(ent.Count()).Scan(ctx, &rows))
	require.Len(t, rows, msgs, "every message confirmed")
	for _, r := range rows {
		require.Equal(t, 1, r.Count, "%s confirmed %d times", r.ItemHash, r.Count)
	}
	all, err := c.MessageCounter.Get(ctx, "*")
	require.NoError(t, err)
	require.EqualValues(t, msgs, all.Count, "message counter")
}
