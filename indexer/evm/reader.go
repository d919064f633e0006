package evm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/alephql/alephql/indexer"
	"github.com/alephql/alephql/indexer/evm/alephsync"
)

// Client is what the reader asks an EVM node (ethclient.Client has it).
type Client interface {
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error)
}

// Deps are a Reader's collaborators.
type Deps struct {
	// Client is the chain's RPC client (required).
	Client Client
	// Sink records what is read (required).
	Sink indexer.ChainSink
	// Metrics, if set, counts what the reader does.
	Metrics *indexer.Metrics
	// Log is the logger.
	Log *slog.Logger
	// Wake, if set, is signalled (without blocking) after each commit
	// that recorded transactions: the expander's wake-up.
	Wake chan<- struct{}
}

// Status is a reader's state, for status queries.
type Status struct {
	Chain      string
	Cursor     indexer.Cursor
	SafeHead   int64
	LastError  string
	LastErrAt  time.Time
	UpdatedAt  time.Time
	CursorTime time.Time
}

// Reader follows the sync contract of one EVM chain: it reads its
// SyncEvents and MessageEvents with eth_getLogs over
// [cursor+1, min(safe head, cursor+window)] and commits the chain
// transactions with the new cursor in one transaction.
type Reader struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	abi    *alephsync.AlephSync
	topics []common.Hash
	auth   map[common.Address]bool

	window int64 // current eth_getLogs range

	mu     sync.Mutex
	status Status
}

// Event signatures of the sync contract (spec §6.2).
var (
	SyncEventTopic    = common.HexToHash("0x2cc768a3de0c950ea2a38e55a9b143cc6fd5a8eec27e36993b542fb16ab591e1")
	MessageEventTopic = common.HexToHash("0x548eda6c65f4bd05085e450712b22cfb19c58816b453f69294a94e78db9ab32b")
)

// New returns a Reader.
func New(cfg Config, deps Deps) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Client == nil || deps.Sink == nil {
		return nil, errors.New("evm: no client or sink")
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	cfg = cfg.withDefaults()
	a := alephsync.NewAlephSync()
	auth := map[common.Address]bool{}
	for _, e := range cfg.Emitters {
		auth[e] = true
	}
	return &Reader{
		cfg: cfg, deps: deps, abi: a, auth: auth, window: cfg.Window,
		topics: []common.Hash{a.GetABI().Events["SyncEvent"].ID, a.GetABI().Events["MessageEvent"].ID},
		log:    deps.Log.With("component", "indexer.evm", "chain", cfg.Chain),
		status: Status{Chain: cfg.Chain},
	}, nil
}

