package graph_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	gqlclient "github.com/99designs/gqlgen/client"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/messagestatus"
	"github.com/alephql/alephql/events"
	"github.com/alephql/alephql/graph"
)

var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// fixture is a small network: posts with an amend, a stored file, an
// aggregate, confirmations, a rejected and a forgotten message.
type fixture struct {
	posts, stores     []string // item hashes, oldest first
	amend             string
	rejected, forgot  string
	fileHash, aggHash string
}

func addMessage(t *testing.T, c *ent.Client, hash, typ, channel string, i int, mod func(*ent.MessageCreate)) {
	t.Helper()
	tm := base.Add(time.Duration(i) * time.Second)
	mc := c.Message.Create().SetID(hash).SetType(typ).SetChain("ETH").SetSender("0xalice").SetSignature("0xsig").
		SetItemType("inline").SetItemContent("{}").SetContent(json.RawMessage(`{"address":"0xalice"}`)).
		SetTime(tm).SetReceptionTime(tm).SetOwner("0xalice").SetChannel(channel).SetSize(2)
	if mod != nil {
		mod(mc)
	}
	mc.SaveX(t.Context())
	c.MessageStatus.Create().SetID(hash).SetStatus(messagestatus.StatusProcessed).SetReceptionTime(tm).SetUpdatedAt(tm).SaveX(t.Context())
	bumpCounters(t, c, map[string]string{"type": typ, "chain": "ETH", "sender": "0xalice", "owner": "0xalice", "status": "processed", "channel": channel})
}

func seedFixture(t *testing.T, c *ent.Client, n int) fixture {
	t.Helper()
	ctx := t.Context()
	var f fixture
	tx := c.ChainTx.Create().SetID("0xtx1").SetChain("ETH").SetHeight(100).SetDatetime(base.Add(time.Hour)).
		SetPublisher("0xpub").SetProtocol("aleph").SetProtocolVersion(1).SaveX(ctx)
	for i := range n {
		h := hashOf(fmt.Sprint("post", i))
		f.posts = append(f.posts, h)
		confirmed := i%2 == 0
		addMessage(t, c, h, "POST", "FEED", i, func(m *ent.MessageCreate) {
			m.SetContentType("note").AddTagRows()
			if confirmed {
				m.SetFirstConfirmedAt(tx.Datetime).SetFirstConfirmedHeight(tx.Height)
			}
		})
		c.MessageTag.Create().SetItemHash(h).SetTag(fmt.Sprint("t", i%3)).SetTime(base.Add(time.Duration(i) * time.Second)).SaveX(ctx)
		if confirmed {
			c.MessageConfirmation.Create().SetItemHash(h).SetTxHash(tx.ID).SaveX(ctx)
		}
		c.Post.Create().SetID(h).SetOwner("0xalice").SetType("note").SetChannel("FEED").
			SetContent(json.RawMessage(fmt.Sprintf(`{"body":"v1 %d"}`, i))).SetCreationDatetime(base.Add(time.Duration(i) * time.Second)).SaveX(ctx)
	}
	// The first post is amended.
	f.amend = hashOf("amend")
	addMessage(t, c, f.amend, "POST", "FEED", n, func(m *ent.MessageCreate) { m.SetContentType("amend") })
	c.Post.Create().SetID(f.amend).SetOwner("0xalice").SetType("amend").SetAmends(f.posts[0]).SetChannel("FEED").
		SetContent(json.RawMessage(`{"body":"v2"}`)).SetCreationDatetime(base.Add(time.Duration(n) * time.Second)).SaveX(ctx)
	c.Post.UpdateOneID(f.posts[0]).SetLatestAmend(f.amend).ExecX(ctx)
	// A STORE pinning a file.
	f.fileHash = hashOf("file")
	c.File.Create().SetID(f.fileHash).SetSize(1234).SetCreatedAt(base).SaveX(ctx)
	for i := range n {
		h := hashOf(fmt.Sprint("store", i))
		f.stores = append(f.stores, h)
		addMessage(t, c, h, "STORE", "FILES", n+1+i, func(m *ent.MessageCreate) { m.SetContentItemHash(f.fileHash).SetPaymentType("hold") })
		c.FilePin.Create().SetFileHash(f.fileHash).SetType("message").SetCreated(base).SetOwner("0xalice").SetItemHash(h).SaveX(ctx)
	}
	// An aggregate of one element.
	f.aggHash = hashOf("agg")
	addMessage(t, c, f.aggHash, "AGGREGATE", "FEED", 2*n+2, func(m *ent.MessageCreate) { m.SetContentKey("profile") })
	c.AggregateElement.Create().SetID(f.aggHash).SetKey("profile").SetOwner("0xalice").SetContent(json.RawMessage(`{"name":"alice"}`)).SetCreationDatetime(base).SaveX(ctx)
	c.Aggregate.Create().SetOwner("0xalice").SetKey("profile").SetContent(json.RawMessage(`{"name":"alice"}`)).
		SetCreationDatetime(base).SetLastUpdated(base).SetLastRevisionHash(f.aggHash).SetElementCount(1).SaveX(ctx)
	// A rejected and a forgotten message.
	f.rejected, f.forgot = hashOf("rejected"), hashOf("forgotten")
	c.MessageStatus.Create().SetID(f.rejected).SetStatus(messagestatus.StatusRejected).SetReceptionTime(base).SetUpdatedAt(base).SaveX(ctx)
	c.RejectedMessage.Create().SetID(f.rejected).SetErrorCode(201).SetRejectedAt(base).
		SetMessage(json.RawMessage(`{"type":"POST","chain":"ETH","sender":"0xbob","item_type":"inline","item_content":"{\"address\":\"0xbob\"}","time":1714564800}`)).
		SetDetails(json.RawMessage(`{"why":"bad signature"}`)).SaveX(ctx)
	c.MessageStatus.Create().SetID(f.forgot).SetStatus(messagestatus.StatusForgotten).SetReceptionTime(base).SetUpdatedAt(base).SaveX(ctx)
	c.ForgottenMessage.Create().SetID(f.forgot).SetType("POST").SetChain("ETH").SetSender("0xalice").SetItemType("inline").
		SetTime(base).SetOwner("0xalice").SetForgottenBy([]string{"0xforget"}).SetForgottenAt(base).SaveX(ctx)
	return f
}

