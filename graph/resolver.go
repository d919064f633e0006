// Package graph is alephql's GraphQL API: the gqlgen schema under schema/,
// resolvers, and the HTTP handler that serves them.
package graph

import (
	"log/slog"

	"github.com/alephql/alephql/ent"
)

// Resolver is the root resolver. It holds the dependencies resolvers share;
// it has no mutable state of its own.
type Resolver struct {
	client *ent.Client
	log    *slog.Logger
}