// Status returns the reader's state.
func (r *Reader) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Run reads until ctx ends. RPC and database failures are retried with
// back-off; a finalized block that changes (ErrFinalityViolated) stops it.
func (r *Reader) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	lastProgress := time.Time{}
	for {
		more, err := r.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case errors.Is(err, indexer.ErrFinalityViolated):
			r.log.Error("finalized block changed: stopping the chain reader; the node's chain data needs an operator", "err", err)
			r.setErr(err)
			return err
		case err != nil:
			backoff = min(max(2*backoff, r.cfg.BackoffMin), r.cfg.BackoffMax)
			wait = backoff
			r.deps.Metrics.RPCError(r.cfg.Chain)
			r.setErr(err)
			r.log.Warn("chain read failed; retrying", "in", wait, "err", err)
		case more:
			backoff = 0
			if time.Since(lastProgress) >= r.cfg.ProgressEvery {
				st := r.Status()
				r.log.Info("catching up", "height", st.Cursor.Height, "safe_head", st.SafeHead,
					"behind", st.SafeHead-st.Cursor.Height, "window", r.window)
				lastProgress = time.Now()
			}
			continue
		default:
			backoff = 0
			wait = r.cfg.Poll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (r *Reader) setErr(err error) {
	r.mu.Lock()
	r.status.LastError, r.status.LastErrAt = err.Error(), time.Now()
	r.mu.Unlock()
}

// Step reads one window. more reports that the reader is behind the safe
// head (call again at once).
func (r *Reader) Step(ctx context.Context) (more bool, err error) {
	cur, ok, err := r.deps.Sink.ChainCursor(ctx, r.cfg.Chain, indexer.KindSync)
	if err != nil {
		return false, err
	}
	if !ok {
		cur = indexer.Cursor{Height: r.cfg.StartHeight - 1}
	}
	safe, err := r.safeHead(ctx)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	r.status.Cursor, r.status.SafeHead, r.status.UpdatedAt = cur, safe, time.Now()
	r.mu.Unlock()
	r.deps.Metrics.Height(r.cfg.Chain, "cursor", cur.Height)
	r.deps.Metrics.Height(r.cfg.Chain, "safe_head", safe)
	if cur.Hash != "" {
		h, err := r.header(ctx, cur.Height)
		if err != nil {
			return false, err
		}
		if h.Hash().Hex() != cur.Hash {
			return true, r.reorg(ctx, cur, h)
		}
	}
	if cur.Height >= safe {
		return false, nil
	}
	from := cur.Height + 1
	to := min(safe, cur.Height+r.window)
	logs, err := r.deps.Client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(from), ToBlock: big.NewInt(to),
		Addresses: []common.Address{r.cfg.Contract}, Topics: [][]common.Hash{r.topics},
	})
	if err != nil {
		if tooManyResults(err) && r.window > 1 {
			r.window = max(r.window/2, 1)
			r.log.Info("eth_getLogs range too large; halving", "window", r.window, "err", err)
			return true, nil
		}
		return false, fmt.Errorf("eth_getLogs [%d, %d]: %w", from, to, err)
	}
	toHdr, err := r.header(ctx, to)
	if err != nil {
		return false, err
	}
	b := indexer.ChainBatch{Chain: r.cfg.Chain, Kind: indexer.KindSync,
		Cursor: indexer.Cursor{Height: to, Hash: toHdr.Hash().Hex()}}
	follow := r.cfg.Confirmations > 0
	blocks := map[int64]*types.Header{to: toHdr}
	if follow && from < to {
		// The first block must extend the cursor; otherwise the chain
		// reorganised under it (caught at the next step).
		fh, err := r.header(ctx, from)
		if err != nil {
			return false, err
		}
		blocks[from] = fh
		if cur.Hash != "" && fh.ParentHash.Hex() != cur.Hash {
			return true, nil
		}
	} else if follow && cur.Hash != "" && toHdr.ParentHash.Hex() != cur.Hash {
		return true, nil
	}
	seen := map[common.Hash]int{}
	for i := range logs {
		l := &logs[i]
		if l.Removed {
			continue
		}
		n := int64(l.BlockNumber)
		h, ok := blocks[n]
		if !ok && follow {
			if h, err = r.header(ctx, n); err != nil {
				return false, err
			}
			blocks[n] = h
		}
		if h != nil && h.Hash() != l.BlockHash {
			return false, fmt.Errorf("log of block %d has hash %s, the block is %s: the chain moved; reading again", n, l.BlockHash, h.Hash())
		}
		b.Txs = append(b.Txs, r.decode(l, seen))
	}
	if follow {
		for n, h := range blocks {
			b.Blocks = append(b.Blocks, indexer.Block{Number: n, Hash: h.Hash().Hex(), Parent: h.ParentHash.Hex(),
				Time: time.Unix(int64(h.Time), 0).UTC()})
		}
		b.PruneBelow = to - r.cfg.ReorgDepth
	}
	if err := r.deps.Sink.CommitChainBatch(ctx, b); err != nil {
		return false, err
	}
	for _, t := range b.Txs {
		outcome := "read"
		if t.Error != "" {
			outcome = "invalid"
			r.deps.Metrics.Invalid(r.cfg.Chain, t.Reason)
			r.log.Warn("invalid chain transaction", "tx", t.Hash, "height", t.Height, "reason", t.Reason, "err", t.Error)
		}
		r.deps.Metrics.Tx(r.cfg.Chain, t.Protocol, outcome)
	}
	if len(b.Txs) > 0 && r.deps.Wake != nil {
		select {
		case r.deps.Wake <- struct{}{}:
		default:
		}
	}
	r.mu.Lock()
	r.status.Cursor, r.status.CursorTime = b.Cursor, time.Unix(int64(toHdr.Time), 0).UTC()
	r.mu.Unlock()
	r.deps.Metrics.Height(r.cfg.Chain, "cursor", to)
	if r.window < r.cfg.Window {
		r.window = min(r.window*2, r.cfg.Window)
	}
	return to < safe, nil
}

// reorg walks back from a cursor whose block is no longer canonical to
// the highest stored block that still is, and rewinds to it.
func (r *Reader) reorg(ctx context.Context, cur indexer.Cursor, now *types.Header) error {
	if r.cfg.Confirmations == 0 {
		return fmt.Errorf("%w: block %d was %s, is now %s", indexer.ErrFinalityViolated, cur.Height, cur.Hash, now.Hash())
	}
	stored, err := r.deps.Sink.IndexedBlocks(ctx, r.cfg.Chain, int(r.cfg.ReorgDepth))
	if err != nil {
		return err
	}
	for _, bl := range stored {
		if bl.Number > cur.Height {
			continue
		}
		h, err := r.header(ctx, bl.Number)
		if err != nil {
			return err
		}
		if h.Hash().Hex() != bl.Hash {
			continue
		}
		n, err := r.deps.Sink.RewindChain(ctx, r.cfg.Chain, indexer.KindSync, indexer.Cursor{Height: bl.Number, Hash: bl.Hash})
		if err != nil {
			return err
		}
		r.deps.Metrics.Reorg(r.cfg.Chain)
		r.log.Warn("chain reorganisation: rewound to the common ancestor", "from", cur.Height, "to", bl.Number,
			"orphaned_txs", n)
		return nil
	}
	return fmt.Errorf("%w: block %d changed and no stored block down to %d is canonical", indexer.ErrFinalityViolated,
		cur.Height, cur.Height-r.cfg.ReorgDepth)
}

