package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/filepin"
	"github.com/alephql/alephql/ent/messageevent"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/billing"
	"github.com/alephql/alephql/processor/filegc"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// Message times: tHold is before the hold/stream cut-off (hold VMs
// allowed), tCredit after it (credit amounts not rescaled).
const (
	tHold   = 1760000000.0 // 2025-10-09
	tCredit = 1780000000.0 // 2026-05-28
)

// high is a confirmation height above the hold cut-off; low is below.
const (
	high = 23_000_000
	low  = 100
)

// clock is a settable test clock shared by the processor and the jobs.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a processor, the billing jobs and the garbage collector on one
// test database, with a local content store, an event bus, and a test
// oracle that publishes balances and credits.
type env struct {
	t       *testing.T
	ctx     context.Context
	db      *database.DB
	clk     *clock
	p       *processor.Processor
	jobs    *billing.Jobs
	gc      *filegc.Collector
	content *ipfs.Service
	bus     *events.Local
	oracle  *signer
	txs     int
	// reg holds the jobs' metrics.
	reg *prometheus.Registry
}

// billingConfig is the jobs' test configuration: the network's rules,
// with the credit-only cut-off already past (so small credit STOREs are
// removable).
func billingConfig() billing.Config {
	return billing.Config{CreditOnlyCutoff: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func newEnv(t *testing.T, db *database.DB) *env {
	t.Helper()
	ctx := t.Context()
	content, err := ipfs.New(ipfs.Config{Dir: t.TempDir()}, nil, dbtest.Logger())
	require.NoError(t, err)
	e := &env{t: t, ctx: ctx, db: db, clk: &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)},
		content: content, bus: events.NewLocal(4096), oracle: newSigner(t), reg: prometheus.NewRegistry()}
	hcfg := handler.DefaultConfig()
	hcfg.BalanceAddresses = []string{e.oracle.addr()}
	hcfg.CreditAddresses = []string{e.oracle.addr()}
	hd := handler.Deps{Config: hcfg, Storage: content, Log: dbtest.Logger(), Now: e.clk.Now}
	hd.PostEffects = handler.MoneyEffects(hd, db.Dialect)
	e.p, err = processor.New(processor.Config{}, processor.Deps{
		DB: db, Handler: hd, Handlers: handler.PaidHandlers(hd, db.Client, db.Dialect),
		Events: e.bus, Log: dbtest.Logger(), Now: e.clk.Now,
	})
	require.NoError(t, err)
	require.NoError(t, e.p.SeedErrorCodes(ctx))
	m, err := billing.NewMetrics(e.reg)
	require.NoError(t, err)
	e.jobs, err = billing.New(billingConfig(), billing.Deps{DB: db, Apply: e.p, Metrics: m, Log: dbtest.Logger(), Now: e.clk.Now})
	require.NoError(t, err)
	e.gc, err = filegc.New(filegc.Config{}, db.Client, content, dbtest.Logger(), filegc.WithFinalizer(e.jobs))
	require.NoError(t, err)
	return e
}

// newJobs returns billing jobs on e's processor and clock.
func (e *env) newJobs(cfg billing.Config) *billing.Jobs {
	e.t.Helper()
	j, err := billing.New(cfg, billing.Deps{DB: e.db, Apply: e.p, Log: dbtest.Logger(), Now: e.clk.Now})
	require.NoError(e.t, err)
	return j
}

// signer is a test account that signs raw wire messages.
type signer struct{ s *chains.EthereumSigner }

func newSigner(t *testing.T) *signer {
	t.Helper()
	s, err := chains.GenerateEthereumSigner()
	require.NoError(t, err)
	return &signer{s}
}

func (s *signer) addr() string { return s.s.Address() }

// sent is a signed message: its wire bytes and item hash.
type sent struct {
	raw  []byte
	hash string
}

