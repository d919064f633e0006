package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/bench/baseline"
	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/graph"
)

// TestDirectExecutionAnswersAsGqlgen sends the same requests to a node
// executing common queries directly and to one running everything through
// gqlgen's generic executor (WithGenericExecution), over the same rows,
// and requires byte-identical answers: the benchmark's queries, every
// plain field of messages, posts and aggregates, aliases, fragments,
// @skip/@include, __typename, backward pages, the confirmation order,
// strings that need escaping, and requests that fail (bad arguments, bad
// cursors), half-direct ones and several roots at once.
func TestDirectExecutionAnswersAsGqlgen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := seedFixture(t, db.Client, 6)
		odd := hashOf("odd strings")
		addMessage(t, db.Client, odd, "POST", "quote\" back\\slash é \u2028 tab\t", 100, func(m *ent.MessageCreate) {
			m.SetContentType("ünïcode\n").SetTags([]string{"a\"b", "ç"}).SetPaymentType("credit").
				SetContent(json.RawMessage(`{"s": "x\u00e9\"y", "n": [1, 2.50, {"k": null}]}`)).SetContentRef("ref</script>")
		})
		db.Client.Aggregate.Create().SetOwner("0xalice").SetKey("k\"2").SetContent(json.RawMessage(`{"a": [ 1 ,2 ]}`)).
			SetCreationDatetime(base).SetLastUpdated(base.Add(3e9)).SetLastRevisionHash(odd).SetElementCount(3).SaveX(t.Context())

		serve := func(opts ...graph.Option) string {
			schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), opts...)
			require.NoError(t, err)
			srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
			t.Cleanup(srv.Close)
			return srv.URL
		}
		direct, generic := serve(), serve(graph.WithGenericExecution())
		raw := func(url, query string, vars map[string]any) string {
			t.Helper()
			body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
			require.NoError(t, err)
			res, err := http.Post(url, "application/json", bytes.NewReader(body))
			require.NoError(t, err)
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			return res.Status + "\n" + string(b)
		}
		var endCursor string
		{
			var page struct {
				Data struct {
					Messages struct{ PageInfo struct{ EndCursor string } }
				}
			}
			_, body, _ := bytes.Cut([]byte(raw(generic, `{ messages(first: 3) { pageInfo { endCursor } } }`, nil)), []byte("\n"))
			require.NoError(t, json.Unmarshal(body, &page))
			endCursor = page.Data.Messages.PageInfo.EndCursor
			require.NotEmpty(t, endCursor)
		}
		const allMessage = `__typename id hash type chain sender signature itemType itemContent content time channel size owner
			contentType contentRef contentKey contentItemHash paymentType tags receptionTime firstConfirmedAt firstConfirmedHeight`
		cases := []struct {
			name  string
			query string
			vars  map[string]any
		}{
			{"feed", baseline.FeedQuery, map[string]any{"filter": map[string]any{"channels": []string{"FEED"}}}},
			{"feed after", baseline.FeedQuery, map[string]any{"filter": nil, "after": endCursor}},
			{"empty feed", baseline.FeedQuery, map[string]any{"filter": map[string]any{"channels": []string{"NONE"}}}},
			{"count", baseline.CountQuery, map[string]any{"channel": "FEED"}},
			{"address", baseline.AddressQuery, map[string]any{"address": "0xalice"}},
			{"address unknown", baseline.AddressQuery, map[string]any{"address": "0xnobody"}},
			{"message post", baseline.MessageQuery, map[string]any{"hash": f.posts[1]}},
			{"message store", baseline.MessageQuery, map[string]any{"hash": f.stores[0]}},
			{"message odd", baseline.MessageQuery, map[string]any{"hash": odd}},
			{"message rejected", baseline.MessageQuery, map[string]any{"hash": f.rejected}},
			{"message forgotten", baseline.MessageQuery, map[string]any{"hash": f.forgot}},
			{"message unknown", baseline.MessageQuery, map[string]any{"hash": "nope"}},
			{"every message field", `{ messages(first: 50) { __typename totalCount countIsExact
				pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
				edges { __typename cursor node { ` + allMessage + ` } } } }`, nil},
			{"message every field", `query($h: String!) { message(hash: $h) { ` + allMessage + ` } }`, map[string]any{"h": odd}},
			{"aliases fragments directives", `query($yes: Boolean!, $no: Boolean!) {
				a: messages(first: 4, filter: {types: [POST]}) { e: edges { c: cursor n: node { h: hash ...F ... on Node { id }
					... on Message { chain @include(if: $yes) sender @skip(if: $yes) hash } owner @include(if: $no) } }
					p: pageInfo { ...P } }
				b: messages(last: 2, before: null) { edges { node { hash } } pageInfo { ...P } totalCount }
				__typename }
				fragment F on Message { time type itemType tags }
				fragment P on PageInfo { startCursor endCursor hasNextPage hasPreviousPage }`, map[string]any{"yes": true, "no": false}},
			{"backward from a cursor", `query($c: Cursor) { messages(last: 2, before: $c) { edges { cursor node { hash } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
				map[string]any{"c": endCursor}},
			{"forward from a cursor", `query($c: Cursor) { messages(first: 2, after: $c) { edges { cursor node { hash } } pageInfo { hasNextPage hasPreviousPage } } }`,
				map[string]any{"c": endCursor}},
			{"confirmation order", `{ messages(first: 20, orderBy: {field: CONFIRMATION_TIME, direction: ASC}) { edges { cursor node { hash firstConfirmedAt } } } }`, nil},
			{"posts every field", `{ posts(first: 10) { totalCount countIsExact edges { cursor node { __typename id hash owner type ref channel content tags createdAt lastUpdated latestAmendHash } } pageInfo { endCursor hasNextPage } } }`, nil},
			{"posts without merged fields", `{ posts(last: 3) { edges { node { hash type createdAt } } } }`, nil},
			{"aggregates every field", `{ aggregates(first: 10, filter: {owners: ["0xalice"]}) { totalCount edges { cursor node { __typename id owner key content createdAt lastUpdated lastRevisionHash elementCount } } pageInfo { hasNextPage endCursor } } }`, nil},
			{"root typename only", `{ __typename }`, nil},
			{"half direct", `{ messages(first: 3) { edges { node { hash status { status } confirmations { txHash } } } } }`, nil},
			{"negative first", `{ messages(first: -1) { edges { node { hash } } } }`, nil},
			{"page too large", `{ posts(first: 100000) { edges { node { hash } } } }`, nil},
			{"malformed cursor", `{ messages(after: "not a cursor") { edges { node { hash } } } }`, nil},
			{"first and last", `{ aggregates(first: 1, last: 1) { edges { node { key } } } }`, nil},
			{"one root fails", `{ messages(first: 1) { edges { node { hash } } } posts(first: -2) { totalCount } }`, nil},
			{"bad variable", baseline.MessageQuery, map[string]any{"hash": 12}},
			{"unknown field", `{ messages { edges { node { nope } } } }`, nil},
		}
		for _, c := range cases {
			want := raw(generic, c.query, c.vars)
			require.Equal(t, want, raw(direct, c.query, c.vars), c.name)
		}
	})
}