// safeHead is the highest block read: the finalized one, or the head
// minus Confirmations.
func (r *Reader) safeHead(ctx context.Context) (int64, error) {
	if r.cfg.Confirmations == 0 {
		h, err := r.deps.Client.HeaderByNumber(ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
		if err != nil {
			return 0, fmt.Errorf("finalized block: %w", err)
		}
		return h.Number.Int64(), nil
	}
	h, err := r.deps.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("head block: %w", err)
	}
	return h.Number.Int64() - r.cfg.Confirmations, nil
}

func (r *Reader) header(ctx context.Context, n int64) (*types.Header, error) {
	h, err := r.deps.Client.HeaderByNumber(ctx, big.NewInt(n))
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	return h, nil
}

// decode turns a log of the sync contract into a chain transaction. A log
// that is not valid is still a transaction, with its Error set, so that
// it is recorded and never blocks the cursor.
func (r *Reader) decode(l *types.Log, seen map[common.Hash]int) indexer.ChainTx {
	hash := l.TxHash.Hex()
	if n := seen[l.TxHash]; n > 0 {
		hash = fmt.Sprintf("%s-%d", hash, l.Index) // several events in one transaction
	}
	seen[l.TxHash]++
	tx := indexer.ChainTx{Hash: hash, Chain: r.cfg.Chain, Height: int64(l.BlockNumber)}
	bad := func(protocol string, content json.RawMessage, err error) indexer.ChainTx {
		tx.Protocol, tx.Content, tx.Error, tx.Reason = protocol, content, err.Error(), "payload"
		if errors.Is(err, errUnauthorized) {
			tx.Reason = "unauthorized"
		}
		if tx.Time.IsZero() {
			tx.Time = time.Unix(0, 0).UTC()
		}
		return tx
	}
	if len(l.Topics) == 0 {
		return bad("unknown", nil, errors.New("log without topic"))
	}
	switch l.Topics[0] {
	case SyncEventTopic:
		ev, err := r.abi.UnpackSyncEventEvent(l)
		if err == nil && (ev.Timestamp == nil || !ev.Timestamp.IsInt64()) {
			err = errors.New("no timestamp")
		}
		if err != nil {
			return bad("unknown", nil, fmt.Errorf("undecodable SyncEvent: %w", err))
		}
		tx.Time = time.Unix(ev.Timestamp.Int64(), 0).UTC()
		tx.Publisher = ev.Addr.Hex()
		raw, _ := json.Marshal(ev.Message)
		p, err := indexer.ParseSyncPayload(ev.Message)
		if err != nil {
			return bad("unknown", raw, err)
		}
		tx.Protocol, tx.Version = p.Protocol, p.Version
		if !r.auth[ev.Addr] {
			return bad(p.Protocol, raw, fmt.Errorf("%w %s", errUnauthorized, ev.Addr.Hex()))
		}
		tx.Content = p.Content
		return tx
	case MessageEventTopic:
		ev, err := r.abi.UnpackMessageEventEvent(l)
		if err == nil && (ev.Timestamp == nil || !ev.Timestamp.IsInt64()) {
			err = errors.New("no timestamp")
		}
		if err != nil {
			return bad("unknown", nil, fmt.Errorf("undecodable MessageEvent: %w", err))
		}
		tx.Time = time.Unix(ev.Timestamp.Int64(), 0).UTC()
		tx.Publisher = ev.Addr.Hex()
		tx.Protocol, tx.Version = indexer.ProtocolSmartContract, 1
		tx.Content, _ = json.Marshal(indexer.ContractEvent{
			Timestamp: float64(ev.Timestamp.Int64()) * 1000, Address: ev.Addr.Hex(), Height: int64(l.BlockNumber),
			Tx: l.TxHash.Hex(), Type: ev.Msgtype, Content: ev.Msgcontent,
		})
		return tx
	}
	return bad("unknown", nil, fmt.Errorf("unknown event %s", l.Topics[0]))
}

// errUnauthorized: a SyncEvent from an address not in Config.Emitters.
var errUnauthorized = errors.New("SyncEvent from unauthorized emitter")

// tooManyResults reports whether an eth_getLogs error asks for a smaller
// range: -32005 (limit exceeded) and the usual providers' messages.
func tooManyResults(err error) bool {
	var re rpc.Error
	if errors.As(err, &re) && re.ErrorCode() == -32005 {
		return true
	}
	s := strings.ToLower(err.Error())
	for _, m := range []string{"too many results", "query returned more than", "block range", "range too large",
		"limit exceeded", "response size", "exceed maximum block range", "too large", "range is too wide"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}
