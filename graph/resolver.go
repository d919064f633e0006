// Package graph is alephql's GraphQL API: the gqlgen schema under schema/,
// the resolvers, and the HTTP handler that serves them with its limits.
// It reads state through ent only; it never imports the processor.
package graph

import (
	"errors"
	"log/slog"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/alephql/alephql/ent"
)

// Limits are the API's bounds on what one request may ask.
type Limits struct {
	// MaxPageSize bounds first/last on every list. Default 200.
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
		l.DefaultPageSize = 20
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

// Resolver is the root resolver. It holds the dependencies resolvers share
// and no mutable state.
type Resolver struct {
	client *ent.Client
	limits Limits
	log    *slog.Logger
}

// NewSchema returns the executable schema over client.
func NewSchema(limits Limits, client *ent.Client, log *slog.Logger) (graphql.ExecutableSchema, error) {
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	r := &Resolver{client: client, limits: limits, log: log.With("component", "graphql")}
	c := Config{Resolvers: r}
	c.Complexity.Query.Messages = func(child int, _ *entgql.Cursor[string], first *int, _ *entgql.Cursor[string], last *int, _ *ent.MessageOrder) int {
		return 1 + child*pageSize(first, last, limits.DefaultPageSize)
	}
	return NewExecutableSchema(c), nil
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
