package evm_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPublisherOnGeth: node A takes messages from clients and publishes
// them (archive on kubo, doEmit on geth --dev); its own reader then
// confirms them; node B, on another database and configured only with
// the chain, the contract and kubo, ends with the same messages, statuses
// and confirmations. Nothing is published twice; a fee above the cap is
// refused; the key never appears in the logs. Both back-ends.
func TestPublisherOnGeth(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			d := gethDev(t)
			emitter := d.newAccount()
			c, deployed := d.deploy(emitter)
			a := newNode(t, dbtest.Open(t, b.URL(t)))
			nb := newNode(t, dbtest.Open(t, b.URL(t)))

			keyHex := hex.EncodeToString(crypto.FromECDSA(emitter.key))
			keyFile := filepath.Join(t.TempDir(), "key")
			require.NoError(t, os.WriteFile(keyFile, []byte("0x"+keyHex+"\n"), 0o600))
			key, err := evm.LoadKey(keyFile)
			require.NoError(t, err)
			require.Equal(t, emitter.addr, crypto.PubkeyToAddress(key.PublicKey))
			bad := filepath.Join(t.TempDir(), "bad")
			require.NoError(t, os.WriteFile(bad, []byte("secret-not-hex"), 0o600))
			_, err = evm.LoadKey(bad)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "secret-not-hex")

			var logs lockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			newPub := func(max *big.Int) *evm.Publisher {
				p, err := evm.NewPublisher(evm.PublisherConfig{Chain: "ETH", Contract: c.Address(), Key: key,
					MaxGasPrice: max, ReceiptPoll: 20 * time.Millisecond},
					evm.PublisherDeps{Client: d.client, Store: a.p, Archives: evm.IPFSArchives{Service: a.ipf},
						Registerer: prometheus.NewRegistry(), Log: log})
				require.NoError(t, err)
				return p
			}
			pub := newPub(nil)
			require.Equal(t, emitter.addr, pub.Address())

			cfg := evm.Config{Chain: "ETH", Contract: c.Address(), StartHeight: int64(deployed),
				Emitters: []common.Address{emitter.addr}, Window: 8}
			a.run(cfg, d.client)

			alice, err := demo.NewAccount()
			require.NoError(t, err)
			now := float64(time.Now().Unix())
			var hashes []string
			submit := func(i int) string {
				raw, h, err := alice.Post(now+float64(i)+0.123456, "TEST", "pub-test", map[string]any{"i": i, "s": "<&>\u2028é"}, "")
				require.NoError(t, err)
				r, err := a.p.Submit(ctx, raw, processor.OriginAPI, nil)
				require.NoError(t, err)
				require.Equal(t, processor.Queued, r.Outcome)
				require.Eventually(t, func() bool { return a.status(h) == "processed" }, 30*time.Second, 20*time.Millisecond)
				hashes = append(hashes, h)
				return h
			}
			for i := range 3 {
				submit(i)
			}

			// A fee above the cap: refused, nothing recorded.
			_, err = newPub(big.NewInt(1)).Step(ctx)
			require.ErrorIs(t, err, evm.ErrGasPriceTooHigh)

			// What the first archive holds: the unpublished messages before it.
			msgs, _, err := a.p.Unpublished(ctx, "ETH", 10)
			require.NoError(t, err)
			p1, err := pub.Step(ctx)
			require.NoError(t, err)
			require.Equal(t, 3, p1.Messages)
			require.True(t, strings.HasPrefix(p1.CID, "Qm"), p1.CID)
			// The archive on kubo is the writer's bytes for the stored messages.
			got, err := a.ipf.Get(ctx, p1.CID, 1<<20)
			require.NoError(t, err)
			// Published on ETH (not yet confirmed): no other chain publishes them.
			others, _, err := a.p.Unpublished(ctx, "OTHER", 10)
			require.NoError(t, err)
			require.Empty(t, others)
			want, err := indexer.WriteArchive(msgs)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
			require.Equal(t, p1, pub.Status().Last)

			// Emitted but not read yet: not published again.
			p2, err := pub.Step(ctx)
			require.NoError(t, err)
			require.Zero(t, p2)

			h4 := submit(3)
			p3, err := pub.Step(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, p3.Messages)

			rc, err := d.client.TransactionReceipt(ctx, common.HexToHash(p3.TxHash))
			require.NoError(t, err)
			d.finalize(rc.BlockNumber.Uint64())
			require.Eventually(t, func() bool {
				for _, h := range hashes {
					if len(a.confirmations(h)) != 1 {
						return false
					}
				}
				return true
			}, 60*time.Second, 50*time.Millisecond, "A's reader confirms its own publications")
			require.Equal(t, []string{strings.TrimPrefix(strings.ToLower(p3.TxHash), "0x")}, trim0x(a.confirmations(h4)))
			p4, err := pub.Step(ctx)
			require.NoError(t, err)
			require.Zero(t, p4, "confirmed messages are not published")

			// Node B reads the chain only.
			nb.run(cfg, d.client)
			require.Eventually(t, func() bool {
				for _, h := range hashes {
					if nb.status(h) != "processed" || len(nb.confirmations(h)) != 1 {
						return false
					}
				}
				return true
			}, 60*time.Second, 50*time.Millisecond, "B catches up")
			for _, h := range hashes {
				require.Equal(t, a.confirmations(h), nb.confirmations(h), h)
				ma, mb := a.msg(h), nb.msg(h)
				require.Equal(t, *ma.FirstConfirmedHeight, *mb.FirstConfirmedHeight, h)
				require.Equal(t, ma.ItemContent, mb.ItemContent)
				require.True(t, ma.Time.Equal(mb.Time), "%s: %s vs %s", h, ma.Time, mb.Time)
			}
			sa, err := a.db.Client.MessageStatus.Query().Where(messagestatus.StatusEQ(messagestatus.StatusProcessed)).Count(ctx)
			require.NoError(t, err)
			sb, err := nb.db.Client.MessageStatus.Query().Where(messagestatus.StatusEQ(messagestatus.StatusProcessed)).Count(ctx)
			require.NoError(t, err)
			require.Equal(t, sa, sb)

			require.Contains(t, logs.String(), "archive emitted")
			require.NotContains(t, strings.ToLower(logs.String()), keyHex, "the key never appears in the logs")
		})
	}
}

