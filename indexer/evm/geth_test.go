package evm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/chaintx"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messageconfirmation"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// node is one alephql node's chain pipeline on one database: processor,
// expander and reader.
type node struct {
	t   *testing.T
	db  *database.DB
	p   *processor.Processor
	ipf *ipfs.Service
}

func newNode(t *testing.T, db *database.DB) *node {
	t.Helper()
	p, err := processor.New(processor.DefaultConfig(), processor.Deps{DB: db, Log: dbtest.Logger()})
	require.NoError(t, err)
	require.NoError(t, p.SeedErrorCodes(t.Context()))
	api := mustEnv(t, "ALEPHQL_TEST_IPFS")
	svc, err := ipfs.New(ipfs.Config{Dir: t.TempDir(), API: api, FetchTimeout: 2 * time.Second}, nil, dbtest.Logger())
	require.NoError(t, err)
	return &node{t: t, db: db, p: p, ipf: svc}
}

// run runs the processor, an expander and a reader of cfg until the
// returned stop is called.
func (n *node) run(cfg evm.Config, client evm.Client) (stop func()) {
	n.t.Helper()
	ctx, cancel := context.WithCancel(n.t.Context())
	wake := make(chan struct{}, 1)
	ex, err := indexer.NewExpander(indexer.ExpanderConfig{Poll: 20 * time.Millisecond, FetchTimeout: 2 * time.Second,
		RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond, MaxRetries: 3, MaxArchiveSize: 1 << 20},
		indexer.ExpanderDeps{Sink: n.p, Fetcher: n.ipf, Pinner: n.ipf, Log: dbtest.Logger(), Wake: wake})
	require.NoError(n.t, err)
	cfg.Poll, cfg.BackoffMin, cfg.BackoffMax = 20*time.Millisecond, 20*time.Millisecond, 200*time.Millisecond
	r, err := evm.New(cfg, evm.Deps{Client: client, Sink: n.p, Log: dbtest.Logger(), Wake: wake})
	require.NoError(n.t, err)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.p.Run(gctx) })
	g.Go(func() error { return ex.Run(gctx) })
	g.Go(func() error { return r.Run(gctx) })
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			require.NoError(n.t, err)
		}
	}
	n.t.Cleanup(stop)
	return stop
}

func mustEnv(t *testing.T, k string) string {
	t.Helper()
	v := getenv(k)
	if v == "" {
		t.Fatalf("%s is not set: start the test servers (scripts/test-servers.sh start DIR && . DIR/env)", k)
	}
	return v
}

func (n *node) status(h string) string {
	s, err := n.db.Client.MessageStatus.Get(n.t.Context(), h)
	if ent.IsNotFound(err) {
		return ""
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return string(s.Status)
}

func (n *node) msg(h string) *ent.Message {
	m, err := n.db.Client.Message.Query().Where(message.ID(h)).Only(n.t.Context())
	require.NoError(n.t, err)
	return m
}

func (n *node) confirmations(h string) []string {
	var out []string
	err := n.db.Client.MessageConfirmation.Query().Where(messageconfirmation.ItemHash(h)).
		Select(messageconfirmation.FieldTxHash).Scan(n.t.Context(), &out)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return out
}

func archive(msgs ...[]byte) string {
	raw := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		raw[i] = m
	}
	b, _ := json.Marshal(map[string]any{"protocol": "aleph", "version": 1, "content": map[string]any{"messages": raw}})
	return string(b)
}

func syncPayload(protocol string, content any) string {
	b, _ := json.Marshal(map[string]any{"protocol": protocol, "version": 1, "content": content})
	return string(b)
}

