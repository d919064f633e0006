package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/ent/chaintx"
	"github.com/alephql/alephql/ent/pendingtx"
	"github.com/alephql/alephql/graph"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/indexer/evm"
	"github.com/alephql/alephql/processor"
)

// chainStatus answers the chainSources query (graph.ChainStatus) from
// the readers' and publisher's in-memory state, the leases this node
// holds and the database (cursors, pending transactions).
type chainStatus struct {
	db      *database.DB
	proc    *processor.Processor
	readers []*evm.Reader
	kinds   []string
	leases  []atomic.Bool
	// pubs are the publishers, by reader (nil where none).
	pubs []*evm.Publisher
	// pubLeases are whether this node holds each publisher's lease.
	pubLeases []atomic.Bool
}

// leased wraps a lease holder's run so that held reports whether it runs.
func leased(held *atomic.Bool, run func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		held.Store(true)
		defer held.Store(false)
		return run(ctx)
	}
}

// ChainSources implements graph.ChainStatus.
func (c *chainStatus) ChainSources(ctx context.Context) ([]*model.ChainSource, error) {
	out := make([]*model.ChainSource, 0, len(c.readers))
	for i, r := range c.readers {
		st := r.Status()
		src := &model.ChainSource{Chain: st.Chain, Kind: c.kinds[i], HoldsLease: c.leases[i].Load()}
		cur, ok, err := c.proc.ChainCursor(ctx, st.Chain, c.kinds[i])
		if err != nil {
			return nil, err
		}
		if ok {
			h, hash := int(cur.Height), cur.Hash
			src.CursorHeight, src.CursorHash = &h, &hash
		}
		if st.SafeHead > 0 {
			sh := int(st.SafeHead)
			src.SafeHead = &sh
			if ok {
				lag := max(0, sh-int(cur.Height))
				src.LagBlocks = &lag
			}
		}
		if !st.CursorTime.IsZero() {
			lag := max(0, time.Since(st.CursorTime).Seconds())
			src.LagSeconds = &lag
		}
		n, err := c.db.Client.PendingTx.Query().Where(pendingtx.HasTxWith(chaintx.Chain(st.Chain))).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("pending txs: %w", err)
		}
		src.PendingTxs = n
		if st.LastError != "" {
			e, at := st.LastError, st.LastErrAt
			src.LastError, src.LastErrorAt = &e, &at
		}
		if i < len(c.pubs) && c.pubs[i] != nil {
			src.Publisher = c.publisher(i)
		}
		out = append(out, src)
	}
	return out, nil
}

func (c *chainStatus) publisher(i int) *model.ChainPublisher {
	ps := c.pubs[i].Status()
	p := &model.ChainPublisher{Address: ps.Address, HoldsLease: c.pubLeases[i].Load()}
	if ps.Last.CID != "" {
		cid, tx, n, at := ps.Last.CID, ps.Last.TxHash, ps.Last.Messages, ps.Last.At
		p.LastCid, p.LastTxHash, p.LastMessages, p.LastPublishedAt = &cid, &tx, &n, &at
	}
	if ps.LastError != "" {
		e, at := ps.LastError, ps.LastErrAt
		p.LastError, p.LastErrorAt = &e, &at
	}
	return p
}

// register adds the figures the indexer's metrics lack: lease holding,
// lag in seconds and pending transactions per chain.
func (c *chainStatus) register(reg prometheus.Registerer) error {
	for i, r := range c.readers {
		chain := r.Status().Chain
		labels := prometheus.Labels{"chain": chain}
		cs := []prometheus.Collector{
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "alephql_chain_reader_lease_held",
				Help: "1 if this node holds the chain reader's lease.", ConstLabels: labels},
				func() float64 { return b2f(c.leases[i].Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "alephql_chain_reader_lag_seconds",
				Help: "Seconds between the reader's cursor block time and now (0 before the first read).", ConstLabels: labels},
				func() float64 {
					if t := r.Status().CursorTime; !t.IsZero() {
						return time.Since(t).Seconds()
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "alephql_chain_pending_txs",
				Help: "Chain transactions whose messages are not all taken in yet.", ConstLabels: labels},
				func() float64 {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					n, err := c.db.Client.PendingTx.Query().Where(pendingtx.HasTxWith(chaintx.Chain(chain))).Count(ctx)
					if err != nil {
						return -1
					}
					return float64(n)
				}),
		}
		if i < len(c.pubs) && c.pubs[i] != nil {
			cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "alephql_chain_publisher_lease_held",
				Help: "1 if this node holds the chain publisher's lease.", ConstLabels: labels},
				func() float64 { return b2f(c.pubLeases[i].Load()) }))
		}
		for _, col := range cs {
			if err := reg.Register(col); err != nil {
				return fmt.Errorf("chain metrics: %w", err)
			}
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// withChainStatus sets the chainSources query's source (none without
// chain readers).
func withChainStatus(c *chainStatus) graph.Option {
	if c == nil {
		return func(*graph.Options) {}
	}
	return graph.WithChainStatus(c)
}
