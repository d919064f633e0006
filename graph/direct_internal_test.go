package graph

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"

	"github.com/alephql/alephql/bench/baseline"
)

// TestDirectRootsTakesCommonQueries checks which operations directSchema
// executes itself: the benchmark's queries and plain-field selections do,
// one field needing a loader or an unknown kind of root does not (those
// run through gqlgen; TestDirectExecutionAnswersAsGqlgen checks that both
// answer the same bytes).
func TestDirectRootsTakesCommonQueries(t *testing.T) {
	for _, c := range []struct {
		query  string
		direct bool
	}{
		{baseline.FeedQuery, true},
		{baseline.CountQuery, true},
		{baseline.MessageQuery, true},
		{baseline.AddressQuery, true},
		{`{ __typename a: messages { edges { node { ... on Node { id } ...F } } } } fragment F on Message { tags paymentType }`, true},
		{`query($x: Boolean!) { messages { edges { node { hash status @include(if: $x) { status } } } } }`, true},
		{`{ messages { edges { node { hash status { status } } } } }`, false},
		{`{ messages { edges { node { confirmed } } } }`, false},
		{`{ posts { edges { node { amends { hash } } } } }`, false},
		{`{ aggregates { edges { node { elements { totalCount } } } } }`, false},
		{`{ messages { edges { node { hash } } } account(address: "a") { address } }`, false},
		{`{ __schema { queryType { name } } }`, false},
	} {
		doc, err := gqlparser.LoadQuery(parsedSchema, c.query)
		require.Empty(t, err, c.query)
		oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{"x": false}}
		roots := graphql.CollectFields(oc, oc.Operation.SelectionSet, queryImplementors)
		require.Equal(t, c.direct, directRoots(oc, roots), c.query)
	}
}
