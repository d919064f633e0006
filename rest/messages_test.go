package rest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/message"
	"github.com/alephql/alephql/ent/messagetag"
	"github.com/alephql/alephql/rest"
)

// processedHashes are the item hashes of the messages table in the list's
// default order (time DESC, item_hash DESC).
func processedHashes(t *testing.T, c *ent.Client, where ...func(*ent.MessageQuery)) []string {
	t.Helper()
	q := c.Message.Query()
	for _, w := range where {
		w(q)
	}
	rows, err := q.Order(ent.Desc(message.FieldTime), ent.Desc(message.FieldID)).All(t.Context())
	require.NoError(t, err)
	out := make([]string, len(rows))
	for i, m := range rows {
		out[i] = m.ID
	}
	return out
}

// TestMessagesPaginationWalks walks messages.json in page mode and in
// cursor mode: every processed message once, in order, no gap, no
// duplicate, and pagination_total exact.
func TestMessagesPaginationWalks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		n.seed(120)
		want := processedHashes(t, db.Client)
		require.Greater(t, len(want), 50)
		for _, path := range []string{"/api/v0/messages.json?pagination=7&page=%d", "/api/v0/messages/page/%d.json?pagination=7"} {
			var got []string
			for page := 1; ; page++ {
				var p messagesPage
				require.Equal(t, http.StatusOK, n.get(fmt.Sprintf(path, page), &p))
				require.Equal(t, "messages", p.Item)
				require.Equal(t, page, p.Page)
				require.Equal(t, 7, p.PerPage)
				require.Equal(t, len(want), p.Total, "pagination_total on page %d", page)
				if len(p.Messages) == 0 {
					break
				}
				got = append(got, hashes(p.Messages)...)
			}
			require.Equal(t, want, got, path)
		}
		var got []string
		cursor := ""
		for range len(want) {
			var p messagesPage
			require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?pagination=9&cursor="+url.QueryEscape(cursor), &p))
			require.Equal(t, 9, p.PerPage)
			require.Zero(t, p.Total, "no total in cursor mode")
			got = append(got, hashes(p.Messages)...)
			if p.Next == nil {
				break
			}
			cursor = *p.Next
		}
		require.Equal(t, want, got, "cursor walk")
		// Ascending order walks the same set backwards.
		got = nil
		cursor = ""
		for range len(want) {
			var p messagesPage
			require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?sortOrder=1&pagination=11&cursor="+url.QueryEscape(cursor), &p))
			got = append(got, hashes(p.Messages)...)
			if p.Next == nil {
				break
			}
			cursor = *p.Next
		}
		rev := append([]string(nil), want...)
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		require.Equal(t, rev, got, "ascending cursor walk")
	})
}

// TestMessagesFilters checks each filter of §9.2, in its documented and
// snake_case names, against the database.
func TestMessagesFilters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		d := n.seed(120)
		alice := d.Accounts[2].Address()
		all := processedHashes(t, db.Client)
		posts := processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.Type("POST")) })
		bySender := processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.Sender(alice)) })
		byChannel := processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.Channel("TEST")) })
		notes := processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.ContentType("note")) })
		profiles := processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.ContentKey("profile")) })
		require.NotEmpty(t, bySender)
		require.NotEmpty(t, profiles)
		mid := (1.7e9 + 60)
		fromMid := processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.TimeGTE(epoch(mid))) })
		for _, tc := range []struct {
			name, query string
			want        []string
		}{
			{"none", "", all},
			{"msgType", "msgType=POST", posts},
			{"msgTypes", "msgTypes=POST", posts},
			{"msg_types", "msg_types=POST", posts},
			{"addresses", "addresses=" + alice, bySender},
			{"owners", "owners=" + alice, processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.Owner(alice)) })},
			{"channels", "channels=TEST", byChannel},
			{"contentTypes", "contentTypes=note", notes},
			{"content_types", "content_types=note", notes},
			{"startDate", fmt.Sprintf("startDate=%f", mid), fromMid},
			{"start_date", fmt.Sprintf("start_date=%f", mid), fromMid},
			{"hashes", "hashes=" + all[3] + "," + all[5], []string{all[3], all[5]}},
			{"chains", "chains=ETH", all},
			{"tx-time", "sortBy=tx-time", all}, // none confirmed: unconfirmed first, then by time
			{"startBlock passes unconfirmed", "startBlock=5", all},
			{"endBlock", "end_block=5", []string{}},
			{"tags", "tags=demo", processedHashes(t, db.Client, func(q *ent.MessageQuery) { q.Where(message.HasTagRowsWith(messagetag.Tag("demo"))) })},
			{"addresses and types", "addresses=" + alice + "&msgTypes=POST,AGGREGATE", processedHashes(t, db.Client, func(q *ent.MessageQuery) {
				q.Where(message.Sender(alice), message.TypeIn("POST", "AGGREGATE"))
			})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := tc.query
				var p messagesPage
				require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?pagination=0&"+q, &p))
				want := tc.want
				if len(want) > 200 {
					want = want[:200]
				}
				require.Equal(t, want, hashes(p.Messages), q)
				require.Equal(t, len(tc.want), p.Total)
			})
		}
	})
}

