// Package graph is alephql's GraphQL API: the gqlgen schema under schema/,
// the resolvers, the dataloaders, the live-event hub and the HTTP handler
// that serves them with their limits. It reads state through ent only; it
// never imports the processor: submissions go through the Submitter
// interface declared here and wired in cmd.
package graph

import (
	"errors"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/graph/cache"
	"github.com/alephql/alephql/graph/model"
	"github.com/alephql/alephql/live"
	"github.com/alephql/alephql/read"
)

// Limits are the API's bounds on what one request may ask.
type Limits struct {
	// MaxPageSize bounds first/last on every list, and the number of values
	// of each filter criterion. Default 200.
	MaxPageSize int
	// DefaultPageSize applies when neither first nor last is given. Default 20.
	DefaultPageSize int
	// MaxDepth bounds the nesting of a query's selections (introspection
	// excluded). Default 12.
	MaxDepth int
	// MaxComplexity bounds a query's complexity (one point per field, times
	// the page size for lists). Default 5000.
	MaxComplexity int
}

// Validate fills defaults and reports invalid settings.
func (l *Limits) Validate() error {
	if l.MaxPageSize == 0 {
		l.MaxPageSize = 200
	}
	if l.DefaultPageSize == 0 {
		l.DefaultPageSize = min(20, l.MaxPageSize)
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = 12
	}
	if l.MaxComplexity == 0 {
		l.MaxComplexity = 5000
	}
	switch {
	case l.MaxPageSize < 1:
		return errors.New("max page size must be positive")
	case l.DefaultPageSize < 1 || l.DefaultPageSize > l.MaxPageSize:
		return errors.New("default page size must be between 1 and the max page size")
	case l.MaxDepth < 2:
		return errors.New("max depth must be at least 2")
	case l.MaxComplexity < 10:
		return errors.New("max complexity must be at least 10")
	}
	return nil
}

// Options are the optional dependencies and settings of the schema.
type Options struct {
	// CountTimeout bounds a totalCount that no counter answers; past it the
	// count is an estimate (countIsExact false). Default 2 s.
	CountTimeout time.Duration
	// SubmitTimeout bounds how long submitMessage(sync: true) waits for the
	// processing result before it answers PENDING. Default 5 s; the wait
	// also ends before the request's own deadline, so that a message still
	// pending (an amend waiting for its original) gets its PENDING result
	// rather than the request's TIMEOUT error.
	SubmitTimeout time.Duration
	// Submitter takes submitted messages in; nil: submitMessage answers
	// UNAVAILABLE.
	Submitter Submitter
	// Hub delivers live events to subscriptions; nil: subscriptions answer
	// UNAVAILABLE.
	Hub *Hub
	// ErrorNames names the protocol's error codes (rejections show them).
	ErrorNames map[int]string
	// Cache caches hot rows (see WithCache); nil: no cache.
	Cache cache.Cache
	// CacheMetrics counts cache lookups (see WithCacheMetrics); nil: none.
	CacheMetrics *cache.Metrics
	// LoaderWait is how long a dataloader waits for more keys before it
	// queries: longer batches more under load, shorter answers sooner.
	// Default 2 ms.
	LoaderWait time.Duration
	// GenericExecution runs every query through gqlgen's generic executor,
	// without the direct execution of common queries (see directSchema):
	// the same answers, slower. For comparisons and as a way out.
	GenericExecution bool
	// Network reports the network sources (see WithNetworkStatus); nil:
	// networkStatus is empty.
	Network NetworkStatus
	// Chains reports the chain readers (see WithChainStatus); nil:
	// chainSources is empty.
	Chains ChainStatus
}

// Option sets an Option field.
type Option func(*Options)

// WithSubmitter sets the message intake of submitMessage.
func WithSubmitter(s Submitter) Option { return func(o *Options) { o.Submitter = s } }

// WithHub sets the hub of live subscriptions.
func WithHub(h *Hub) Option { return func(o *Options) { o.Hub = h } }