func trim0x(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.TrimPrefix(strings.ToLower(v), "0x")
	}
	sort.Strings(out)
	return out
}

// TestPublisherRepublishesLostTransactions: a publication whose
// transaction was never signed, or vanished (neither mined nor pending),
// is dropped and its messages published again; one whose transaction was
// mined is kept (never published twice). Both back-ends.
func TestPublisherRepublishesLostTransactions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		d := gethDev(t)
		emitter := d.newAccount()
		c, _ := d.deploy(emitter)
		n := newNode(t, db)
		stop := n.run(evm.Config{Chain: "ETH", Contract: c.Address(), StartHeight: 1 << 40}, d.client) // processor only, in effect
		defer stop()
		pub, err := evm.NewPublisher(evm.PublisherConfig{Chain: "ETH", Contract: c.Address(), Key: emitter.key,
			ReceiptPoll: 20 * time.Millisecond},
			evm.PublisherDeps{Client: d.client, Store: n.p, Archives: evm.IPFSArchives{Service: n.ipf}, Log: dbtest.Logger()})
		require.NoError(t, err)

		alice, err := demo.NewAccount()
		require.NoError(t, err)
		var hashes []string
		for i := range 3 {
			raw, h, err := alice.Post(float64(time.Now().Unix()+int64(i)), "TEST", "lost", map[string]any{"i": i}, "")
			require.NoError(t, err)
			_, err = n.p.Submit(ctx, raw, processor.OriginAPI, nil)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return n.status(h) == "processed" }, 30*time.Second, 20*time.Millisecond)
			hashes = append(hashes, h)
		}
		// Message 0 in a publication never signed, message 1 in one whose
		// transaction vanished.
		at := time.Now().UTC()
		require.NoError(t, n.p.ReservePublication(ctx, "ETH", "QmNeverSigned", "", hashes[:1], at))
		require.NoError(t, n.p.ReservePublication(ctx, "ETH", "QmVanished", common.Hash{1}.Hex(), hashes[1:2], at))
		open, err := n.p.OpenPublications(ctx, "ETH")
		require.NoError(t, err)
		require.Len(t, open, 2)
		// Published on ETH: another chain cannot reserve it (nor the
		// unpublished one beside it: nothing is reserved).
		err = n.p.ReservePublication(ctx, "BSC", "QmOther", common.Hash{2}.Hex(), hashes[1:], at)
		require.ErrorIs(t, err, processor.ErrAlreadyPublished)
		open, err = n.p.OpenPublications(ctx, "BSC")
		require.NoError(t, err)
		require.Empty(t, open)

		p1, err := pub.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, p1.Messages, "the lost ones published again with the new one")
		open, err = n.p.OpenPublications(ctx, "ETH")
		require.NoError(t, err)
		require.Len(t, open, 1)
		require.Equal(t, p1.CID, open[0].CID)
		require.Equal(t, 3, open[0].Messages)

		// Mined but not read yet (no reader): kept, nothing published again.
		p2, err := pub.Step(ctx)
		require.NoError(t, err)
		require.Zero(t, p2)
		left, _, err := n.p.Unpublished(ctx, "ETH", 10)
		require.NoError(t, err)
		require.Empty(t, left)
	})
}

// TestIPFSArchivesCID: the conformance archive's bytes, added as the
// publisher adds archives, get the vector's CIDv0 and are kept locally.
func TestIPFSArchivesCID(t *testing.T) {
	raw, err := os.ReadFile("../../../shared/conformance/chains/vectors.json")
	require.NoError(t, err)
	var vectors []struct {
		Kind     string `json:"kind"`
		Expected struct {
			Bytes string `json:"derived_archive_bytes"`
			CID   string `json:"derived_archive_cidv0"`
		} `json:"expected"`
	}
	require.NoError(t, json.Unmarshal(raw, &vectors))
	n := newNode(t, dbtest.Open(t, dbtest.Backends()[0].URL(t)))
	found := false
	for _, v := range vectors {
		if v.Kind != "archive" || v.Expected.CID == "" {
			continue
		}
		found = true
		cid, err := evm.IPFSArchives{Service: n.ipf}.AddArchive(t.Context(), []byte(v.Expected.Bytes))
		require.NoError(t, err)
		require.Equal(t, v.Expected.CID, cid)
		local, err := n.ipf.Store().Read(cid, 1<<20)
		require.NoError(t, err)
		require.Equal(t, v.Expected.Bytes, string(local))
	}
	require.True(t, found)
}
