package rest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alephql/alephql/database"
	"github.com/alephql/alephql/database/dbtest"
	"github.com/alephql/alephql/ent"
	"github.com/alephql/alephql/ent/aggregateelement"
	"github.com/alephql/alephql/ent/post"
	"github.com/alephql/alephql/processor/demo"
	"github.com/alephql/alephql/rest"
)

// submitBody is the answer of POST /api/v0/messages.
type submitBody struct {
	Publication struct {
		Status string   `json:"status"`
		Failed []string `json:"failed"`
	} `json:"publication_status"`
	Status *string `json:"message_status"`
}

func wire(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// TestSubmitAndStatuses: POST /api/v0/messages answers 200 processed
// (sync), 202 pending (async, or a message waiting for its dependency),
// 422 rejected or invalid; GET /api/v0/messages/{hash} then shows each
// status in its §9.3 shape; /status, /content, 404 and 400.
func TestSubmitAndStatuses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		acct, err := demo.NewAccount()
		require.NoError(t, err)
		raw, hash, err := acct.Post(1.7e9, "TEST", "note", map[string]any{"body": "sync"}, "")
		require.NoError(t, err)
		var sb submitBody
		require.Equal(t, http.StatusOK, n.post("/api/v0/messages", map[string]any{"message": wire(t, raw), "sync": true}, &sb))
		require.Equal(t, "success", sb.Publication.Status)
		require.Equal(t, []string{}, sb.Publication.Failed)
		require.Equal(t, "processed", *sb.Status)

		var got map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+hash, &got))
		require.Equal(t, "processed", got["status"])
		require.Equal(t, hash, got["item_hash"])
		require.NotEmpty(t, got["reception_time"])
		msg := got["message"].(map[string]any)
		require.Equal(t, hash, msg["item_hash"])
		require.NotContains(t, msg, "size", "the single-message shape has no size")
		var st map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+hash+"/status", &st))
		require.Equal(t, []string{"item_hash", "reception_time", "status"}, keys(st))
		var content map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+hash+"/content", &content))
		require.Equal(t, map[string]any{"body": "sync"}, content)
		var credits map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+hash+"/consumed_credits", &credits))
		require.Equal(t, map[string]any{"item_hash": hash, "consumed_credits": float64(0)}, credits)

		// Async: 202 at once (the reference node's code whatever the
		// status: this node may have applied it at intake already),
		// processed soon after.
		raw, async, err := acct.Post(1.7e9+1, "TEST", "note", map[string]any{"body": "async"}, "")
		require.NoError(t, err)
		sb = submitBody{}
		require.Equal(t, http.StatusAccepted, n.post("/api/v0/messages", map[string]any{"message": wire(t, raw)}, &sb))
		require.Contains(t, []string{"pending", "processed"}, *sb.Status)
		n.settle()
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+async+"/status", &st))
		require.Equal(t, "processed", st["status"])

		// An amend of an unknown post waits for it: still pending after
		// the sync bound.
		raw, pending, err := acct.Amend(1.7e9+2, "TEST", strings.Repeat("ab", 32), map[string]any{"body": "later"})
		require.NoError(t, err)
		sb = submitBody{}
		require.Equal(t, http.StatusAccepted, n.post("/api/v0/messages", map[string]any{"message": wire(t, raw)}, &sb))
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+pending, &got))
		require.Equal(t, "pending", got["status"])
		copies := got["messages"].([]any)
		require.NotEmpty(t, copies)
		require.Equal(t, pending, copies[0].(map[string]any)["item_hash"])
		var e map[string]any
		require.Equal(t, http.StatusUnprocessableEntity, n.get("/api/v0/messages/"+pending+"/content", &e))

		// A bad signature: 422, then status rejected with its error code.
		raw, bad, err := acct.Post(1.7e9+3, "TEST", "note", map[string]any{"body": "forged"}, "")
		require.NoError(t, err)
		w := wire(t, raw)
		w["signature"] = "0x" + strings.Repeat("11", 65)
		require.Equal(t, http.StatusUnprocessableEntity, n.post("/api/v0/messages", map[string]any{"message": w, "sync": true}, &e))
		got = nil
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+bad, &got))
		require.Equal(t, "rejected", got["status"])
		require.Equal(t, float64(1), got["error_code"])
		require.Equal(t, bad, got["message"].(map[string]any)["item_hash"])

		// Forgotten.
		raw, forget, err := acct.Forget(1.7e9+4, "TEST", hash)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, n.post("/api/v0/messages", map[string]any{"message": wire(t, raw), "sync": true}, &sb))
		got = nil
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+hash, &got))
		require.Equal(t, "forgotten", got["status"])
		require.Equal(t, []any{forget}, got["forgotten_by"])
		require.Equal(t, "forgotten", got["message"].(map[string]any)["status"])

		require.Equal(t, http.StatusNotFound, n.get("/api/v0/messages/"+strings.Repeat("cd", 32), &e))
		require.Equal(t, http.StatusBadRequest, n.get("/api/v0/messages/nothash", &e))
		require.Equal(t, http.StatusNotFound, n.get("/api/v0/messages/"+strings.Repeat("cd", 32)+"/status", &e))
		require.Equal(t, http.StatusUnprocessableEntity, n.post("/api/v0/messages", map[string]any{"message": "x"}, &e))
		require.Equal(t, "message", e["param"])
	})
}

