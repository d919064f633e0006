package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/chains"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/accountcost"
	"github.com/alephql/alephql/ipfs"
	"github.com/alephql/alephql/processor/errcode"
	"github.com/alephql/alephql/processor/handler"
	"github.com/alephql/alephql/processor/message"
)

// Message times used by the tests: before the hold/stream cut-off and
// after the free-STORE cut-off, so hold payments are checked.
const (
	tPaid   = 1760000000.0 // 2025-10-09
	tCredit = 1780000000.0 // after the hold/stream cut-off
)

// env drives the money and file handlers against one database, with a
// real local content store (package ipfs, no kubo) as Storage.
type env struct {
	t       *testing.T
	db      *database.DB
	deps    handler.Deps
	store   *handler.Store
	vm      *handler.VM
	post    *handler.Post
	content *ipfs.Service
	now     time.Time
	// oracle signs balances-update and credit oracle posts: the test
	// configuration names its address as the balance and credit oracle.
	oracle signer
}

func newEnv(t *testing.T, db *database.DB) *env {
	t.Helper()
	svc, err := ipfs.New(ipfs.Config{Dir: t.TempDir()}, nil, dbtest.Logger())
	require.NoError(t, err)
	e := &env{t: t, db: db, content: svc, now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC), oracle: newSigner(t)}
	cfg := handler.DefaultConfig()
	cfg.BalanceAddresses = []string{e.oracle.addr()}
	cfg.CreditAddresses = []string{e.oracle.addr()}
	e.deps = handler.Deps{Config: cfg, Storage: svc, Log: dbtest.Logger(), Now: func() time.Time { return e.now }}
	e.deps.PostEffects = handler.MoneyEffects(e.deps, db.Dialect)
	e.store = handler.NewStore(e.deps, db.Client, db.Dialect)
	e.vm = handler.NewVM(e.deps, db.Dialect)
	e.post = handler.NewPost(e.deps, db.Dialect)
	return e
}

// signer is a test account.
type signer struct{ s *chains.EthereumSigner }

func newSigner(t *testing.T) signer {
	t.Helper()
	s, err := chains.GenerateEthereumSigner()
	require.NoError(t, err)
	return signer{s}
}

func (s signer) addr() string { return s.s.Address() }

// msg signs an inline message of type typ whose content is fields plus
// address and time, and decodes it through processor/message.
func (s signer) msg(t *testing.T, typ message.Type, at float64, fields map[string]any) *message.Message {
	t.Helper()
	return s.msgFor(t, typ, at, s.addr(), "", fields)
}

func (s signer) msgFor(t *testing.T, typ message.Type, at float64, owner, channel string, fields map[string]any) *message.Message {
	t.Helper()
	content := map[string]any{"address": owner, "time": at}
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
	m, err := message.Decode(raw)
	require.NoError(t, err)
	require.NoError(t, m.Verify())
	return m
}

// file stores bytes in the local content store and returns their hash.
func (e *env) file(data string) string {
	e.t.Helper()
	h, _, err := e.content.AddStorage(e.t.Context(), strings.NewReader(data), 1<<30)
	require.NoError(e.t, err)
	return h
}

// handlerFor returns the handler of a message type.
func (e *env) handlerFor(m *message.Message) handler.Handler {
	switch m.Type {
	case message.TypeStore:
		return e.store
	case message.TypePost:
		return e.post
	}
	return e.vm
}

// apply runs m through its handler the way the pipeline does: fetch stage,
// then dependencies, permissions, balance, the messages row, the cost
// rows and Process, in one transaction, committed when every step passed.
// It returns the cost rows and the first failure.
func (e *env) apply(m *message.Message) ([]handler.Cost, error) {
	e.t.Helper()
	ctx := e.t.Context()
	h := e.handlerFor(m)
	if err := h.FetchRelated(ctx, m); err != nil {
		return nil, err
	}
	var costs []handler.Cost
	var stepErr error
	err := e.withTx(func(tx *ent.Tx) error {
		if stepErr = h.CheckDependencies(ctx, tx, m); stepErr != nil {
			return nil
		}
		if stepErr = h.CheckPermissions(ctx, tx, m); stepErr != nil {
			return nil
		}
		if costs, stepErr = h.CheckBalance(ctx, tx, m); stepErr != nil {
			return nil
		}
		if err := insertMessage(ctx, tx, m, costs); err != nil {
			return err
		}
		if stepErr = h.Process(ctx, tx, m); stepErr != nil {
			// Process changed the database: roll back, as the pipeline
			// does before it rejects or retries the message.
			return errRolledBack
		}
		return nil
	})
	if err != errRolledBack {
		require.NoError(e.t, err)
	}
	return costs, stepErr
}

// errRolledBack ends a transaction whose Process step failed.
var errRolledBack = errors.New("rolled back")