func TestMessageStatusesAndLinks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := seedFixture(t, db.Client, 4)
		srv := newServer(t, db.Client, graph.Limits{}, graph.HandlerConfig{})
		q := `query($h: String!) { message(hash: $h) { hash type status { status rejection { errorCode details } forgotten { forgottenBy } }
			confirmed confirmations { chain txHash height } post { hash content lastUpdated } file { hash size pins { type itemHash } } } }`

		out := query(t, srv.URL, q, map[string]any{"h": f.rejected})
		require.Empty(t, out.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"message":{"hash":%q,"type":"POST","status":{"status":"REJECTED","rejection":{"errorCode":201,"details":{"why":"bad signature"}},"forgotten":null},
			"confirmed":false,"confirmations":[],"post":null,"file":null}}`, f.rejected), string(out.Data))

		out = query(t, srv.URL, q, map[string]any{"h": f.forgot})
		require.Empty(t, out.Errors)
		require.Contains(t, string(out.Data), `"status":{"status":"FORGOTTEN","rejection":null,"forgotten":{"forgottenBy":["0xforget"]}}`)

		// The amended post shows the amend's content under the original's identity.
		out = query(t, srv.URL, q, map[string]any{"h": f.posts[0]})
		require.Empty(t, out.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"message":{"hash":%q,"type":"POST","status":{"status":"PROCESSED","rejection":null,"forgotten":null},
			"confirmed":true,"confirmations":[{"chain":"ETH","txHash":"0xtx1","height":100}],
			"post":{"hash":%q,"content":{"body":"v2"},"lastUpdated":"2024-05-01T12:00:04.000000Z"},"file":null}}`, f.posts[0], f.posts[0]), string(out.Data))

		out = query(t, srv.URL, q, map[string]any{"h": f.stores[0]})
		require.Empty(t, out.Errors)
		require.Contains(t, string(out.Data), fmt.Sprintf(`"file":{"hash":%q,"size":1234,"pins":[`, f.fileHash))

		out = query(t, srv.URL, `{ posts(first: 10) { totalCount edges { node { hash content amends { hash } } } } }`, nil)
		require.Empty(t, out.Errors)
		var posts struct {
			Posts struct {
				TotalCount int
				Edges      []struct{ Node struct{ Hash string } }
			}
		}
		require.NoError(t, json.Unmarshal(out.Data, &posts))
		require.Equal(t, 4, posts.Posts.TotalCount, "amends are not listed as posts")
		require.Equal(t, f.posts[3], posts.Posts.Edges[0].Node.Hash)

		out = query(t, srv.URL, `{ aggregate(owner: "0xalice", key: "profile") { id content elements { totalCount edges { node { hash } } } }
			account(address: "0xalice") { messageCounts { type count } channels postTypes } channels { edges { node { name messageCount } } } }`, nil)
		require.Empty(t, out.Errors)
		require.Contains(t, string(out.Data), `{"type":"POST","count":5}`)
		require.Contains(t, string(out.Data), `"channels":["FEED","FILES"],"postTypes":["note"]`)
		require.Contains(t, string(out.Data), `{"node":{"name":"FILES","messageCount":4}}`)
	})
}

