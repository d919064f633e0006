package evm_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/publishedmessage"
	"github.com/alephql/alephql/indexer/evm"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// cheapClient under-reports the base fee (0) and the tip (1 wei) while
// cheap is set: the publisher's transaction is then priced below the
// chain's base fee and stays pending, as after a fee spike.
type cheapClient struct {
	*ethclient.Client
	cheap atomic.Bool
}

func (c *cheapClient) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	h, err := c.Client.HeaderByNumber(ctx, n)
	if err == nil && c.cheap.Load() {
		h.BaseFee = new(big.Int)
	}
	return h, err
}

func (c *cheapClient) FeeHistory(ctx context.Context, blocks uint64, last *big.Int, pct []float64) (*ethereum.FeeHistory, error) {
	if c.cheap.Load() {
		return nil, errors.New("no fee history")
	}
	return c.Client.FeeHistory(ctx, blocks, last, pct)
}

func (c *cheapClient) SuggestGasTipCap(ctx context.Context) (*big.Int, error) {
	if c.cheap.Load() {
		return big.NewInt(1), nil
	}
	return c.Client.SuggestGasTipCap(ctx)
}

// counter is the value of the registry's metric name (0 if absent).
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// TestPublisherReplacesStuckTransaction on geth --dev: a publication
// whose transaction is priced below the base fee stays pending; after
// ReplaceAfter the publisher replaces it (same nonce, fees bumped) — but
// not while the max gas price prevents the bump (counted, waiting) — both
// by a publisher restarted with a higher cap (the stuck publication left
// by the stopped one) and within a round when the fees go back to normal.
// Each time exactly one transaction of the nonce is mined and the
// archive's messages are confirmed once. Both back-ends.
func TestPublisherReplacesStuckTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		d := gethDev(t)
		emitter := d.newAccount()
		c, deployed := d.deploy(emitter)
		n := newNode(t, db)
		n.run(evm.Config{Chain: "ETH", Contract: c.Address(), StartHeight: int64(deployed),
			Emitters: []common.Address{emitter.addr}, Window: 8}, d.client)
		cc := &cheapClient{Client: d.client}
		head, err := d.client.HeaderByNumber(ctx, nil)
		require.NoError(t, err)
		require.Greater(t, head.BaseFee.Int64(), int64(1), "the dev chain's base fee is above the cheap fee")

		alice, err := demo.NewAccount()
		require.NoError(t, err)
		submit := func(i int) string {
			raw, h, err := alice.Post(float64(time.Now().Unix()+int64(i)), "TEST", "stuck", map[string]any{"i": i}, "")
			require.NoError(t, err)
			_, err = n.p.Submit(ctx, raw, processor.OriginAPI, nil)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return n.status(h) == "processed" }, 30*time.Second, 20*time.Millisecond)
			return h
		}
		newPub := func(client evm.PublishClient, max *big.Int) (*evm.Publisher, *prometheus.Registry) {
			reg := prometheus.NewRegistry()
			p, err := evm.NewPublisher(evm.PublisherConfig{Chain: "ETH", Contract: c.Address(), Key: emitter.key,
				MaxGasPrice: max, ReceiptPoll: 20 * time.Millisecond, ReplaceAfter: 300 * time.Millisecond},
				evm.PublisherDeps{Client: client, Store: n.p, Archives: evm.IPFSArchives{Service: n.ipf},
					Registerer: reg, Log: dbtest.Logger()})
			require.NoError(t, err)
			return p, reg
		}
		txHashes := func(h string) []string {
			rows, err := db.Client.PublishedMessage.Query().Where(publishedmessage.ItemHash(h)).All(ctx)
			require.NoError(t, err)
			require.Len(t, rows, 1)
			return strings.Split(rows[0].TxHash, ",")
		}
		// minedOnce: exactly one of hashes has a receipt (successful), the
		// others none; the message is confirmed once, by it.
		minedOnce := func(h string, hashes []string) {
			var mined []string
			for _, s := range hashes {
				rc, err := d.client.TransactionReceipt(ctx, common.HexToHash(s))
				if errors.Is(err, ethereum.NotFound) {
					continue
				}
				require.NoError(t, err)
				require.Equal(t, types.ReceiptStatusSuccessful, rc.Status)
				mined = append(mined, s)
				d.finalize(rc.BlockNumber.Uint64())
			}
			require.Len(t, mined, 1, "one transaction of the nonce mined")
			require.Eventually(t, func() bool { return len(n.confirmations(h)) == 1 }, 60*time.Second, 50*time.Millisecond)
			require.Equal(t, trim0x(mined), trim0x(n.confirmations(h)))
		}

		// 1. Stuck, and the cap (1 wei, the fee paid) prevents the bump:
		// the publisher keeps waiting and counts it.
		h1 := submit(0)
		cc.cheap.Store(true)
		pub1, reg1 := newPub(cc, big.NewInt(1))
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := pub1.Step(rctx); done <- err }()
		require.Eventually(t, func() bool {
			return counter(t, reg1, "alephql_publisher_replacements_blocked_total") >= 2
		}, 30*time.Second, 20*time.Millisecond)
		stuck := txHashes(h1)
		require.Len(t, stuck, 1, "nothing replaced under the cap")
		_, pending, err := d.client.TransactionByHash(ctx, common.HexToHash(stuck[0]))
		require.NoError(t, err)
		require.True(t, pending)
		cancel()
		require.Error(t, <-done)

		// 2. Restarted without a cap: the stuck publication is replaced
		// at the market's fees and mined; nothing is published again.
		cc.cheap.Store(false)
		pub2, reg2 := newPub(d.client, nil)
		p, err := pub2.Step(ctx)
		require.NoError(t, err)
		require.Zero(t, p, "the stuck messages are not published again")
		require.Equal(t, 1.0, counter(t, reg2, "alephql_publisher_replacements_total"))
		hs := txHashes(h1)
		require.Len(t, hs, 2)
		require.Equal(t, stuck[0], hs[1])
		d.wait(common.HexToHash(hs[0]))
		minedOnce(h1, hs)

		// 3. Within a round: stuck while the fees are misread, replaced
		// (bumped while they still are, then at the market's) and mined.
		h2 := submit(1)
		cc.cheap.Store(true)
		pub3, reg3 := newPub(cc, nil)
		go func() { // the fees back to normal after the first replacement
			defer cc.cheap.Store(false)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for range 1500 {
				if mfs, err := reg3.Gather(); err == nil {
					for _, mf := range mfs {
						if mf.GetName() == "alephql_publisher_replacements_total" && mf.GetMetric()[0].GetCounter().GetValue() >= 1 {
							return
						}
					}
				}
				<-tick.C
			}
		}()
		p3, err := pub3.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, p3.Messages)
		hs = txHashes(h2)
		require.GreaterOrEqual(t, len(hs), 3, "replaced at least twice")
		require.Equal(t, hs[0], p3.TxHash, "the last replacement is mined")
		minedOnce(h2, hs)
		p4, err := pub3.Step(ctx)
		require.NoError(t, err)
		require.Zero(t, p4)
	})
}
