package graph

import (
	"context"
	"fmt"

	"github.com/alephql/alephql/graph/model"
)

// ChainStatus reports the chain readers and publishers of this node
// (implemented over the indexer's in-memory status and the database,
// wired in cmd).
type ChainStatus interface {
	ChainSources(ctx context.Context) ([]*model.ChainSource, error)
}

// ChainStatusFunc adapts a function to ChainStatus.
type ChainStatusFunc func(ctx context.Context) ([]*model.ChainSource, error)

// ChainSources calls f.
func (f ChainStatusFunc) ChainSources(ctx context.Context) ([]*model.ChainSource, error) {
	return f(ctx)
}

// WithChainStatus sets the source of the chainSources query (none: an
// empty list).
func WithChainStatus(s ChainStatus) Option { return func(o *Options) { o.Chains = s } }

// chainSources answers the chainSources query.
func (r *Resolver) chainSources(ctx context.Context) ([]*model.ChainSource, error) {
	if r.opts.Chains == nil {
		return []*model.ChainSource{}, nil
	}
	s, err := r.opts.Chains.ChainSources(ctx)
	if err != nil {
		return nil, fmt.Errorf("chain sources: %w", err) // INTERNAL_SERVER_ERROR
	}
	return s, nil
}