// sign signs an inline message of type typ whose content is fields plus
// address and time.
func (s *signer) sign(t *testing.T, typ message.Type, at float64, channel string, fields map[string]any) sent {
	t.Helper()
	content := map[string]any{"address": s.addr(), "time": at}
	for k, v := range fields {
		content[k] = v
	}
	ic, err := json.Marshal(content)
	require.NoError(t, err)
	sig := chains.Signed{Type: string(typ), ItemHash: message.InlineHash(string(ic)), Time: at}
	require.NoError(t, chains.Sign(s.s, &sig))
	wire := map[string]any{
		"chain": sig.Chain, "sender": sig.Sender, "type": typ, "item_hash": sig.ItemHash,
		"item_type": "inline", "item_content": string(ic), "time": at, "signature": sig.Signature,
	}
	if channel != "" {
		wire["channel"] = channel
	}
	raw, err := json.Marshal(wire)
	require.NoError(t, err)
	return sent{raw: raw, hash: sig.ItemHash}
}

// process submits messages through the API intake and drains the queue,
// requiring each of them processed.
func (e *env) process(ms ...sent) {
	e.t.Helper()
	for _, m := range ms {
		_, err := e.p.Submit(e.ctx, m.raw, processor.OriginAPI, nil)
		require.NoError(e.t, err)
	}
	e.drain()
	for _, m := range ms {
		require.Equal(e.t, "processed", e.status(m.hash), "message %s", m.hash)
	}
}

// drain runs both stages until nothing is due.
func (e *env) drain() {
	e.t.Helper()
	for range 1000 {
		f, err := e.p.FetchOnce(e.ctx)
		require.NoError(e.t, err)
		n, err := e.p.ProcessOnce(e.ctx)
		require.NoError(e.t, err)
		if n == 0 && f == 0 {
			return
		}
	}
	e.t.Fatal("queue never drained")
}

// confirm confirms m at height through the chain reader's own path: the
// reader's batch commit (chain transaction, pending transaction, cursor)
// then the expansion of that transaction's archive into its messages.
func (e *env) confirm(m sent, height int64) {
	e.t.Helper()
	e.txs++
	h := fmt.Sprintf("0x%064x", e.txs)
	content, err := json.Marshal(map[string]any{"messages": []json.RawMessage{m.raw}})
	require.NoError(e.t, err)
	require.NoError(e.t, e.p.CommitChainBatch(e.ctx, indexer.ChainBatch{Chain: "ETH", Kind: indexer.KindSync,
		Cursor: indexer.Cursor{Height: height, Hash: h},
		Txs: []indexer.ChainTx{{Hash: h, Chain: "ETH", Height: height, Time: e.clk.Now(), Publisher: "0xpublisher",
			Protocol: "aleph", Version: 1, Content: content}}}))
	res, err := e.p.SubmitTxMessages(e.ctx, h, indexer.TxMessages{Messages: []json.RawMessage{m.raw}})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, res.Confirmed, "%+v", res)
}

// status is the message_status of a message.
func (e *env) status(hash string) string {
	e.t.Helper()
	s, err := e.db.Client.MessageStatus.Get(e.ctx, hash)
	require.NoError(e.t, err)
	return string(s.Status)
}

// statuses maps each message to its status.
func (e *env) statuses(ms ...sent) []string {
	e.t.Helper()
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = e.status(m.hash)
	}
	return out
}

// balances publishes an oracle balances-update at main height height.
func (e *env) balances(height int, balances map[string]any) sent {
	e.t.Helper()
	m := e.oracle.sign(e.t, message.TypePost, tHold+float64(height), "", map[string]any{
		"type": "balances-update", "content": map[string]any{"chain": "ETH", "main_height": height, "balances": balances},
	})
	e.process(m)
	return m
}

