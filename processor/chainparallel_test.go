package processor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/processor"
)

// TestParallelArchivesNeverDeadlock: overlapping sync archives (each
// shares messages with the next, and all touch the same counters,
// aggregates and amended posts) submitted eight at a time through the
// import path, while the process stage drains what they queue, on
// PostgreSQL: no transaction meets a deadlock, no direct batch falls back
// to the queue, no message is processed twice, and the end state is the
// one `alephql import` of the same messages leaves. It fails without the
// batch lock order (handler/lockkeys.go): about five deadlocks a run.
func TestParallelArchivesNeverDeadlock(t *testing.T) {
	const n, archives, overlap = 6000, 12, 100
	data, hashes := dataset(t, n)
	raws := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	require.Len(t, raws, n)

	// The baseline: an import of the same messages, in order.
	want := func() map[string]string {
		db := dbtest.Open(t, dbtest.NewPostgresDatabase(t))
		p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger()})
		require.NoError(t, err)
		require.NoError(t, p.SeedErrorCodes(t.Context()))
		_, err = p.Import(t.Context(), bytes.NewReader(data), 500, nil)
		require.NoError(t, err)
		drainRun(t, p)
		return statusesOf(t, db.Client, hashes)
	}()

	db := dbtest.Open(t, dbtest.NewPostgresDatabase(t))
	reg := prometheus.NewRegistry()
	metrics, err := processor.NewMetrics(reg)
	require.NoError(t, err)
	p, err := processor.New(processor.Config{}, processor.Deps{DB: db, Log: dbtest.Logger(), Metrics: metrics})
	require.NoError(t, err)
	var txs []indexer.ChainTx
	per := n / archives
	for k := range archives {
		content, _ := json.Marshal(fmt.Sprintf("Qm%044d", k))
		txs = append(txs, indexer.ChainTx{Hash: fmt.Sprintf("0x%064x", k), Chain: "ETH", Height: int64(100 + k),
			Time: time.Unix(1_700_100_000+int64(k), 0), Publisher: "0xpub", Protocol: indexer.ProtocolOffchain,
			Version: 1, Content: content})
	}
	ctx := t.Context()
	require.NoError(t, p.CommitChainBatch(ctx, indexer.ChainBatch{Chain: "ETH", Kind: indexer.KindSync,
		Cursor: indexer.Cursor{Height: 200, Hash: "0xhead"}, Txs: txs}))
	// Eight archives at a time, each submitted as the expander does
	// (again while some of its messages wait for a copy pending from
	// another archive), beside the process stage.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	// The first archive goes in alone: it holds the dataset's security
	// aggregate, which authorizes the delegated posts of every archive.
	// A delegated post applied before it is rejected (PERMISSION_DENIED
	// is final), and is taken again only if an archive repeating it is
	// submitted later: with all archives racing, that depended on the
	// schedule (the expander submits in chain order, so a node never
	// races them so). The other archives still race each other.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for k, tx := range txs {
		if k == 1 {
			require.NoError(t, g.Wait())
			g, gctx = errgroup.WithContext(ctx)
			g.SetLimit(8)
		}
		g.Go(func() error {
			var msgs []json.RawMessage
			for _, raw := range raws[k*per : min((k+1)*per+overlap, n)] {
				msgs = append(msgs, raw)
			}
			for {
				res, err := p.SubmitTxMessages(gctx, tx.Hash, indexer.TxMessages{Messages: msgs})
				if err != nil || res.Waiting == 0 {
					return err
				}
				select {
				case <-gctx.Done():
					return gctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
	require.NoError(t, g.Wait())
	require.Eventually(t, func() bool {
		left, err := p.Pending(ctx)
		return err == nil && left == 0
	}, 300*time.Second, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	require.Zero(t, metricSum(t, reg, "alephql_processor_deadlocks_total"), "deadlocks")
	require.Zero(t, metricSum(t, reg, "alephql_processor_direct_fallbacks_total"), "direct fallbacks")
	// Nothing processed twice. (A message refused for a permission its
	// owner's security aggregate, in an archive expanded meanwhile, had
	// not granted yet, is taken again from the archive that repeats it:
	// settled twice, processed once.)
	var rows []struct {
		ItemHash string `json:"item_hash"`
		Count    int    `json:"count"`
	}
	require.NoError(t, db.Client.MessageEvent.Query().Where(messageevent.KindEQ("processed")).
		GroupBy(messageevent.FieldItemHash).Aggregate(entCount()).Scan(ctx, &rows))
	for _, r := range rows {
		require.Equal(t, 1, r.Count, "%s processed %d times", r.ItemHash, r.Count)
	}
	left, err := db.Client.PendingMessage.Query().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, left)
	msgs, err := db.Client.Message.Query().Count(ctx)
	require.NoError(t, err)
	all, err := db.Client.MessageCounter.Get(ctx, "*")
	require.NoError(t, err)
	require.EqualValues(t, msgs, all.Count, "counter equals the messages table")
	require.Equal(t, want, statusesOf(t, db.Client, hashes), "same statuses as the import")
}

// drainRun runs p until its queue is empty.
func drainRun(t *testing.T, p *processor.Processor) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	require.Eventually(t, func() bool {
		left, err := p.Pending(t.Context())
		return err == nil && left == 0
	}, 300*time.Second, 50*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

// statusesOf returns the status of each hash.
func statusesOf(t *testing.T, c *ent.Client, hashes []string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(hashes))
	for i := 0; i < len(hashes); i += 1000 {
		rows, err := c.MessageStatus.Query().Where(messagestatus.IDIn(hashes[i:min(i+1000, len(hashes))]...)).All(t.Context())
		require.NoError(t, err)
		for _, r := range rows {
			out[r.ID] = string(r.Status)
		}
	}
	return out
}

// metricSum is the sum of a metric family's samples in reg (0 when it
// has none).
func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
