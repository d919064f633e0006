package graph_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/graph"
)

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func newServer(t *testing.T, c *ent.Client, limits graph.Limits, cfg graph.HandlerConfig) *httptest.Server {
	t.Helper()
	schema, err := graph.NewSchema(limits, c, dbtest.Logger())
	require.NoError(t, err)
	cfg.Limits = limits
	srv := httptest.NewServer(graph.NewHandler(cfg, schema, dbtest.Logger()))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url string, body any) (int, gqlResponse) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer res.Body.Close()
	var out gqlResponse
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

func query(t *testing.T, url, q string, vars map[string]any) gqlResponse {
	t.Helper()
	_, out := post(t, url, map[string]any{"query": q, "variables": vars})
	return out
}

func seed(t *testing.T, c *ent.Client, n int) []string {
	t.Helper()
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	hashes := make([]string, n)
	for i := range n {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		hashes[i] = hex.EncodeToString(h[:])
		tm := base.Add(time.Duration(i) * time.Second)
		c.Message.Create().SetID(hashes[i]).SetType("POST").SetChain("ETH").SetSender("0xsender").
			SetSignature("0xsig").SetItemType("inline").SetItemContent(`{"a":1}`).
			SetContent(json.RawMessage(`{"address":"0xsender","type":"test","content":{"a":1}}`)).
			SetTime(tm).SetReceptionTime(tm).SetOwner("0xsender").SetChannel("TEST").SetSize(7).
			SaveX(t.Context())
		bumpCounters(t, c, map[string]string{"type": "POST", "chain": "ETH", "sender": "0xsender", "owner": "0xsender", "status": "processed", "channel": "TEST"})
	}
	return hashes
}