// creditPost publishes a credit post of from in the ALEPH_CREDIT channel.
func (e *env) creditPost(from *signer, typ string, at float64, body map[string]any) sent {
	e.t.Helper()
	m := from.sign(e.t, message.TypePost, at, "ALEPH_CREDIT", map[string]any{"type": typ, "content": body})
	e.process(m)
	return m
}

// grant distributes credits to address.
func (e *env) grant(at float64, address string, amount int64) sent {
	e.t.Helper()
	return e.creditPost(e.oracle, "aleph_credit_distribution", at, map[string]any{"distribution": map[string]any{
		"token": "ALEPH", "chain": "ETH", "credits": []any{map[string]any{
			"address": address, "amount": amount, "price": "1", "tx_hash": "0x1", "provider": "ALEPH"}},
	}})
}

// expense makes the oracle charge address.
func (e *env) expense(at float64, address string, amount int64) sent {
	e.t.Helper()
	return e.creditPost(e.oracle, "aleph_credit_expense", at, map[string]any{"expense": map[string]any{
		"credits": []any{map[string]any{"address": address, "amount": amount}},
	}})
}

// file stores bytes in the local content store and returns their hash.
func (e *env) file(data string) string {
	e.t.Helper()
	h, _, err := e.content.AddStorage(e.ctx, strings.NewReader(data), 1<<30)
	require.NoError(e.t, err)
	return h
}

// store signs a STORE of a storage file paid with payment.
func (s *signer) store(t *testing.T, at float64, hash, payment string) sent {
	t.Helper()
	return s.sign(t, message.TypeStore, at, "", map[string]any{
		"item_type": "storage", "item_hash": hash, "payment": map[string]any{"type": payment},
	})
}

// instance signs the spec's worked-example INSTANCE (2 vCPU, 4 GiB,
// 20 GiB rootfs): 2000 tokens held, or 684 000 credits a day.
func (s *signer) instance(t *testing.T, at float64, rootfs, payment string) sent {
	t.Helper()
	return s.sign(t, message.TypeInstance, at, "", map[string]any{
		"allow_amend": false,
		"rootfs":      map[string]any{"parent": map[string]any{"ref": rootfs, "use_latest": true}, "persistence": "host", "size_mib": 20480},
		"environment": map[string]any{"internet": true},
		"resources":   map[string]any{"vcpus": 2, "memory": 4096, "seconds": 30},
		"payment":     map[string]any{"type": payment},
		"volumes":     []any{},
	})
}

// rootfs processes a STORE of a small image by a third account, so that
// instances' owners pay for their instances only.
func (e *env) rootfs() string {
	e.t.Helper()
	img := newSigner(e.t).store(e.t, tHold, e.file("debian image "+e.t.Name()), "hold")
	e.process(img)
	return img.hash
}

// kinds lists the outbox event kinds of a message, oldest first.
func (e *env) kinds(hash string) []string {
	e.t.Helper()
	rows, err := e.db.Client.MessageEvent.Query().Where(messageevent.ItemHash(hash)).
		Order(ent.Asc(messageevent.FieldID)).All(e.ctx)
	require.NoError(e.t, err)
	var out []string
	for _, r := range rows {
		if r.Kind != "confirmed" && r.Kind != "pending" {
			out = append(out, r.Kind)
		}
	}
	return out
}

// pins lists the (type, delete_by set) of the pins of a message.
func (e *env) pins(hash string) []string {
	e.t.Helper()
	ps, err := e.db.Client.FilePin.Query().Where(filepin.ItemHash(hash)).All(e.ctx)
	require.NoError(e.t, err)
	var out []string
	for _, p := range ps {
		s := string(p.Type)
		if p.DeleteBy != nil {
			s += "@" + p.DeleteBy.Sub(e.clk.Now()).String()
		}
		out = append(out, s)
	}
	return out
}

// run runs a job and requires success.
func (e *env) run(job string) billing.Report {
	e.t.Helper()
	r, err := e.jobs.RunJob(e.ctx, job)
	require.NoError(e.t, err)
	return r
}
