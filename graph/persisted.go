package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodePersistedQueryNotAllowed: the node serves only its allow-listed
// (persisted) operations and the request named none of them.
const CodePersistedQueryNotAllowed = "PERSISTED_QUERY_NOT_ALLOWED"

// LoadPersistedQueries reads an allowlist of operations: a JSON object
// mapping the hex sha256 of each query's text to the text, as automatic
// persisted queries hash them. Every hash is checked against its text.
func LoadPersistedQueries(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read persisted queries: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("persisted queries %s: want a JSON object of sha256 hash to query: %w", path, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("persisted queries %s: no query", path)
	}
	for h, q := range m {
		sum := sha256.Sum256([]byte(q))
		if hex.EncodeToString(sum[:]) != h {
			return nil, fmt.Errorf("persisted queries %s: %s is not the sha256 of its query", path, h)
		}
	}
	return m, nil
}

// persistedOnly serves only allow-listed operations (HandlerConfig's
// PersistedQueries), for public deployments: a request names one by its
// hash in extensions.persistedQuery.sha256Hash, as automatic persisted
// queries do, with or without its text; anything else is refused with
// PERSISTED_QUERY_NOT_ALLOWED, and no new query is ever registered.
type persistedOnly struct{ queries map[string]string }

// ExtensionName implements graphql.HandlerExtension.
func (persistedOnly) ExtensionName() string { return "PersistedOnly" }

// Validate implements graphql.HandlerExtension.
func (persistedOnly) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (p persistedOnly) MutateOperationParameters(_ context.Context, raw *graphql.RawParams) *gqlerror.Error {
	var hash string
	if pq, ok := raw.Extensions["persistedQuery"].(map[string]any); ok {
		hash, _ = pq["sha256Hash"].(string)
	}
	q, ok := p.queries[hash]
	if !ok || (raw.Query != "" && raw.Query != q) {
		return userError(CodePersistedQueryNotAllowed,
			"this node serves only its persisted queries: send extensions.persistedQuery.sha256Hash of one of them")
	}
	raw.Query = q
	return nil
}

// Interface guards
var (
	_ graphql.HandlerExtension          = persistedOnly{}
	_ graphql.OperationParameterMutator = persistedOnly{}
)
