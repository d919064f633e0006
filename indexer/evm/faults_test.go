package evm_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm"
	"github.com/alephql/alephql/processor/demo"
)

// faultyRPC stands between the reader and a real geth: while down, every
// call fails as a dead endpoint does; eth_getLogs over more than limit
// blocks fails as providers do (-32005).
type faultyRPC struct {
	next evm.Client

	mu        sync.Mutex
	down      bool
	downCalls int
	limit     int64
	oversized int
	maxServed int64
}

type limitError struct{}

func (limitError) Error() string  { return "query returned more than 10000 results" }
func (limitError) ErrorCode() int { return -32005 }

var errDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

func (f *faultyRPC) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	f.mu.Lock()
	if f.down {
		f.downCalls++
		f.mu.Unlock()
		return nil, errDown
	}
	f.mu.Unlock()
	return f.next.HeaderByNumber(ctx, n)
}

func (f *faultyRPC) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	f.mu.Lock()
	if f.down {
		f.downCalls++
		f.mu.Unlock()
		return nil, errDown
	}
	span := q.ToBlock.Int64() - q.FromBlock.Int64() + 1
	if span > f.limit {
		f.oversized++
		f.mu.Unlock()
		return nil, limitError{}
	}
	f.maxServed = max(f.maxServed, span)
	f.mu.Unlock()
	return f.next.FilterLogs(ctx, q)
}

func (f *faultyRPC) set(fn func(f *faultyRPC)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// TestReaderRPCFaults: with the RPC down the reader backs off and
// resumes with nothing lost once it is back; a node refusing large
// eth_getLogs ranges (-32005) makes it halve its window. Real geth behind
// the faults; both back-ends.
func TestReaderRPCFaults(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		d := gethDev(t)
		emitter := d.newAccount()
		c, deployed := d.deploy(emitter)
		n := newNode(t, db)
		alice, err := demo.NewAccount()
		require.NoError(t, err)
		var hashes []string
		var last uint64
		for i := range 3 {
			m, h, err := alice.Post(float64(time.Now().Unix()+int64(i)), "TEST", "faults", map[string]any{"i": i}, "")
			require.NoError(t, err)
			hashes = append(hashes, h)
			last = d.emit(c, emitter, syncPayload(indexer.ProtocolAleph, map[string]any{"messages": []json.RawMessage{m}})).BlockNumber.Uint64()
		}
		d.finalize(last)

		rpc := &faultyRPC{next: d.client, down: true, limit: 2}
		n.run(evm.Config{Chain: "ETH", Contract: c.Address(), StartHeight: int64(deployed),
			Emitters: []common.Address{emitter.addr}, Window: 64}, rpc)
		require.Eventually(t, func() bool {
			var k int
			rpc.set(func(f *faultyRPC) { k = f.downCalls })
			return k >= 3
		}, 20*time.Second, 10*time.Millisecond, "the reader keeps trying while the RPC is down")
		cur, ok, err := n.p.ChainCursor(t.Context(), "ETH", indexer.KindSync)
		require.NoError(t, err)
		require.False(t, ok, "nothing read while down: %+v", cur)
		rpc.set(func(f *faultyRPC) { f.down = false })

		require.Eventually(t, func() bool {
			for _, h := range hashes {
				if n.status(h) != "processed" || len(n.confirmations(h)) != 1 {
					return false
				}
			}
			return true
		}, 30*time.Second, 50*time.Millisecond)
		rpc.set(func(f *faultyRPC) {
			require.Positive(t, f.oversized, "the node refused a large range")
			require.LessOrEqual(t, f.maxServed, f.limit)
		})
		cur, ok, err = n.p.ChainCursor(t.Context(), "ETH", indexer.KindSync)
		require.NoError(t, err)
		require.True(t, ok)
		require.GreaterOrEqual(t, cur.Height, int64(last))
	})
}