// TestReaderOnGeth follows a sync contract on geth --dev with kubo, on
// both back-ends: the three protocols, a message first received from a
// client, every kind of bad input beside valid messages, and a restart
// that resumes without reading anything twice.
func TestReaderOnGeth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		d := gethDev(t)
		emitter, other := d.newAccount(), d.newAccount()
		c, deployed := d.deploy(emitter)
		n := newNode(t, db)

		alice, err := demo.NewAccount()
		require.NoError(t, err)
		now := float64(time.Now().Unix())
		post := func(i int) ([]byte, string) {
			raw, h, err := alice.Post(now+float64(i), "TEST", "chain-test", map[string]any{"i": i}, "")
			require.NoError(t, err)
			return raw, h
		}
		m1, h1 := post(1) // first received from a client
		m2, h2 := post(2) // inline archive
		m3, h3 := post(3) // off-chain archive
		m4, h4 := post(4)
		bad := strings.Replace(string(m4), `"signature":"0x`, `"signature":"0x00`, 1) // fails verification
		require.NotEqual(t, string(m4), bad)

		r, err := n.p.Submit(ctx, m1, processor.OriginAPI, nil)
		require.NoError(t, err)
		require.Equal(t, processor.Queued, r.Outcome)

		// The archive on kubo, and content that is not an archive.
		cid, err := n.ipf.Add(ctx, strings.NewReader(archive(m3, []byte(bad))), ipfs.AddOptions{})
		require.NoError(t, err)
		notJSON, err := n.ipf.Add(ctx, strings.NewReader("this is not json"), ipfs.AddOptions{})
		require.NoError(t, err)
		// A CID no one has (kubo is isolated, so it never resolves).
		missing, err := n.ipf.Add(ctx, strings.NewReader(fmt.Sprintf("never added %d", time.Now().UnixNano())), ipfs.AddOptions{OnlyHash: true})
		require.NoError(t, err)

		postContent := fmt.Sprintf(`{"address": "%s", "time": %d.0, "content": {"body": "from a contract"}, "type": "chain-test"}`,
			other.addr.Hex(), int64(now))
		receipts := []uint64{
			d.emit(c, emitter, syncPayload(indexer.ProtocolAleph, map[string]any{"messages": []json.RawMessage{m1, m2}})).BlockNumber.Uint64(),
			d.emit(c, emitter, syncPayload(indexer.ProtocolOffchain, cid)).BlockNumber.Uint64(),
			d.message(c, other, "POST", postContent).BlockNumber.Uint64(),
			d.message(c, other, "STORE_IPFS", cid).BlockNumber.Uint64(),
			// Bad input: each recorded, none blocking the rest.
			d.emit(c, other, syncPayload(indexer.ProtocolAleph, map[string]any{"messages": []json.RawMessage{m4}})).BlockNumber.Uint64(),
			d.emit(c, emitter, "not json at all").BlockNumber.Uint64(),
			d.emit(c, emitter, syncPayload("aleph-v9", map[string]any{})).BlockNumber.Uint64(),
			d.emit(c, emitter, syncPayload(indexer.ProtocolOffchain, notJSON)).BlockNumber.Uint64(),
			d.emit(c, emitter, syncPayload(indexer.ProtocolOffchain, missing)).BlockNumber.Uint64(),
		}
		last := receipts[len(receipts)-1]
		d.finalize(last)

		cfg := evm.Config{Chain: "ETH", Contract: c.Address(), StartHeight: int64(deployed),
			Emitters: []common.Address{emitter.addr}, Window: 4}
		stop := n.run(cfg, d.client)

		scHash := sha256Hex(postContent)
		if !assert.Eventually(t, func() bool {
			return n.status(h1) == "processed" && n.status(h2) == "processed" && n.status(h3) == "processed" &&
				n.status(scHash) == "processed" && len(n.confirmations(h1)) == 1
		}, 30*time.Second, 50*time.Millisecond) {
			t.Fatalf("statuses %q %q %q %q, confirmations of m1 %q", n.status(h1), n.status(h2), n.status(h3), n.status(scHash),
				n.confirmations(h1))
		}
		require.Equal(t, "rejected", n.status(h4), "the tampered copy inside the archive is rejected")

		for _, h := range []string{h1, h2, h3, scHash} {
			m := n.msg(h)
			require.NotNil(t, m.FirstConfirmedAt, h)
			require.NotNil(t, m.FirstConfirmedHeight, h)
			require.Len(t, n.confirmations(h), 1, h)
		}
		require.Equal(t, int64(receipts[0]), *n.msg(h1).FirstConfirmedHeight)
		require.Equal(t, int64(receipts[1]), *n.msg(h3).FirstConfirmedHeight)
		sc := n.msg(scHash)
		require.Nil(t, sc.Signature)
		require.Equal(t, other.addr.Hex(), sc.Sender)

		// The STORE_IPFS message: exact Python json.dumps bytes.
		// Its block comes after the ones waited for above: the reader may
		// not have read it yet.
		var stx *ent.ChainTx
		require.Eventually(t, func() bool {
			stx, err = db.Client.ChainTx.Query().Where(chaintx.Height(int64(receipts[3]))).Only(ctx)
			return err == nil
		}, 30*time.Second, 50*time.Millisecond, "STORE_IPFS transaction read")
		var ev indexer.ContractEvent
		require.NoError(t, json.Unmarshal(stx.Content, &ev))
		storeContent := fmt.Sprintf(`{"address": "%s", "time": %s, "item_type": "ipfs", "item_hash": "%s"}`,
			other.addr.Hex(), indexer.PyFloat(ev.Timestamp/1000), cid)
		require.Eventually(t, func() bool { return n.status(sha256Hex(storeContent)) != "" }, 30*time.Second,
			50*time.Millisecond, "STORE_IPFS message taken in")

		// Every bad transaction recorded with its reason; nothing pending.
		// (No pending transaction is not enough: the reader may not have
		// read the last blocks yet.)
		require.Eventually(t, func() bool {
			k, err := db.Client.PendingTx.Query().Count(ctx)
			if err != nil || k != 0 {
				return false
			}
			// Each bad transaction's reason may be recorded after its
			// row and after its pending entry went (an archive that is
			// not JSON is judged once fetched): wait for the reasons.
			for _, b := range receipts[4:] {
				n, err := db.Client.ChainTx.Query().Where(chaintx.Height(int64(b)), chaintx.ErrorNotNil()).Count(ctx)
				if err != nil || n == 0 {
					return false
				}
			}
			return true
		}, 60*time.Second, 50*time.Millisecond)
		reasons := map[uint64]string{}
		for _, b := range receipts[4:] {
			tx, err := db.Client.ChainTx.Query().Where(chaintx.Height(int64(b))).Only(ctx)
			require.NoError(t, err)
			require.NotNil(t, tx.Error, "tx at %d", b)
			reasons[b] = *tx.Error
		}
		require.Contains(t, reasons[receipts[4]], "unauthorized emitter")
		require.Contains(t, reasons[receipts[5]], "not JSON")
		require.Contains(t, reasons[receipts[6]], "unknown protocol")
		require.Contains(t, reasons[receipts[7]], "not JSON")
		require.Contains(t, reasons[receipts[8]], "gave up")
		require.Empty(t, n.status(h4+"x"))

		cur, ok, err := n.p.ChainCursor(ctx, "ETH", indexer.KindSync)
		require.NoError(t, err)
		require.True(t, ok)
		require.GreaterOrEqual(t, cur.Height, int64(last))
		stop()

		// Restart: a new event is read, nothing twice.
		before, err := db.Client.ChainTx.Query().Count(ctx)
		require.NoError(t, err)
		m5, h5 := post(5)
		b5 := d.emit(c, emitter, syncPayload(indexer.ProtocolAleph, map[string]any{"messages": []json.RawMessage{m5, m2}})).BlockNumber.Uint64()
		d.finalize(b5)
		n.run(cfg, d.client)
		require.Eventually(t, func() bool { return n.status(h5) == "processed" }, 30*time.Second, 50*time.Millisecond)
		after, err := db.Client.ChainTx.Query().Count(ctx)
		require.NoError(t, err)
		require.Equal(t, before+1, after)
		require.Len(t, n.confirmations(h2), 2, "m2 confirmed by both transactions")
		require.Equal(t, int64(receipts[0]), *n.msg(h2).FirstConfirmedHeight, "first confirmation kept")
		st, err := db.Client.MessageStatus.Query().Where(messagestatus.StatusEQ(messagestatus.StatusProcessed)).Count(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, st, 5)
	})
}
