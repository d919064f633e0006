package processor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/ent/rejectedmessage"
	"github.com/alephql/alephql/processor"
	"github.com/alephql/alephql/processor/demo"
)

// clock is a settable test clock.
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

// env is one processor on one test database.
type env struct {
	t   *testing.T
	db  *database.DB
	p   *processor.Processor
	clk *clock
	ctx context.Context
}

func newEnv(t *testing.T, db *database.DB, cfg processor.Config) *env {
	t.Helper()
	clk := &clock{t: time.Now().UTC()}
	p, err := processor.New(cfg, processor.Deps{DB: db, Log: dbtest.Logger(), Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, p.SeedErrorCodes(t.Context()))
	return &env{t: t, db: db, p: p, clk: clk, ctx: t.Context()}
}

// submit submits raw messages and requires them queued.
func (e *env) submit(raws ...[]byte) {
	e.t.Helper()
	for _, raw := range raws {
		r, err := e.p.Submit(e.ctx, raw, processor.OriginAPI, nil)
		require.NoError(e.t, err)
		require.Equal(e.t, processor.Queued, r.Outcome)
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

// status returns the status of a message.
func (e *env) status(hash string) messagestatus.Status {
	e.t.Helper()
	s, err := e.db.Client.MessageStatus.Get(e.ctx, hash)
	require.NoError(e.t, err)
	return s.Status
}

// rejectedCode returns the rejection code of a message.
func (e *env) rejectedCode(hash string) int {
	e.t.Helper()
	r, err := e.db.Client.RejectedMessage.Query().Where(rejectedmessage.ID(hash)).Only(e.ctx)
	require.NoError(e.t, err)
	return r.ErrorCode
}

// post returns the posts row.
func (e *env) post(hash string) *ent.Post {
	e.t.Helper()
	p, err := e.db.Client.Post.Get(e.ctx, hash)
	require.NoError(e.t, err)
	return p
}

// must unwraps a demo signing result.
func must(t *testing.T) func(raw []byte, hash string, err error) ([]byte, string) {
	return func(raw []byte, hash string, err error) ([]byte, string) {
		t.Helper()
		require.NoError(t, err)
		return raw, hash
	}
}

// account makes a demo account.
func account(t *testing.T) *demo.Account {
	t.Helper()
	a, err := demo.NewAccount()
	require.NoError(t, err)
	return a
}

// base is a fixed epoch for test message times.
const base = 1_700_000_000.0

// demoMsg builds a demo.Msg.
func demoMsg(typ, channel string, t float64, c map[string]any) demo.Msg {
	return demo.Msg{Type: typ, Channel: channel, Time: t, Content: c}
}

// entCount is the count aggregate.
func entCount() ent.AggregateFunc { return ent.Count() }