// WithCountTimeout sets Options.CountTimeout.
func WithCountTimeout(d time.Duration) Option { return func(o *Options) { o.CountTimeout = d } }

// WithSubmitTimeout sets Options.SubmitTimeout.
func WithSubmitTimeout(d time.Duration) Option { return func(o *Options) { o.SubmitTimeout = d } }

// WithLoaderWait sets Options.LoaderWait.
func WithLoaderWait(d time.Duration) Option { return func(o *Options) { o.LoaderWait = d } }

// WithGenericExecution sets Options.GenericExecution.
func WithGenericExecution() Option { return func(o *Options) { o.GenericExecution = true } }

// WithErrorNames sets Options.ErrorNames.
func WithErrorNames(names map[int]string) Option { return func(o *Options) { o.ErrorNames = names } }

// Resolver is the root resolver. It holds the dependencies resolvers share
// and no mutable state.
type Resolver struct {
	client *ent.Client
	limits Limits
	opts   Options
	log    *slog.Logger

	// reader answers lists, counts and lookups (package read).
	reader *read.Reader

	// outboxEnds shares the cache checks' reads of the outbox end (set
	// with a hub).
	outboxEnds *live.EndReader
}

// NewSchema returns the executable schema over client.
func NewSchema(limits Limits, client *ent.Client, log *slog.Logger, opts ...Option) (graphql.ExecutableSchema, error) {
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	o := Options{CountTimeout: 2 * time.Second, SubmitTimeout: 5 * time.Second, LoaderWait: 2 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	if o.CountTimeout <= 0 || o.SubmitTimeout <= 0 || o.LoaderWait <= 0 {
		return nil, errors.New("count, submit and loader timeouts must be positive")
	}
	reader, err := read.New(read.Config{CountTimeout: o.CountTimeout}, client)
	if err != nil {
		return nil, err
	}
	r := &Resolver{client: client, reader: reader, limits: limits, opts: o, log: log.With("component", "graphql")}
	if o.Hub != nil {
		r.outboxEnds = live.NewEndReader(o.Hub.OutboxEnd)
	}
	c := Config{Resolvers: r}
	list := func(child int, first, last *int) int { return 1 + child*pageSize(first, last, limits.DefaultPageSize) }
	c.Complexity.Query.Messages = func(child int, _ *model.MessageFilter, _ *model.MessageOrder, first *int, _ *string, last *int, _ *string) int {
		return list(child, first, last)
	}
	c.Complexity.Query.Posts = func(child int, _ *model.PostFilter, first *int, _ *string, last *int, _ *string) int {
		return list(child, first, last)
	}
	c.Complexity.Query.Aggregates = func(child int, _ *model.AggregateFilter, first *int, _ *string, last *int, _ *string) int {
		return list(child, first, last)
	}
	c.Complexity.Query.Files = func(child int, _ *model.FileFilter, first *int, _ *string, last *int, _ *string) int {
		return list(child, first, last)
	}
	c.Complexity.Query.Vms = func(child int, _ *model.VMFilter, first *int, _ *string, last *int, _ *string) int {
		return list(child, first, last)
	}
	c.Complexity.Query.Channels = func(child int, first *int, _ *string) int { return list(child, first, nil) }
	c.Complexity.Aggregate.Elements = func(child int, first *int, _ *string) int { return list(child, first, nil) }
	c.Complexity.Query.Nodes = func(child int, ids []string) int { return 1 + child*len(ids) }
	es := NewExecutableSchema(c)
	if !o.GenericExecution {
		es = newDirectSchema(es)
	}
	return loaderSchema{ExecutableSchema: es, r: r}, nil
}

// pageSize is the number of items a list will return at most, for
// complexity accounting.
func pageSize(first, last *int, def int) int {
	switch {
	case first != nil && *first > 0:
		return *first
	case last != nil && *last > 0:
		return *last
	}
	return def
}
