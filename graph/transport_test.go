package graph

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
)

// TestPostTransportAnswersAsGqlgen: for valid operations (with data from
// the database's JSON, field errors, extensions), malformed bodies and
// invalid operations, postTransport answers the same status, type and
// bytes as gqlgen's POST transport.
func TestPostTransportAnswersAsGqlgen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		tm := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		db.Client.Message.Create().SetID("h1").SetType("POST").SetChain("ETH").SetSender("0xa").SetItemType("inline").
			SetContent(json.RawMessage(`{"b": [1, 2], "a": "x\u00e9\n"}`)).SetTime(tm).SetReceptionTime(tm).SetOwner("0xa").
			SetChannel("C").SaveX(t.Context())
		schema, err := NewSchema(Limits{MaxDepth: 4}, db.Client, dbtest.Logger())
		require.NoError(t, err)
		newServer := func(post bool) *httptest.Server {
			srv := handler.New(schema)
			if post {
				srv.AddTransport(postTransport{})
			} else {
				srv.AddTransport(transport.POST{})
			}
			srv.Use(NewFreshness(db.Client, time.Hour))
			return httptest.NewServer(srv)
		}
		ours, theirs := newServer(true), newServer(false)
		defer ours.Close()
		defer theirs.Close()
		for _, tc := range []struct{ name, body, accept string }{
			{"data with stored JSON", `{"query":"{ messages(first: 5) { edges { cursor node { hash content time } } } }"}`, ""},
			{"variables", `{"query":"query($h: String!) { message(hash: $h) { hash content } }","variables":{"h":"h1"}}`, ""},
			{"field error", `{"query":"{ node(id: \"%%%\") { id } message(hash: \"h1\") { hash } }"}`, ""},
			// A malformed body differs on purpose: 400 BAD_REQUEST, where
			// gqlgen has no code (TestBadRequestBodiesGetClientCodes).
			{"invalid operation", `{"query":"{ nope }"}`, ""},
			{"too deep", `{"query":"{ messages { edges { node { post { original { hash } } } } } }"}`, ""},
			{"graphql-response+json", `{"query":"{ messages { edges { cursor } } }"}`, "application/graphql-response+json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				do := func(url string) (int, string, string) {
					req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(tc.body))
					require.NoError(t, err)
					req.Header.Set("Content-Type", "application/json")
					if tc.accept != "" {
						req.Header.Set("Accept", tc.accept)
					}
					res, err := http.DefaultClient.Do(req)
					require.NoError(t, err)
					defer res.Body.Close()
					b, err := io.ReadAll(res.Body)
					require.NoError(t, err)
					return res.StatusCode, res.Header.Get("Content-Type"), string(b)
				}
				s1, ct1, b1 := do(ours.URL)
				s2, ct2, b2 := do(theirs.URL)
				require.Equal(t, s2, s1, "status")
				require.Equal(t, ct2, ct1, "content type")
				require.Equal(t, b2, b1, "body")
				require.True(t, json.Valid([]byte(b1)), b1)
			})
		}
	})
}