type msgPage struct {
	Messages struct {
		TotalCount   int
		CountIsExact bool
		Edges        []struct {
			Cursor string
			Node   struct{ Hash string }
		}
		PageInfo struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       string
		}
	}
}

func TestMessagesFiltersCountsAndOrders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := seedFixture(t, db.Client, 6)
		srv := newServer(t, db.Client, graph.Limits{}, graph.HandlerConfig{})
		list := func(t *testing.T, vars map[string]any) msgPage {
			t.Helper()
			out := query(t, srv.URL, `query($f: MessageFilter, $o: MessageOrder, $first: Int, $after: Cursor, $last: Int, $before: Cursor) {
				messages(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
				totalCount countIsExact edges { cursor node { hash } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`, vars)
			require.Empty(t, out.Errors, "%v", out.Errors)
			var p msgPage
			require.NoError(t, json.Unmarshal(out.Data, &p))
			return p
		}
		hashes := func(p msgPage) []string {
			var hs []string
			for _, e := range p.Messages.Edges {
				hs = append(hs, e.Node.Hash)
			}
			return hs
		}
		tests := []struct {
			name   string
			filter map[string]any
			want   int
			exact  bool
		}{
			{"counter: channel and type", map[string]any{"channels": []string{"FILES"}, "types": []string{"STORE"}}, 6, true},
			{"counter: none", nil, 14, true},
			{"count: tags", map[string]any{"tags": []string{"t0"}}, 2, true},
			{"count: payment type", map[string]any{"paymentTypes": []string{"HOLD"}}, 6, true},
			{"count: content keys", map[string]any{"contentKeys": []string{"profile"}}, 1, true},
			{"count: heights", map[string]any{"confirmationHeightFrom": 100, "confirmationHeightTo": 101}, 3, true},
			{"count: time range", map[string]any{"timeFrom": "2024-05-01T12:00:01Z", "timeTo": "2024-05-01T12:00:03Z"}, 2, true},
			{"count: two channels", map[string]any{"channels": []string{"FILES", "FEED"}}, 14, true},
			{"nothing", map[string]any{"hashes": []string{"nope"}}, 0, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := list(t, map[string]any{"f": tt.filter, "first": 50})
				require.Len(t, p.Messages.Edges, tt.want)
				require.Equal(t, tt.want, p.Messages.TotalCount)
				require.Equal(t, tt.exact, p.Messages.CountIsExact)
			})
		}

		t.Run("count past the time bound is an estimate", func(t *testing.T) {
			schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), graph.WithCountTimeout(time.Nanosecond))
			require.NoError(t, err)
			slow := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
			defer slow.Close()
			out := query(t, slow.URL, `{ messages(filter: {tags: ["t0"], channels: ["FEED"]}) { totalCount countIsExact } }`, nil)
			require.Empty(t, out.Errors)
			require.JSONEq(t, `{"messages":{"totalCount":8,"countIsExact":false}}`, string(out.Data), "bounded by the FEED counter")
		})

		t.Run("pages forward and backward agree", func(t *testing.T) {
			var forward []string
			var after any
			for {
				p := list(t, map[string]any{"first": 3, "after": after})
				forward = append(forward, hashes(p)...)
				if !p.Messages.PageInfo.HasNextPage {
					break
				}
				after = p.Messages.PageInfo.EndCursor
			}
			require.Len(t, forward, 14)
			require.Equal(t, f.aggHash, forward[0], "newest first")
			var backward []string
			var before any
			for {
				p := list(t, map[string]any{"last": 4, "before": before})
				backward = append(hashes(p), backward...)
				if !p.Messages.PageInfo.HasPreviousPage {
					break
				}
				before = p.Messages.PageInfo.StartCursor
			}
			require.Equal(t, forward, backward)
		})

		t.Run("confirmation time: unconfirmed first when descending", func(t *testing.T) {
			var all []string
			var after any
			for {
				p := list(t, map[string]any{"o": map[string]any{"field": "CONFIRMATION_TIME", "direction": "DESC"}, "first": 5, "after": after})
				all = append(all, hashes(p)...)
				if !p.Messages.PageInfo.HasNextPage {
					break
				}
				after = p.Messages.PageInfo.EndCursor
			}
			require.Len(t, all, 14)
			confirmed := []string{f.posts[4], f.posts[2], f.posts[0]}
			require.Equal(t, confirmed, all[len(all)-3:], "confirmed last, newest first among them")
			require.NotContains(t, all[:len(all)-3], f.posts[0])
		})

		t.Run("bad input", func(t *testing.T) {
			for _, q := range []string{
				`{ messages(after: "%%%") { totalCount } }`,
				`{ messages(first: 1, last: 1) { totalCount } }`,
				`{ node(id: "bm9wZQ") { id } }`,
			} {
				out := query(t, srv.URL, q, nil)
				require.NotEmpty(t, out.Errors, q)
				require.Equal(t, graph.CodeBadUserInput, out.Errors[0].Extensions["code"], q)
			}
		})

		t.Run("node resolves every type", func(t *testing.T) {
			out := query(t, srv.URL, `{ message(hash: "`+f.posts[1]+`") { id post { id } }
				file(hash: "`+f.fileHash+`") { id } aggregate(owner: "0xalice", key: "profile") { id }
				account(address: "0xalice") { id } }`, nil)
			require.Empty(t, out.Errors)
			var d struct {
				Message struct {
					ID   string
					Post struct{ ID string }
				}
				File, Aggregate, Account struct{ ID string }
			}
			require.NoError(t, json.Unmarshal(out.Data, &d))
			ids := []any{d.Message.ID, d.Message.Post.ID, d.File.ID, d.Aggregate.ID, d.Account.ID}
			out = query(t, srv.URL, `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, map[string]any{"ids": ids})
			require.Empty(t, out.Errors)
			require.JSONEq(t, fmt.Sprintf(`{"nodes":[{"__typename":"Message","id":%q},{"__typename":"Post","id":%q},{"__typename":"File","id":%q},
				{"__typename":"Aggregate","id":%q},{"__typename":"Account","id":%q}]}`, ids...), string(out.Data))
		})
	})
}

// TestQueryCountIsConstant: a page of 100 messages with their
// confirmations, statuses, posts and files runs a fixed number of SQL
// statements, whatever the page size.
func TestQueryCountIsConstant(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		seedFixture(t, db.Client, 50)
		var statements atomic.Int64
		dia := dialect.SQLite
		if db.Dialect == dialect.Postgres {
			dia = dialect.Postgres
		}
		counted := ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(dia, db.SQL), func(_ context.Context, a ...any) {
			if os.Getenv("DEBUG_SQL") != "" {
				fmt.Println(fmt.Sprint(a...)[:150])
			}
			statements.Add(1)
		})))
		// A generous batch window keeps the count independent of scheduling
		// on a loaded machine.
		schema, err := graph.NewSchema(graph.Limits{}, counted, dbtest.Logger(), graph.WithLoaderWait(50*time.Millisecond))
		require.NoError(t, err)
		srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
		defer srv.Close()
		q := `query($n: Int) { messages(first: $n, orderBy: {field: TIME, direction: ASC}) { edges { node { hash status { status } confirmations { txHash height }
			post { hash content original { hash } } file { hash size } vm { hash } aggregateElement { hash } } } } }`
		run := func(n int) int64 {
			statements.Store(0)
			out := query(t, srv.URL, q, map[string]any{"n": n})
			require.Empty(t, out.Errors)
			return statements.Load()
		}
		// Both pages hold posts (with confirmations and amends) and STOREs.
		// One query per edge would cost 60 and 100 statements more; the
		// dataloaders batch each edge into one. On a loaded machine a
		// resolver may reach its loader after the batch window closed, which
		// splits that batch in two: a constant bound far below the page
		// sizes, not equality, is what tells batching from N+1.
		small, big := run(60), run(100)
		t.Logf("statements: %d for 60 messages, %d for 100", small, big)
		require.LessOrEqual(t, small, int64(10), "statements must not grow with the page size")
		require.LessOrEqual(t, big, int64(10), "statements must not grow with the page size")
	})
}

func TestSubscriptionReplaysThenStreamsLive(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := seedFixture(t, db.Client, 3)
		ctx := t.Context()
		bus := events.NewLocal(16)
		hub, err := graph.NewHub(graph.HubConfig{}, db.Client, bus, dbtest.Logger())
		require.NoError(t, err)
		hctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- hub.Run(hctx) }()
		waitReady(t, hub, done)
		defer func() { stop(); require.NoError(t, <-done) }()

		outbox := func(hash string, kind events.Kind, related ...string) events.Event {
			mc := db.Client.MessageEvent.Create().SetItemHash(hash).SetKind(string(kind)).SetCreatedAt(time.Now().UTC())
			if len(related) > 0 {
				mc.SetRelated(related[0])
			}
			row := mc.SaveX(ctx)
			return events.Event{Seq: row.ID, Kind: kind, At: row.CreatedAt, ItemHash: hash, Type: "POST", Chain: "ETH", Sender: "0xalice", Owner: "0xalice", Channel: "FEED"}
		}
		e1 := outbox(f.posts[0], events.Processed)
		e2 := outbox(f.stores[0], events.Processed) // other channel: filtered out
		e3 := outbox(f.posts[1], events.Processed)

		schema, err := graph.NewSchema(graph.Limits{}, db.Client, dbtest.Logger(), graph.WithHub(hub))
		require.NoError(t, err)
		c := gqlclient.New(graph.NewHandler(graph.HandlerConfig{}, schema, dbtest.Logger()))
		sub := c.Websocket(fmt.Sprintf(`subscription { messages(filter: {channels: ["FEED"]}, after: "%d") { __typename cursor hash ... on MessageConfirmed { txHash } } }`, e1.Seq))
		defer sub.Close()
		type ev struct {
			Messages struct {
				Typename string `json:"__typename"`
				Cursor   string
				Hash     string
				TxHash   *string
			}
		}
		next := func() ev {
			var e ev
			require.NoError(t, sub.Next(&e))
			return e
		}
		got := next()
		require.Equal(t, f.posts[1], got.Messages.Hash, "replay skips e2 (filtered) and starts after e1")
		require.Equal(t, fmt.Sprint(e3.Seq), got.Messages.Cursor)
		_ = e2

		require.Eventually(t, func() bool { return hub.Subscribers() == 1 }, 5*time.Second, 10*time.Millisecond)
		// Live: the bus only wakes the hub, which reads the outbox: a
		// re-published replayed event is not delivered again, and events
		// published out of order arrive in outbox order.
		e4 := outbox(f.posts[2], events.Confirmed, "0xtx1")
		require.NoError(t, bus.Publish(ctx, e4, e3))
		got = next()
		require.Equal(t, "MessageConfirmed", got.Messages.Typename)
		require.Equal(t, f.posts[2], got.Messages.Hash)
		require.Equal(t, "0xtx1", *got.Messages.TxHash)
	})
}