func epoch(f float64) time.Time { return time.Unix(int64(f), 0).UTC() }

// TestMessagesErrors: 422 naming the parameter, 400 for terminal status
// combinations, exactly where §9.2 says.
func TestMessagesErrors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		for _, tc := range []struct {
			query  string
			status int
			param  string
		}{
			{"contentKeys=profile", http.StatusUnprocessableEntity, "contentKeys"},
			{"content_keys=profile", http.StatusUnprocessableEntity, "contentKeys"},
			{"hashes=nothash", http.StatusUnprocessableEntity, "hashes"},
			{"contentHashes=nothash", http.StatusUnprocessableEntity, "contentHashes"},
			{"sortOrder=2", http.StatusUnprocessableEntity, "sortOrder"},
			{"sortBy=size", http.StatusUnprocessableEntity, "sortBy"},
			{"msgType=POSTS", http.StatusUnprocessableEntity, "msgType"},
			{"msgStatuses=done", http.StatusUnprocessableEntity, "msgStatuses"},
			{"paymentTypes=gold", http.StatusUnprocessableEntity, "paymentTypes"},
			{"startDate=yesterday", http.StatusUnprocessableEntity, "startDate"},
			{"pagination=-1", http.StatusUnprocessableEntity, "pagination"},
			{"page=0", http.StatusUnprocessableEntity, "page"},
			{"contentFormat=xml", http.StatusUnprocessableEntity, "contentFormat"},
			{"cursor=&pagination=0", http.StatusUnprocessableEntity, "pagination"},
			{"cursor=&sortBy=tx-time", http.StatusUnprocessableEntity, "cursor"},
			{"cursor=%21%21", http.StatusUnprocessableEntity, "cursor"},
			{"msgStatuses=forgotten,processed", http.StatusBadRequest, ""},
			{"msgStatuses=removed,forgotten", http.StatusBadRequest, ""},
			{"msgStatuses=forgotten&tags=a", http.StatusBadRequest, ""},
			{"msgStatuses=removed&startBlock=3", http.StatusBadRequest, ""},
			{"msgStatuses=forgotten&cursor=", http.StatusBadRequest, ""},
		} {
			t.Run(tc.query, func(t *testing.T) {
				var body struct {
					Error string `json:"error"`
					Param string `json:"param"`
				}
				require.Equal(t, tc.status, n.get("/api/v0/messages.json?"+tc.query, &body))
				assert.NotEmpty(t, body.Error)
				assert.Equal(t, tc.param, body.Param)
			})
		}
	})
}