func TestMessageAndMessages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		hashes := seed(t, db.Client, 5)
		srv := newServer(t, db.Client, graph.Limits{}, graph.HandlerConfig{})

		out := query(t, srv.URL, `query($h: String!) { message(hash: $h) { hash type chain sender channel size time content } }`,
			map[string]any{"h": hashes[2]})
		require.Empty(t, out.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"message":{"hash":%q,"type":"POST","chain":"ETH","sender":"0xsender","channel":"TEST","size":7,
			"time":"2024-05-01T12:00:02.000000Z","content":{"address":"0xsender","type":"test","content":{"a":1}}}}`, hashes[2]), string(out.Data))

		out = query(t, srv.URL, `{ message(hash: "nope") { hash } }`, nil)
		require.Empty(t, out.Errors)
		require.JSONEq(t, `{"message":null}`, string(out.Data))

		// Newest first, two per page, following endCursor to the end.
		var got []string
		after := any(nil)
		for page := 0; ; page++ {
			require.Less(t, page, 10)
			out = query(t, srv.URL, `query($after: Cursor) { messages(first: 2, after: $after) {
				totalCount edges { node { hash } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})
			require.Empty(t, out.Errors)
			var data struct {
				Messages struct {
					TotalCount int
					Edges      []struct{ Node struct{ Hash string } }
					PageInfo   struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
			require.NoError(t, json.Unmarshal(out.Data, &data))
			require.Equal(t, 5, data.Messages.TotalCount)
			for _, e := range data.Messages.Edges {
				got = append(got, e.Node.Hash)
			}
			if !data.Messages.PageInfo.HasNextPage {
				break
			}
			after = data.Messages.PageInfo.EndCursor
		}
		require.Equal(t, []string{hashes[4], hashes[3], hashes[2], hashes[1], hashes[0]}, got)

		// node(id) resolves a message by its opaque global id.
		out = query(t, srv.URL, `query($h: String!) { message(hash: $h) { id } }`, map[string]any{"h": hashes[0]})
		require.Empty(t, out.Errors)
		var idData struct{ Message struct{ ID string } }
		require.NoError(t, json.Unmarshal(out.Data, &idData))
		require.NotEqual(t, hashes[0], idData.Message.ID, "ids are global, not raw hashes")
		out = query(t, srv.URL, `query($id: ID!) { node(id: $id) { id ... on Message { hash type } } }`, map[string]any{"id": idData.Message.ID})
		require.Empty(t, out.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"node":{"id":%q,"hash":%q,"type":"POST"}}`, idData.Message.ID, hashes[0]), string(out.Data))
	})
}

func TestEmptyDatabaseAnswersEmptyConnection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		srv := newServer(t, db.Client, graph.Limits{}, graph.HandlerConfig{})
		out := query(t, srv.URL, `{ messages(first: 10) { totalCount edges { cursor } pageInfo { hasNextPage hasPreviousPage } } }`, nil)
		require.Empty(t, out.Errors)
		require.JSONEq(t, `{"messages":{"totalCount":0,"edges":[],"pageInfo":{"hasNextPage":false,"hasPreviousPage":false}}}`, string(out.Data))
	})
}

func TestLimits(t *testing.T) {
	db := dbtest.Open(t, t.TempDir()+"/a.db")
	seed(t, db.Client, 3)
	limits := graph.Limits{MaxPageSize: 50, DefaultPageSize: 10, MaxDepth: 4, MaxComplexity: 300}
	srv := newServer(t, db.Client, limits, graph.HandlerConfig{MaxBodyBytes: 4096})

	tests := []struct {
		name  string
		query string
		code  string
	}{
		{"page too large", `{ messages(first: 51) { totalCount } }`, graph.CodeBadUserInput},
		{"negative page", `{ messages(last: -1) { totalCount } }`, graph.CodeBadUserInput},
		{"too deep", `{ messages { edges { node { hash } } pageInfo { endCursor } } q2: messages { edges { node { hash } } } }`, ""},
		{"too deep with fragments", `{ messages { ...E } } fragment E on MessageConnection { edges { node { ...N } } } fragment N on Message { hash }`, ""},
		{"too complex", `{ messages(first: 50) { edges { node { hash type chain sender signature itemType time } } } }`, graph.CodeQueryTooComplex},
		{"filter list too long", `{ messages(filter: {channels: [` + strings.Repeat(`"c",`, 51) + `]}) { totalCount } }`, graph.CodeBadUserInput},
		{"too many node ids", `{ nodes(ids: [` + strings.Repeat(`"x",`, 51) + `]) { id } }`, graph.CodeBadUserInput},
		{"first and last together", `{ messages(first: 1, last: 1) { totalCount } }`, graph.CodeBadUserInput},
		{"syntax error", `{ messages( }`, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", `{ nope }`, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := query(t, srv.URL, tt.query, nil)
			if tt.code == "" {
				// depth 4 is allowed: messages > edges > node > id
				require.Empty(t, out.Errors, "%v", out.Errors)
				return
			}
			require.NotEmpty(t, out.Errors)
			require.Equal(t, tt.code, out.Errors[0].Extensions["code"], out.Errors[0].Message)
		})
	}

	t.Run("depth over the limit", func(t *testing.T) {
		deep := newServer(t, db.Client, graph.Limits{MaxDepth: 3}, graph.HandlerConfig{})
		out := query(t, deep.URL, `{ messages { edges { node { hash } } } }`, nil)
		require.NotEmpty(t, out.Errors)
		require.Equal(t, graph.CodeQueryTooDeep, out.Errors[0].Extensions["code"])
		require.Contains(t, out.Errors[0].Message, "depth 4 exceeds the limit of 3")
		// Introspection is not counted against the depth limit.
		out = query(t, deep.URL, `{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }`, nil)
		require.Empty(t, out.Errors)
	})

	t.Run("request timeout", func(t *testing.T) {
		slow := newServer(t, db.Client, graph.Limits{}, graph.HandlerConfig{RequestTimeout: time.Nanosecond})
		out := query(t, slow.URL, `{ messages { totalCount edges { node { hash } } } }`, nil)
		require.NotEmpty(t, out.Errors, string(out.Data))
		require.Equal(t, graph.CodeTimeout, out.Errors[0].Extensions["code"])
	})

	t.Run("body too large", func(t *testing.T) {
		big := `{ messages { totalCount } }` + strings.Repeat(" ", 5000)
		status, out := post(t, srv.URL, map[string]any{"query": big})
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
		require.NotEmpty(t, out.Errors)
		require.Equal(t, graph.CodeRequestTooLarge, out.Errors[0].Extensions["code"])
	})

	t.Run("automatic persisted queries", func(t *testing.T) {
		q := `{ messages(first: 1) { totalCount } }`
		sum := sha256.Sum256([]byte(q))
		ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
		_, out := post(t, srv.URL, map[string]any{"extensions": ext})
		require.NotEmpty(t, out.Errors)
		require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", out.Errors[0].Extensions["code"])
		_, out = post(t, srv.URL, map[string]any{"query": q, "extensions": ext})
		require.Empty(t, out.Errors)
		_, out = post(t, srv.URL, map[string]any{"extensions": ext})
		require.Empty(t, out.Errors)
		require.JSONEq(t, `{"messages":{"totalCount":3}}`, string(out.Data))
	})

	t.Run("GET queries", func(t *testing.T) {
		res, err := http.Get(srv.URL + "?query=" + "%7B%20messages%20%7B%20totalCount%20%7D%20%7D")
		require.NoError(t, err)
		defer res.Body.Close()
		var out gqlResponse
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		require.Empty(t, out.Errors)
		require.JSONEq(t, `{"messages":{"totalCount":3}}`, string(out.Data))
	})
}

func TestInternalErrorsAreHidden(t *testing.T) {
	db := dbtest.Open(t, t.TempDir()+"/a.db")
	srv := newServer(t, db.Client, graph.Limits{}, graph.HandlerConfig{})
	require.NoError(t, db.Close()) // every query now fails inside ent
	out := query(t, srv.URL, `{ messages { totalCount } }`, nil)
	require.NotEmpty(t, out.Errors)
	require.Equal(t, graph.CodeInternal, out.Errors[0].Extensions["code"])
	require.Equal(t, "internal error", out.Errors[0].Message)
}