// TestPubsubAndLimits: the pubsub fallbacks take a message on topic
// ALEPH-TEST only; bodies over the limit get 413.
func TestPubsubAndLimits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{MaxBodyBytes: 4 << 10})
		acct, err := demo.NewAccount()
		require.NoError(t, err)
		raw, hash, err := acct.Post(1.7e9, "TEST", "note", map[string]any{"body": "via pubsub"}, "")
		require.NoError(t, err)
		var out map[string]any
		for _, path := range []string{"/api/v0/ipfs/pubsub/pub", "/api/v0/p2p/pubsub/pub"} {
			require.Equal(t, http.StatusForbidden, n.post(path, map[string]any{"topic": "OTHER", "data": string(raw)}, &out))
			require.Equal(t, http.StatusUnprocessableEntity, n.post(path, map[string]any{"topic": "ALEPH-TEST", "data": 3}, &out))
			require.Equal(t, http.StatusUnprocessableEntity, n.post(path, map[string]any{"topic": "ALEPH-TEST", "data": "not json"}, &out))
			out = nil
			require.Equal(t, http.StatusOK, n.post(path, map[string]any{"topic": "ALEPH-TEST", "data": string(raw)}, &out))
			require.Equal(t, map[string]any{"status": "success", "failed": []any{}}, out)
		}
		n.settle()
		var st map[string]any
		require.Equal(t, http.StatusOK, n.get("/api/v0/messages/"+hash+"/status", &st))
		require.Equal(t, "processed", st["status"])

		res, err := http.Post(n.url+"/api/v0/messages", "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), 5<<10)))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	})
}

// postsPage is the posts envelope.
type postsPage struct {
	Posts   []map[string]any `json:"posts"`
	Total   int              `json:"pagination_total"`
	PerPage int              `json:"pagination_per_page"`
	Item    string           `json:"pagination_item"`
	Next    *string          `json:"next_cursor"`
}

// TestPosts: v0 and v1 shapes, amends merged and never listed, the owner
// filter, and walks in page and cursor mode with no gap or duplicate.
func TestPosts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		n.seed(200)
		ctx := t.Context()
		originals, err := db.Client.Post.Query().Where(post.AmendsIsNil()).
			Order(ent.Desc(post.FieldCreationDatetime), ent.Desc(post.FieldID)).All(ctx)
		require.NoError(t, err)
		var want []string
		var amended *ent.Post
		for _, p := range originals {
			want = append(want, p.ID)
			if amended == nil && p.LatestAmend != nil && *p.LatestAmend != p.ID {
				amended = p
			}
		}
		require.NotNil(t, amended, "the dataset amends posts")
		for _, v := range []string{"v0", "v1"} {
			var walked []string
			for page := 1; ; page++ {
				var pp postsPage
				require.Equal(t, http.StatusOK, n.get("/api/"+v+"/posts/page/"+itoa(page)+".json?pagination=13", &pp))
				require.Equal(t, "posts", pp.Item)
				require.Equal(t, len(want), pp.Total)
				if len(pp.Posts) == 0 {
					break
				}
				for _, p := range pp.Posts {
					walked = append(walked, p["original_item_hash"].(string))
				}
			}
			require.Equal(t, want, walked, v+" page walk")
			walked = nil
			cursor := ""
			for range want {
				var pp postsPage
				require.Equal(t, http.StatusOK, n.get("/api/"+v+"/posts.json?pagination=17&cursor="+cursor, &pp))
				for _, p := range pp.Posts {
					walked = append(walked, p["original_item_hash"].(string))
				}
				if pp.Next == nil {
					break
				}
				cursor = *pp.Next
			}
			require.Equal(t, want, walked, v+" cursor walk")
		}
		latest, err := db.Client.Post.Get(ctx, *amended.LatestAmend)
		require.NoError(t, err)
		var pp postsPage
		require.Equal(t, http.StatusOK, n.get("/api/v1/posts.json?hashes="+amended.ID, &pp))
		require.Len(t, pp.Posts, 1)
		v1 := pp.Posts[0]
		require.Equal(t, []string{"address", "channel", "content", "created", "item_hash", "last_updated", "original_item_hash", "original_type", "ref"}, keys(v1))
		require.Equal(t, latest.ID, v1["item_hash"])
		require.Equal(t, amended.ID, v1["original_item_hash"])
		require.JSONEq(t, string(latest.Content), mustJSON(t, v1["content"]))
		pp = postsPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/posts.json?hashes="+amended.ID, &pp))
		v0 := pp.Posts[0]
		require.Equal(t, []string{"address", "chain", "channel", "confirmations", "confirmed", "content", "hash", "item_content", "item_hash",
			"item_type", "original_item_hash", "original_signature", "original_type", "ref", "sender", "signature", "size", "time", "type"}, keys(v0))
		require.Equal(t, latest.ID, v0["item_hash"])
		require.Equal(t, amended.ID, v0["hash"])
		require.Equal(t, "amend", v0["type"])
		require.Equal(t, amended.Type, v0["original_type"])
		require.JSONEq(t, string(latest.Content), mustJSON(t, v0["content"]))

		owned, err := db.Client.Post.Query().Where(post.AmendsIsNil(), post.Owner(amended.Owner)).Count(ctx)
		require.NoError(t, err)
		pp = postsPage{}
		require.Equal(t, http.StatusOK, n.get("/api/v0/posts.json?pagination=0&addresses="+amended.Owner, &pp))
		require.Len(t, pp.Posts, owned)
		for _, p := range pp.Posts {
			require.Equal(t, amended.Owner, p["address"])
		}
	})
}