// TestMessagesShapes: list items carry raw content, size, confirmations
// and confirmed; contentFormat headers and none; forgotten listings; HEAD.
func TestMessagesShapes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		n.seed(200)
		var p messagesPage
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?msgTypes=POST&pagination=1", &p))
		require.Len(t, p.Messages, 1)
		m := p.Messages[0]
		for _, k := range []string{"item_hash", "type", "chain", "sender", "signature", "item_type", "item_content", "content", "time", "channel", "size", "confirmations", "confirmed"} {
			require.Contains(t, m, k)
		}
		require.Equal(t, false, m["confirmed"])
		require.Equal(t, []any{}, m["confirmations"])
		require.IsType(t, float64(0), m["time"])
		require.Equal(t, float64(len(m["item_content"].(string))), m["size"])
		content := m["content"].(map[string]any)
		require.Contains(t, content, "address")
		require.Contains(t, content, "content")

		p = messagesPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?msgTypes=POST&pagination=1&contentFormat=headers", &p))
		require.Equal(t, []string{"address", "ref", "type"}, keys(p.Messages[0]["content"].(map[string]any)))
		p = messagesPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?msgTypes=AGGREGATE&pagination=1&content_format=headers", &p))
		require.Equal(t, []string{"address", "key"}, keys(p.Messages[0]["content"].(map[string]any)))
		p = messagesPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?pagination=1&excludeContent=true", &p))
		require.NotContains(t, p.Messages[0], "content")

		p = messagesPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?msgStatuses=forgotten", &p))
		forgotten, err := db.Client.ForgottenMessage.Query().Count(t.Context())
		require.NoError(t, err)
		require.Positive(t, forgotten)
		require.Len(t, p.Messages, forgotten)
		require.Equal(t, forgotten, p.Total)
		for _, f := range p.Messages {
			require.Equal(t, "forgotten", f["status"])
			require.NotEmpty(t, f["forgotten_by"])
			require.NotContains(t, f, "content")
		}

		res, err := http.Head(n.url + "/api/v0/messages.json")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		req, _ := http.NewRequest(http.MethodOptions, n.url+"/api/v0/messages.json", nil)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, "*", res.Header.Get("Access-Control-Allow-Origin"))
	})
}

// TestPaginationIsCapped: pagination=0 and values over the maximum serve
// the maximum page size.
func TestPaginationIsCapped(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{MaxPageSize: 5})
		n.seed(20)
		for _, q := range []string{"pagination=0", "pagination=1000"} {
			var p messagesPage
			require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?"+q, &p))
			require.Len(t, p.Messages, 5)
			require.Equal(t, 5, p.PerPage)
		}
	})
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMessagesConfirmations: confirmed messages list their confirmations
// as {chain, hash, height}; sortBy=tx-time puts unconfirmed messages
// first, then by first confirmation; startBlock/endBlock bound the first
// confirmation's height.
func TestMessagesConfirmations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		n.seed(40)
		ctx := t.Context()
		all := processedHashes(t, db.Client)
		early, late := all[len(all)-1], all[len(all)-2] // the two oldest messages
		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, h := range []string{late, early} { // the older message confirmed later
			tx := db.Client.ChainTx.Create().SetID(fmt.Sprintf("0xtx%d", i)).SetChain("ETH").SetHeight(int64(100 + i)).
				SetDatetime(at.Add(time.Duration(i) * time.Hour)).SetPublisher("0xpub").SetProtocol("aleph").SetProtocolVersion(1).SaveX(ctx)
			db.Client.MessageConfirmation.Create().SetItemHash(h).SetTxHash(tx.ID).SaveX(ctx)
			db.Client.Message.UpdateOneID(h).SetFirstConfirmedAt(tx.Datetime).SetFirstConfirmedHeight(tx.Height).ExecX(ctx)
		}
		var p messagesPage
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?pagination=0&sortBy=tx-time", &p))
		got := hashes(p.Messages)
		require.Equal(t, []string{early, late}, got[len(got)-2:], "latest confirmation first after the unconfirmed")
		require.Equal(t, all[:len(all)-2], got[:len(got)-2])
		last := p.Messages[len(p.Messages)-1]
		require.Equal(t, true, last["confirmed"])
		require.Equal(t, []any{map[string]any{"chain": "ETH", "hash": "0xtx0", "height": float64(100)}}, last["confirmations"])

		p = messagesPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?startBlock=101&endBlock=200", &p))
		require.Contains(t, hashes(p.Messages), early)
		require.NotContains(t, hashes(p.Messages), late)
		p = messagesPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages.json?endBlock=101", &p))
		require.Equal(t, []string{late}, hashes(p.Messages))
	})
}