// mustApply applies m and requires success.
func (e *env) mustApply(m *message.Message) []handler.Cost {
	e.t.Helper()
	costs, err := e.apply(m)
	require.NoError(e.t, err)
	return costs
}

// forget undoes m with its handler (and the VMs it cascades to), as a
// FORGET does, deleting the messages rows.
func (e *env) forget(hash string) []string {
	e.t.Helper()
	ctx := e.t.Context()
	var all []string
	require.NoError(e.t, e.withTx(func(tx *ent.Tx) error {
		queue := []string{hash}
		for len(queue) > 0 {
			h := queue[0]
			queue = queue[1:]
			row, err := tx.Message.Get(ctx, h)
			if err != nil {
				return err
			}
			var hd handler.Handler = e.vm
			if row.Type == string(message.TypeStore) {
				hd = e.store
			}
			more, err := hd.Forget(ctx, tx, row)
			if err != nil {
				return err
			}
			if _, err := tx.AccountCost.Delete().Where(accountcost.ItemHash(h)).Exec(ctx); err != nil {
				return err
			}
			if err := tx.Message.DeleteOneID(h).Exec(ctx); err != nil {
				return err
			}
			all = append(all, h)
			queue = append(queue, more...)
		}
		return nil
	}))
	return all
}

func (e *env) withTx(f func(tx *ent.Tx) error) error {
	tx, err := e.db.Client.Tx(e.t.Context())
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs f in a read transaction.
func (e *env) read(f func(ctx context.Context, tx *ent.Tx)) {
	e.t.Helper()
	require.NoError(e.t, e.withTx(func(tx *ent.Tx) error { f(e.t.Context(), tx); return nil }))
}

// insertMessage writes the messages and account_costs rows as the
// pipeline does before Process.
func insertMessage(ctx context.Context, tx *ent.Tx, m *message.Message, costs []handler.Cost) error {
	b := m.Content.Base()
	c := tx.Message.Create().SetID(m.ItemHash).SetType(string(m.Type)).SetChain(string(m.Chain)).
		SetSender(m.Sender).SetItemType(string(m.ItemType)).SetContent(b.JSON()).
		SetTime(message.Timestamp(m.Time)).SetSize(int64(b.Size)).SetReceptionTime(time.Now()).SetOwner(m.Owner())
	if s := m.ContentRef(); s != "" {
		c.SetContentRef(s)
	}
	if s := m.ContentItemHash(); s != "" {
		c.SetContentItemHash(s)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("insert message: %w", err)
	}
	for _, k := range costs {
		if err := tx.AccountCost.Create().SetOwner(m.Owner()).SetItemHash(m.ItemHash).SetType(k.Type).
			SetName(k.Name).SetNillableRef(k.Ref).SetPaymentType(k.PaymentType).SetCostHold(k.Hold).
			SetCostStream(k.Stream).SetCostCredit(k.Credit).Exec(ctx); err != nil {
			return fmt.Errorf("insert cost: %w", err)
		}
	}
	return nil
}

// requireCode requires err to carry code.
func requireCode(t *testing.T, err error, code errcode.Code) *errcode.Error {
	t.Helper()
	require.Error(t, err)
	got, ok := errcode.CodeOf(err)
	require.True(t, ok, "no code in %v", err)
	require.Equal(t, code, got, "%v", err)
	var e *errcode.Error
	require.ErrorAs(t, err, &e)
	return e
}

// storeMsg is a STORE of a storage file.
func storeMsg(t *testing.T, s signer, at float64, hash string, extra map[string]any) *message.Message {
	t.Helper()
	f := map[string]any{"item_type": "storage", "item_hash": hash}
	for k, v := range extra {
		f[k] = v
	}
	return s.msg(t, message.TypeStore, at, f)
}

// balancesPost is a balances-update of the oracle.
func (e *env) balancesPost(height int, balances map[string]any) *message.Message {
	e.t.Helper()
	return e.oracle.msg(e.t, message.TypePost, tPaid, map[string]any{
		"type": "balances-update", "content": map[string]any{"chain": "ETH", "main_height": height, "balances": balances},
	})
}

// creditPost is a credit post in the ALEPH_CREDIT channel.
func (e *env) creditPost(from signer, typ string, at float64, body map[string]any) *message.Message {
	e.t.Helper()
	return from.msgFor(e.t, message.TypePost, at, from.addr(), "ALEPH_CREDIT", map[string]any{"type": typ, "content": body})
}

// distribution is a credit distribution of the oracle.
func (e *env) distribution(at float64, credits ...map[string]any) *message.Message {
	e.t.Helper()
	list := make([]any, len(credits))
	for i, c := range credits {
		list[i] = c
	}
	return e.creditPost(e.oracle, "aleph_credit_distribution", at, map[string]any{
		"distribution": map[string]any{"token": "ALEPH", "chain": "ETH", "credits": list},
	})
}