// TestAggregates: /aggregates/{address}.json with keys, with_info (the
// first element's hash as original_item_hash), value_only and 404; the
// aggregate list walks in page and cursor mode.
func TestAggregates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		n := newNode(t, db, rest.Config{})
		d := n.seed(200)
		ctx := t.Context()
		owner := d.Accounts[2].Address()
		aggs, err := db.Client.Aggregate.Query().All(ctx)
		require.NoError(t, err)
		mine := map[string]*ent.Aggregate{}
		for _, a := range aggs {
			if a.Owner == owner {
				mine[a.Key] = a
			}
		}
		require.NotEmpty(t, mine)
		var body struct {
			Address string                     `json:"address"`
			Data    map[string]json.RawMessage `json:"data"`
			Info    map[string]map[string]any  `json:"info"`
		}
		require.Equal(t, http.StatusOK, n.get("/api/v0/aggregates/"+owner+".json?with_info=true", &body))
		require.Equal(t, owner, body.Address)
		require.Len(t, body.Data, len(mine))
		for k, a := range mine {
			require.JSONEq(t, string(a.Content), string(body.Data[k]))
			first, err := db.Client.AggregateElement.Query().Where(aggregateelement.Owner(owner), aggregateelement.Key(k)).
				Order(ent.Asc(aggregateelement.FieldCreationDatetime), ent.Asc(aggregateelement.FieldID)).First(ctx)
			require.NoError(t, err)
			info := body.Info[k]
			require.Equal(t, first.ID, info["original_item_hash"])
			require.Equal(t, a.LastRevisionHash, info["last_update_item_hash"])
			require.Contains(t, info["created"], " ", "str(datetime) format")
		}
		var key string
		for k := range mine {
			key = k
		}
		body.Data, body.Info = nil, nil
		require.Equal(t, http.StatusOK, n.get("/api/v0/aggregates/"+owner+".json?keys="+key, &body))
		require.Len(t, body.Data, 1)
		require.Empty(t, body.Info)
		var value json.RawMessage
		require.Equal(t, http.StatusOK, n.get("/api/v0/aggregates/"+owner+".json?keys="+key+"&value_only=true", &value))
		require.JSONEq(t, string(mine[key].Content), string(value))
		var e map[string]any
		require.Equal(t, http.StatusNotFound, n.get("/api/v0/aggregates/0xnobody.json", &e))
		require.Equal(t, "No aggregate found for this address", e["error"])

		for _, sortBy := range []string{"last_modified", "creation_time"} {
			var pageWalk, cursorWalk []string
			for page := 1; ; page++ {
				var lp struct {
					Aggregates []map[string]any `json:"aggregates"`
					Total      int              `json:"pagination_total"`
				}
				require.Equal(t, http.StatusOK, n.get("/api/v0/aggregates.json?pagination=3&sortBy="+sortBy+"&page="+itoa(page), &lp))
				require.Equal(t, len(aggs), lp.Total)
				if len(lp.Aggregates) == 0 {
					break
				}
				for _, a := range lp.Aggregates {
					pageWalk = append(pageWalk, a["address"].(string)+"/"+a["key"].(string))
				}
			}
			cursor := ""
			for range aggs {
				var lp struct {
					Aggregates []map[string]any `json:"aggregates"`
					Next       *string          `json:"next_cursor"`
				}
				require.Equal(t, http.StatusOK, n.get("/api/v0/aggregates?pagination=4&sortBy="+sortBy+"&cursor="+cursor, &lp))
				for _, a := range lp.Aggregates {
					cursorWalk = append(cursorWalk, a["address"].(string)+"/"+a["key"].(string))
				}
				if lp.Next == nil {
					break
				}
				cursor = *lp.Next
			}
			require.Len(t, pageWalk, len(aggs), sortBy)
			require.Equal(t, pageWalk, cursorWalk, sortBy)
			seen := map[string]bool{}
			for _, k := range pageWalk {
				require.False(t, seen[k], "duplicate %s", k)
				seen[k] = true
			}
		}
	})
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
